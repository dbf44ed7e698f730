"""Voice chat latency with the embedded models: end of the user's speech -> first audio of the answer.

    .venv/bin/python bench/bench_chat.py                      # Qwen2.5 0.5B (the default), 3 repeats
    .venv/bin/python bench/bench_chat.py --llm smollm2-135m   # the tiny English-only model
    .venv/bin/python bench/bench_chat.py --llm-url http://localhost:11434/v1 --llm-model llama3.2

Each question is spoken by Parrot (so nothing is downloaded), fed to the Silero VAD turn detector in
100 ms pieces at the pace a microphone records them, and answered through the same ChatSession (and the
same early transcription at the first pause) as the server's WebSocket. Stages: "vad" is the wait from the
real end of speech until the detector ends the turn (the silence it needs, packet buffering, processing);
"asr" is the time still waited for Whisper base after that (it starts at the pause, so it overlaps the VAD
wait); "model first phrase" is from the model's
start to its first complete speakable phrase (including reading the prompt); "tts first chunk" from that
phrase to its first audio; "first audio" is the whole voice-to-first-audio latency. Also the model's
words per second and the total turn time. The first turn of each run is a warm-up and not counted.
Prints figures; never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

import numpy as np

QUESTIONS = {  # (question, the voice that asks it)
    "en": ("What is the capital of France?", "linda"),
    "zh": ("请问法国的首都在哪里？", "jf_alpha"),  # a phrasing Whisper hears right in this accented voice
    # A longer answer: the model goes on writing while the first phrase is synthesized, on the same cores
    "en-long": ("Tell me three interesting facts about Paris.", "linda"),
}
STAGES = ["vad", "asr", "model_first_phrase", "tts_first_chunk", "first_audio", "words_per_second", "total"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", default=None, help="embedded model: qwen2.5-0.5b (default) or smollm2-135m")
    parser.add_argument("--llm-url", help="an OpenAI-compatible endpoint instead of the embedded model")
    parser.add_argument("--llm-model", default="default", help="model name for --llm-url")
    parser.add_argument("--repeat", type=int, default=3, help="turns per question (after one warm-up turn)")
    parser.add_argument("--langs", default=None, help="comma-separated questions (default: en,zh,en-long; "
                        "en,en-long for smollm2-135m)")
    parser.add_argument("--voice", default="linda", help="voice of the answers")
    parser.add_argument("--json", help="also write the raw figures to this file")
    args = parser.parse_args()

    from dataclasses import replace

    from parrot import Parrot
    from parrot.audio import resample
    from parrot.chat.config import ChatSettings, load_model
    from parrot.chat.pipeline import ChatSession, LocalSpeaker
    from parrot.chat.vad import TurnDetector

    chat = ChatSettings.from_env()
    chat = replace(
        chat, llm_base_url=args.llm_url, llm_model=args.llm_model, embedded_llm=args.llm or chat.embedded_llm
    )
    english_only = chat.embedded_llm == "smollm2-135m" and not args.llm_url
    langs = (args.langs or ("en,en-long" if english_only else "en,zh,en-long")).split(",")

    t0 = time.perf_counter()
    tts = Parrot()
    tts.engine.warm_up()
    recognizer = tts.recognizer
    detector = TurnDetector()
    load_tts = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = load_model(chat, tts.settings)
    load_llm = time.perf_counter() - t0
    print(f"models: Kokoro + Whisper base loaded in {load_tts:.1f} s; LLM {chat.llm_description} in {load_llm:.1f} s",
          file=sys.stderr)

    # How busy is the machine? The bare engine's first chunk of a short sentence takes about 0.55 s on an
    # idle 2-core machine (bench_engine.py); other jobs on the same cores stretch every stage below alike.
    def calibrate() -> float:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            next(iter(tts.stream("The capital of France is Paris.", args.voice)))
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    before = calibrate()

    questions = {}
    for lang in langs:
        text, asker = QUESTIONS[lang]
        speech = tts.say(text, asker)
        audio = resample(speech.audio, speech.sample_rate, 16_000)
        questions[lang] = np.concatenate([np.zeros(8_000, np.float32), audio, np.zeros(16_000, np.float32)])

    results: dict[str, dict[str, list[float]]] = {}
    samples: dict[str, list[str]] = {}
    for lang, question in questions.items():
        for run in range(args.repeat + 1):
            session = ChatSession(model, LocalSpeaker(tts), transcriber=recognizer, voice=args.voice,
                                  system_prompt=chat.system_prompt, max_tokens=chat.max_tokens)
            vad, (_, answer, done) = asyncio.run(live_turn(session, detector, question))
            if run == 0:
                continue  # warm-up
            figures = {**done.timings.as_dict(), "vad": vad}
            for key in STAGES:
                results.setdefault(lang, {}).setdefault(key, []).append(float(figures[key] or 0.0))
            samples.setdefault(lang, []).append(f"{done.transcript!r} -> {done.reply!r} ({len(answer) / 24000:.1f} s)")

    after = calibrate()
    print(f"calibration: the bare engine's first chunk took {before:.2f} s before the turns and {after:.2f} s after "
          "(about 0.55 s on an idle machine)")
    load = os.getloadavg()[0]
    print(f"\nvoice chat, {chat.llm_description}, voice {args.voice}, median of {args.repeat} turns (seconds); "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    header = ["lang", *STAGES]
    print(" | ".join(f"{h:>18}" for h in header))
    for lang, figures in results.items():
        print(" | ".join([f"{lang:>18}", *(f"{statistics.median(figures[k]):>18.3f}" for k in STAGES)]))
    for lang, lines in samples.items():
        for line in lines[:1]:
            print(f"{lang}: {line}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"llm": chat.llm_description, "results": results, "samples": samples}, fh, ensure_ascii=False,
                      indent=2)
    return 0


async def live_turn(session, detector, audio: np.ndarray):  # noqa: ANN001, ANN201 - ChatSession, TurnDetector
    """Feed ``audio`` to the VAD in 100 ms pieces at the pace a microphone records them, with the early
    transcription the server does; returns (seconds from the real end of speech until the VAD ended the
    turn, and the turn's events, answer audio and ``TurnDone``)."""
    from parrot.chat.pipeline import EarlyTranscript, collect
    from parrot.chat.vad import SpeechStopped

    detector.reset()
    early = EarlyTranscript(session)
    base = detector.position
    step = 1_600
    t_start = time.perf_counter()
    for k, i in enumerate(range(0, len(audio), step)):
        await asyncio.sleep(max(0.0, t_start + (k + 1) * step / 16_000 - time.perf_counter()))
        for event in detector.push(audio[i : i + step]):
            early.observe(event)
            if isinstance(event, SpeechStopped):
                speech_end = t_start + (event.end - base)  # when the last word ended, on the wall clock
                vad = time.perf_counter() - speech_end
                turn = session.turn(event.audio, speech_end=speech_end, heard=early.take(event))
                return vad, await collect(turn)
    raise RuntimeError("the VAD never ended the turn")


if __name__ == "__main__":
    raise SystemExit(main())
