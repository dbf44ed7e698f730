"""Embedded engine speed: load time, RTF with 1 and 2 threads, time to first audio, peak RSS.

    .venv/bin/python bench/bench_engine.py            # full table
    .venv/bin/python bench/bench_engine.py --repeat 1 # quicker

Each thread count runs in its own process so load time and peak RSS are its own. Prints
figures; never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

SENTENCE = {
    "zh": "今天天气真不错啊，要不要一起去公园散步？",
    "en": "The weather is lovely today, so let's take a walk in the park.",
}
PARAGRAPH = (
    "人工智能正在改变我们的生活方式。从智能手机上的语音助手，到医院里帮助医生诊断疾病的系统，"
    "它已经走进了各行各业。Many people worry that machines will replace human jobs, "
    "but history shows that new technology usually creates new kinds of work as well. "
    "我们需要做的，是学会与这些工具合作，让它们为人类服务。"
)


def child(threads: int, repeat: int) -> dict[str, object]:
    from parrot import Parrot
    from parrot.config import Settings

    started = time.perf_counter()
    tts = Parrot(settings=Settings(threads=threads))
    load = time.perf_counter() - started
    started = time.perf_counter()
    tts.engine.warm_up()
    warm = time.perf_counter() - started

    def first_audio(text: str, fast_start: bool) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        first = None
        seconds = 0.0
        for chunk in tts.stream(text, fast_start=fast_start):
            first = first if first is not None else time.perf_counter() - t0
            seconds += chunk.duration
        return first or 0.0, time.perf_counter() - t0, seconds

    rows: dict[str, list[float]] = {}
    for _ in range(repeat):
        for lang, text in SENTENCE.items():
            fa, total, seconds = first_audio(text, True)
            rows.setdefault(f"ttfa_sentence_{lang}", []).append(fa)
            fa_off, total_off, seconds_off = first_audio(text, False)
            rows.setdefault(f"ttfa_sentence_{lang}_no_fast_start", []).append(fa_off)
            rows.setdefault(f"rtf_{lang}", []).append(total_off / seconds_off)
        fa, total, seconds = first_audio(PARAGRAPH, True)
        rows.setdefault("ttfa_paragraph", []).append(fa)
        rows.setdefault("rtf_paragraph", []).append(total / seconds)
    import parrot.engines.kokoro.engine as kokoro

    default_first = kokoro.FIRST_CHUNK_PHONEMES
    for first_phonemes in (12, 16, 24, 48):  # how the short first chunk trades latency (prosody is the cost)
        kokoro.FIRST_CHUNK_PHONEMES = first_phonemes
        for _ in range(repeat):
            for lang, text in SENTENCE.items():
                rows.setdefault(f"ttfa_{lang}_first_chunk_{first_phonemes}ph", []).append(first_audio(text, True)[0])
    kokoro.FIRST_CHUNK_PHONEMES = default_first
    result: dict[str, object] = {k: round(statistics.median(v), 3) for k, v in rows.items()}
    result.update(
        threads=threads,
        load_s=round(load, 3),
        warm_up_s=round(warm, 3),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.threads[0], args.repeat)))
        return
    results = []
    for threads in args.threads:
        cmd = [sys.executable, __file__, "--child", "--threads", str(threads), "--repeat", str(args.repeat)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    keys = [k for k in results[0] if k != "threads"]
    print(f"{'metric':<36}" + "".join(f"{'threads=' + str(r['threads']):>14}" for r in results))
    for key in keys:
        print(f"{key:<36}" + "".join(f"{r[key]:>14}" for r in results))


if __name__ == "__main__":
    main()
