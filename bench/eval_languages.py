"""Intelligibility (Whisper base) and predicted quality (DNSMOS) per language and voice; default voices.

    PYTHONPATH=src .venv/bin/python bench/eval_languages.py run --voices jm_kumo,jf_alpha --limit 20
    PYTHONPATH=src .venv/bin/python bench/eval_languages.py report

``run`` speaks the held sentences of ``bench/languages.json`` (20 per language, 20 mixed zh/en/ja/ko, 20
Mandarin/English code-switched) with each voice, has Whisper base transcribe them (told the language of
single-language sentences; mixed ones in their dominant language) and scores DNSMOS P.835 OVRL. Every
rendering is appended to a JSON-lines file at once, so an interrupted run resumes where it stopped.

``report`` reads every ``languages*.jsonl`` beside ``--out`` (parallel runs write one each), rescores the
stored transcripts with the current ``parrot.evaluation`` and prints, per language and voice, the error
rate (CER for zh/ja/ko/hi, WER for en/es/fr/it/pt), DNSMOS, and for the mixed sets the error per segment
language (reference tokens aligned to the transcript, each error charged to the
segment of its reference token).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from dnsmos import Dnsmos

from parrot import Parrot
from parrot.audio import resample
from parrot.evaluation import error_rate, tokens

HERE = Path(__file__).parent
SENTENCES = HERE / "languages.json"
RESULTS = HERE / "results" / "languages.jsonl"
CER_LANGUAGES = ("zh", "ja", "ko", "hi")
# Whisper base writes Hindi in Urdu script unless the prompt shows it Devanagari.
PROMPTS = {"hi": "यह वाक्य हिंदी में है।"}


def items(sets: list[str], langs: list[str] | None, limit: int) -> list[tuple[str, str, int, list[list[str]]]]:
    """(set, lang, index, segments): single-language sentences have one segment."""
    data = json.loads(SENTENCES.read_text(encoding="utf-8"))
    out = []
    if "languages" in sets:
        for lang, sentences in data["sentences"].items():
            if langs is None or lang in langs:
                out += [("languages", lang, i, [[lang, s]]) for i, s in enumerate(sentences[:limit])]
    for name in ("mixed", "codeswitch"):
        if name in sets:
            out += [(name, dominant(segs), i, segs) for i, segs in enumerate(data[name][:limit])]
    return out


def dominant(segments: list[list[str]]) -> str:
    weight: dict[str, int] = defaultdict(int)
    for lang, text in segments:
        weight[lang] += len(text) if lang in CER_LANGUAGES else len(text.split())
    return max(weight, key=weight.__getitem__)


def run(args: argparse.Namespace) -> None:
    done = {(r["set"], r["lang"], r["index"], r["voice"]) for r in load(args.out)}
    tts = Parrot()
    recognizer = tts.recognizer
    dnsmos = Dnsmos()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    todo = [
        (item, voice)
        for item in items(args.sets.split(","), args.langs.split(",") if args.langs else None, args.limit)
        for voice in args.voices.split(",")
    ]
    todo = [(item, voice) for item, voice in todo if (item[0], item[1], item[2], voice) not in done]
    todo.sort(key=lambda job: job[0][2])  # sentence by sentence across languages: a cut run stays balanced
    print(f"{len(todo)} renderings to make", file=sys.stderr)
    with args.out.open("a", encoding="utf-8") as out:
        for (name, lang, index, segments), voice in todo:
            text = "".join(t for _, t in segments)
            started = time.perf_counter()
            speech = tts.say(text, voice, lang=lang if name == "languages" else None)
            audio = resample(speech.audio, speech.sample_rate, 16_000)
            heard = recognizer.transcribe(audio, language=lang, prompt=PROMPTS.get(lang)).text
            row = {
                "set": name, "lang": lang, "index": index, "voice": voice, "segments": segments,
                "heard": heard, "dnsmos": round(dnsmos.overall(audio), 3), "seconds": round(len(audio) / 16_000, 2),
                "elapsed": round(time.perf_counter() - started, 2),
            }  # fmt: skip
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            scored = lang if name == "languages" else None
            print(f"{name} {lang} {index} {voice}: {error_rate(text, heard, scored):.2f} {heard}", file=sys.stderr)


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def segment_errors(segments: list[list[str]], heard: str) -> dict[str, tuple[int, int]]:
    """Per segment language: (errors, reference tokens), the reference aligned to ``heard``."""
    ref: list[tuple[str, str]] = [(lang, tok) for lang, text in segments for tok in tokens(text)]
    hyp = tokens(heard)
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (ref[i - 1][1] != hyp[j - 1]))
    errors: dict[str, int] = defaultdict(int)
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1][1] != hyp[j - 1]):
            errors[ref[i - 1][0]] += int(ref[i - 1][1] != hyp[j - 1])
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            errors[ref[i - 1][0]] += 1
            i -= 1
        else:  # an inserted word: charged to the segment it follows
            errors[ref[max(i - 1, 0)][0]] += 1
            j -= 1
    totals: dict[str, int] = defaultdict(int)
    for lang, _ in ref:
        totals[lang] += 1
    return {lang: (errors[lang], totals[lang]) for lang in totals}


def report(args: argparse.Namespace) -> None:
    rows = [row for path in sorted(args.out.parent.glob("languages*.jsonl")) for row in load(path)]
    by_key: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in rows:
        by_key[(row["set"], row["lang"], row["voice"])].append(row)
    print("## Single-language sentences (CER for zh/ja/ko/hi, WER for en/es/fr/it/pt; Whisper base)\n")
    print("| language | voice | n | error | DNSMOS |")
    print("|---|---|---|---|---|")
    best: dict[str, tuple[float, float, str]] = {}
    for (name, lang, voice), group in sorted(by_key.items()):
        if name != "languages":
            continue
        err = corpus_error(group)
        mos = float(np.mean([r["dnsmos"] for r in group]))
        print(f"| {lang} | {voice} | {len(group)} | {err:.1%} | {mos:.2f} |")
        if len(group) >= args.min_n and (lang not in best or (err, -mos) < best[lang][:2]):
            best[lang] = (err, -mos, voice)
    print("\n## Best voice per language (lowest error, then highest DNSMOS; languages with >= "
          f"{args.min_n} sentences)\n")
    for lang, (err, mos, voice) in sorted(best.items()):
        print(f"- {lang}: {voice} ({err:.1%}, DNSMOS {-mos:.2f})")
    for name in ("mixed", "codeswitch"):
        print(f"\n## {name}: error per segment language (Whisper in the sentence's dominant language)\n")
        print("| voice | n | overall | " + " | ".join(("zh", "en", "ja", "ko")) + " | DNSMOS |")
        print("|---|---|---|---|---|---|---|---|")
        voices: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            if row["set"] == name:
                voices[row["voice"]].append(row)
        for voice, group in sorted(voices.items()):
            per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for row in group:
                for lang, (e, t) in segment_errors(row["segments"], row["heard"]).items():
                    per[lang][0] += e
                    per[lang][1] += t
            cells = [f"{per[lang][0] / per[lang][1]:.1%}" if per[lang][1] else "-" for lang in ("zh", "en", "ja", "ko")]
            mos = float(np.mean([r["dnsmos"] for r in group]))
            overall = sum(e for e, _ in per.values()) / max(1, sum(t for _, t in per.values()))
            print(f"| {voice} | {len(group)} | {overall:.1%} | " + " | ".join(cells) + f" | {mos:.2f} |")


def corpus_error(group: list[dict]) -> float:
    """Total edits over total reference tokens (not the mean of per-sentence rates)."""
    errors = total = 0
    for row in group:
        text = "".join(t for _, t in row["segments"])
        n = len(tokens(text, row["lang"]))
        errors += round(error_rate(text, row["heard"], row["lang"]) * n)
        total += n
    return errors / max(1, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "report"))
    parser.add_argument("--voices", default="jm_kumo", help="comma-separated voices (run)")
    parser.add_argument("--sets", default="languages,mixed,codeswitch", help="which sets (run)")
    parser.add_argument("--langs", default="", help="comma-separated languages of the single-language set (run)")
    parser.add_argument("--limit", type=int, default=20, help="sentences per language and set (run)")
    parser.add_argument("--min-n", type=int, default=20, help="sentences a voice needs to be chosen (report)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON-lines results file")
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
