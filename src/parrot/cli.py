"""The ``parrot`` command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, ParrotError
from .files import write_atomically

if TYPE_CHECKING:
    from .api import Parrot


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parrot", description="Offline multilingual speech generation.")
    parser.add_argument(
        "--engine", choices=("kokoro", "cosyvoice2"), help="acoustic engine (default: PARROT_ENGINE or kokoro)"
    )
    parser.add_argument(
        "--model-dir", help="CosyVoice2-0.5B directory (default: PARROT_MODEL_DIR or <data dir>/models/CosyVoice2-0.5B)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    say = sub.add_parser("say", help="speak text into a file or to stdout")
    say.add_argument("text", nargs="?", default="-", help="text to speak; '-' or nothing reads stdin")
    say.add_argument(
        "-o", "--output", help="output file (.wav .mp3 .flac .ogg .opus .aac .pcm); '-' for raw PCM on stdout"
    )
    say.add_argument("--stream", action="store_true", help="raw 16-bit mono PCM to stdout as it is made")
    say.add_argument(
        "--subtitles", metavar="FILE", help="also write the word and sentence timings: .srt, .vtt or .json"
    )
    say.add_argument("-v", "--voice", help="voice name (see `parrot voices list`)")
    say.add_argument("--speed", type=float, default=1.0, help="speaking rate, 0.5-2.0 (default 1.0)")
    say.add_argument(
        "-i",
        "--instruct",
        help="how to speak, e.g. 'speak cheerfully and a bit faster', '用悲伤的语气慢慢说', 'whisper'",
    )
    say.add_argument("--lang", default="auto", help="zh, en, ja or auto (default: detect per run of text)")
    say.add_argument("--ref", help="clone a one-off voice from this clip (3-30 s, any format) instead of -v")
    say.add_argument("--ref-text", help="what the --ref clip says (default: transcribed automatically)")
    say.add_argument("-q", "--quiet", action="store_true", help="do not print timing to stderr")

    book = sub.add_parser(
        "book",
        help="speak a whole book (.epub .md .txt) into an .m4b or .mp3 with chapters and subtitles; "
        "resumes where it stopped if interrupted",
    )
    book.add_argument("input", help="the book: .epub (DRM-free), .md or .txt (UTF-8)")
    book.add_argument(
        "-o", "--output", required=True, help="output file: .m4b (AAC with chapters) or .mp3 (ID3 chapters)"
    )
    book.add_argument("-v", "--voice", help="voice name (see `parrot voices list`)")
    book.add_argument("--speed", type=float, default=1.0, help="speaking rate, 0.5-2.0 (default 1.0)")
    book.add_argument("--lang", default="auto", help="zh, en, ja or auto (default: detect per run of text)")
    book.add_argument("--title", help="the book's title (default: from the book, or its first chapter)")
    book.add_argument("--subtitles", help="also write subtitles here (.srt; default: next to the output)")
    book.add_argument(
        "--restart", action="store_true", help="discard an interrupted run's work for this output and start over"
    )
    book.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    voices = sub.add_parser("voices", help="list and manage voices")
    vsub = voices.add_subparsers(dest="voices_command", required=True)
    vlist = vsub.add_parser("list", help="list available voices")
    vlist.add_argument("--json", action="store_true", help="machine-readable output")
    vadd = vsub.add_parser("add", help="clone a voice from a 3-30 s clip and save it")
    vadd.add_argument("name", help="voice name (letters, digits, '_', '-', '.', inner spaces; max 64)")
    vadd.add_argument("clip", help="recording of one person speaking (wav, mp3, flac, ogg, m4a...)")
    vadd.add_argument("--text", help="what the clip says (default: transcribed automatically)")
    vadd.add_argument("--lang", help="language of the clip (default: detected)")
    vadd.add_argument("--force", action="store_true", help="replace a saved voice with the same name")
    vadd.add_argument("--consent-by", help="who agreed to have their voice cloned (recorded with the voice)")
    vadd.add_argument("--consent-text", help="the statement they agreed to (recorded with the voice)")
    vdesign = vsub.add_parser(
        "design",
        help="make a voice without a recording: blend voices and adjust pitch, pace, brightness, breathiness",
        description="Saves the designed voice (use it like any other). Blends are written as "
        "'jf_alpha*0.3+jm_kumo*0.7' and work anywhere a voice name goes, without saving.",
    )
    vdesign.add_argument("name", help="name of the new voice")
    vdesign.add_argument("--from", dest="source", required=True, help="a voice or a blend: 'jf_alpha*0.3+jm_kumo*0.7'")
    vdesign.add_argument("--pitch", type=float, default=0.0, help="semitones, -12..12 (default 0)")
    vdesign.add_argument("--pace", type=float, default=1.0, help="speed factor, 0.5..2 (default 1)")
    vdesign.add_argument("--brightness", type=float, default=0.0,
                         help="dB per octave above 500 Hz, -6 (darker, older) .. 6 (brighter, younger)")  # fmt: skip
    vdesign.add_argument("--breathiness", type=float, default=0.0, help="0 (none) .. 1 (very breathy)")
    vdesign.add_argument("--description", default="", help="a line describing the voice")
    vdesign.add_argument("--say", help="also speak this text with the new voice into --output")
    vdesign.add_argument("-o", "--output", help="file for --say (format from the extension; default preview.wav)")
    vdesign.add_argument("--no-save", action="store_true", help="only preview (--say); do not save the voice")
    vdesign.add_argument("--force", action="store_true", help="replace a saved voice with the same name")
    vtrain = vsub.add_parser(
        "train",
        help="train a voice into the model from 10 s to a few minutes of one person speaking",
        description="Adapts the model to the speaker (about 10 minutes on 2 cores by default) and saves the voice. "
        "Ctrl-C stops and keeps the work: run the same command with --resume to continue.",
    )
    vtrain.add_argument("name", help="voice name (letters, digits, '_', '-', '.', inner spaces; max 64)")
    vtrain.add_argument("clips", nargs="+", help="recordings of the speaker (wav, mp3, flac, ogg, m4a...)")
    vtrain.add_argument("--text", action="append", help="what a clip says, once per clip in order "
                        "(default: transcribed automatically)")  # fmt: skip
    vtrain.add_argument("--lang", help="language of the recordings (default: detected)")
    vtrain.add_argument("--minutes", type=float, default=10.0, help="training time budget (default 10)")
    vtrain.add_argument("--resume", action="store_true", help="continue an interrupted training of NAME")
    vtrain.add_argument("--force", action="store_true", help="replace a saved voice with the same name")
    vtrain.add_argument("--progress-json", action="store_true", help="report progress as JSON lines on stdout "
                        "(state, progress, done, error) instead of a progress bar")  # fmt: skip
    vshow = vsub.add_parser("show", help="details of one voice")
    vshow.add_argument("name")
    vren = vsub.add_parser("rename", help="rename a saved voice")
    vren.add_argument("old")
    vren.add_argument("new")
    vdel = vsub.add_parser("delete", help="delete a saved voice")
    vdel.add_argument("name")
    vexp = vsub.add_parser("export", help="write a voice to one shareable .voice file")
    vexp.add_argument("name")
    vexp.add_argument("-o", "--output", help="file to write (default: NAME.voice)")
    vimp = vsub.add_parser("import", help="add a voice from a .voice file")
    vimp.add_argument("file")
    vimp.add_argument("--name", help="save it under this name instead")
    vimp.add_argument("--force", action="store_true", help="replace a saved voice with the same name")
    vcheck = vsub.add_parser(
        "check", help="check the saved voices: the library's index, every payload file, leftovers, permissions"
    )
    vcheck.add_argument(
        "--repair",
        action="store_true",
        help="fix what is found: rebuild the index from the payload files, move what cannot be used into the "
        "library's quarantine/ folder (nothing is deleted), make files private",
    )

    chat = sub.add_parser(
        "chat",
        help="voice chat: a spoken (or typed) question in, the answer of a language model spoken back",
        description="One turn with --input/--text; --mic for a spoken conversation; else an interactive typed "
        "one (type a question, or '@file.wav' to ask with a recording; /voice NAME, /reset, /quit). The language "
        "model is the one "
        "PARROT_LLM_BASE_URL points to, else the embedded one (PARROT_LLM_EMBEDDED).",
    )
    chat.add_argument("-i", "--input", help="the question as a recording (any audio format)")
    chat.add_argument("-t", "--text", help="the question typed (instead of --input)")
    chat.add_argument("-o", "--output", help="where to write the spoken answer (.wav .mp3 .flac .ogg .opus .aac .pcm)")
    chat.add_argument("-v", "--voice", help="voice of the answer (default: PARROT_CHAT_VOICE or the default voice)")
    chat.add_argument("--ref", help="answer in a voice cloned from this clip (3-30 s) instead of -v")
    chat.add_argument("--system", help="system prompt (default: PARROT_CHAT_SYSTEM_PROMPT or a built-in one)")
    chat.add_argument("--lang", help="language of the question, zh or en (default: detected)")
    chat.add_argument("--speed", type=float, default=1.0, help="speaking rate of the answer, 0.5-2.0")
    chat.add_argument("--mic", action="store_true", help="voice mode: listen to the microphone (arecord); speak, "
                      "pause, hear the answer; speaking over it interrupts it (use headphones)")
    chat.add_argument("--mic-command", help="with --mic: a command printing raw 16 kHz 16-bit mono PCM "
                      "(default: arecord -q -t raw -f S16_LE -r 16000 -c 1)")
    chat.add_argument("--save-dir", help="interactive mode: write each answer as answer-N.wav here")
    chat.add_argument("--play", action="store_true", help="interactive mode: play answers with aplay as they are made")
    chat.add_argument("-q", "--quiet", action="store_true", help="do not print timings to stderr")

    models = sub.add_parser("models", help="embedded model weights")
    msub = models.add_subparsers(dest="models_command", required=True)
    msub.add_parser("prepare", help="assemble and verify the embedded models in the data directory")
    mrun = msub.add_parser(
        "chat-runtime",
        help="build voice chat's embedded language model runtime (llama.cpp) in the background, or report it",
    )
    mrun.add_argument("--wait", action="store_true", help="follow the build until it ends (exit 0 when ready)")
    mrun.add_argument("--no-start", action="store_true", help="only report (and with --wait, wait for) a build")
    mdown = msub.add_parser("download", help="download optional model weights (resumes an interrupted download)")
    mdown.add_argument("model", choices=("cosyvoice2",), help="which model (cosyvoice2: CosyVoice2-0.5B, ~2.6 GB)")
    mdown.add_argument("--source", choices=("huggingface", "modelscope"), default="huggingface",
                       help="where to download from (default huggingface)")  # fmt: skip
    mdown.add_argument("--dir", help="download into this directory (default: the --model-dir default)")

    serve = sub.add_parser("serve", help="run the HTTP API (OpenAI- and CosyVoice-compatible) and WebSocket")
    serve.add_argument(
        "--host",
        default=os.environ.get("PARROT_HOST", "127.0.0.1"),
        help="address to listen on (default PARROT_HOST or 127.0.0.1, this machine only; any other address "
        "requires an API key: PARROT_API_KEYS, or one generated on first start)",
    )
    serve.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    serve.add_argument("--workers", type=int, help="model calls run at once (default: PARROT_WORKERS or 2)")
    serve.add_argument(
        "--max-jobs", type=int, help="streams admitted at once, then 429 (default: PARROT_MAX_JOBS or 6)"
    )
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "say":
            return _say(args)
        if args.command == "voices":
            return _voices(args)
        if args.command == "book":
            return _book(args)
        if args.command == "models":
            if args.models_command == "chat-runtime":
                return _models_chat_runtime(args)
            return _models_download(args) if args.models_command == "download" else _models_prepare()
        if args.command == "chat":
            from .chat.cli import run_chat

            return run_chat(args)
        if args.command == "serve":
            return _serve(args)
    except BrokenPipeError:  # e.g. `parrot say ... --stream | head -c 100`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ParrotError, OSError) as exc:
        print(f"parrot: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _settings(args: argparse.Namespace):  # -> Settings (imported lazily to keep `parrot --help` fast)
    """Settings from the environment with the global ``--engine`` / ``--model-dir`` applied."""
    import dataclasses

    from .config import Settings

    settings = Settings.from_env()
    if args.engine:
        settings = dataclasses.replace(settings, engine=args.engine)
    if args.model_dir:
        settings = dataclasses.replace(settings, model_dir=Path(args.model_dir).expanduser())
    return settings


def _read_text(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _say(args: argparse.Namespace) -> int:
    import numpy as np

    from .api import Parrot
    from .audio import encode, format_from_path, to_pcm16
    from .captions import Timeline, subtitle_format, subtitles

    if args.output is None and not args.stream:
        print("parrot: error: give -o FILE (or -o - / --stream for raw PCM on stdout)", file=sys.stderr)
        return 2
    if args.subtitles:
        subtitle_format(args.subtitles)  # a wrong extension fails before any synthesis
    to_stdout = args.stream or args.output == "-"
    fmt = "pcm" if to_stdout else format_from_path(args.output)
    text = _read_text(args.text)
    started = time.perf_counter()
    tts = Parrot(settings=_settings(args))
    voice = tts.clone(args.ref, args.ref_text, name="ref") if args.ref else args.voice
    loaded = time.perf_counter()
    # A short first chunk only helps when audio is consumed while it is made.
    chunks = tts.stream(text, voice, speed=args.speed, lang=args.lang, fast_start=to_stdout, instruction=args.instruct)
    for warning in chunks.warnings:  # reported even with --quiet: the request was not fully followed
        print(f"parrot: warning: {warning}", file=sys.stderr)
    if chunks.instruction is not None and not args.quiet:
        print(
            f"parrot: instruction understood as: {', '.join(chunks.instruction.understood) or 'nothing'}",
            file=sys.stderr,
        )
    first_audio: float | None = None
    seconds = 0.0
    timeline = Timeline(chunks.text)
    if to_stdout:
        out = sys.stdout.buffer
        for chunk in chunks:
            timeline.add(chunk)
            out.write(to_pcm16(chunk.audio))
            out.flush()
            first_audio = first_audio or time.perf_counter() - loaded
            seconds += chunk.duration
    else:  # whole-file encoding, so headers carry exact lengths; written atomically
        parts = []
        for chunk in chunks:
            timeline.add(chunk)
            parts.append(chunk.audio)
            first_audio = first_audio or time.perf_counter() - loaded
            seconds += chunk.duration
        data = encode(np.concatenate(parts) if parts else np.zeros(0, np.float32), tts.sample_rate, fmt)
        write_atomically(Path(args.output), data)
    if args.subtitles:
        timeline.finish()
        made = subtitles(args.subtitles, timeline.text, timeline.words, timeline.sentences)
        write_atomically(Path(args.subtitles), made.encode())
    if not args.quiet:
        took = time.perf_counter() - loaded
        print(
            f"parrot: {seconds:.2f} s of audio in {took:.2f} s (RTF {took / max(seconds, 1e-9):.2f}, "
            f"first audio {first_audio or 0:.2f} s, model load {loaded - started:.2f} s)",
            file=sys.stderr,
        )
    return 0


def _book(args: argparse.Namespace) -> int:
    import shutil

    from .api import Parrot, check_speed
    from .audio import BOOK_FORMATS
    from .books.document import book_format, read_book
    from .books.job import BookJob, BookSettings
    from .text.segment import check_language

    source, output = Path(args.input), Path(args.output)
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in BOOK_FORMATS:
        raise InputError(f"cannot write a book as {output.name!r}; give an output ending in .m4b or .mp3")
    settings = BookSettings(args.voice, check_speed(args.speed), check_language(args.lang), fmt)
    book = read_book(source.read_bytes(), book_format(source.name), args.title or "")
    work = output.with_name(f".{output.name}.parrot-book")
    if args.restart:
        shutil.rmtree(work, ignore_errors=True)
    if (work / "plan.json").exists():
        job = BookJob(work)
        if (job.title, job.settings, job.chapters) != (book.title, settings, book.chapters):
            raise InputError(
                f"{work} holds an interrupted run of another book or other settings; "
                "pass --restart to discard it (or delete the folder)"
            )
    else:
        job = BookJob.create(work, book, settings, source.name)
    resumed = job.segments_done()
    tts = Parrot(settings=_settings(args))
    if not args.quiet:
        characters = sum(len(s) for c in job.chapters for s in c.segments)
        print(f"parrot: {job.title!r}: {len(job.chapters)} chapters, {job.segments_total} segments, "
              f"{characters:,} characters" + (f"; resuming ({resumed} segments already done)" if resumed else ""),
              file=sys.stderr)  # fmt: skip
    started = time.perf_counter()
    progress = None
    for progress in job.steps(tts):
        if not args.quiet:
            _progress_bar(progress, time.perf_counter() - started, resumed)
    if not args.quiet:
        print(file=sys.stderr)
    subtitles = Path(args.subtitles) if args.subtitles else output.with_suffix(".srt")
    os.replace(job.output, output)
    os.replace(job.subtitles, subtitles)
    shutil.rmtree(work, ignore_errors=True)
    if not args.quiet and progress is not None:
        took = time.perf_counter() - started
        print(f"parrot: wrote {output} ({progress.audio_seconds / 60:.1f} min of audio, {len(job.chapters)} chapters) "
              f"and {subtitles} in {took:.0f} s", file=sys.stderr)  # fmt: skip
    return 0


def _progress_bar(progress, elapsed: float, resumed: int) -> None:  # progress: books.job.Progress
    width = 30
    filled = round(progress.fraction * width)
    made = progress.segments_done - resumed
    left = ""
    if progress.stage == "synthesizing" and made > 0:
        seconds = elapsed / made * (progress.segments_total - progress.segments_done)
        left = f", about {seconds / 60:.0f} min left" if seconds >= 60 else f", about {seconds:.0f} s left"
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {progress.fraction * 100:3.0f}% {progress.stage} "
        f"chapter {progress.chapter}/{progress.chapters}, segment {progress.segments_done}/{progress.segments_total}"
        f"{left}   ",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _voices(args: argparse.Namespace) -> int:
    from .api import Parrot

    command = args.voices_command
    if command == "check":
        return _check_library(args)
    tts = Parrot(settings=_settings(args))
    if command == "list":
        return _print_voices(tts.voices.list(), args.json)
    if command == "add":
        started = time.perf_counter()
        from .voices.consent import Consent

        consent = Consent.given(args.consent_by, args.consent_text) if args.consent_by or args.consent_text else None
        voice = tts.clone(args.clip, args.text, name=args.name, language=args.lang, consent=consent)
        tts.voices.save(voice, overwrite=args.force)
        print(f"saved voice {voice.name!r} in {time.perf_counter() - started:.1f} s")
        print(f"transcript: {voice.meta.get('transcript', '')}")
        for note in voice.meta.get("notes", []):
            print(f"note: {note}")
    elif command == "train":
        return _train_json(tts, args) if args.progress_json else _train(tts, args)
    elif command == "design":
        return _design(tts, args)
    elif command == "show":
        voice = tts.voice(args.name)
        info = {**voice.info(), **{k: v for k, v in voice.meta.items() if _jsonable(v)}}
        print(json.dumps(info, ensure_ascii=False, indent=2))
    elif command == "rename":
        tts.voices.rename(args.old, args.new)
        print(f"renamed {args.old!r} to {args.new!r}")
    elif command == "delete":
        tts.voices.delete(args.name)
        print(f"deleted voice {args.name!r}")
    elif command == "export":
        path = Path(args.output or f"{args.name}.voice")
        write_atomically(path, tts.voices.export(args.name))
        print(f"wrote {path}")
    elif command == "import":
        voice = tts.voices.import_(Path(args.file).read_bytes(), name=args.name, overwrite=args.force)
        print(f"imported voice {voice.name!r}")
    return 0


def _design(tts: Parrot, args: argparse.Namespace) -> int:
    from .audio import encode, format_from_path
    from .voices.design import Design

    if args.no_save and not args.say:
        raise InputError("--no-save only makes sense with --say TEXT (a preview)")
    adjust = Design(pitch=args.pitch, pace=args.pace, brightness=args.brightness, breathiness=args.breathiness)
    voice = tts.design(args.source, adjust, name=args.name, description=args.description)
    if args.say:
        path = Path(args.output or "preview.wav")
        speech = tts.say(args.say, voice)
        write_atomically(path, encode(speech.audio, speech.sample_rate, format_from_path(path)))
        print(f"wrote {path} ({speech.duration:.1f} s)")
    if not args.no_save:
        tts.voices.save(voice, overwrite=args.force)
        print(f"saved voice {voice.name!r}: {voice.description or voice.meta['design']}")
    return 0


def _train(tts: Parrot, args: argparse.Namespace) -> int:
    from .training.job import TrainingCancelled
    from .training.progress import ProgressBar

    job = _training_job(tts, args)
    bar = ProgressBar(sys.stderr)

    def interrupt(signum: int, frame: object) -> None:
        if job.state != "training" or job.cancelled:
            raise KeyboardInterrupt
        job.cancel()  # the trainer saves its checkpoint after the current step
        bar.close()
        print("parrot: stopping after this step (Ctrl-C again to quit at once)...", file=sys.stderr)

    print(f"parrot: preparing {len(args.clips)} recording(s) (transcribing and aligning)...", file=sys.stderr)
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        voice = job.run(bar.update)
    except (TrainingCancelled, KeyboardInterrupt):
        bar.close()
        print("parrot: stopped; the training so far is kept. Continue it with the same command and --resume",
              file=sys.stderr)  # fmt: skip
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.close()
    meta = voice.meta
    print(f"saved voice {voice.name!r}: {meta['steps']} steps in {meta['train_seconds']:.0f} s on "
          f"{meta['speech_seconds']:.0f} s of speech (final loss {meta['final_loss']:.3f})")  # fmt: skip
    return 0


def _training_job(tts: Parrot, args: argparse.Namespace):  # -> TrainingJob (torch is imported lazily)
    if not 0.1 <= args.minutes <= 600:
        raise InputError("--minutes must be between 0.1 and 600")
    return tts.train(args.name, args.clips, texts=args.text, language=args.lang, minutes=args.minutes,
                     resume=args.resume, overwrite=args.force)  # fmt: skip


def _train_json(tts: Parrot, args: argparse.Namespace) -> int:
    """``voices train --progress-json``: progress as JSON lines for a parent process (the server)."""
    from .training_json import run_with_json

    return run_with_json(lambda: _training_job(tts, args))


def _check_library(args: argparse.Namespace) -> int:
    """``parrot voices check [--repair]``: needs no model, only the library. Exit status 1 if problems remain."""
    from .voices.store import VoiceStore

    store = VoiceStore.for_data_dir(_settings(args).data_dir)
    report = store.check()
    print(f"{report.voices} saved voice(s) intact; {len(report.problems)} problem(s)")
    for problem in report.problems:
        print(f"problem: {problem}")
    if args.repair and not report.ok:
        report = store.repair()
        for action in report.repaired:
            print(f"repaired: {action}")
        for problem in report.problems:
            print(f"still: {problem}")
        print(f"{report.voices} saved voice(s) intact after repairing")
    elif not report.ok:
        print("run `parrot voices check --repair` to fix them (nothing is deleted; unusable files are quarantined)")
    return 0 if report.ok else 1


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _print_voices(voices: list, as_json: bool) -> int:
    if as_json:
        print(json.dumps([v.info() for v in voices], ensure_ascii=False, indent=2))
        return 0
    width = max(len(v.name) for v in voices)
    for v in voices:
        print(f"{v.name:<{width}}  {v.kind:<10} {v.gender or '-':<7} {v.language or '-':<3} {v.description}")
    return 0


def _models_prepare() -> int:
    from .config import Settings
    from .models import prepare_all

    for name, path in prepare_all(Settings.from_env().data_dir).items():
        print(f"{name}: {path} (verified)")
    return 0


def _models_chat_runtime(args: argparse.Namespace) -> int:
    from .chat import runtime
    from .config import Settings

    data_dir = Settings.from_env().data_dir
    current = runtime.status(data_dir) if args.no_start else runtime.start_build(data_dir)
    print(f"parrot: {current.message()}", file=sys.stderr)
    if args.wait and current.state == "building":
        shown = ""
        while current.state == "building":
            current = runtime.wait(data_dir, timeout=10)
            line = current.message() if current.state == "building" else ""
            if line and line != shown:
                print(f"parrot: {line}", file=sys.stderr)
                shown = line
        print(f"parrot: {current.message()}", file=sys.stderr)
    if current.state == "building":
        print(f"parrot: follow it with `parrot models chat-runtime --wait` (log: {runtime.runtime_dir(data_dir)}"
              "/build.log)", file=sys.stderr)  # fmt: skip
    ok = current.state == "ready" if args.wait else current.state in ("ready", "building")
    return 0 if ok else 1


def _models_download(args: argparse.Namespace) -> int:
    from .engines.cosyvoice2.modeldir import download

    target = Path(args.dir).expanduser() if args.dir else _settings(args).resolved_model_dir()
    path = download(target, args.source, progress=lambda message: print(f"parrot: {message}", file=sys.stderr))
    print(f"cosyvoice2: {path} (complete)")
    print(f"use it with: parrot --engine cosyvoice2 --model-dir {path} say ...  (or PARROT_MODEL_DIR={path})")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from .chat.config import ChatSettings
    from .server.app import create_app
    from .server.keys import choose_keys
    from .server.settings import ServerSettings

    # The server builds its engine from the environment at startup; hand the global options on that way.
    if args.engine:
        os.environ["PARROT_ENGINE"] = args.engine
    if args.model_dir:
        os.environ["PARROT_MODEL_DIR"] = str(Path(args.model_dir).expanduser())
    overrides = {"workers": args.workers, "max_jobs": args.max_jobs}
    try:
        settings = ServerSettings.from_env()
        settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        chat = ChatSettings.from_env()  # checked now: a bad PARROT_LLM_* stops the server before it starts
        keys = choose_keys(args.host, settings.api_keys, _settings(args).data_dir)
    except (ValueError, OSError) as exc:
        print(f"parrot: error: {exc}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(settings, api_keys=keys.keys)
    if keys.notice:
        print(keys.notice, file=sys.stderr)
    uvicorn.run(
        create_app(settings=settings, chat=chat),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        ws_max_size=2 * settings.max_json_bytes,  # larger frames are refused by the protocol (close 1009)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
