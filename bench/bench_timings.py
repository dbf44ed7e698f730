"""Word timings against an independent forced alignment: Whisper's word timestamps of the same audio.

    .venv/bin/python bench/bench_timings.py            # English and Mandarin sentences, two voices each
    .venv/bin/python bench/bench_timings.py --verbose  # every matched word

Parrot speaks each sentence (``Parrot.say``, which returns the word timings from the model's durations);
Whisper base (``parrot.asr``, faster-whisper with ``word_timestamps``, language given) transcribes the audio.
Words are matched by their text (English: lowercased words; Mandarin: characters, each Whisper word compared
with the first and last character it covers); every matched word gives two boundary errors, |start - start'|
and |end - end'|. Prints the median and 90th percentile per language and overall, and how many words matched.
Whisper's own timestamps are not exact either (they come from its cross-attention, in 20 ms steps), so the
figure bounds Parrot's error from above. Never pass/fail.
"""

from __future__ import annotations

import argparse
import difflib
import re
import statistics

import numpy as np

SENTENCES = {
    "en": [
        "The quick brown fox jumps over the lazy dog, and then it runs into the forest.",
        "We walked along the river in the morning and talked about our old friends.",
        "Please send the report by Friday; the meeting has moved to three o'clock.",
        "Although it was raining heavily, the children wanted to play outside in the garden.",
        "Modern computers can translate speech into text almost instantly.",
        "She opened the window, looked at the mountains, and smiled.",
    ],
    "zh": [
        "今天天气很好，我们一起去公园散步。",
        "这本书讲的是一个小女孩在大城市里长大的故事。",
        "请在星期五之前把报告发给我，会议改到下午三点。",
        "虽然外面下着大雨，孩子们还是想去花园里玩。",
        "现代计算机几乎可以立刻把语音转换成文字。",
        "她打开窗户，看着远处的山，笑了起来。",
    ],
}
VOICES = {"en": ["linda", "jm_kumo"], "zh": ["jf_alpha", "jm_kumo"]}
_LATIN = re.compile(r"[a-z0-9']+")


def units(words: list[tuple[str, float, float]], lang: str) -> list[tuple[str, int]]:
    """Matchable units and the index of the word each belongs to: lowercased words, or Han characters."""
    out = []
    for index, (text, _, _) in enumerate(words):
        if lang == "zh":
            out += [(c, index) for c in text if "\u3400" <= c <= "\u9fff"]
        else:
            out += [(w, index) for w in _LATIN.findall(text.lower().replace("’", "'"))]
    return out


def boundary_errors(
    ours: list[tuple[str, float, float]], heard: list[tuple[str, float, float]], lang: str
) -> tuple[list[float], list[str]]:
    """Errors (seconds) of matched words' starts and ends, and a line per matched Whisper word."""
    a, b = units(ours, lang), units(heard, lang)
    matcher = difflib.SequenceMatcher(a=[u for u, _ in a], b=[u for u, _ in b], autojunk=False)
    ours_of: dict[int, int] = {}  # unit of the Whisper words -> unit of ours
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            ours_of[block.b + k] = block.a + k
    errors, lines = [], []
    for index, (text, start, end) in enumerate(heard):
        mine = [k for k, (_, w) in enumerate(b) if w == index]
        if not mine or any(k not in ours_of for k in mine):
            continue
        first, last = ours[a[ours_of[mine[0]]][1]], ours[a[ours_of[mine[-1]]][1]]
        errors += [abs(first[1] - start), abs(last[2] - end)]
        lines.append(f"    {text.strip():<14} whisper {start:6.2f}-{end:6.2f}  parrot {first[1]:6.2f}-{last[2]:6.2f}")
    return errors, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="print every matched word")
    args = parser.parse_args()

    from parrot import Parrot
    from parrot.audio import resample

    tts = Parrot()
    recognizer = tts.recognizer
    pad = 0.3  # seconds of silence around each utterance, as a recording has
    totals: list[float] = []
    for lang, sentences in SENTENCES.items():
        errors: list[float] = []
        matched = spoken = 0
        for voice in VOICES[lang]:
            for sentence in sentences:
                speech = tts.say(sentence, voice=voice, lang=lang)
                silence = np.zeros(int(pad * speech.sample_rate), np.float32)
                audio = resample(np.concatenate([silence, speech.audio, silence]), speech.sample_rate, 16_000)
                recognition = recognizer.recognize(audio, language=lang, words=True)
                heard = [(w.word, w.start - pad, w.end - pad) for s in recognition.segments for w in s.words]
                ours = [(w.text, w.start, w.end) for w in speech.words]
                found, lines = boundary_errors(ours, heard, lang)
                errors += found
                matched += len(lines)
                spoken += len(heard)
                if args.verbose:
                    print(f"  [{voice}] {sentence}")
                    print("\n".join(lines))
        totals += errors
        print(
            f"{lang}: {matched}/{spoken} Whisper words matched; boundary error median "
            f"{1000 * statistics.median(errors):.0f} ms, p90 {1000 * float(np.percentile(errors, 90)):.0f} ms"
        )
    print(f"all: boundary error median {1000 * statistics.median(totals):.0f} ms over {len(totals)} boundaries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
