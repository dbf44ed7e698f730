"""``parrot chat``: one spoken turn from a file, or an interactive conversation in the terminal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import numpy as np

from ..asr import ASR_SAMPLE_RATE
from ..audio import decode, encode, format_from_path, to_pcm16
from ..errors import InputError
from ..files import write_atomically
from .config import ChatSettings, load_model
from .pipeline import (
    ChatEvent,
    ChatSession,
    EarlyTranscript,
    LocalSpeaker,
    ReplyAudio,
    ReplyDelta,
    Transcribed,
    TurnDone,
)
from .vad import SpeechStarted, SpeechStopped, TurnDetector, trim_to_speech

MIC_COMMAND = "arecord -q -t raw -f S16_LE -r 16000 -c 1"  # raw 16-bit mono PCM at 16 kHz on stdout
MIC_READ_BYTES = 3_200  # 100 ms


def run_chat(args: argparse.Namespace) -> int:
    """Entry point of ``parrot chat`` (errors are reported by the caller)."""
    from ..api import Parrot

    if args.input and args.text:
        raise InputError("give either --input (a recording) or --text, not both")
    one_turn = bool(args.input or args.text)
    if one_turn and not args.output:
        raise InputError("give -o FILE for the spoken answer (e.g. -o answer.wav)")
    fmt = format_from_path(args.output) if args.output else None
    question = decode(args.input, ASR_SAMPLE_RATE, max_seconds=120)[0] if args.input else None
    chat = ChatSettings.from_env()
    started = time.perf_counter()
    tts = Parrot()
    voice = tts.clone(args.ref, name="ref") if args.ref else tts.voice(args.voice or chat.voice)
    model = load_model(chat, tts.settings)
    session = ChatSession(
        model,
        LocalSpeaker(tts),
        transcriber=tts.recognizer if (question is not None or not one_turn) else None,
        system_prompt=args.system or chat.system_prompt,
        voice=voice,
        speed=args.speed,
        max_tokens=chat.max_tokens,
        temperature=chat.temperature,
        history_turns=chat.history_turns,
    )
    _note(args, f"parrot: {chat.llm_description}, voice {voice.name}, ready in {time.perf_counter() - started:.1f} s")
    if one_turn:
        audio = asyncio.run(_turn(_ask(session, question, args.text, args.lang), args, None))
        write_atomically(Path(args.output), encode(audio, tts.sample_rate, fmt or "wav"))
        return 0
    if args.mic:
        return asyncio.run(_listen(session, tts, args))
    return _interactive(session, tts, args)


async def _turn(
    events: AsyncIterator[ChatEvent],
    args: argparse.Namespace,
    player: IO[bytes] | None,
) -> np.ndarray:
    """Run one turn's ``events``: prints the transcript and the answer as it streams, plays the audio on
    ``player`` (raw PCM) if given; returns the answer's audio."""
    parts: list[np.ndarray] = []
    async with contextlib.aclosing(events) as stream:
        async for event in stream:
            _show(event, args)
            if isinstance(event, ReplyAudio):
                parts.append(event.audio)
                if player is not None:  # a pipe write may block while the player catches up
                    await asyncio.to_thread(_play, player, to_pcm16(event.audio))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _ask(session: ChatSession, audio: np.ndarray | None, text: str | None, language: str | None):  # noqa: ANN202
    """The events of a turn from a whole recording or from typed text."""
    if audio is not None:
        return session.turn(trim_to_speech(audio), language=language)
    print("parrot: ", end="", flush=True)
    return session.reply(text or "", language)


def _play(player: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):  # the player was stopped (barge-in)
        player.write(data)
        player.flush()


def _said(heard: Transcribed) -> None:
    print(f"you ({heard.language}): {heard.text}", flush=True)


def _show(event: ChatEvent, args: argparse.Namespace) -> None:
    if isinstance(event, Transcribed):
        _said(event)
        print("parrot: ", end="", flush=True)
    elif isinstance(event, ReplyDelta):
        print(event.text, end="", flush=True)
    elif isinstance(event, TurnDone):
        print(flush=True)
        t = event.timings
        _note(
            args,
            f"parrot: first audio {t.first_audio or 0:.2f} s (asr {t.asr or 0:.2f}, model first phrase "
            f"{t.model_first_phrase or 0:.2f}, tts first chunk {t.tts_first_chunk or 0:.2f}); model "
            f"{t.words_per_second or 0:.1f} words/s; turn {t.total or 0:.2f} s",
        )


def _interactive(session: ChatSession, tts, args: argparse.Namespace) -> int:  # noqa: ANN001 - Parrot
    save_dir = Path(args.save_dir) if args.save_dir else None
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    player = _start_player(tts.sample_rate) if args.play else None
    print("Type a question, or @file.wav to ask with a recording. /voice NAME, /reset, /quit.", file=sys.stderr)
    turn = 0
    try:
        while True:
            try:
                line = input("you> ").strip()
            except EOFError:
                return 0
            if not line:
                continue
            if line in ("/quit", "/exit"):
                return 0
            if line == "/reset":
                session.reset()
                print("(conversation forgotten)", file=sys.stderr)
                continue
            if line.startswith("/voice"):
                try:
                    session.voice = tts.voice(line.removeprefix("/voice").strip() or None).name
                    print(f"(voice: {session.voice})", file=sys.stderr)
                except InputError as exc:
                    print(f"parrot: error: {exc}", file=sys.stderr)
                continue
            try:
                audio = decode(line[1:].strip(), ASR_SAMPLE_RATE, max_seconds=120)[0] if line.startswith("@") else None
                events = _ask(session, audio, line, args.lang)
                answer = asyncio.run(_turn(events, args, player and player.stdin))
            except (InputError, OSError) as exc:
                print(f"\nparrot: error: {exc}", file=sys.stderr)
                continue
            turn += 1
            if save_dir and len(answer):
                path = save_dir / f"answer-{turn}.wav"
                write_atomically(path, encode(answer, tts.sample_rate, "wav"))
                print(f"(saved {path})", file=sys.stderr)
    finally:
        if player is not None and player.stdin:
            player.stdin.close()
            player.wait(timeout=30)


async def _listen(session: ChatSession, tts, args: argparse.Namespace) -> int:  # noqa: ANN001 - Parrot
    """Voice mode: microphone audio (raw 16 kHz PCM from ``--mic-command``, arecord by default) through the
    VAD; each turn is answered as soon as it ends, and speaking over an answer interrupts it."""
    command = shlex.split(args.mic_command or MIC_COMMAND)
    if shutil.which(command[0]) is None:
        raise InputError(f"--mic needs {command[0]!r} (apt-get install alsa-utils), or give --mic-command")
    save_dir = Path(args.save_dir) if args.save_dir else None
    if save_dir:
        save_dir.mkdir(parents=True, exist_ok=True)
    mic = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert mic.stdout is not None
    detector = await asyncio.to_thread(TurnDetector)
    early = EarlyTranscript(session, args.lang)
    answering: asyncio.Task[np.ndarray] | None = None
    player: subprocess.Popen[bytes] | None = None
    saved = 0
    print("Listening: speak, and pause to let Parrot answer (Ctrl+C to stop).", file=sys.stderr)

    def finished(task: asyncio.Task[np.ndarray]) -> None:
        nonlocal saved
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                print(f"\nparrot: error: {task.exception()}", file=sys.stderr)
            return
        answer = task.result()
        if save_dir and len(answer):
            saved += 1
            write_atomically(save_dir / f"answer-{saved}.wav", encode(answer, tts.sample_rate, "wav"))

    try:
        while chunk := await mic.stdout.read(MIC_READ_BYTES):
            samples = np.frombuffer(chunk[: len(chunk) - len(chunk) % 2], dtype="<i2").astype(np.float32) / 32768
            for event in detector.push(samples):
                early.observe(event)
                if isinstance(event, SpeechStarted) and answering is not None and not answering.done():
                    answering.cancel()  # barge-in: stop the model, the synthesis and the playback
                    print("\n(interrupted)", file=sys.stderr)
                    if player is not None:
                        player.kill()
                        player = None
                elif isinstance(event, SpeechStopped):
                    if args.play and player is None:
                        player = _start_player(tts.sample_rate)
                    speech_end = time.perf_counter() - (detector.position - event.end)
                    turn = session.turn(
                        event.audio, language=args.lang, speech_end=speech_end, heard=early.take(event), late=_said
                    )
                    answering = asyncio.create_task(_turn(turn, args, player and player.stdin))
                    answering.add_done_callback(finished)
        if answering is not None:
            await asyncio.gather(answering, return_exceptions=True)
    finally:
        if mic.returncode is None:
            mic.kill()
        await mic.wait()
        if player is not None and player.stdin:
            player.stdin.close()
            player.wait(timeout=30)
    return 0


def _start_player(rate: int) -> subprocess.Popen[bytes]:
    aplay = shutil.which("aplay")
    if aplay is None:
        raise InputError("--play needs aplay (apt-get install alsa-utils); or use --save-dir")
    command = [aplay, "-q", "-t", "raw", "-r", str(rate), "-f", "S16_LE", "-c", "1"]
    return subprocess.Popen(command, stdin=subprocess.PIPE)


def _note(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)
