"""Speech recognition for voice chat: Whisper base with the encoder window fitted to the utterance
(``Recognizer.transcribe(short=True)``) against faster-whisper's own decoding (30 s windows, beam 5).

    .venv/bin/python bench/bench_asr.py              # needs the cloning recordings (bench/clone_data.py)
    .venv/bin/python bench/bench_asr.py --no-real    # only the short synthesized replies

Clips: the real human recordings of the cloning benchmark (two per speaker, en and zh, 5-14 s) and short
chat-style replies spoken by Parrot ("Yes.", "No, thanks.", ...), each with 0.3 s of silence around it.
Language is detected, as in a chat turn. Prints the error rate (WER for English, CER for Chinese) and the
time per clip, per group and overall; never pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SHORT_REPLIES = [  # (text, voice, language)
    ("Paris.", "linda", "en"), ("Yes.", "linda", "en"), ("No, thanks.", "linda", "en"), ("Okay.", "linda", "en"),
    ("Sure, go ahead.", "linda", "en"), ("Thank you very much.", "jm_kumo", "en"),
    ("What is the capital of France?", "linda", "en"), ("Tell me three interesting facts about Paris.", "linda", "en"),
    ("好的，谢谢你。", "jf_alpha", "zh"), ("请问法国的首都在哪里？", "jf_alpha", "zh"),
]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-real", action="store_true", help="skip the real recordings")
    args = parser.parse_args()

    from parrot import Parrot
    from parrot.audio import resample
    from parrot_dev.evaluation import error_rate

    tts = Parrot()
    recognizer = tts.recognizer
    pad = np.zeros(4_800, np.float32)
    clips: list[tuple[str, str, np.ndarray, str]] = []  # group, name, audio at 16 kHz, reference
    for text, voice, lang in SHORT_REPLIES:
        speech = tts.say(text, voice, lang=lang)
        audio = np.concatenate([pad, resample(speech.audio, speech.sample_rate, 16_000), pad])
        clips.append(("synthesized", text, audio, text))
    if not args.no_real:
        from clone_data import load_speakers

        for speaker in load_speakers():
            clips.append((f"real {speaker.lang}", f"{speaker.id}/ref", speaker.ref16(), speaker.ref_text))
            clips.append((f"real {speaker.lang}", f"{speaker.id}/other", speaker.other16(), speaker.other_text))

    recognizer.transcribe(clips[0][2], short=True)  # warm-up
    rows: dict[str, dict[str, list[float]]] = {}
    for group, name, audio, reference in clips:
        line = [f"{name[:32]:<32}"]
        for mode, short in (("fitted", True), ("whisper", False)):
            t0 = time.perf_counter()
            heard = recognizer.transcribe(audio, short=short)
            seconds = time.perf_counter() - t0
            error = error_rate(reference, heard.text)
            for key in (group, "all"):
                figures = rows.setdefault(key, {})
                figures.setdefault(f"{mode} err", []).append(error)
                figures.setdefault(f"{mode} s", []).append(seconds)
            line.append(f"{mode}: {error:5.2f} {seconds:4.2f} s {heard.language} {heard.text[:40]!r}")
        print(" | ".join(line), flush=True)

    print("\ngroup        | clips | fitted err | fitted s (median) | whisper err | whisper s (median)")
    for key, figures in rows.items():
        print(f"{key:<12} | {len(figures['fitted err']):>5} | {statistics.mean(figures['fitted err']):>10.3f} | "
              f"{statistics.median(figures['fitted s']):>17.2f} | {statistics.mean(figures['whisper err']):>11.3f} | "
              f"{statistics.median(figures['whisper s']):>18.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
