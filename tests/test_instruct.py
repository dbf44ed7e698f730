import pytest

from parrot.delivery.instruct import parse_instruction
from parrot.errors import InputError
from parrot.prosody import Prosody


def _cues(text: str) -> tuple[str, ...]:
    return parse_instruction(text).understood


@pytest.mark.parametrize(
    ("text", "cues"),
    [
        ("用悲伤的语气慢慢说", ("sad", "slower")),
        ("开心一点，语速快一些", ("happy (a bit)", "faster (a bit)")),
        ("小声说", ("quieter",)),
        ("speak cheerfully and a bit faster", ("happy", "faster (a bit)")),
        ("sound angry", ("angry",)),
        ("whisper", ("whisper",)),
        ("lower your voice", ("quieter",)),
        ("像播音员一样", ("announcer",)),
        ("非常开心", ("happy (very)",)),
        ("愉快地说", ("happy",)),  # 愉快 is not 快 (faster)
        ("very slowly please, with a deep voice", ("slower (very)", "lower pitch")),
        ("用很慢的速度，声音大一点", ("slower (very)", "louder (a bit)")),
        ("不要说得太快", ("not faster (the other way, a little)",)),
        ("don't speak too fast", ("not faster (the other way, a little)",)),
        ("please do not whisper", ("not whisper",)),
        ("Tell it like a bedtime story", ("storyteller",)),
    ],
)
def test_cues_and_degrees(text, cues):
    assert _cues(text) == cues


def test_directions_of_the_main_controls():
    sad = parse_instruction("用悲伤的语气慢慢说").prosody
    assert sad.rate < 0.8 and sad.pitch < 0 and sad.pitch_range < 1 and sad.volume < 0
    happy = parse_instruction("speak cheerfully").prosody
    assert happy.rate > 1 and happy.pitch > 0 and happy.pitch_range > 1
    assert parse_instruction("whisper").prosody.quality == "whisper"
    assert parse_instruction("louder").prosody.volume > 0 > parse_instruction("quieter").prosody.volume


def test_degrees_scale_the_change():
    a_bit, plain, very = (parse_instruction(t).prosody.rate for t in ("a bit faster", "faster", "much faster"))
    assert 1 < a_bit < plain < very
    assert parse_instruction("not too fast").prosody.rate < 1


def test_combined_controls_multiply_rates():
    assert parse_instruction("happy and slower").prosody.rate == pytest.approx(1.08 * 0.77)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("用四川话说", "dialect"),
        ("说粤语", "dialect"),
        ("with a British accent", "dialect"),
        ("sing it", "singing"),
        ("唱出来", "singing"),
        ("像小孩一样说", "character voice"),
        ("sound like a robot", "character voice"),
        ("用英语说", "another language"),
    ],
)
def test_unsupported_requests_are_reported(text, label):
    parsed = parse_instruction(text)
    assert label in parsed.unsupported
    assert parsed.warnings and parsed.prosody == Prosody()


def test_unsupported_part_does_not_hide_the_rest():
    parsed = parse_instruction("用四川话，开心地说")
    assert parsed.unsupported == ("dialect",) and parsed.understood == ("happy",)
    assert len(parsed.warnings) == 1


def test_gibberish_is_not_understood_but_not_an_error():
    parsed = parse_instruction("blorp zint")
    assert parsed.understood == () and parsed.prosody == Prosody()
    assert "not understood" in parsed.warnings[0]


@pytest.mark.parametrize("text", ["", "   ", "x" * 501])
def test_empty_or_huge_instruction_is_an_error(text):
    with pytest.raises(InputError):
        parse_instruction(text)
