"""Speech to text as OpenAI documents it (every response format, word timestamps, streaming, translation),
with real Whisper on a real server, through httpx and the official ``openai`` client."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import httpx
import numpy as np
import pytest
from openai import OpenAI

from parrot.api import Parrot
from parrot.asr import Recognition, Segment
from parrot.audio import encode
from parrot.server.transcripts import transcript_events

ENGLISH = "The weather is sunny today. We will walk to the park and buy some fresh fruit on the way home."
MANDARIN = "今天天气很好，我们一起去公园散步。"
SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"
VTT_TIME = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"


@pytest.fixture(scope="module")
def client(server) -> OpenAI:  # noqa: ANN001
    return OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0, timeout=120)


def _wav(tts: Parrot, text: str, voice: str, lang: str | None = None) -> tuple[bytes, float]:
    """Parrot reading ``text``, as WAV bytes with half a second of silence before it, and its length."""
    speech = tts.say(text, voice, lang=lang)
    audio = np.concatenate([np.zeros(speech.sample_rate // 2, np.float32), speech.audio])
    return encode(audio, speech.sample_rate, "wav"), len(audio) / speech.sample_rate


@pytest.fixture(scope="module")
def english(tts: Parrot) -> tuple[bytes, float]:
    return _wav(tts, ENGLISH, "linda")


@pytest.fixture(scope="module")
def mandarin(tts: Parrot) -> bytes:
    return _wav(tts, MANDARIN, "jf_alpha", lang="zh")[0]


def _transcribe(http: httpx.Client, wav: bytes, **form: str | list[str]) -> httpx.Response:
    response = http.post(
        "/v1/audio/transcriptions", data={"model": "whisper-1", **form}, files={"file": ("a.wav", wav, "audio/wav")}
    )
    assert response.status_code == 200, response.text
    return response


def _words_heard(text: str) -> int:
    return sum(word in text.lower() for word in ("weather", "sunny", "today", "park", "fruit", "home"))


def _seconds(match: tuple[str, ...]) -> float:
    hours, minutes, seconds, millis = map(int, match)
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def _assert_timeline(spans: list[tuple[float, float]], duration: float) -> None:
    """Each span starts no later than it ends, none starts before the previous one, all within the audio."""
    assert spans
    for (start, end), (next_start, _) in zip(spans, [*spans[1:], (duration, duration)], strict=True):
        assert 0 <= start <= end <= duration + 0.001, spans
        assert start <= next_start, spans


def _cues(body: str, time: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of each subtitle block; the whole body must be made of such blocks."""
    blocks = [b for b in body.strip().split("\n\n") if b]
    cues = []
    for block in blocks:
        lines = block.split("\n")
        timing = re.fullmatch(f"{time} --> {time}", lines[0])
        assert timing and len(lines) >= 2 and all(line.strip() for line in lines[1:]), block
        cues.append((_seconds(timing.groups()[:4]), _seconds(timing.groups()[4:]), " ".join(lines[1:])))
    return cues


def test_srt(http: httpx.Client, english: tuple[bytes, float]) -> None:
    wav, duration = english
    body = _transcribe(http, wav, response_format="srt", language="en").text
    blocks = body.strip().split("\n\n")
    numbers = [block.split("\n", 1)[0] for block in blocks]
    assert numbers == [str(n) for n in range(1, len(blocks) + 1)], body
    cues = _cues("\n\n".join(block.split("\n", 1)[1] for block in blocks), SRT_TIME)
    _assert_timeline([(start, end) for start, end, _ in cues], duration)
    assert _words_heard(" ".join(text for _, _, text in cues)) >= 4, body


def test_vtt(http: httpx.Client, english: tuple[bytes, float]) -> None:
    wav, duration = english
    response = _transcribe(http, wav, response_format="vtt")
    assert response.headers["content-type"].startswith("text/vtt")
    header, _, body = response.text.partition("\n\n")
    assert header == "WEBVTT"
    cues = _cues(body, VTT_TIME)
    _assert_timeline([(start, end) for start, end, _ in cues], duration)
    assert _words_heard(" ".join(text for _, _, text in cues)) >= 4, body


def test_verbose_json_with_words(http: httpx.Client, english: tuple[bytes, float]) -> None:
    wav, duration = english
    form = {"response_format": "verbose_json", "timestamp_granularities[]": ["word", "segment"]}
    verbose = _transcribe(http, wav, **form).json()
    assert verbose["task"] == "transcribe" and verbose["language"] == "en"
    assert abs(verbose["duration"] - duration) < 0.01 and _words_heard(verbose["text"]) >= 4
    assert verbose["usage"] == {"type": "duration", "seconds": verbose["duration"]}
    segments = verbose["segments"]
    assert [s["id"] for s in segments] == list(range(len(segments)))
    for segment in segments:
        assert {"seek", "tokens", "temperature", "avg_logprob", "compression_ratio", "no_speech_prob"} <= set(segment)
        assert segment["tokens"] and all(isinstance(t, int) for t in segment["tokens"])
        assert segment["avg_logprob"] < 0 and 0 <= segment["no_speech_prob"] <= 1
    assert "".join(s["text"] for s in segments).strip() == verbose["text"]
    _assert_timeline([(s["start"], s["end"]) for s in segments], duration)
    words = verbose["words"]
    assert [set(w) for w in words] == [{"word", "start", "end"}] * len(words)
    assert " ".join(w["word"] for w in words) == verbose["text"]
    _assert_timeline([(w["start"], w["end"]) for w in words], duration)
    park = next(w for w in words if "park" in w["word"])  # about halfway through
    assert 0.4 * duration < park["start"] < 0.8 * duration, words
    assert words[-1]["end"] > duration - 1.5


def test_verbose_json_words_only_when_asked(http: httpx.Client, english: tuple[bytes, float]) -> None:
    verbose = _transcribe(http, english[0], response_format="verbose_json").json()
    assert "words" not in verbose and verbose["segments"]
    assert set(_transcribe(http, english[0]).json()) == {"text", "usage"}


def test_openai_client_formats(client: OpenAI, english: tuple[bytes, float]) -> None:
    file = ("speech.wav", english[0], "audio/wav")
    assert _words_heard(client.audio.transcriptions.create(model="whisper-1", file=file).text) >= 4
    verbose = client.audio.transcriptions.create(
        model="whisper-1", file=file, response_format="verbose_json", timestamp_granularities=["word"]
    )
    assert verbose.segments and verbose.words and verbose.words[0].word
    assert verbose.segments[-1].end <= verbose.duration
    subtitles = client.audio.transcriptions.create(model="whisper-1", file=file, response_format="srt")
    assert isinstance(subtitles, str) and subtitles.startswith("1\n00:00:0")


def test_openai_client_stream(client: OpenAI, english: tuple[bytes, float]) -> None:
    events = list(
        client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("speech.wav", english[0], "audio/wav"), stream=True
        )
    )
    assert [e.type for e in events[:-1]] == ["transcript.text.delta"] * (len(events) - 1) and len(events) >= 2
    done = events[-1]
    assert done.type == "transcript.text.done" and _words_heard(done.text) >= 4
    assert "".join(e.delta for e in events[:-1]).strip() == done.text


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the client marks translations deprecated
def test_translation_of_mandarin(client: OpenAI, http: httpx.Client, mandarin: bytes) -> None:
    file = ("chinese.wav", mandarin, "audio/wav")
    heard = client.audio.transcriptions.create(model="whisper-1", file=file, response_format="verbose_json")
    assert heard.language == "zh" and re.search(r"[\u4e00-\u9fff]", heard.text), heard.text
    english = client.audio.translations.create(model="whisper-1", file=file).text
    assert re.fullmatch(r"[A-Za-z0-9 ,.'!?-]+", english) and len(english.split()) >= 3, english
    verbose = http.post(
        "/v1/audio/translations", data={"response_format": "verbose_json"}, files={"file": file}
    ).json()
    assert verbose["task"] == "translate" and verbose["language"] == "en" and verbose["segments"]
    subtitles = client.audio.translations.create(model="whisper-1", file=file, response_format="vtt")
    assert subtitles.startswith("WEBVTT\n\n00:00:") and re.search("[A-Za-z]{3}", subtitles)


def test_stream_sends_each_segment_as_it_is_decoded() -> None:
    """The events leave while the decoding thread is still at work, and a client that goes away stops it."""
    first_sent, stopped = threading.Event(), threading.Event()

    def segment(number: int, text: str) -> Segment:
        return Segment(number, 0, number, number + 1.0, text, (1,), 0.0, -0.2, 1.1, 0.01)

    def decode(on_segment) -> Recognition:  # noqa: ANN001
        on_segment(segment(0, " One."))
        assert first_sent.wait(10), "the first event was held back until the decoding ended"
        try:
            for n in range(1, 100):
                on_segment(segment(n, " More."))
                time.sleep(0.05)  # decoding the next one
        except Exception:
            stopped.set()
            raise
        raise AssertionError("never stopped")

    async def read_two_and_leave() -> list[dict]:
        events = transcript_events(decode)
        received = [json.loads((await anext(events)).removeprefix("data: "))]
        first_sent.set()
        received.append(json.loads((await anext(events)).removeprefix("data: ")))
        await events.aclose()
        return received

    received = asyncio.run(read_two_and_leave())
    assert received == [{"type": "transcript.text.delta", "delta": "One."}] + [
        {"type": "transcript.text.delta", "delta": " More."}
    ]
    assert stopped.wait(10)
