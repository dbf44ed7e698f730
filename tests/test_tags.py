import pytest

from parrot.text.tags import strip_tags


@pytest.mark.parametrize(
    ("text", "spoken", "removed"),
    [
        ("Hello [laughter] there.", "Hello   there.", ["[laughter]"]),
        ("他突然[laughter]停下来。", "他突然 停下来。", ["[laughter]"]),
        ("<strong>Very</strong> important [breath]", " Very  important  ", ["<strong>", "</strong>", "[breath]"]),
        (
            'Wait <break time="500ms"/> now [pause:1.5s] go',
            "Wait   now   go",
            ['<break time="500ms"/>', "[pause:1.5s]"],
        ),
        ("<|en|>Hello <|zh|>你好", " Hello  你好", ["<|en|>", "<|zh|>"]),
        ('<prosody rate="slow">slowly</prosody>', " slowly ", ['<prosody rate="slow">', "</prosody>"]),
        ("a < b and [citation] stays", "a < b and [citation] stays", []),
    ],
)
def test_strip_tags(text, spoken, removed):
    assert strip_tags(text) == (spoken, removed)


@pytest.mark.slow
def test_tags_are_never_spoken(tts):
    plain = tts.say("Hello there.").duration
    tagged = tts.say("Hello [laughter] there. [breath]").duration
    assert abs(tagged - plain) < 0.3  # "laughter" and "breath" were not read out
