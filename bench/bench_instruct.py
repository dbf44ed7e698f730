"""Instruction control benchmark: does each instruction move the delivery the way it asks?

    .venv/bin/python bench/bench_instruct.py                       # delivery table + cloned-voice similarity
    .venv/bin/python bench/bench_instruct.py --voices jm_kumo --no-similarity   # quick

Part 1, delivery. For every instruction class, each voice speaks an English and a Mandarin sentence
with the instruction (English instruction for the English sentence, Chinese for the Mandarin one) and
without it. Measured on the audio alone (``parrot_dev.evaluation.measure_delivery``: WORLD Harvest F0,
frame RMS): speaking rate (syllables per second of speech), F0 median (semitones vs neutral), F0
range (10th-90th percentile, ratio vs neutral), RMS loudness (dB vs neutral), voiced share. An
instruction passes a case when every measure it targets moves the asked way by at least the margin:

- rate 8 %: about the smallest tempo change listeners notice in speech (JND ~5 %, rounded up);
- F0 median 1 semitone: well above the pitch JND for speech (~0.3-0.5 st) and clearly audible;
- F0 range 15 %: intonation span changes below that are hard to hear;
- loudness 2 dB: twice the loudness JND (~1 dB);
- whisper: at most 30 % voiced frames (modal speech is 85-100 %).

Intelligibility: Whisper base WER (English) / CER (Mandarin) of every rendering, against neutral.

Part 2, cloned voices (needs bench/requirements.txt): real speakers from bench/clone_speakers.json are
cloned, speak two sentences neutrally and under each emotion, and CAM++ (an independent judge, never
used by the cloning) scores similarity to the reference clip. Prints figures; never pass/fail.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from parrot import Parrot
from parrot.audio import resample
from parrot_dev.evaluation import Delivery, error_rate, measure_delivery

TEXTS = {
    "en": "I can't believe we finally made it to the top of the mountain. The view from here is wonderful.",
    "zh": "我们终于爬到山顶了，这里的风景真是太美了，一切辛苦都值得。",
}
RATE_MARGIN, PITCH_MARGIN, RANGE_MARGIN, LOUDNESS_MARGIN, WHISPER_VOICED = 0.08, 1.0, 0.15, 2.0, 0.30


@dataclass(frozen=True)
class Change:
    """One rendering against the neutral rendering of the same text and voice."""

    rate: float  # relative change of syllables per second
    pitch: float  # semitones
    spread: float  # relative change of F0 range
    loudness: float  # dB
    voiced: float  # share of voiced frames (absolute)

    @classmethod
    def between(cls, measured: Delivery, neutral: Delivery, syllables: int) -> Change:
        rate = (syllables / measured.seconds) / (syllables / neutral.seconds) - 1.0
        pitch = 12 * np.log2(measured.f0_median / neutral.f0_median) if measured.f0_median > 0 else float("nan")
        spread = measured.f0_range / neutral.f0_range - 1.0 if measured.f0_range > 0 else float("nan")
        return cls(rate, float(pitch), spread, measured.rms_db - neutral.rms_db, measured.voiced)


Check = Callable[[Change], bool]
CHECKS: dict[str, tuple[str, Check]] = {
    "rate+": ("rate >= +8%", lambda c: c.rate >= RATE_MARGIN),
    "rate-": ("rate <= -8%", lambda c: c.rate <= -RATE_MARGIN),
    "f0+": ("F0 >= +1 st", lambda c: c.pitch >= PITCH_MARGIN),
    "f0-": ("F0 <= -1 st", lambda c: c.pitch <= -PITCH_MARGIN),
    "range+": ("range >= +15%", lambda c: c.spread >= RANGE_MARGIN),
    "range-": ("range <= -15%", lambda c: c.spread <= -RANGE_MARGIN),
    "loud+": ("RMS >= +2 dB", lambda c: c.loudness >= LOUDNESS_MARGIN),
    "loud-": ("RMS <= -2 dB", lambda c: c.loudness <= -LOUDNESS_MARGIN),
    "unvoiced": ("voiced <= 30%", lambda c: c.voiced <= WHISPER_VOICED),
}

# class -> (English instruction, Chinese instruction, checks)
CLASSES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "happy": ("speak cheerfully", "开心地说", ("f0+", "range+")),
    "excited": ("sound excited", "兴奋地说", ("rate+", "f0+", "range+", "loud+")),
    "sad": ("speak sadly", "用悲伤的语气说", ("rate-", "f0-", "range-", "loud-")),
    "angry": ("sound angry", "生气地说", ("range+", "loud+")),
    "calm": ("calm and gentle", "温柔平静地说", ("range-", "loud-")),
    "fearful": ("sound scared", "害怕地说", ("f0+",)),
    "tired": ("sound tired", "疲惫地说", ("rate-", "range-", "loud-")),
    "announcer": ("like a news anchor", "像播音员一样", ("range+", "loud+")),
    "whisper": ("whisper", "悄悄地说", ("unvoiced", "loud-")),
    "faster": ("a bit faster", "快一点", ("rate+",)),
    "slower": ("slowly", "慢慢说", ("rate-",)),
    "louder": ("louder", "大声一点", ("loud+",)),
    "quieter": ("quietly", "小声说", ("loud-",)),
    "higher": ("higher pitch", "音调高一点", ("f0+",)),
    "lower": ("deeper voice", "声音低沉一些", ("f0-",)),
    "monotone": ("monotone", "平淡地说", ("range-",)),
    "expressive": ("expressive and lively", "声情并茂地说", ("range+",)),
}
EMOTIONS = ("happy", "sad", "angry", "calm", "excited", "whisper")


def syllables(text: str, lang: str) -> int:
    if lang == "zh":
        return len(re.findall(r"[\u4e00-\u9fff]", text))
    return sum(max(1, len(re.findall(r"[aeiouy]+", w))) for w in re.findall(r"[a-z']+", text.lower()))


def delivery_table(tts: Parrot, voices: list[str], classes: list[str]) -> None:
    recognizer = tts.recognizer
    print(f"\n## Delivery: {len(voices)} voices x 2 languages; mean change vs neutral (cases passing all checks)\n")
    header = "| instruction | rate | F0 (st) | F0 range | RMS (dB) | voiced | checks | passed | err vs neutral | RTF |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    neutral: dict[tuple[str, str], tuple[Delivery, float]] = {}
    rtf: list[float] = []
    for voice in voices:
        for lang, text in TEXTS.items():
            started = time.perf_counter()
            speech = tts.say(text, voice)
            rtf.append((time.perf_counter() - started) / speech.duration)
            neutral[voice, lang] = (
                measure_delivery(speech.audio, speech.sample_rate),
                _error(recognizer, tts, speech.audio, text, lang),
            )
    base_err = statistics.mean(e for _, e in neutral.values())
    voiced = statistics.mean(d.voiced for d, _ in neutral.values())
    print(f"| neutral | | | | | {voiced:.0%} | | | {base_err:.1%} | {statistics.mean(rtf):.2f} |")
    for name in classes:
        en, zh, checks = CLASSES[name]
        changes, errors, passed, rtf = [], [], 0, []
        for voice in voices:
            for lang, text in TEXTS.items():
                started = time.perf_counter()
                speech = tts.say(text, voice, instruction=en if lang == "en" else zh)
                rtf.append((time.perf_counter() - started) / speech.duration)
                change = Change.between(
                    measure_delivery(speech.audio, speech.sample_rate), neutral[voice, lang][0], syllables(text, lang)
                )
                changes.append(change)
                passed += all(CHECKS[c][1](change) for c in checks)
                errors.append(_error(recognizer, tts, speech.audio, text, lang) - neutral[voice, lang][1])

        def mean(field: str, values: list[Change] = changes) -> float:
            return float(np.nanmean([getattr(c, field) for c in values]))

        print(
            f"| {name} ({en} / {zh}) | {mean('rate'):+.0%} | {mean('pitch'):+.1f} | {mean('spread'):+.0%} | "
            f"{mean('loudness'):+.1f} | {mean('voiced'):.0%} | {', '.join(CHECKS[c][0] for c in checks)} | "
            f"{passed}/{len(changes)} | {statistics.mean(errors):+.1%} | {statistics.mean(rtf):.2f} |"
        )
        sys.stdout.flush()


def _error(recognizer, tts: Parrot, audio: np.ndarray, text: str, lang: str) -> float:  # noqa: ANN001
    heard = recognizer.transcribe(resample(audio, tts.sample_rate, 16_000), language=lang).text
    return error_rate(text, heard)


def similarity_table(tts: Parrot, speaker_ids: list[str] | None) -> None:
    from campplus import CamPlus
    from clone_data import load_speakers

    judge = CamPlus()
    speakers = load_speakers(ids=speaker_ids)
    sentences = {
        "en": [
            "Please remember to bring an umbrella, because it may rain this afternoon.",
            "She opened the window and listened to the birds singing in the garden.",
        ],
        "zh": ["今天天气很好，我们一起去公园散步吧。", "这本书讲的是一个普通家庭三代人的故事。"],
    }
    print(f"\n## Cloned voices: CAM++ similarity to the reference clip ({len(speakers)} real speakers)\n")
    rows: dict[str, list[float]] = {"neutral": [], **{e: [] for e in EMOTIONS}}
    for speaker in speakers:
        started = time.perf_counter()
        voice = tts.clone(speaker.ref_audio, speaker.ref_text, sample_rate=speaker.ref_rate, name="bench")
        reference = judge.embed(speaker.ref16())
        for label in rows:
            instruction = None if label == "neutral" else CLASSES[label][0 if speaker.lang == "en" else 1]
            audio = np.concatenate([tts.say(s, voice, instruction=instruction).audio for s in sentences[speaker.lang]])
            rows[label].append(judge.similarity(reference, judge.embed(resample(audio, tts.sample_rate, 16_000))))
        print(
            f"- {speaker.id}: neutral {rows['neutral'][-1]:.3f}, "
            + ", ".join(f"{e} {rows[e][-1]:.3f}" for e in EMOTIONS)
            + f" ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    base = statistics.mean(rows["neutral"])
    print("\n| delivery | mean SIM | change vs neutral |\n|---|---|---|")
    for label, values in rows.items():
        print(f"| {label} | {statistics.mean(values):.3f} | {statistics.mean(values) - base:+.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", default="jm_kumo,jf_alpha,linda,austen_reader")
    parser.add_argument("--classes", default=",".join(CLASSES))
    parser.add_argument(
        "--speakers",
        default="en_m_librivox,en_f_lj,zh_m_taiyi,zh_f_drama",
        help="speaker ids of bench/clone_speakers.json for the similarity part",
    )
    parser.add_argument("--no-similarity", action="store_true", help="skip the cloned-voice part (no torch needed)")
    parser.add_argument("--no-delivery", action="store_true", help="skip the delivery part")
    args = parser.parse_args()
    tts = Parrot()
    started = time.perf_counter()
    if not args.no_delivery:
        delivery_table(tts, args.voices.split(","), args.classes.split(","))
    if not args.no_similarity:
        similarity_table(tts, args.speakers.split(",") if args.speakers else None)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
