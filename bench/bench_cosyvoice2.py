"""CosyVoice2 engine speed: load time, time to first audio and RTF with the real weights, or the engine's own
overhead per generated second with the tiny reference weights.

    .venv/bin/python bench/bench_cosyvoice2.py --model-dir ~/models/CosyVoice2-0.5B   # or PARROT_MODEL_DIR
    .venv/bin/python bench/bench_cosyvoice2.py --model-dir DIR --ref clip.wav --ref-text "what it says"
    .venv/bin/python bench/bench_cosyvoice2.py --tiny [DIR]                           # tests/data/cosyvoice2

With the real model, the voice is the first pretrained speaker of ``spk2info.pt``, or a clone of ``--ref``.
With ``--tiny`` the networks are so small that the time is almost all the engine's own work (token loop,
chunk schedule, flow/HiFT calls and caches, numpy conversions), reported per second of generated audio
and split by stage. Prints figures; never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEXTS = {
    "zh": "今天天气真不错啊，要不要一起去公园散步？我们可以顺便买一点新鲜的水果回家。",
    "en": "The weather is lovely today, so let's take a walk in the park and buy some fresh fruit on the way home.",
}


def measure(stream: Callable[[], Iterator[Any]], sample_rate: int) -> tuple[float, float, float]:
    """``(seconds to first audio, seconds of audio, wall seconds)`` of one streamed synthesis."""
    started = time.perf_counter()
    first, samples = None, 0
    for chunk in stream():
        first = first if first is not None else time.perf_counter() - started
        samples += len(chunk.audio)
    return first or 0.0, samples / sample_rate, time.perf_counter() - started


def real(model_dir: Path, ref: str | None, ref_text: str | None, repeat: int) -> int:
    from parrot.engines.cosyvoice2.modeldir import check_model_dir
    from parrot.errors import ModelError

    try:
        check_model_dir(model_dir)
    except ModelError as exc:
        print(f"bench_cosyvoice2: cannot run: {exc}")
        return 1
    import torch

    from parrot import Parrot
    from parrot.config import Settings
    from parrot.engines.base import SynthesisOptions
    from parrot.engines.cosyvoice2.engine import CosyVoice2Engine

    started = time.perf_counter()
    engine = CosyVoice2Engine(Settings.from_env(), model_dir)
    print(f"device {engine.model.device}, torch threads {torch.get_num_threads()}, "
          f"load {time.perf_counter() - started:.1f} s")  # fmt: skip
    if ref:
        voice = Parrot(engine=engine).clone(ref, ref_text, name="bench")
    elif engine.stock_voices():
        voice = engine.stock_voices()[0]
    else:
        print("bench_cosyvoice2: cannot run: the model has no pretrained speakers; give --ref CLIP [--ref-text TEXT]")
        return 1
    print(f"voice {voice.name} ({voice.kind})")
    print(f"{'text':<4} {'mode':<11} {'first audio s':>13} {'audio s':>8} {'wall s':>7} {'RTF':>6}")
    for lang, text in TEXTS.items():
        for fast_start in (True, False):
            options = SynthesisOptions(fast_start=fast_start)
            for _ in range(repeat):
                first, audio, wall = measure(lambda o=options, t=text: engine.stream(t, voice, o), engine.sample_rate)
                mode = "streamed" if fast_start else "whole"
                print(f"{lang:<4} {mode:<11} {first:>13.2f} {audio:>8.2f} {wall:>7.2f} {wall / max(audio, 1e-9):>6.2f}")
    return 0


class ByteTokenizer:
    """Stand-in text tokenizer for the tiny model (its text vocabulary has 1024 entries)."""

    def encode(self, text: str) -> list[int]:
        return [b % 1024 for b in text.encode("utf-8") if b != 0x20]


def tiny(directory: Path, repeat: int) -> int:
    needed = [directory / f"tiny_{n}.pt" for n in ("llm", "flow", "hift")] + [directory / "tiny_config.json"]
    if missing := [p.name for p in needed if not p.exists()]:
        print(f"bench_cosyvoice2: cannot run --tiny: {directory} lacks {', '.join(missing)}")
        return 1
    import numpy as np
    import torch

    from parrot.engines.base import SynthesisOptions
    from parrot.engines.cosyvoice2.engine import CosyVoice2Engine, CosyVoice2Model
    from parrot.voices.voice import Voice

    torch.set_num_threads(1)
    model = CosyVoice2Model.from_tiny(directory)
    engine = CosyVoice2Engine.from_parts(model, ByteTokenizer())
    engine.seed = 0
    rng = np.random.default_rng(0)
    voice = Voice("tiny", "cosyvoice2", "cloned", {
        "embedding": rng.standard_normal(192).astype(np.float32),
        "prompt_speech_token": rng.integers(0, 6561, 20).astype(np.int32),
        "prompt_mel": rng.standard_normal((40, 80)).astype(np.float32),
        "prompt_text": np.frombuffer(b"hello", np.uint8).copy(),
    })  # fmt: skip
    stage_seconds: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stage_seconds[name] += time.perf_counter() - started

        return wrapper

    model.mel = timed("flow", model.mel)  # type: ignore[method-assign]
    model.vocode = timed("hift", model.vocode)  # type: ignore[method-assign]
    model.llm._step_scores = timed("llm", model.llm._step_scores)  # type: ignore[method-assign]
    print("tiny weights, 1 thread: seconds of wall time per second of generated audio")
    header = ["total", "llm", "flow", "hift", "other"]
    print(f"{'mode':<9} {'audio s':>8} {'first audio s':>13} " + " ".join(f"{h:>6}" for h in header))
    for fast_start in (True, False):
        for _ in range(repeat):
            stage_seconds.clear()
            options = SynthesisOptions(fast_start=fast_start)
            first, audio, wall = measure(lambda o=options: engine.stream(TEXTS["en"][:40], voice, o), 24_000)
            per = {k: v / audio for k, v in stage_seconds.items()}
            other = wall / audio - sum(per.values())
            print(f"{'streamed' if fast_start else 'whole':<9} {audio:>8.2f} {first:>13.3f} {wall / audio:>6.3f} "
                  f"{per['llm']:>6.3f} {per['flow']:>6.3f} {per['hift']:>6.3f} {other:>6.3f}")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="CosyVoice2-0.5B directory (default: PARROT_MODEL_DIR)")
    parser.add_argument("--ref", help="clone the voice from this clip instead of using a pretrained speaker")
    parser.add_argument("--ref-text", help="what --ref says (default: transcribed)")
    tiny_dir = str(ROOT / "tests" / "data" / "cosyvoice2")
    parser.add_argument("--tiny", nargs="?", const=tiny_dir, help=f"tiny reference weights dir (default {tiny_dir})")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (default 1)")
    args = parser.parse_args()
    if args.tiny:
        return tiny(Path(args.tiny), args.repeat)
    model_dir = args.model_dir or os.environ.get("PARROT_MODEL_DIR")
    if not model_dir:
        print("bench_cosyvoice2: cannot run: no CosyVoice2 model given; pass --model-dir DIR or set PARROT_MODEL_DIR "
              "(download with `parrot models download cosyvoice2`), or use --tiny")  # fmt: skip
        return 1
    return real(Path(model_dir).expanduser(), args.ref, args.ref_text, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
