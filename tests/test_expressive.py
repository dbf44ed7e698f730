"""Instructions and inline markup through the facade, on the real embedded engine."""

from collections.abc import Iterator

import numpy as np
import pytest

from parrot import Parrot
from parrot.audio import resample
from parrot.engines.base import AudioChunk, Engine, SynthesisOptions
from parrot.errors import InputError
from parrot.voices.voice import Voice
from parrot_dev.evaluation import Delivery, error_rate, measure_delivery

TEXT = "I can't believe we finally made it to the top of the mountain. The view is wonderful."
ZH_TEXT = "我们终于爬到山顶了，这里的风景真是太美了。"
pytestmark = pytest.mark.slow


def _measure(tts, text: str, voice: str, instruction: str | None = None) -> Delivery:
    speech = tts.say(text, voice, instruction=instruction)
    return measure_delivery(speech.audio, speech.sample_rate)


@pytest.fixture(scope="module")
def neutral(tts) -> dict[str, Delivery]:
    return {"en": _measure(tts, TEXT, "linda"), "zh": _measure(tts, ZH_TEXT, "jm_kumo")}


@pytest.mark.parametrize(
    ("instruction", "lang", "check"),
    [
        ("用悲伤的语气慢慢说", "zh", lambda d, n: d.seconds > 1.3 * n.seconds and d.f0_median < n.f0_median * 0.95
         and d.f0_range < n.f0_range and d.rms_db < n.rms_db - 2),
        ("speak cheerfully", "en", lambda d, n: d.f0_median > n.f0_median * 1.06 and d.f0_range > n.f0_range * 1.2),
        ("sound angry", "en", lambda d, n: d.rms_db > n.rms_db + 3 and d.f0_range > n.f0_range),
        ("whisper", "en", lambda d, n: d.voiced < 0.3 and d.rms_db < n.rms_db - 3),
        ("小声说", "zh", lambda d, n: d.rms_db < n.rms_db - 5),
        ("louder", "en", lambda d, n: d.rms_db > n.rms_db + 4),
        ("much slower", "en", lambda d, n: d.seconds > 1.3 * n.seconds),
        ("快一点", "zh", lambda d, n: d.seconds < 0.95 * n.seconds),
        ("monotone", "en", lambda d, n: d.f0_range < 0.7 * n.f0_range),
        ("higher pitch", "zh", lambda d, n: 12 * np.log2(d.f0_median / n.f0_median) > 2),
    ],
)
def test_instructions_move_the_delivery_as_asked(tts, neutral, instruction, lang, check):
    text, voice = (TEXT, "linda") if lang == "en" else (ZH_TEXT, "jm_kumo")
    measured = _measure(tts, text, voice, instruction)
    assert check(measured, neutral[lang]), (measured, neutral[lang])


def test_instruction_is_never_spoken_and_speech_stays_intelligible(tts, recognizer):
    def heard(instruction: str | None) -> str:
        speech = tts.say(TEXT, "jm_kumo", instruction=instruction)
        return recognizer.transcribe(resample(speech.audio, tts.sample_rate, 16_000), language="en").text

    plain, instructed = heard(None), heard("speak cheerfully and a bit faster")
    assert error_rate(TEXT, instructed) <= error_rate(TEXT, plain) + 0.1, (plain, instructed)
    assert "cheerful" not in instructed.lower() and "faster" not in instructed.lower()


def test_tags_are_not_spoken_and_pauses_are_kept(tts, recognizer):
    plain = tts.say("Hello there. Nice to see you.", "linda")
    tagged = tts.say("Hello there. [breath] Nice to [pause:1.5s] see you. [laughter]", "linda")
    assert tagged.duration > plain.duration + 1.5  # the pause and the sounds, not words
    heard = recognizer.transcribe(resample(tagged.audio, tts.sample_rate, 16_000), language="en").text.lower()
    assert "breath" not in heard and "pause" not in heard and "laughter" not in heard
    assert "nice" in heard and "see you" in heard
    hop = tts.sample_rate // 100
    frames = tagged.audio[: len(tagged.audio) // hop * hop].reshape(-1, hop)
    silent = np.sqrt(np.mean(frames**2, axis=1)) < 1e-4
    longest = max((len(run) for run in "".join("1" if s else "0" for s in silent).split("0")), default=0)
    assert longest >= 140  # the 1.5 s pause, in 10 ms frames


def test_emphasis_is_louder_than_its_neighbours(tts):
    text = "This is <strong>really</strong> important."
    speech = tts.stream(text, "linda", fast_start=False)
    chunks = list(speech)
    loudness = {c.text: float(np.sqrt(np.mean(c.audio**2))) for c in chunks if c.text}
    assert loudness["really"] > 1.2 * max(v for k, v in loudness.items() if k != "really")


def test_warnings_for_what_cannot_be_done(tts):
    stream = tts.stream("你好。", "jm_kumo", instruction="用四川话说 [accent]")
    assert any("dialects" in w for w in stream.warnings)
    list(stream)
    assert tts.say("Hi [accent] there", "linda").warnings == (
        "[accent] is not rendered by the kokoro engine; it was left out",
    )
    with pytest.raises(InputError, match="pause"):
        tts.stream("Wait [pause:1 minute] now")


def test_emotion_keeps_a_cloned_speaker_recognisable(tts):
    from parrot.voices.embedding import SpeakerEncoder

    reference = tts.say("The old lighthouse keeper walked down to the harbour every morning.", "jm_kumo")
    voice = tts.clone(reference.audio, "The old lighthouse keeper walked down to the harbour every morning.",
                      sample_rate=tts.sample_rate, name="keeper")
    encoder = SpeakerEncoder()

    def embed(audio: np.ndarray) -> np.ndarray:
        return encoder.embed(resample(audio, tts.sample_rate, 16_000))

    ref = embed(reference.audio)
    text = "Please close the window before you leave the house."
    neutral = float(ref @ embed(tts.say(text, voice).audio))
    sad = float(ref @ embed(tts.say(text, voice, instruction="sadly").audio))
    other = float(ref @ embed(tts.say(text, "linda").audio))
    assert sad > other and sad > neutral - 0.1, (neutral, sad, other)


class _NativeEngine(Engine):
    """An engine that reads markup and instructions itself: it must get them unchanged."""

    name = "native"
    sample_rate = 24_000
    languages = ("zh", "en", "ja", "yue")
    native_markup = True
    native_instructions = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, SynthesisOptions]] = []

    def stock_voices(self) -> list[Voice]:
        return [Voice("n", "native", "stock", {})]

    def stream(self, text: str, voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        self.calls.append((text, options))
        yield AudioChunk(np.zeros(240, np.float32), self.sample_rate, text, 0, len(text))


def test_engines_that_read_markup_and_instructions_get_them_unchanged(tmp_path):
    from parrot.config import Settings

    engine = _NativeEngine()
    tts = Parrot(engine, Settings(data_dir=tmp_path))
    stream = tts.stream("<|yue|>I have 2 cats [laughter] <strong>now</strong>", instruction="用粤语开心地说")
    list(stream)
    text, options = engine.calls[0]
    assert text == "<|yue|>I have two cats [laughter] <strong>now</strong>"
    assert options.instruction == "用粤语开心地说"
    assert stream.warnings == ()  # the engine does dialects itself
