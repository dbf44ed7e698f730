"""Long-form jobs (books): memory over a 300,000-character book, and interactive latency while one runs.

    .venv/bin/python bench/bench_books.py memory  [--chars 300000] [--segments 40]
    .venv/bin/python bench/bench_books.py latency [--requests 12] [--workers 2]

``memory``: a generated book of ``--chars`` characters (varied English sentences in 30 chapters) is planned
as a real job; the first ``--segments`` segments are synthesized with the real model (RSS sampled after
each), then the remaining segment files are filled with copies of those real segments (synthesizing 5+
hours of audio would take an hour here; the files are what encoding reads, so the encoding phase is the
real one for the whole book) and the whole book is encoded to M4B with its chapters and SRT. Printed:
RSS after the first and the last synthesized segment, peak RSS during encoding, the result's length/size.

``latency``: an in-process server (real model). ``--requests`` short ``/v1/audio/speech`` requests one
after another (streamed PCM), first without a job, then while a book job runs; printed: time to first
audio and total time, p50/p95, in both cases, and how far the book got meanwhile. Figures only.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

SENTENCES = (
    "The rain had stopped by the time the train pulled into the small station.",
    "She folded the letter twice and put it in the pocket of her coat.",
    "Nobody in the village could remember when the old mill had last turned.",
    "He counted the steps to the top of the tower, and there were exactly ninety-nine.",
    "A parrot on the windowsill repeated every word the children said.",
    "By noon the market square was full of voices, carts and the smell of bread.",
    "They argued about the map for an hour before anyone thought to ask the way.",
    "The lamp flickered, steadied, and then went out for good.",
)
PROBE = "Interactive speech keeps its latency while a book is being read."


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_book(chars: int, chapters: int = 30) -> str:
    sentences = itertools.cycle(SENTENCES)
    per_chapter = chars // chapters
    parts = []
    for c in range(1, chapters + 1):
        body, size = [], 0
        while size < per_chapter:
            paragraph = " ".join(next(sentences) for _ in range(4))
            body.append(paragraph)
            size += len(paragraph) + 2
        parts.append(f"Chapter {c}\n\n" + "\n\n".join(body))
    return "\n\n".join(parts)


def private_parrot(root: Path):  # -> Parrot, with a throwaway data dir sharing the assembled models
    from parrot.api import Parrot
    from parrot.config import Settings

    settings = Settings.from_env()
    root.mkdir(parents=True)
    (root / "models").symlink_to(settings.data_dir / "models", target_is_directory=True)
    tts = Parrot(settings=dataclasses.replace(settings, data_dir=root))
    tts.engine.warm_up()
    return tts


def memory(args: argparse.Namespace) -> None:
    from parrot.books.document import read_book
    from parrot.books.job import BookJob, BookSettings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tts = private_parrot(root / "data")
        text = make_book(args.chars)
        book = read_book(text.encode(), "txt", title="Generated")
        job = BookJob.create(root / "job", book, BookSettings(format="m4b"), "book.txt")
        print(f"book: {book.characters:,} characters, {len(book.chapters)} chapters, {job.segments_total} segments")
        print(f"RSS after loading the model: {rss_mb():.0f} MB")
        rss, started, steps = [], time.perf_counter(), job.steps(tts)
        for progress in steps:
            if progress.stage == "synthesizing" and progress.segments_done > len(rss):
                rss.append(rss_mb())
                if len(rss) >= args.segments:
                    break
        took = time.perf_counter() - started
        steps.close()
        print(f"synthesized {len(rss)} segments in {took:.0f} s; RSS after segment 1: {rss[0]:.0f} MB, "
              f"after segment {len(rss) // 2}: {rss[len(rss) // 2 - 1]:.0f} MB, after segment {len(rss)}: "
              f"{rss[-1]:.0f} MB", flush=True)  # fmt: skip
        done = sorted((root / "job" / "segments").glob("*.npz"))
        copies = itertools.cycle(done)
        for c, chapter in enumerate(job.chapters):
            for s in range(len(chapter.segments)):
                target = root / "job" / "segments" / f"{c:04d}-{s:05d}.npz"
                if not target.exists():
                    shutil.copyfile(next(copies), target)
        peak, stop = [rss_mb()], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak.append(rss_mb())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        last = None
        for last in job.steps(tts):  # every segment exists: this is the encoding of the whole book
            if last.stage == "encoding":
                print(f"  encoded chapter {last.chapter}/{last.chapters} after {time.perf_counter() - started:.0f} s: "
                      f"RSS now {rss_mb():.0f} MB, peak so far {max(peak):.0f} MB", flush=True)  # fmt: skip
        stop.set()
        sampler.join()
        assert last is not None and last.stage == "done"
        size = job.output.stat().st_size / 1e6
        print(f"encoded the whole book ({last.audio_seconds / 3600:.2f} h of audio, {size:.0f} MB M4B, "
              f"{len(job.chapters)} chapters) in {time.perf_counter() - started:.0f} s; "
              f"peak RSS while encoding: {max(peak):.0f} MB")  # fmt: skip


def latency(args: argparse.Namespace) -> None:
    from parrot.server.app import create_app
    from parrot.server.settings import ServerSettings
    from parrot_dev.background import serve_in_background

    with tempfile.TemporaryDirectory() as tmp:
        tts = private_parrot(Path(tmp) / "data")
        settings = ServerSettings(workers=args.workers)
        with serve_in_background(create_app(tts, settings), startup_timeout=300) as url, httpx.Client(
            base_url=url, timeout=120
        ) as http:
            body = {"model": "tts-1", "input": PROBE, "response_format": "pcm"}
            _probe(http, body, 2)  # warm
            alone = _probe(http, body, args.requests)
            job = http.post("/v1/audio/jobs", data={"text": make_book(20_000)}).json()
            while http.get(f"/v1/audio/jobs/{job['id']}").json()["state"] != "running":
                time.sleep(0.1)
            time.sleep(2.0)
            before = http.get(f"/v1/audio/jobs/{job['id']}").json()["segments_done"]
            started = time.perf_counter()
            during = _probe(http, body, args.requests)
            wall = time.perf_counter() - started
            after = http.get(f"/v1/audio/jobs/{job['id']}").json()
            http.post(f"/v1/audio/jobs/{job['id']}/cancel")
        print(f"server: {args.workers} workers; {args.requests} requests one after another: {PROBE!r}")
        for name, (first, total) in (("no job", alone), ("book job running", during)):
            print(f"{name:>17}: first audio p50 {_q(first, 50):.2f} s p95 {_q(first, 95):.2f} s; "
                  f"whole request p50 {_q(total, 50):.2f} s p95 {_q(total, 95):.2f} s")  # fmt: skip
        print(f"the book meanwhile: {after['segments_done'] - before} segments in {wall:.0f} s "
              f"({after['state']})")  # fmt: skip


def _probe(http: httpx.Client, body: dict, n: int) -> tuple[list[float], list[float]]:
    firsts, totals = [], []
    for _ in range(n):
        started = time.perf_counter()
        first = None
        with http.stream("POST", "/v1/audio/speech", json=body) as response:
            response.raise_for_status()
            for _chunk in response.iter_bytes():
                first = first or time.perf_counter() - started
        firsts.append(first or 0.0)
        totals.append(time.perf_counter() - started)
    return firsts, totals


def _q(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    mem = sub.add_parser("memory")
    mem.add_argument("--chars", type=int, default=300_000)
    mem.add_argument("--segments", type=int, default=40, help="segments synthesized with the model")
    lat = sub.add_parser("latency")
    lat.add_argument("--requests", type=int, default=12)
    lat.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    memory(args) if args.what == "memory" else latency(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
