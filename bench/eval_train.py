"""Trained voices (`parrot voices train`): speaker similarity on held-out material, intelligibility, quality.

    .venv/bin/python bench/eval_train.py --minutes 3                        # every speaker, 3 min of training
    .venv/bin/python bench/eval_train.py --minutes 3 --seconds 10,30,0 --speakers en_m_librivox,en_m_myself
    .venv/bin/python bench/eval_train.py --minutes 3 --json out.json
    .venv/bin/python bench/eval_train.py --minutes 1,2,5,10 --speakers en_m_librivox     # curve vs training time
    .venv/bin/python bench/eval_train.py --merge a.json b.json     # one table from runs on different speakers

For each speaker of bench/clone_speakers.json the training material is its cloning reference plus the extra
recordings of bench/train_speakers.json, cut to ``--seconds`` of speech (whole clips, in order; 0 = all);
its second utterance ("other") is never trained on and is what similarity is measured against. The voice
is trained by the library's own ``TrainingJob`` (saved in the library of ``$PARROT_DATA_DIR``), then:

- base: the same voice untrained (no adapter, no style offset: the nearest stock style by d-vector with the
  speaker's pitch and tempo): what training adds is trained - base;
- same / cross: CAM++ SIM of the voice saying fixed sentences (never in training) in the speaker's language /
  the other language, against the held-out recording;
- err: Whisper-base CER (zh) / WER (en) of those sentences, next to the stock voice of the same sex;
- mos: DNSMOS P.835 overall of the trained, base and stock outputs;
- train: seconds of training (the budget), speech: seconds of training speech.

CAM++ is only the judge here: training never sees it. Prints figures; never pass/fail.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from clone_data import Package, Speaker, fetch, load_speakers, read_manifest
from eval_clone import OTHER_LANG, SENTENCES, STOCK_BY_SEX, Bench, Output, err, sim

from parrot.training.trainer import TrainOptions

EXTRA = Path(__file__).with_name("train_speakers.json")
DEFAULT_SPEAKERS = "en_m_librivox,en_m_myself,en_f_lj,en_f_grace,zh_m_taiyi,zh_m_narrator,zh_f_drama,zh_f_elder"


@dataclass
class Row:
    id: str
    sex: str
    lang: str
    speech_s: float
    ceiling: float
    base_same: float
    same: float
    same_ref: float
    cross: float
    base_cross: float
    err_same: float
    err_cross: float
    stock_err_same: float
    stock_err_cross: float
    mos: float
    base_mos: float
    stock_mos: float
    train_s: float
    steps: int


def material(speaker: Speaker, cache: Path | None, seconds: float) -> tuple[list[bytes], list[str]]:
    """WAV clips and their texts ("" = transcribe) for training: the reference, then the extras, up to ``seconds``."""
    import soundfile

    def wav(audio: np.ndarray, rate: int) -> bytes:
        buf = io.BytesIO()
        soundfile.write(buf, audio, rate, format="WAV")
        return buf.getvalue()

    clips, texts, total = [wav(speaker.ref_audio, speaker.ref_rate)], [speaker.ref_text], speaker.ref_seconds
    extras = json.loads(EXTRA.read_text())["extra"].get(speaker.id, [])
    packages = read_manifest()["packages"]
    for extra in extras:
        if seconds and total >= seconds:
            break
        spec = packages[extra["package"]]
        root = fetch(Package(spec["kind"], spec["name"], spec["version"]), cache)
        audio, rate = _read_checked(root / extra["path"], extra["sha256"])
        clips.append(wav(audio, rate))
        texts.append(extra.get("text", ""))
        total += len(audio) / rate
    return clips, texts


def _read_checked(path: Path, sha256: str) -> tuple[np.ndarray, int]:
    import hashlib

    from parrot.audio import decode

    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{path} changed: its sha256 does not match train_speakers.json")
    return decode(data)


def untrained(payload: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The trained voice's payload without what training changed (adapter, style offset); pitch/tempo kept."""
    style = payload["style"].copy()
    style[:, :128] -= payload["style_offset"]
    return {"style": style, "f0_scale": payload["f0_scale"], "speed": payload["speed"]}


def quality(outputs: list[Output]) -> float:
    return float(np.mean([o.quality for o in outputs if o.quality is not None]))


def evaluate(
    bench: Bench, speaker: Speaker, seconds: float, options: TrainOptions, cache: Path | None, resume: bool = False
) -> Row:
    """Train (``resume``: continue the previous budget's run of this speaker up to ``options.minutes``), judge."""
    from parrot.training.job import TrainingJob
    from parrot.voices.voice import Voice

    ref, other = bench.judge.embed(speaker.ref16()), bench.judge.embed(speaker.other16())
    clips, texts = material(speaker, cache, seconds)
    name = f"eval-{speaker.id}-{int(seconds)}"
    job = TrainingJob(
        bench.tts, name, clips, texts=texts, language=speaker.lang, options=options, overwrite=True, resume=resume
    )
    voice = job.run()
    base = Voice(f"{name}-base", voice.engine, "cloned", untrained(voice.payload))
    same, cross = bench.speak(voice, speaker.lang), bench.speak(voice, OTHER_LANG[speaker.lang])
    base_same, base_cross = bench.speak(base, speaker.lang), bench.speak(base, OTHER_LANG[speaker.lang])
    stock = STOCK_BY_SEX[speaker.sex]
    stock_same, stock_cross = bench.speak(stock, speaker.lang), bench.speak(stock, OTHER_LANG[speaker.lang])
    return Row(
        speaker.id, speaker.sex, speaker.lang, float(voice.meta["speech_seconds"]), float(ref @ other),
        sim(base_same, other), sim(same, other), sim(same, ref), sim(cross, other), sim(base_cross, other),
        err(same), err(cross), err(stock_same), err(stock_cross),
        quality(same + cross), quality(base_same + base_cross), quality(stock_same + stock_cross),
        float(voice.meta["train_seconds"]), int(voice.meta["steps"]),
    )  # fmt: skip


def print_rows(rows: list[Row]) -> None:
    print("\nSIM = CAM++ cosine vs the held-out recording; err = CER (zh) / WER (en), %; mos = DNSMOS OVRL")
    print(
        f"{'speaker':14} {'sx':2} {'ln':2} {'speech':>6} {'ceil':>5} {'base':>5} {'same':>5} {'s/ref':>5} "
        f"{'cross':>5} {'b-x':>5} {'err':>5} {'stk':>5} {'err-x':>5} {'stk-x':>5} {'mos':>4} {'b-mos':>5} "
        f"{'s-mos':>5} {'train':>5} {'steps':>5}"
    )
    for r in rows:
        print(
            f"{r.id:14} {r.sex[0]:2} {r.lang:2} {r.speech_s:6.1f} {r.ceiling:5.3f} {r.base_same:5.3f} {r.same:5.3f} "
            f"{r.same_ref:5.3f} {r.cross:5.3f} {r.base_cross:5.3f} {100 * r.err_same:5.1f} "
            f"{100 * r.stock_err_same:5.1f} {100 * r.err_cross:5.1f} {100 * r.stock_err_cross:5.1f} {r.mos:4.2f} "
            f"{r.base_mos:5.2f} {r.stock_mos:5.2f} {r.train_s:5.0f} {r.steps:5d}"
        )


MEANS = ("speech_s", "ceiling", "base_same", "same", "cross", "base_cross", "mos", "base_mos", "stock_mos", "train_s")


def summarise(rows: list[Row]) -> dict[str, float]:
    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    summary: dict[str, float] = {"speakers": len(rows)}
    summary |= {field: mean([getattr(r, field) for r in rows]) for field in MEANS}
    for lang in ("zh", "en"):  # error rates by the language spoken
        summary[f"err_{lang}"] = mean(
            [r.err_same for r in rows if r.lang == lang] + [r.err_cross for r in rows if r.lang != lang]
        )
        summary[f"err_{lang}_stock"] = mean(
            [r.stock_err_same for r in rows if r.lang == lang] + [r.stock_err_cross for r in rows if r.lang != lang]
        )
    return summary


def print_summary(s: dict[str, float], label: str) -> None:
    print(f"\n== {label}: {s['speakers']} speakers, {s['speech_s']:.1f} s of speech, {s['train_s']:.0f} s training ==")
    print(f"human ceiling {s['ceiling']:.3f}")
    print(f"same-language SIM  trained {s['same']:.3f}  base (no adapter) {s['base_same']:.3f}   target >= 0.60")
    print(f"cross-lingual SIM  trained {s['cross']:.3f}  base {s['base_cross']:.3f}  "
          f"(cross - same {s['cross'] - s['same']:+.3f}; target within 0.05)")  # fmt: skip
    for lang, metric in (("zh", "CER"), ("en", "WER")):
        print(f"{metric} ({lang} sentences) trained {100 * s[f'err_{lang}']:.1f} %, stock "
              f"{100 * s[f'err_{lang}_stock']:.1f} %")  # fmt: skip
    print(f"DNSMOS OVRL        trained {s['mos']:.2f}  base {s['base_mos']:.2f}  stock {s['stock_mos']:.2f}")


def merge(paths: list[Path]) -> None:
    """The tables of several runs (e.g. speakers split over two processes), label by label, as one."""
    tables: dict[str, list[Row]] = {}
    for path in paths:
        if path.suffix == ".json":
            for label, result in json.loads(path.read_text()).items():
                tables.setdefault(label, []).extend(Row(**row) for row in result["rows"])
            continue
        for line in path.read_text().splitlines():  # the log of a run stopped early: its "row ..." lines
            if line.startswith("row ") and " min: " in line:
                minutes, row = line[len("row ") :].split(" min: ", 1)
                tables.setdefault(f"speech all, {minutes} min", []).append(Row(**json.loads(row)))
    for label, rows in tables.items():
        print_rows(rows)
        print_summary(summarise(rows), label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", default=DEFAULT_SPEAKERS, help="comma-separated speaker ids")
    parser.add_argument("--minutes", default="3", help="training budget per voice, comma-separated for a curve "
                        "(one run per speaker, judged at each budget; default 3)")  # fmt: skip
    parser.add_argument("--seconds", default="0", help="training speech per voice, comma-separated (0 = all)")
    parser.add_argument("--sentences", type=int, default=2, choices=(1, 2, 3), help="sentences per language")
    parser.add_argument("--loss-fmax", type=float, default=None, help="upper edge of the mel loss, Hz (default all)")
    defaults = TrainOptions()
    parser.add_argument("--lora", action=argparse.BooleanOptionalAction, default=defaults.lora,
                        help=f"train the low-rank conv updates too (default {defaults.lora})")  # fmt: skip
    parser.add_argument("--lora-lr-scale", type=float, default=defaults.lora_lr_scale,
                        help="learning rate of the low-rank updates relative to --lr")  # fmt: skip
    parser.add_argument("--scope", choices=("decoder", "all"), default=defaults.scope, help="AdaIN biases trained")
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="Adam learning rate")
    parser.add_argument("--crop-frames", type=int, default=defaults.crop_frames, help="window, 25 ms text frames")
    parser.add_argument("--l2", type=float, default=defaults.l2, help="L2 pull towards the stock voice")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default all)")
    parser.add_argument("--cache", type=Path, default=None, help="package cache (default ~/.cache/parrot-bench)")
    parser.add_argument("--json", type=Path, help="also write rows and summaries here")
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="print the tables of these --json files (or logs of stopped runs) as one")  # fmt: skip
    args = parser.parse_args()
    if args.merge:
        merge(args.merge)
        return
    if args.threads:
        import os

        import torch

        os.environ["PARROT_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)
    budgets = sorted(float(m) for m in args.minutes.split(","))
    options = replace(
        defaults, minutes=budgets[0], loss_fmax=args.loss_fmax, lora=args.lora, scope=args.scope,
        learning_rate=args.lr, crop_frames=args.crop_frames, l2=args.l2, lora_lr_scale=args.lora_lr_scale,
    )  # fmt: skip
    print(f"options: {options}", flush=True)
    started = time.perf_counter()
    speakers = load_speakers(args.cache, args.speakers.split(","))
    bench = Bench(args.cache, args.sentences, quality=True)
    results: dict[str, dict] = {}
    for seconds in [float(s) for s in args.seconds.split(",")]:
        table: dict[float, list[Row]] = {minutes: [] for minutes in budgets}
        for speaker in speakers:
            for i, minutes in enumerate(budgets):
                row = evaluate(bench, speaker, seconds, replace(options, minutes=minutes), args.cache, resume=i > 0)
                table[minutes].append(row)
                print(f"row {minutes:g} min: {json.dumps(asdict(row))}", flush=True)  # kept if the run is stopped
                print(f"  {speaker.id} ({row.speech_s:.0f} s, {minutes:g} min): base {row.base_same:.3f} -> "
                      f"trained {row.same:.3f}, cross {row.cross:.3f}, {row.steps} steps", file=sys.stderr,
                      flush=True)  # fmt: skip
        for minutes, rows in table.items():
            label = f"speech {'all' if not seconds else f'<= {seconds:g} s (whole clips)'}, {minutes:g} min"
            print_rows(rows)
            summary = summarise(rows)
            print_summary(summary, label)
            results[label] = {"rows": [asdict(r) for r in rows], "summary": summary}
    print(f"\n(total {time.perf_counter() - started:.0f} s; sentences {json.dumps(SENTENCES, ensure_ascii=False)})")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
