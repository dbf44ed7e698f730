"""Korean text normalisation (``parrot.text.numbers_ko`` through ``normalize``): the issue #19 table."""

import pytest

from parrot.text import numbers_ko as ko
from parrot.text.normalize import normalize

KOREAN = [
    # native numerals with counters
    ("사과 3개 주세요.", "사과 세 개 주세요."),
    ("학생 2명이 왔어요.", "학생 두 명이 왔어요."),
    ("고양이 1마리", "고양이 한 마리"),
    ("책 4권을 샀어요.", "책 네 권을 샀어요."),
    ("커피 20잔", "커피 스무 잔"),
    ("맥주 21병", "맥주 스물한 병"),
    ("종이 10장", "종이 열 장"),
    ("나는 35살이에요.", "나는 서른다섯 살이에요."),
    ("5번 읽었어요.", "다섯 번 읽었어요."),
    ("1번째 문제", "첫 번째 문제"),
    ("2번째 줄", "두 번째 줄"),
    ("3시간 걸려요.", "세 시간 걸려요."),
    ("99개", "아흔아홉 개"),
    ("100개", "백 개"),
    ("장미 12송이", "장미 열두 송이"),
    # Sino-Korean: dates, money, measures
    ("3월 5일에 만나요.", "삼월 오 일에 만나요."),
    ("6월", "유월"),
    ("10월 9일은 한글날이에요.", "시월 구 일은 한글날이에요."),
    ("2024년 3월 5일", "이천이십사 년 삼월 오 일"),
    ("오늘은 2024-03-05입니다.", "오늘은 이천이십사 년 삼월 오 일입니다."),
    ("2024.12.25에 봐요.", "이천이십사 년 십이월 이십오 일에 봐요."),
    ("10,000원입니다.", "만 원입니다."),
    ("15,500원", "만 오천오백 원"),
    ("1,000,000원", "백만 원"),
    ("₩5,000입니다.", "오천 원입니다."),
    ("$20을 냈어요.", "이십 달러을 냈어요."),
    ("3개월 동안", "삼 개월 동안"),
    ("20세 이상", "이십 세 이상"),
    ("12층에 살아요.", "십이 층에 살아요."),
    ("95점을 받았어요.", "구십오 점을 받았어요."),
    ("2학년", "이 학년"),
    # times
    ("3시에 만나요.", "세 시에 만나요."),
    ("오후 3:30에 출발해요.", "오후 세 시 삼십 분에 출발해요."),
    ("14:30에 만나요.", "열네 시 삼십 분에 만나요."),
    ("9:05:10에 시작", "아홉 시 오 분 십 초에 시작"),
    ("30분 후에", "삼십 분 후에"),
    # phone numbers
    ("전화번호는 010-1234-5678입니다.", "전화번호는 공일공 일이삼사 오육칠팔입니다."),
    ("02-123-4567로 전화하세요.", "공이 일이삼 사오육칠로 전화하세요."),
    # units, decimals, percent
    ("5km를 달렸어요.", "오 킬로미터를 달렸어요."),
    ("3kg 주세요", "삼 킬로그램 주세요"),
    ("2.5L 물", "이 점 오 리터 물"),
    ("30°C까지 올라가요.", "삼십 도까지 올라가요."),
    ("50% 할인", "오십 퍼센트 할인"),
    ("3.14는 원주율이에요.", "삼 점 일사는 원주율이에요."),
    ("256GB 메모리", "이백오십육 기가바이트 메모리"),
    # Latin acronyms and words inside Korean
    ("KTX를 타고 갔어요.", "케이티엑스를 타고 갔어요."),
    ("저는 IT 회사에 다녀요.", "저는 아이티 회사에 다녀요."),
    ("BTS 노래", "비티에스 노래"),
    ("저는 coffee를 좋아해요.", "저는 coffee를 좋아해요."),
    # plain numbers
    ("답은 42입니다.", "답은 사십이입니다."),
    ("인구는 51,000,000명", "인구는 오천백만 명"),
]


@pytest.mark.parametrize(("text", "expected"), KOREAN)
def test_korean_table(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_table_is_big_enough() -> None:
    assert len(KOREAN) >= 40


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "영"), (1, "일"), (10, "십"), (11, "십일"), (100, "백"), (1000, "천"), (10_000, "만"), (11_000, "만 천"),
     (20_300, "이만 삼백"), (100_000_000, "일억"), (123_456_789, "일억 이천삼백사십오만 육천칠백팔십구")],
)  # fmt: skip
def test_sino(n: int, expected: str) -> None:
    assert ko.sino(n) == expected


@pytest.mark.parametrize(
    ("n", "counter", "expected"),
    [(1, False, "하나"), (1, True, "한"), (2, True, "두"), (3, True, "세"), (4, True, "네"), (20, True, "스무"),
     (20, False, "스물"), (22, True, "스물두"), (50, False, "쉰"), (100, True, "백")],
)  # fmt: skip
def test_native(n: int, counter: bool, expected: str) -> None:
    assert ko.native(n, before_counter=counter) == expected


def test_numbers_outside_korean_are_untouched_by_the_korean_rules() -> None:
    assert normalize("I have 3 apples.") == "I have three apples."
    assert normalize("我有3个苹果。") == "我有三个苹果。"
    assert normalize("KTX is fast.") == "KTX is fast."


INTERNATIONAL = [
    ("Tengo 25 libros.", "es", "Tengo veinticinco libros."),
    ("Cuesta 1.500 euros.", "es", "Cuesta mil quinientos euros."),
    ("Pesa 3,5 kilos.", "es", "Pesa tres coma cinco kilos."),
    ("Un descuento del 50 %.", "es", "Un descuento del cincuenta por ciento."),
    ("J'ai 21 ans.", "fr", "J'ai vingt et un ans."),
    ("Ça coûte 1 500 €.", "fr", "Ça coûte mille cinq cents euros."),
    ("Ho 3 gatti.", "it", "Ho tre gatti."),
    ("Sono 1.200 metri.", "it", "Sono milleduecento metri."),
    ("Custa R$ 1.250,50.", "pt", "Custa mil duzentos e cinquenta vírgula cinquenta reais."),
    ("Tenho 2 irmãos.", "pt", "Tenho dois irmãos."),
]


@pytest.mark.parametrize(("text", "lang", "expected"), INTERNATIONAL)
def test_latin_languages_read_numbers_in_their_language(text: str, lang: str, expected: str) -> None:
    assert normalize(text, lang) == expected


def test_hindi_numbers_become_devanagari_digits_for_espeak() -> None:
    assert normalize("मेरे पास 1,500 रुपये हैं।") == "मेरे पास १५०० रुपये हैं।"
    assert normalize("मेरे पास 1,50,000 रुपये हैं।") == "मेरे पास १५०००० रुपये हैं।"
    assert normalize("कीमत 25% कम है।") == "कीमत २५ प्रतिशत कम है।"
