import pytest

from parrot.errors import InputError, UnsupportedLanguageError
from parrot.prosody import NEUTRAL
from parrot.text.markup import EMPHASIS, LAUGHING, Pause, Sound, Words, parse_markup, rewrite_outside_markup


def test_plain_text_is_one_piece():
    assert parse_markup("Hello there.").pieces == (Words("Hello there."),)


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("Hello [laughter] there.", (Words("Hello "), Sound("laughter"), Words(" there."))),
        ("他突然[sigh]停下来。", (Words("他突然"), Sound("sigh"), Words("停下来。"))),
        ("Wait [pause:1.5s] now", (Words("Wait "), Pause(1.5), Words(" now"))),
        ("Wait [pause:300ms] now", (Words("Wait "), Pause(0.3), Words(" now"))),
        ("Wait [pause] now", (Words("Wait "), Pause(0.5), Words(" now"))),
        ('Wait <break time="500ms"/> now', (Words("Wait "), Pause(0.5), Words(" now"))),
        ("Wait <break strength='strong'/> now", (Words("Wait "), Pause(0.8), Words(" now"))),
        ("Wait <break/> now", (Words("Wait "), Pause(0.5), Words(" now"))),
    ],
)
def test_sounds_and_pauses(text, pieces):
    assert parse_markup(text).pieces == pieces


def test_emphasis_and_nesting():
    markup = parse_markup('This is <strong>very <prosody rate="slow">very</prosody></strong> important.')
    first, strong, nested, last = markup.pieces
    assert first == Words("This is ") and last == Words(" important.")
    assert strong == Words("very ", EMPHASIS)
    assert nested.text == "very" and nested.prosody.rate == pytest.approx(EMPHASIS.rate * 0.8)
    assert nested.prosody.volume == pytest.approx(EMPHASIS.volume)


@pytest.mark.parametrize(
    ("attrs", "field", "value"),
    [
        ('rate="80%"', "rate", 0.8),
        ('rate="+10%"', "rate", 1.1),
        ('rate="x-fast"', "rate", 1.6),
        ('rate="1.2"', "rate", 1.2),
        ('pitch="+2st"', "pitch", 2.0),
        ('pitch="low"', "pitch", -2.0),
        ('pitch="-25%"', "pitch", -4.980449991346125),
        ('pitch="-50%"', "pitch", -8.0),  # clamped
        ('volume="+6dB"', "volume", 6.0),
        ('volume="soft"', "volume", -5.0),
        ('range="high"', "pitch_range", 1.5),
    ],
)
def test_prosody_attributes(attrs, field, value):
    (piece,) = parse_markup(f"<prosody {attrs}>words</prosody>").pieces
    assert getattr(piece.prosody, field) == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        '<break time="soon"/>',
        "[pause:abc]",
        "[pause:60s]",
        '<prosody rate="warp">x</prosody>',
        '<prosody pitch="up">x</prosody>',
        '<prosody volume="loudest">x</prosody>',
        '<prosody speed="1">x</prosody>',
        '<say-as interpret-as="magic">x</say-as>',
        '<emphasis level="huge">x</emphasis>',
    ],
)
def test_bad_values_are_clear_errors(text):
    with pytest.raises(InputError, match="<|\\["):
        parse_markup(text)


def test_language_tags_force_the_language_until_the_next_one():
    pieces = parse_markup("<|en|>Hello <|zh|>你好 <lang xml:lang='ja-JP'>こんにちは</lang> 再见").pieces
    assert [(p.text, p.lang) for p in pieces] == [
        ("Hello ", "en"),
        ("你好 ", "zh"),
        ("こんにちは", "ja"),
        (" 再见", "zh"),
    ]


def test_unsupported_language_tag_is_an_error():
    with pytest.raises(UnsupportedLanguageError, match="yue"):
        parse_markup("<|yue|>你好")
    assert parse_markup("<|yue|>你好", languages=("zh", "yue")).pieces == (Words("你好", lang="yue"),)


def test_say_as_digits_and_characters():
    pieces = parse_markup(
        'Call <say-as interpret-as="digits">2024</say-as>, code <say-as interpret-as="characters">abc</say-as>.'
    ).pieces
    assert "".join(p.text for p in pieces) == "Call 2 0 2 4, code A B C."


def test_laughing_span_and_structure_tags():
    pieces = parse_markup("<speak><p>One.</p><p><laughter>Two</laughter></p></speak>").pieces
    assert pieces[0] == Words("One.\n")
    assert pieces[1] == Words("Two\n", LAUGHING)


def test_stray_closing_tag_and_unknown_brackets_are_harmless():
    markup = parse_markup("a < b and [citation] stays</strong> here")
    assert markup.pieces == (Words("a < b and [citation] stays here"),)
    assert markup.pieces[0].prosody == NEUTRAL


def test_voice_tag_is_reported():
    assert parse_markup('<voice name="x">hi</voice>').warnings


def test_rewrite_outside_markup_keeps_tags():
    out = rewrite_outside_markup("In 2024 [breath] <strong>3</strong> cats", str.upper)
    assert out == "IN 2024 [breath] <strong>3</strong> CATS"


def test_korean_and_the_espeak_languages_in_tags_and_ssml():
    from parrot.engines.kokoro.engine import KokoroEngine

    languages = KokoroEngine.languages
    pieces = parse_markup("<|ko|>안녕하세요 <|es|>Hola amigo", languages).pieces
    assert [(p.text.strip(), p.lang) for p in pieces] == [("안녕하세요", "ko"), ("Hola amigo", "es")]
    ssml = '<speak><lang xml:lang="ko-KR">감사합니다</lang> <lang xml:lang="pt-BR">Obrigado</lang></speak>'
    assert [(p.text.strip(), p.lang) for p in parse_markup(ssml, languages).pieces if p.text.strip()] == [
        ("감사합니다", "ko"), ("Obrigado", "pt"),
    ]  # fmt: skip
    with pytest.raises(InputError, match="not supported by this engine"):
        parse_markup("<|ko|>안녕", ("zh", "en", "ja"))
