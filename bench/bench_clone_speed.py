"""Synthesis speed with a cloned voice versus a stock voice (the spectral mapping's cost).

    .venv/bin/python bench/bench_clone_speed.py
"""

from __future__ import annotations

import statistics
import time

from parrot import Parrot

TEXT = "The weather is lovely today, so let's take a long walk in the park and talk about old friends."


def rtf(tts: Parrot, voice: object, repeat: int = 3) -> float:
    values = []
    for _ in range(repeat):
        started = time.perf_counter()
        speech = tts.say(TEXT, voice=voice)
        values.append((time.perf_counter() - started) / speech.duration)
    return statistics.median(values)


def main() -> None:
    tts = Parrot()
    tts.engine.warm_up()
    reference = tts.say("The old lighthouse keeper walked down to the harbour every morning to watch the boats.",
                        voice="jm_kumo")
    started = time.perf_counter()
    voice = tts.clone(reference.audio, None, sample_rate=reference.sample_rate)
    print(f"clone from {reference.duration:.1f} s (transcribed by Whisper): {time.perf_counter() - started:.1f} s")
    stock, cloned = rtf(tts, "jm_kumo"), rtf(tts, voice)
    print(f"RTF stock jm_kumo {stock:.3f}   cloned {cloned:.3f}   (+{100 * (cloned / stock - 1):.0f} %)")


if __name__ == "__main__":
    main()
