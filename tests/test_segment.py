import pytest

from parrot.errors import UnsupportedLanguageError
from parrot.text.segment import check_language, split_languages


def runs(text: str, lang: str | None = None) -> list[tuple[str, str]]:
    return [(s.lang, s.text.strip()) for s in split_languages(text, lang)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好世界。", [("zh", "你好世界。")]),
        ("Hello world.", [("en", "Hello world.")]),
        ("今日はいい天気ですね。", [("ja", "今日はいい天気ですね。")]),
        ("我喜欢Python编程。", [("zh", "我喜欢"), ("en", "Python"), ("zh", "编程。")]),
        ("今天天气真不错。Let's go!", [("zh", "今天天气真不错。"), ("en", "Let's go!")]),
        ("東京に行きます。我们去东京。", [("ja", "東京に行きます。"), ("zh", "我们去东京。")]),
        ("“Hello” 世界", [("en", "“Hello”"), ("zh", "世界")]),
        ("café au lait", [("en", "café au lait")]),
        ("🎉 你好 🎉", [("zh", "你好")]),
    ],
)
def test_split_by_script(text, expected):
    assert runs(text) == expected


def test_spans_index_the_text():
    text = "我喜欢Python编程。And you?"
    for seg in split_languages(text):
        assert text[seg.start : seg.end] == seg.text


def test_forced_language_decides_han():
    assert runs("東京", "ja") == [("ja", "東京")]
    assert runs("東京", "zh") == [("zh", "東京")]


def test_emoji_and_punctuation_only_gives_nothing():
    assert split_languages("🎉🎉!!! ...") == []


@pytest.mark.parametrize("text", ["Привет мир", "مرحبا", "hello שלום", "বাংলা"])
def test_unsupported_script_names_what_is_supported(text):
    with pytest.raises(UnsupportedLanguageError, match=r"zh \(Mandarin Chinese\), en \(English\), ja.*ko \(Korean\)"):
        split_languages(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("안녕하세요.", [("ko", "안녕하세요.")]),
        ("저는 coffee를 좋아해요.", [("ko", "저는"), ("en", "coffee"), ("ko", "를 좋아해요.")]),
        ("我们去首尔，감사합니다。", [("zh", "我们去首尔，"), ("ko", "감사합니다。")]),
        ("韓国語で사랑해요は愛です。", [("ja", "韓国語で"), ("ko", "사랑해요"), ("ja", "は愛です。")]),
        ("우리는 東京에서 만났어요.", [("ko", "우리는"), ("zh", "東京"), ("ko", "에서 만났어요.")]),
        ("iPhone을 샀어요 ㅋㅋ", [("en", "iPhone"), ("ko", "을 샀어요 ㅋㅋ")]),
        ("नमस्ते दुनिया। Hello!", [("hi", "नमस्ते दुनिया।"), ("en", "Hello!")]),
        ("आज 5 बजे", [("hi", "आज 5 बजे")]),
    ],
)
def test_hangul_and_devanagari_in_mixed_text(text, expected):
    assert runs(text) == expected


def test_forced_latin_language_reads_latin_letters():
    assert runs("Hola, ¿cómo estás? 你好", "es") == [("es", "Hola, ¿cómo estás?"), ("zh", "你好")]
    assert runs("Bonjour 안녕", "fr") == [("fr", "Bonjour"), ("ko", "안녕")]
    assert runs("Hello", "ko") == [("en", "Hello")]  # Latin letters in a Korean request are English


def test_korean_mixed_segments_are_linear_and_index_the_text():
    text = "가A" * 5000
    segments = split_languages(text)
    assert len(segments) == 10000
    for seg in segments[:50]:
        assert text[seg.start : seg.end] == seg.text


@pytest.mark.parametrize(
    ("code", "expected"),
    [("auto", None), (None, None), ("zh-CN", "zh"), ("EN", "en"), ("ko-KR", "ko"), ("korean", "ko"), ("pt-BR", "pt"),
     ("es", "es"), ("fr_FR", "fr"), ("it", "it"), ("hi-IN", "hi")],
)  # fmt: skip
def test_check_language(code, expected):
    assert check_language(code) == expected


def test_check_language_rejects_unknown():
    with pytest.raises(UnsupportedLanguageError, match=r"'de' is not supported.*ko \(Korean\).*hi \(Hindi\)"):
        check_language("de")
