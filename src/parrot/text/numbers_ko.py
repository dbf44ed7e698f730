"""Reading numbers aloud in Korean, written in Hangul.

Korean has two counting systems. Sino-Korean numerals (일, 이, 삼 ... 십, 백, 천, 만, 억, 조) read dates,
minutes, money, measures and most counters: 3월 -> 삼월, 10,000원 -> 만 원, 5km -> 오 킬로미터. Native
numerals (하나, 둘, 셋 ... 아흔아홉, with the short forms 한, 두, 세, 네, 스무 before a counter) count things,
people, hours and times: 3개 -> 세 개, 2명 -> 두 명, 3시 -> 세 시. Native numerals stop at 99; above it the
Sino-Korean reading is used, as Koreans do.

``read`` takes one match of ``KOREAN_NUMBER`` (phone number, date, time or a number with what it counts)
and returns its reading; the normaliser calls it only where the surrounding text is Korean.
"""

from __future__ import annotations

import re

_SINO_DIGITS = ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
_PHONE_DIGITS = ("공", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
_SMALL_UNITS = ("", "십", "백", "천")
_SECTION_UNITS = ("", "만", "억", "조", "경")
_NATIVE_ONES = ("", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_ONES_BEFORE_COUNTER = ("", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
_MONTHS = {6: "유월", 10: "시월"}  # the two months whose numeral changes (육월, 십월 are never said)

# Counters read with native numerals (the rest take Sino-Korean ones).
NATIVE_COUNTERS = (
    "개", "명", "살", "시간", "시", "번째", "번", "마리", "권", "잔", "병", "장", "벌", "그루", "송이",
    "켤레", "척", "곳", "군데", "가지", "줄", "채", "통", "달", "사람", "판", "바퀴", "자루", "쌍",
)  # fmt: skip
SINO_COUNTERS = (
    "년", "월", "일", "분", "초", "원", "층", "호", "주", "개월", "세", "학년", "회", "위", "등", "점", "페이지",
    "쪽", "퍼센트", "프로", "도", "킬로", "미터", "인분", "박", "달러", "엔", "위안", "유로", "번지", "동", "차",
)  # fmt: skip
UNITS = {
    "km": "킬로미터", "cm": "센티미터", "mm": "밀리미터", "m": "미터", "kg": "킬로그램", "mg": "밀리그램",
    "g": "그램", "ml": "밀리리터", "mL": "밀리리터", "L": "리터", "l": "리터", "%": "퍼센트", "°C": "도",
    "℃": "도", "km/h": "킬로미터", "GB": "기가바이트", "MB": "메가바이트", "TB": "테라바이트",
}  # fmt: skip
_CURRENCY_PREFIX = {"₩": "원", "$": "달러", "€": "유로", "¥": "엔", "£": "파운드"}
_LETTERS = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ("에이", "비", "씨", "디", "이", "에프", "지", "에이치", "아이", "제이", "케이", "엘", "엠", "엔", "오", "피",
         "큐", "알", "에스", "티", "유", "브이", "더블유", "엑스", "와이", "제트"),
        strict=True,
    )
)  # fmt: skip

_COUNTER = "|".join(sorted({*NATIVE_COUNTERS, *SINO_COUNTERS}, key=len, reverse=True))
_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_AMOUNT = r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+"
KOREAN_NUMBER = re.compile(
    r"(?P<phone>(?<![0-9])0[0-9]{1,2}-[0-9]{3,4}-[0-9]{4}(?![0-9]))"
    r"|(?P<date>(?<![0-9])(?P<y>[12][0-9]{3})(?P<sep>[-./])(?P<mo>1[0-2]|0?[1-9])(?P=sep)(?P<d>3[01]|[12][0-9]|0?[1-9])"
    r"(?![0-9]))"
    r"|(?P<time>(?<![0-9])(?P<h>[01]?[0-9]|2[0-4]):(?P<mi>[0-5][0-9])(?::(?P<s>[0-5][0-9]))?(?![0-9]))"
    rf"|(?P<cur>[₩$€¥£])\s?(?P<camount>{_AMOUNT})(?:\.(?P<cfrac>[0-9]+))?"
    rf"|(?P<amount>{_AMOUNT})(?:\.(?P<frac>[0-9]+))?(?:\s?(?P<unit>{_UNIT})(?![A-Za-z])|\s?(?P<counter>{_COUNTER}))?"
)
KOREAN_ACRONYM = re.compile(r"(?<![A-Za-z])[A-Z]{2,6}(?![A-Za-z])")
_MAX_DIGITS = 4 * len(_SECTION_UNITS)


def sino(n: int) -> str:
    """Sino-Korean reading of an integer: 10000 -> 만, 1500 -> 천오백, 20300 -> 이만 삼백."""
    if n < 0:
        return "마이너스 " + sino(-n)
    if n == 0:
        return "영"
    if len(str(n)) > _MAX_DIGITS:
        return digits(str(n), _SINO_DIGITS)
    sections: list[str] = []
    power = 0
    while n:
        n, section = divmod(n, 10_000)
        if section:
            words = _section(section)
            if power == 1 and section == 1:
                words = ""  # 만, never 일만
            sections.append(words + _SECTION_UNITS[power])
        power += 1
    return " ".join(reversed(sections))


def _section(n: int) -> str:
    """0 < n < 10000: 천오백, 이십삼 (일 is dropped before 십/백/천)."""
    out = []
    for power in range(3, -1, -1):
        digit = (n // 10**power) % 10
        if digit:
            out.append(("" if digit == 1 and power else _SINO_DIGITS[digit]) + _SMALL_UNITS[power])
    return "".join(out)


def native(n: int, *, before_counter: bool = False) -> str:
    """Native Korean reading for 1-99 (한, 두, 세, 네, 스무 before a counter); Sino-Korean from 100 or at 0."""
    if not 0 < n < 100:
        return sino(n)
    tens, ones = divmod(n, 10)
    if before_counter and n == 20:
        return "스무"
    ones_words = _NATIVE_ONES_BEFORE_COUNTER if before_counter else _NATIVE_ONES
    return _NATIVE_TENS[tens] + ones_words[ones]


def digits(text: str, names: tuple[str, ...] = _PHONE_DIGITS) -> str:
    """One digit at a time (phone numbers: 0 is 공)."""
    return "".join(names[int(c)] for c in text if c.isdigit())


def decimal(whole: str, fraction: str | None) -> str:
    """3.14 -> 삼 점 일사."""
    words = sino(int(whole.replace(",", "")))
    return f"{words} 점 {digits(fraction, _SINO_DIGITS)}" if fraction else words


def spell_acronym(acronym: str) -> str:
    """KTX -> 케이티엑스: Latin capitals as Koreans name them."""
    return "".join(_LETTERS[c] for c in acronym)


def read(m: re.Match[str]) -> str:
    """The Korean reading of one ``KOREAN_NUMBER`` match."""
    if m.group("phone"):
        return " ".join(digits(group) for group in m.group("phone").split("-"))
    if m.group("date"):
        year, month, day = int(m.group("y")), int(m.group("mo")), int(m.group("d"))
        return f"{sino(year)} 년 {month_name(month)} {sino(day)} 일"
    if m.group("time"):
        return _time(int(m.group("h")), int(m.group("mi")), m.group("s"))
    if m.group("cur"):
        return f"{decimal(m.group('camount'), m.group('cfrac'))} {_CURRENCY_PREFIX[m.group('cur')]}"
    amount, fraction = m.group("amount"), m.group("frac")
    unit, counter = m.group("unit"), m.group("counter")
    if unit:
        return f"{decimal(amount, fraction)} {UNITS[unit]}"
    if counter is None or fraction:
        return decimal(amount, fraction) + (f" {counter}" if counter else "")
    n = int(amount.replace(",", ""))
    if counter == "월":
        return month_name(n)
    if counter == "번째" and n == 1:
        return "첫 번째"
    if counter in NATIVE_COUNTERS and 0 < n < 100:
        return f"{native(n, before_counter=True)} {counter}"
    return f"{sino(n)} {counter}"


def month_name(month: int) -> str:
    """3 -> 삼월, 6 -> 유월, 10 -> 시월."""
    return _MONTHS.get(month, sino(month) + "월")


def _time(hour: int, minute: int, second: str | None) -> str:
    words = f"{native(hour, before_counter=True) if hour else '영'} 시"
    if minute:
        words += f" {sino(minute)} 분"
    if second and int(second):
        words += f" {sino(int(second))} 초"
    return words
