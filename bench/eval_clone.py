"""Voice-cloning benchmark: speaker similarity (CAM++), cross-lingual similarity, intelligibility, enrollment time.

    .venv/bin/python bench/eval_clone.py --method stock                          # baseline: stock voices only
    .venv/bin/python bench/eval_clone.py --method mine --module my_clone.py:clone  # any cloning function
    .venv/bin/python bench/eval_clone.py --method mine --module pkg.mod:clone --json out.json

A cloning function is ``clone(tts: Parrot, audio: np.ndarray, sr: int, transcript: str) -> Voice``; it gets
each speaker's reference clip (mono float32 at its native rate, 3-15 s) and that clip's transcript.

For every speaker of bench/clone_speakers.json (real recordings fetched from packages, see clone_data.py):
- ceiling: SIM of the reference clip vs a different utterance of the same human (what "same voice" scores);
- same: SIM of the cloned voice saying fixed sentences in the speaker's language vs the reference clip
  (``same/o``: vs the other utterance, which does not reward copying the reference's recording channel);
- cross: SIM of the cloned voice saying the other language's sentences (Mandarin speakers speak English
  and vice versa) vs the reference clip;
- err: Whisper-base error rate (CER for Mandarin, WER for English) of the cloned output, next to the stock
  voice of the same sex (jf_alpha / jm_kumo) saying the same sentences;
- enroll: seconds the cloning function took.
``--method stock`` instead scores every stock voice against each speaker and reports the best (which voice)
and the mean over stock voices; it makes no voice, so enrollment is 0.

SIM = cosine of CAM++ embeddings (bench/campplus.py), a stand-in for Seed-TTS eval's WavLM+ECAPA:
compare these numbers with each other, not with published ones. Prints figures; never pass/fail.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from campplus import CamPlus
from clone_data import SAMPLE_RATE, Speaker, load_speakers
from dnsmos import Dnsmos

if TYPE_CHECKING:
    from parrot import Parrot
    from parrot.asr import Recognizer
    from parrot.voices.voice import Voice

CloneFn = Callable[["Parrot", np.ndarray, int, str], "Voice"]

# Fixed evaluation sentences; none overlaps a reference transcript. The first --sentences of each are used.
SENTENCES = {
    "zh": [
        "今天天气很好，我们一起去公园散步吧。",
        "这本书讲的是一个普通家庭三代人的故事。",
        "请在下一个路口向右转，然后一直往前走。",
    ],
    "en": [
        "Please remember to bring an umbrella, because it may rain this afternoon.",
        "She opened the window and listened to the birds singing in the garden.",
        "The museum will be closed on Monday for repairs to the roof.",
    ],
}
STOCK_BY_SEX = {"female": "jf_alpha", "male": "jm_kumo"}
OTHER_LANG = {"zh": "en", "en": "zh"}
METRIC = {"zh": "CER", "en": "WER"}


@dataclass(frozen=True)
class Output:
    """One synthesized sentence, judged: its embedding and its Whisper error rate."""

    embedding: np.ndarray | None  # None: too short to embed (counts as SIM 0)
    error: float
    seconds: float
    quality: float | None = None  # DNSMOS overall (when the bench measures it)


@dataclass
class Row:
    id: str
    sex: str
    lang: str
    ref_s: float
    ceiling: float
    voice: str  # the cloned voice's name, or the best stock voice
    same: float
    same_other: float
    cross: float
    err_same: float
    err_cross: float
    stock_err_same: float
    stock_err_cross: float
    enroll_s: float
    same_mean: float | None = None  # --method stock: mean over all stock voices
    cross_mean: float | None = None
    mos: float | None = None  # --quality: DNSMOS OVRL of the voice (both languages' sentences)
    stock_mos: float | None = None  # the same-sex stock voice on the same sentences


class Bench:
    """Synthesis, judge and recogniser, with stock-voice outputs cached (they do not depend on the speaker)."""

    def __init__(self, cache: Path | None, n_sentences: int, quality: bool = False) -> None:
        from parrot import Parrot
        from parrot.asr import Recognizer

        self.tts = Parrot()
        self.judge = CamPlus(cache)
        self.asr: Recognizer = Recognizer()
        self.dnsmos = Dnsmos() if quality else None
        self.sentences = {lang: texts[:n_sentences] for lang, texts in SENTENCES.items()}
        self._stock: dict[tuple[str, str], Output] = {}

    def speak(self, voice: str | Voice, lang: str) -> list[Output]:
        """``voice`` says this language's sentences; each output embedded and transcribed."""
        if isinstance(voice, str):
            return [self._stock_output(voice, text, lang) for text in self.sentences[lang]]
        return [self._judge(voice, text, lang) for text in self.sentences[lang]]

    def _stock_output(self, name: str, text: str, lang: str) -> Output:
        if (name, text) not in self._stock:
            self._stock[name, text] = self._judge(name, text, lang)
        return self._stock[name, text]

    def _judge(self, voice: str | Voice, text: str, lang: str) -> Output:
        from parrot.audio import resample
        from parrot_dev.evaluation import error_rate

        speech = self.tts.say(text, voice, lang=lang)
        audio = resample(speech.audio, speech.sample_rate, SAMPLE_RATE)
        heard = self.asr.transcribe(audio, language=lang).text
        embedding = self.judge.embed(audio) if len(audio) >= SAMPLE_RATE // 2 else None
        quality = self.dnsmos.overall(audio) if self.dnsmos is not None else None
        return Output(embedding, error_rate(text, heard), speech.duration, quality)


def sim(outputs: list[Output], target: np.ndarray) -> float:
    """Mean cosine of the outputs' embeddings with ``target`` (an output too short to embed scores 0)."""
    return float(np.mean([float(o.embedding @ target) if o.embedding is not None else 0.0 for o in outputs]))


def err(outputs: list[Output]) -> float:
    return float(np.mean([o.error for o in outputs]))


def mos(outputs: list[Output]) -> float | None:
    scores = [o.quality for o in outputs if o.quality is not None]
    return float(np.mean(scores)) if scores else None


def evaluate_clone(bench: Bench, speakers: list[Speaker], clone: CloneFn, log: Callable[[str], None]) -> list[Row]:
    rows = []
    for s in speakers:
        ref, other = bench.judge.embed(s.ref16()), bench.judge.embed(s.other16())
        started = time.perf_counter()
        voice = clone(bench.tts, s.ref_audio, s.ref_rate, s.ref_text)
        enroll = time.perf_counter() - started
        same, cross = bench.speak(voice, s.lang), bench.speak(voice, OTHER_LANG[s.lang])
        stock = STOCK_BY_SEX[s.sex]
        row = Row(
            s.id, s.sex, s.lang, s.ref_seconds, float(ref @ other), voice.name,
            sim(same, ref), sim(same, other), sim(cross, ref), err(same), err(cross),
            err(bench.speak(stock, s.lang)), err(bench.speak(stock, OTHER_LANG[s.lang])), enroll,
            mos=mos(same + cross), stock_mos=mos(bench.speak(stock, s.lang) + bench.speak(stock, OTHER_LANG[s.lang])),
        )  # fmt: skip
        rows.append(row)
        quality = f" mos {row.mos:.2f} (stock {row.stock_mos:.2f})" if row.mos is not None and row.stock_mos else ""
        log(
            f"  {s.id}: same {row.same:.3f} cross {row.cross:.3f} "
            f"err {100 * row.err_same:.1f}/{100 * row.err_cross:.1f}"
            f" (stock {100 * row.stock_err_same:.1f}/{100 * row.stock_err_cross:.1f}){quality} enroll {enroll:.1f} s"
        )
    return rows


def evaluate_stock(bench: Bench, speakers: list[Speaker], log: Callable[[str], None]) -> list[Row]:
    names = [v.name for v in bench.tts.voices.list() if v.kind in ("stock", "pretrained")]
    rows = []
    for s in speakers:
        ref, other = bench.judge.embed(s.ref16()), bench.judge.embed(s.other16())
        same = {name: bench.speak(name, s.lang) for name in names}
        cross = {name: bench.speak(name, OTHER_LANG[s.lang]) for name in names}
        best = max(names, key=lambda name: sim(same[name], ref))
        stock = STOCK_BY_SEX[s.sex]
        row = Row(
            s.id, s.sex, s.lang, s.ref_seconds, float(ref @ other), best,
            sim(same[best], ref), sim(same[best], other), sim(cross[best], ref), err(same[best]), err(cross[best]),
            err(same[stock]), err(cross[stock]), 0.0,
            same_mean=float(np.mean([sim(same[n], ref) for n in names])),
            cross_mean=float(np.mean([sim(cross[n], ref) for n in names])),
            mos=mos(same[best] + cross[best]), stock_mos=mos(same[stock] + cross[stock]),
        )  # fmt: skip
        rows.append(row)
        log(f"  {s.id}: best {best} same {row.same:.3f} (mean {row.same_mean:.3f})")
    return rows


def load_clone(spec: str) -> CloneFn:
    """``path/to/file.py:function`` or ``package.module:function`` (function defaults to ``clone``)."""
    target, _, name = spec.partition(":")
    name = name or "clone"
    if target.endswith(".py") or Path(target).is_file():
        path = Path(target).resolve()
        module_spec = importlib.util.spec_from_file_location(f"_clone_method_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise SystemExit(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    function = getattr(module, name, None)
    if not callable(function):
        raise SystemExit(f"{target} has no function {name!r}")
    return function


def print_table(rows: list[Row], method: str) -> None:
    stock = method == "stock"
    header = (
        f"{'speaker':14} {'sex':3} {'ln':2} {'ref s':>5} {'ceil':>5} {'same':>5} {'same/o':>6} {'cross':>5} "
        f"{'x-s':>6} {'err':>5} {'stock':>5} {'err-x':>5} {'stk-x':>5} {'enroll':>6} {'mos':>4} {'s-mos':>5}  voice"
    )
    if stock:
        header += " (best; mean same/cross over stock voices)"
    print(f"\n== method: {method} ==  SIM = CAM++ cosine; err = CER (zh) / WER (en) of Whisper base, %")
    print(header)
    for r in rows:
        line = (
            f"{r.id:14} {r.sex[0]:3} {r.lang:2} {r.ref_s:5.1f} {r.ceiling:5.3f} {r.same:5.3f} {r.same_other:6.3f} "
            f"{r.cross:5.3f} {r.cross - r.same:+6.3f} {100 * r.err_same:5.1f} {100 * r.stock_err_same:5.1f} "
            f"{100 * r.err_cross:5.1f} {100 * r.stock_err_cross:5.1f} {r.enroll_s:6.1f} "
            f"{_num(r.mos, 4)} {_num(r.stock_mos, 5)}  {r.voice}"
        )
        if stock:
            line += f" ({r.same_mean:.3f}/{r.cross_mean:.3f})"
        print(line)


def _num(value: float | None, width: int) -> str:
    return f"{value:{width}.2f}" if value is not None else " " * (width - 1) + "-"


def summarise(rows: list[Row], method: str) -> dict[str, float]:
    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    summary = {
        "speakers": len(rows),
        "ceiling_sim": mean([r.ceiling for r in rows]),
        "same_sim": mean([r.same for r in rows]),
        "same_sim_vs_other": mean([r.same_other for r in rows]),
        "cross_sim": mean([r.cross for r in rows]),
        "enroll_max_s": max(r.enroll_s for r in rows),
        "enroll_median_s": statistics.median(r.enroll_s for r in rows),
    }
    summary["cross_minus_same"] = summary["cross_sim"] - summary["same_sim"]
    if method == "stock":
        summary["same_sim_stock_mean"] = mean([r.same_mean or 0.0 for r in rows])
        summary["cross_sim_stock_mean"] = mean([r.cross_mean or 0.0 for r in rows])
    for text_lang in ("zh", "en"):  # error rates by the language spoken (same-lang rows + cross rows)
        clone = [r.err_same for r in rows if r.lang == text_lang] + [r.err_cross for r in rows if r.lang != text_lang]
        stock = [r.stock_err_same for r in rows if r.lang == text_lang]
        stock += [r.stock_err_cross for r in rows if r.lang != text_lang]
        summary[f"err_{text_lang}"] = mean(clone)
        summary[f"err_{text_lang}_stock"] = mean(stock)
    if all(r.mos is not None and r.stock_mos is not None for r in rows):
        summary["dnsmos"] = mean([r.mos or 0.0 for r in rows])
        summary["dnsmos_stock"] = mean([r.stock_mos or 0.0 for r in rows])
    for lang in ("zh", "en"):
        summary[f"same_sim_{lang}"] = mean([r.same for r in rows if r.lang == lang])
        summary[f"cross_sim_{lang}_speakers"] = mean([r.cross for r in rows if r.lang == lang])
    return summary


def print_summary(summary: dict[str, float], method: str) -> None:
    s = summary
    print(f"\n== summary ({method}, {s['speakers']} speakers) ==")
    print(f"human ceiling (ref vs other utterance)  mean SIM {s['ceiling_sim']:.3f}")
    print(
        f"same-language SIM                        mean {s['same_sim']:.3f}  (zh speakers {s['same_sim_zh']:.3f}, "
        f"en {s['same_sim_en']:.3f}; vs other utterance {s['same_sim_vs_other']:.3f})   target >= 0.60"
    )
    print(
        f"cross-lingual SIM                        mean {s['cross_sim']:.3f}  (zh speakers speaking en "
        f"{s['cross_sim_zh_speakers']:.3f}, en speakers speaking zh {s['cross_sim_en_speakers']:.3f})"
    )
    print(f"cross - same                             {s['cross_minus_same']:+.3f}   target within 0.05")
    if method == "stock":
        print(
            f"mean over all stock voices               same {s['same_sim_stock_mean']:.3f}, "
            f"cross {s['cross_sim_stock_mean']:.3f}"
        )
    for lang in ("zh", "en"):
        delta = 100 * (s[f"err_{lang}"] - s[f"err_{lang}_stock"])
        print(
            f"{METRIC[lang]} ({lang} sentences)                   {method} {100 * s[f'err_{lang}']:.1f} %, "
            f"stock jf_alpha/jm_kumo {100 * s[f'err_{lang}_stock']:.1f} %  ({delta:+.1f} points; target <= +3)"
        )
    if "dnsmos" in s:
        print(
            f"DNSMOS OVRL                              {method} {s['dnsmos']:.2f}, stock jf_alpha/jm_kumo "
            f"{s['dnsmos_stock']:.2f}  ({s['dnsmos'] - s['dnsmos_stock']:+.2f}; target >= -0.2)"
        )
    enroll = f"max {s['enroll_max_s']:.1f} s, median {s['enroll_median_s']:.1f} s"
    print(f"enrollment time                          {enroll}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="stock", help="'stock' (baseline) or a label for --module's method")
    parser.add_argument("--module", help="cloning function: path/to/file.py:function or package.module:function")
    parser.add_argument("--cache", type=Path, default=None, help="package cache (default ~/.cache/parrot-bench)")
    parser.add_argument("--speakers", help="comma-separated speaker ids (default: all in clone_speakers.json)")
    parser.add_argument("--sentences", type=int, default=2, choices=(1, 2, 3), help="sentences per language")
    parser.add_argument("--json", type=Path, help="also write rows and summary here")
    parser.add_argument("--quality", action="store_true", help="also predict quality (DNSMOS OVRL; needs speechmos)")
    args = parser.parse_args()
    if args.method != "stock" and not args.module:
        parser.error("--method other than 'stock' needs --module path.py:function")
    clone = load_clone(args.module) if args.module else None

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    speakers = load_speakers(args.cache, args.speakers.split(",") if args.speakers else None)
    bench = Bench(args.cache, args.sentences, quality=args.quality)
    log(f"loaded {len(speakers)} speakers and models in {time.perf_counter() - started:.1f} s")
    rows = evaluate_stock(bench, speakers, log) if clone is None else evaluate_clone(bench, speakers, clone, log)
    print_table(rows, args.method)
    summary = summarise(rows, args.method)
    print_summary(summary, args.method)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.json:
        payload = {"method": args.method, "sentences": bench.sentences, "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps({**payload, "summary": summary}, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
