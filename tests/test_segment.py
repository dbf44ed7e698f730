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


@pytest.mark.parametrize("text", ["안녕하세요", "Привет мир", "مرحبا", "hello שלום"])
def test_unsupported_script_names_what_is_supported(text):
    with pytest.raises(UnsupportedLanguageError, match=r"zh \(Mandarin Chinese\), en \(English\), ja"):
        split_languages(text)


@pytest.mark.parametrize(("code", "expected"), [("auto", None), (None, None), ("zh-CN", "zh"), ("EN", "en")])
def test_check_language(code, expected):
    assert check_language(code) == expected


def test_check_language_rejects_unknown():
    with pytest.raises(UnsupportedLanguageError, match="'fr' is not supported"):
        check_language("fr")
