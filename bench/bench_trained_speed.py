"""Synthesis time of a trained voice vs a stock voice, and of the adaptable graph vs the packaged one.

    .venv/bin/python bench/bench_trained_speed.py --repeat 5

The three are interleaved sentence by sentence (so a busy machine slows them alike); medians of the
per-sentence times, and their ratios. A trained voice differs from a stock one only by the values fed to
the ``adapter`` and ``f0_scale`` inputs, here a random adapter of the trained size; a voice trained with the
low-rank updates (``TrainOptions.lora``) runs a second graph that has them ("trained, low-rank").
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SENTENCES = [
    ("en", "Please remember to bring an umbrella, because it may rain this afternoon."),
    ("zh", "今天天气很好，我们一起去公园散步吧。"),
    ("en", "She opened the window and listened to the birds singing in the garden."),
]


def main() -> None:
    import onnxruntime as ort

    from parrot import Parrot

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tts = Parrot()
    engine = tts.engine
    style = engine.stock_style("jf_alpha")
    adapter = np.random.default_rng(0).normal(0, 0.05, engine.adapter_layout.size).astype(np.float32)
    low_rank = np.random.default_rng(0).normal(0, 0.01, engine.lora_layout().size).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = engine.threads
    packaged = ort.InferenceSession(str(engine.model_path), options, providers=["CPUExecutionProvider"])
    phonemes = [engine.g2p.phonemize(text, lang) for lang, text in SENTENCES]
    labels = ("packaged graph, stock", "adaptable graph, stock", "trained", "trained, low-rank")
    times: dict[str, list[float]] = {label: [] for label in labels}
    engine.infer(phonemes[0], style, 1.0)
    engine.infer(phonemes[0], style, 1.0, low_rank)
    for _ in range(args.repeat):
        for p in phonemes:
            tokens = engine.tokenize(p)
            feed = {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style[len(tokens) - 1].reshape(1, 256),
                "speed": np.ones(1, dtype=np.float32),
            }
            for label, run in (
                ("packaged graph, stock", lambda f=feed: packaged.run(None, f)),
                ("adaptable graph, stock", lambda p=p: engine.infer(p, style, 1.0)),
                ("trained", lambda p=p: engine.infer(p, style, 1.0, adapter, 1.1)),
                ("trained, low-rank", lambda p=p: engine.infer(p, style, 1.0, low_rank, 1.1)),
            ):
                started = time.perf_counter()
                run()
                times[label].append(time.perf_counter() - started)
    base = statistics.median(times["packaged graph, stock"])
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:24} median {median:.3f} s per sentence  ({median / base:.3f} x packaged)")


if __name__ == "__main__":
    main()
