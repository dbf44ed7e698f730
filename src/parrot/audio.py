"""Audio in and out: decode any common format, resample, encode whole files or live streams.

Decoding and the compressed formats use PyAV (FFmpeg bundled in its wheels); WAV and raw PCM are written
here with numpy. Everything is mono float32 in [-1, 1]. PyAV is imported lazily (it costs ~0.2 s).

Length after a round trip: WAV, FLAC and Ogg Opus are sample-exact, and so is MP3 from encode() (its
LAME tag carries the encoder delay); streamed MP3 decodes with ~1100 extra leading samples plus padding,
and AAC (ADTS has nowhere to say so) with 1024 leading priming samples plus up to a frame of padding.
"""

from __future__ import annotations

import io
import os
import stat
import struct
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    import av.container

__all__ = [
    "BOOK_FORMATS",
    "FORMATS",
    "AudioError",
    "ChapterMark",
    "ChapteredFileEncoder",
    "StreamEncoder",
    "StreamResampler",
    "decode",
    "encode",
    "format_from_path",
    "read_chapters",
    "resample",
    "to_pcm16",
]


MIN_INPUT_RATE, MAX_INPUT_RATE = 1_000, 768_000  # sample rates accepted from decoded files


class AudioError(InputError):  # InputError is a ValueError
    """Audio that cannot be read or a format that cannot be written; the message says what to do."""

    kind = "invalid_audio"


FORMATS: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",  # Ogg Opus, like "opus"
    "opus": "audio/ogg; codecs=opus",
    "aac": "audio/aac",  # ADTS stream
    "pcm": "audio/pcm",  # raw 16-bit little-endian mono, no header
}

_EXTENSIONS = {
    ".wav": "wav", ".wave": "wav", ".mp3": "mp3", ".flac": "flac", ".ogg": "ogg", ".oga": "ogg",
    ".opus": "opus", ".aac": "aac", ".pcm": "pcm", ".raw": "pcm",
}  # fmt: skip


@dataclass(frozen=True)
class _Codec:
    container: str
    codec: str
    bit_rate: int | None = None
    sample_format: str | None = None
    container_options: tuple[tuple[str, str], ...] = ()


# 0.2 s Ogg pages (FFmpeg's default is 1 s) so streaming clients get audio sooner.
_OPUS = _Codec("ogg", "libopus", 32_000, "flt", (("page_duration", "200000"),))
_CODECS = {
    # No ID3 tag: a bare frame stream is what MP3 streaming clients expect.
    "mp3": _Codec("mp3", "libmp3lame", 64_000, container_options=(("id3v2_version", "0"),)),
    "aac": _Codec("adts", "aac", 64_000),
    "opus": _OPUS,
    "ogg": _OPUS,
    "flac": _Codec("flac", "flac", sample_format="s16"),
}

# Demuxers decode() accepts (FFmpeg names). Anything else, e.g. playlists that open other URLs or files,
# text formats, images, is refused whatever the bytes look like.
_DEMUXERS = "wav,w64,aiff,caf,au,mp3,flac,ogg,aac,mov,matroska"

# libswresample settings: 256 taps per phase, cutoff at 97% of the lower Nyquist frequency. Measured
# 24k->16k: flat to 7.6 kHz, aliases of 8.3-12 kHz tones below -110 dB (the defaults let 8.3 kHz alias
# at -19 dB). Costs ~1 ms per second of audio.
_SWR_OPTIONS = "filter_size=256:cutoff=0.97:phase_shift=12"


def format_from_path(path: str | os.PathLike[str]) -> str:
    """Output format for a file name by its extension (case-insensitive): "out.mp3" -> "mp3"."""
    ext = Path(path).suffix.lower()
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    supported = ", ".join(_EXTENSIONS)
    if ext in (".m4a", ".mp4"):
        raise AudioError(f"cannot write {ext} (MP4) files; use .aac for AAC audio (supported: {supported})")
    what = f"extension {ext!r}" if ext else "no extension"
    raise AudioError(f"cannot tell the audio format of {os.fspath(path)!r} ({what}); use one of: {supported}")


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as little-endian int16 bytes (x * 32768, as FFmpeg converts), clipped to
    the int16 range; NaN becomes 0."""
    return np.clip(np.rint(_clean(audio) * 32768.0), -32768, 32767).astype("<i2").tobytes()


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling of mono float32 audio; output length is round(len * dst / src)."""
    audio = _mono(audio, clip=False)
    _check_rate(src_rate)
    _check_rate(dst_rate)
    if src_rate == dst_rate:
        return audio
    resampler = _Resampler(src_rate, dst_rate)
    return np.concatenate([resampler(audio), resampler.flush()])


def decode(
    source: bytes | str | os.PathLike[str], sample_rate: int | None = None, *, max_seconds: float = 600.0
) -> tuple[np.ndarray, int]:
    """Decode audio bytes or a file (format found from content) to mono float32 in [-1, 1].

    Channels are averaged; the result is resampled to ``sample_rate`` if given, else kept at the native
    rate, which is returned with it (Opus always decodes at 48 kHz). A path is opened as a local file,
    never as a URL. Audio longer than ``max_seconds`` is refused after decoding that much.
    """
    if sample_rate is not None:
        _check_rate(sample_rate)
    if not max_seconds > 0:
        raise AudioError(f"max_seconds must be positive, got {max_seconds!r}")
    if isinstance(source, bytes | bytearray | memoryview):
        if not len(source):
            raise AudioError("no audio data received (0 bytes); send the contents of an audio file")
        with _open_input(io.BytesIO(source)) as container:
            runs = _decode_container(container, max_seconds)
    else:
        try:
            file = open(source, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as e:
            raise AudioError(f"cannot read audio file {os.fspath(source)!r}: {e.strerror or e}") from e
        with file:
            info = os.fstat(file.fileno())
            if stat.S_ISREG(info.st_mode) and info.st_size == 0:
                raise AudioError(f"audio file {os.fspath(source)!r} is empty (0 bytes)")
            # FFmpeg must not see the file name: the format is judged by content, never by extension.
            with _open_input(_Nameless(file)) as container:
                runs = _decode_container(container, max_seconds)
    rate = int(sample_rate or runs[0][0])
    try:
        audio = np.concatenate([resample(run, run_rate, rate) for run_rate, run in runs])
    except MemoryError as e:  # a header that passed the checks but still asks for too much
        raise AudioError("the audio is too large to convert; send a shorter recording") from e
    return np.clip(audio, -1.0, 1.0), rate


def encode(audio: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """A whole file in ``fmt`` (see FORMATS). Unlike streaming, headers carry the exact length
    (WAV sizes, FLAC STREAMINFO, MP3 LAME/Xing gapless info)."""
    encoder = _FileEncoder(fmt, sample_rate)
    return encoder.write(audio) + encoder.close()


class StreamEncoder:
    """Encode audio chunk by chunk; the concatenated return values of write() and close() form one
    valid file/stream. MP3, AAC (ADTS), Opus (Ogg) and FLAC bytes come out as packets are ready;
    WAV gets a header with maximal sizes (as streaming servers send) followed by raw PCM. With no audio
    written at all, the compressed formats give b"" (there is no frame to carry their headers)."""

    _seekable = False  # True: the muxer may rewrite headers at close, so output arrives only then

    def __init__(self, fmt: str, sample_rate: int) -> None:
        key = str(fmt).lower()
        if key not in FORMATS:
            raise AudioError(f"unknown audio format {fmt!r}; use one of: {', '.join(FORMATS)}")
        _check_rate(sample_rate)
        self.fmt = key
        self.sample_rate = int(sample_rate)
        self._sink = _Sink(self._seekable)
        self._closed = False
        self._container: av.container.OutputContainer | None = None
        self._resampler: _Resampler | None = None
        if key == "wav":
            self._sink.write(_wav_header(0xFFFFFFFF, sample_rate))
        elif key != "pcm":
            self._open_codec(_CODECS[key])

    def _open_codec(self, spec: _Codec, target: object = None) -> None:
        import av

        rates = av.Codec(spec.codec, "w").audio_rates
        rate = self.sample_rate
        if rates and rate not in rates:  # e.g. Opus: 8/12/16/24/48 kHz only; go up to the next one
            rate = min((r for r in rates if r >= rate), default=max(rates))
            self._resampler = _Resampler(self.sample_rate, rate)
        self._rate = rate
        self._pts = 0
        self._container = av.open(
            target or self._sink, "w", format=spec.container, container_options=dict(spec.container_options)
        )
        self._stream = self._container.add_stream(spec.codec, rate=rate, layout="mono")
        if spec.bit_rate:
            self._stream.codec_context.bit_rate = spec.bit_rate
        if spec.sample_format:
            self._stream.codec_context.format = spec.sample_format

    def write(self, audio: np.ndarray) -> bytes:
        """Add float32 mono samples at ``sample_rate``; returns the bytes ready so far (maybe b"")."""
        if self._closed:
            raise AudioError("this StreamEncoder is closed; create a new one for more audio")
        audio = _mono(audio)
        if self._container is None:
            self._sink.write(to_pcm16(audio))
        else:
            self._encode(self._resampler(audio) if self._resampler else audio)
        return self._sink.drain()

    def close(self) -> bytes:
        """Flush the encoder; returns the remaining bytes. Calling it again returns b""."""
        if self._closed:
            return b""
        self._closed = True
        if self._container is not None:
            if self._resampler:
                self._encode(self._resampler.flush())
            self._container.mux(self._stream.encode(None))
            self._container.close()
        elif self.fmt == "wav" and self._seekable:
            self._sink.overwrite_start(_wav_header(self._sink.size() - 44, self.sample_rate))
        return self._sink.drain(final=True)

    def _encode(self, audio: np.ndarray) -> None:
        import av

        if not len(audio):
            return
        frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
        frame.sample_rate = self._rate
        frame.time_base = Fraction(1, self._rate)
        frame.pts = self._pts
        self._pts += len(audio)
        self._container.mux(self._stream.encode(frame))


class _FileEncoder(StreamEncoder):
    """encode()'s encoder: writes to a seekable buffer so headers can be completed at close."""

    _seekable = True


# Long recordings with chapter marks: M4B (AAC in an iPod MP4; QuickTime and Nero chapters) and MP3 (ID3v2
# CHAP frames). Deterministic: the same audio and chapters give the same bytes.
BOOK_FORMATS: dict[str, str] = {"m4b": "audio/mp4", "mp3": "audio/mpeg"}
_BOOK_CODECS = {"m4b": _Codec("ipod", "aac", 64_000), "mp3": _Codec("mp3", "libmp3lame", 64_000)}


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start: int  # samples
    end: int


class ChapteredFileEncoder(StreamEncoder):
    """Write a long recording with chapter marks straight to the file at ``path`` (see ``BOOK_FORMATS``),
    chunk by chunk; write() returns b"" and nothing is held in memory. The chapters must be known before the
    first audio (MP3 carries them in its leading ID3 tag)."""

    def __init__(
        self, path: Path, fmt: str, sample_rate: int, chapters: list[ChapterMark], title: str = ""
    ) -> None:
        if fmt not in _BOOK_CODECS:
            raise AudioError(f"cannot write a chaptered {fmt!r} file; use one of: {', '.join(BOOK_FORMATS)}")
        _check_rate(sample_rate)
        self.fmt = fmt
        self.sample_rate = int(sample_rate)
        self._sink = _Sink(False)  # stays empty: the muxer writes to the file
        self._closed = False
        self._resampler = None
        self._open_codec(_BOOK_CODECS[fmt], str(path))
        assert self._container is not None
        if title:
            self._container.metadata["title"] = self._container.metadata["album"] = title
        self._container.set_chapters([
            {"id": i, "start": c.start, "end": c.end, "time_base": Fraction(1, self.sample_rate),
             "metadata": {"title": c.title}}
            for i, c in enumerate(chapters, start=1)
        ])  # fmt: skip


def read_chapters(path: Path) -> list[tuple[str, float, float]]:
    """The chapter marks of an audio file as (title, start, end) in seconds, as FFmpeg reads them."""
    import av

    try:
        with av.open(str(path)) as container:
            return [
                (c["metadata"].get("title", ""), float(c["start"] * c["time_base"]), float(c["end"] * c["time_base"]))
                for c in container.chapters()
            ]
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot read {path}: {exc}") from exc


class _Sink:
    """Where the muxer writes. Non-seekable (FFmpeg then never goes back, and flushes every packet)
    unless ``seekable``, in which case output is held until the end."""

    def __init__(self, seekable: bool) -> None:
        self._buffer = io.BytesIO()
        if seekable:
            self.seek, self.tell = self._buffer.seek, self._buffer.tell
        self._seekable = seekable

    def write(self, data: bytes) -> int:
        return self._buffer.write(data)

    def drain(self, final: bool = False) -> bytes:
        if self._seekable and not final:
            return b""
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def size(self) -> int:
        return self._buffer.getbuffer().nbytes

    def overwrite_start(self, data: bytes) -> None:
        self._buffer.getbuffer()[: len(data)] = data


class _Nameless:
    """A read-only file view without a ``name`` attribute (FFmpeg would probe by extension)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.read, self.seek, self.tell, self.seekable = file.read, file.seek, file.tell, file.seekable


class _Resampler:
    """Streaming libswresample (FFmpeg's aresample filter) that returns exactly round(n_in * dst / src)
    samples in total. A filter graph of its own, as av.AudioResampler takes swr options only in PyAV 18+."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        import av.filter

        self._src, self._dst = src_rate, dst_rate
        self._n_in = self._n_out = self._pts = 0
        self._graph = graph = av.filter.Graph()
        source = f"sample_rate={src_rate}:sample_fmt=flt:channel_layout=mono:time_base=1/{src_rate}"
        chain = [
            graph.add("abuffer", source),
            graph.add("aresample", f"{dst_rate}:{_SWR_OPTIONS}"),
            graph.add("aformat", f"sample_fmts=flt:channel_layouts=mono:sample_rates={dst_rate}"),
            graph.add("abuffersink"),
        ]
        for upstream, downstream in pairwise(chain):
            upstream.link_to(downstream)
        graph.configure()

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        self._n_in += len(audio)
        return self._take(self._run(audio))

    def flush(self) -> np.ndarray:
        """The rest of the output; the resampler is finished afterwards."""
        # Push a filter's length of silence first: libswresample drops its tail if the input was shorter.
        padding = np.zeros(4 * 256 * -(-self._src // self._dst), np.float32)
        out = self._take(self._run(padding) + self._run(None))
        return np.concatenate([out, np.zeros(self._owed(), np.float32)])

    def _run(self, audio: np.ndarray | None) -> list[np.ndarray]:
        """Push ``audio`` (None: end of stream) and pull whatever output is ready."""
        import av

        if audio is None:
            self._graph.push(None)
        elif len(audio):
            frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
            frame.sample_rate, frame.time_base, frame.pts = self._src, Fraction(1, self._src), self._pts
            self._pts += len(audio)
            self._graph.push(frame)
        out = []
        while True:
            try:
                out.append(self._graph.pull().to_ndarray()[0])
            except (BlockingIOError, EOFError):  # needs more input (EAGAIN), or finished
                return out

    def _owed(self) -> int:
        return max(round(self._n_in * self._dst / self._src) - self._n_out, 0)

    def _take(self, chunks: list[np.ndarray]) -> np.ndarray:
        """At most the samples owed for the real input, so padding never leaks into the output."""
        out = np.concatenate(chunks)[: self._owed()] if chunks else np.zeros(0, np.float32)
        self._n_out += len(out)
        return out


class StreamResampler(_Resampler):
    """Resampling of audio that arrives in pieces (e.g. microphone frames): call it with each piece; the
    output is continuous across calls."""


def _open_input(file: IO[bytes] | _Nameless) -> av.container.InputContainer:
    import av

    options = {"format_whitelist": _DEMUXERS}
    try:
        try:  # PyAV <= 18 decodes tags strictly as UTF-8 and would refuse e.g. Latin-1 WAV INFO tags
            return av.open(file, "r", container_options=options, metadata_errors="replace")
        except TypeError:  # PyAV >= 19 dropped the argument (tags always decode with surrogateescape)
            return av.open(file, "r", container_options=options)
    except av.error.FFmpegError as e:
        raise AudioError(
            "data is not a recognised audio file (or is corrupt); send WAV, MP3, FLAC, Ogg (Vorbis/Opus), "
            "Opus, AAC/M4A, WebM or AIFF audio"
        ) from e


def _decode_container(
    container: av.container.InputContainer, max_seconds: float
) -> list[tuple[int, np.ndarray]]:
    """Decoded audio as (rate, samples) runs: a new run starts wherever the sample rate changes."""
    import av

    if not container.streams.audio:
        raise AudioError("the file has no audio stream (only video, images or data); send an audio file")
    stream = container.streams.audio[0]
    runs: list[tuple[int, list[np.ndarray]]] = []
    seconds, good, bad = 0.0, 0, 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad += 1  # skip a damaged packet, as FFmpeg does; judged below
                continue
            good += 1
            for frame in frames:
                _check_input_rate(frame.sample_rate)
                seconds += frame.samples / frame.sample_rate
                if seconds > max_seconds:
                    raise AudioError(
                        f"audio is longer than the {max_seconds:g} s limit; trim it (or raise max_seconds)"
                    )
                if not runs or runs[-1][0] != frame.sample_rate:
                    runs.append((frame.sample_rate, []))
                runs[-1][1].append(_frame_to_mono(frame))
    except av.error.FFmpegError as e:  # the container itself breaks off: keep what decoded, if anything
        bad += 1
        if not runs:
            raise AudioError(f"audio data is corrupt and could not be decoded ({e.strerror or e})") from e
    if bad > good:
        raise AudioError(f"audio data is corrupt: {bad} of {bad + good} packets could not be decoded")
    if not runs or seconds == 0:
        raise AudioError("the audio is empty (zero length); send a recording with sound in it")
    return [(rate, np.concatenate(chunks)) for rate, chunks in runs]


def _check_input_rate(rate: int) -> None:
    """A header may claim any rate; anything outside what recordings use is refused (2^31-1 Hz would make
    the resampler allocate gigabytes)."""
    if not MIN_INPUT_RATE <= rate <= MAX_INPUT_RATE:
        raise AudioError(
            f"the audio claims a sample rate of {rate:,} Hz; recordings are {MIN_INPUT_RATE:,} to "
            f"{MAX_INPUT_RATE:,} Hz (the file header is probably damaged)"
        )


def _frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    try:
        data = frame.to_ndarray()
    except (ValueError, TypeError) as e:  # e.g. 64-bit integer samples, which numpy conversion does not support
        raise AudioError(
            f"audio with {frame.format.name} samples is not supported; send 8/16/24/32-bit PCM or float audio"
        ) from e
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:  # packed: (1, samples * channels), interleaved
        data = data.reshape(-1, channels).T
    if data.dtype == np.uint8:
        data = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype.kind == "i":
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    return data.astype(np.float32, copy=False).mean(axis=0, dtype=np.float32)


def _wav_header(data_size: int, sample_rate: int) -> bytes:
    """44-byte PCM WAV header, 16-bit mono; sizes saturate at 0xFFFFFFFF (= unknown, for streaming)."""
    data_size = min(data_size, 0xFFFFFFFF)
    riff_size = min(data_size + 36, 0xFFFFFFFF)
    fmt_chunk = (b"fmt ", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)  # PCM, mono, 2-byte frames
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", riff_size, b"WAVE", *fmt_chunk, b"data", data_size)


def _check_rate(rate: int) -> None:
    if not isinstance(rate, int | np.integer) or isinstance(rate, bool) or rate <= 0:
        raise AudioError(f"sample rate must be a positive integer number of Hz, got {rate!r}")


def _clean(audio: np.ndarray) -> np.ndarray:
    audio = np.nan_to_num(np.asarray(audio, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(audio, -1.0, 1.0)


def _mono(audio: np.ndarray, clip: bool = True) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise AudioError(f"expected mono audio as a 1-D array of samples, got shape {audio.shape}")
    return np.ascontiguousarray(_clean(audio) if clip else audio, dtype=np.float32)
