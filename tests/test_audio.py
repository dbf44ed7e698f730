"""parrot.audio: decode / resample / encode / stream, round trips through every format."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import wave

import av
import numpy as np
import pytest

from parrot.audio import (
    FORMATS,
    AudioError,
    StreamEncoder,
    decode,
    encode,
    format_from_path,
    resample,
    to_pcm16,
)

RATE = 24_000
MS = RATE // 1000  # samples per millisecond at RATE
LOSSLESS = ("wav", "flac")
NATIVE_RATE = {"opus": 48_000, "ogg": 48_000}  # Opus always decodes at 48 kHz


def _signal(seconds: float = 1.5, rate: int = RATE) -> np.ndarray:
    """A 220 Hz tone plus a 300 -> 3000 Hz chirp."""
    t = np.arange(round(seconds * rate)) / rate
    chirp = np.sin(2 * np.pi * (300 * t + (3000 - 300) / (2 * seconds) * t**2))
    return (0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * chirp).astype(np.float32)


def _peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def _align(ref: np.ndarray, out: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Encoder delay (samples ``out`` lags ``ref``, 0..max_lag) and the correlation after aligning."""
    n = len(ref) + len(out)
    xcorr = np.fft.irfft(np.fft.rfft(out, n) * np.conj(np.fft.rfft(ref, n)), n)[: max_lag + 1]
    lag = int(np.argmax(xcorr))
    m = min(len(ref), len(out) - lag)
    return lag, float(np.corrcoef(ref[:m], out[lag : lag + m])[0, 1])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# Decoded length minus input length, in samples at 24 kHz, for whole files from encode().
# wav/flac: exact. mp3: the LAME/Xing tag encode() writes carries encoder delay and padding, which FFmpeg
# trims. Ogg Opus: pre-skip in the header and the last page's granule position trim exactly (the 48 kHz
# decode is resampled back to exactly 2x). AAC in ADTS has nowhere to signal delay, so the decoder
# outputs the encoder's 1024 priming samples and the last frame's padding: 1024..2047 extra samples.
EXTRA_SAMPLES = {
    "wav": (0, 0),
    "flac": (0, 0),
    "mp3": (0, MS),
    "opus": (0, MS),
    "ogg": (0, MS),
    "aac": (1024, 2047),
}
# Streamed mp3 has no LAME tag (it would have to be written at the start, after the fact): LAME's
# 1105-sample delay (576 + 529) plus up to one 576-sample frame of padding stay in the decoded audio.
STREAM_EXTRA_SAMPLES = {**EXTRA_SAMPLES, "mp3": (1105 - MS, 1105 + 576)}


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "pcm"])
def test_round_trip(fmt: str) -> None:
    original = _signal()
    data = encode(original, RATE, fmt)

    native, native_rate = decode(data)
    assert native_rate == NATIVE_RATE.get(fmt, RATE)
    assert native.dtype == np.float32 and native.ndim == 1
    assert np.abs(native).max() <= 1.0

    out, rate = decode(data, sample_rate=RATE)
    assert rate == RATE
    low, high = EXTRA_SAMPLES[fmt]
    assert low <= len(out) - len(original) <= high, f"{fmt}: {len(out) - len(original)} extra samples"

    if fmt in LOSSLESS:  # 16-bit quantisation only
        np.testing.assert_allclose(out[: len(original)], original, atol=1 / 32768)
    else:
        lag, corr = _align(original, out, max_lag=2500)
        assert lag <= high, f"{fmt}: delay {lag}"
        assert corr > 0.9, f"{fmt}: correlation {corr:.3f} after a {lag}-sample delay"
        assert 0.85 < _rms(out[lag : lag + len(original)]) / _rms(original) < 1.15
        assert abs(_peak_hz(out, RATE) - 220) < 2


def test_pcm_is_raw_int16() -> None:
    original = _signal()
    data = encode(original, RATE, "pcm")
    assert data == to_pcm16(original)
    np.testing.assert_allclose(np.frombuffer(data, "<i2") / 32768, original, atol=1 / 32768)


def test_wav_file_has_exact_header() -> None:
    original = _signal()
    with wave.open(io.BytesIO(encode(original, RATE, "wav"))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (
            1,
            2,
            RATE,
            len(original),
        )


def test_ogg_and_opus_are_both_ogg_opus() -> None:
    for fmt in ("ogg", "opus"):
        data = encode(_signal(0.5), RATE, fmt)
        assert data[:4] == b"OggS" and b"OpusHead" in data[:100]


@pytest.mark.parametrize(
    "fmt, magic", [("mp3", b"\xff"), ("aac", b"\xff"), ("opus", b"OggS"), ("flac", b"fLaC"), ("wav", b"RIFF")]
)
def test_stream_is_incremental_and_valid(fmt: str, magic: bytes) -> None:
    original = _signal(3.0)
    encoder = StreamEncoder(fmt, RATE)
    parts = [encoder.write(original[i : i + RATE // 2]) for i in range(0, len(original), RATE // 2)]
    before_close = b"".join(parts)
    assert len(before_close) > 0, f"{fmt}: nothing came out before close()"
    assert before_close.startswith(magic)
    data = before_close + encoder.close()
    assert encoder.close() == b""

    out, _ = decode(data, sample_rate=RATE)
    low, high = STREAM_EXTRA_SAMPLES[fmt]
    assert low <= len(out) - len(original) <= high, f"{fmt}: {len(out) - len(original)} extra samples"
    _, corr = _align(original, out, max_lag=2500)
    assert corr > 0.9


def test_stream_output_arrives_while_writing() -> None:
    """Bytes keep coming during the stream, not only at the start (headers) and at close()."""
    original = _signal(3.0)
    for fmt in ("mp3", "aac", "opus"):
        encoder = StreamEncoder(fmt, RATE)
        sizes = [len(encoder.write(original[i : i + RATE // 2])) for i in range(0, len(original), RATE // 2)]
        assert sum(1 for size in sizes[1:] if size > 0) >= 3, f"{fmt}: {sizes}"
        encoder.close()


def test_stream_wav_header_and_pcm() -> None:
    original = _signal(1.0)
    encoder = StreamEncoder("wav", RATE)
    first = encoder.write(original[:100])
    assert first[:4] == b"RIFF" and first[8:16] == b"WAVEfmt " and first[36:40] == b"data"
    assert int.from_bytes(first[40:44], "little") == 0xFFFFFFFF  # unknown length, as streaming servers send
    data = first + encoder.write(original[100:]) + encoder.close()
    assert data[44:] == to_pcm16(original)
    out, rate = decode(data)  # decoders read such a stream to its end
    assert rate == RATE and len(out) == len(original)

    pcm = StreamEncoder("pcm", RATE)
    assert pcm.write(original[:100]) + pcm.write(original[100:]) + pcm.close() == to_pcm16(original)


def test_stream_resamples_for_opus() -> None:
    """Opus only takes 8/12/16/24/48 kHz: 22.05 kHz input is resampled (to 24 kHz) on the way in."""
    original = _signal(1.5, rate=22_050)
    encoder = StreamEncoder("opus", 22_050)
    data = b"".join(encoder.write(original[i : i + 4410]) for i in range(0, len(original), 4410))
    out, rate = decode(data + encoder.close(), sample_rate=22_050)
    assert rate == 22_050 and abs(len(out) - len(original)) <= 2
    assert _align(original, out, max_lag=100)[1] > 0.9


def test_encoder_misuse() -> None:
    with pytest.raises(AudioError, match="wav, mp3"):
        StreamEncoder("wma", RATE)
    with pytest.raises(AudioError, match="unknown audio format"):
        encode(_signal(), RATE, "m4a")
    with pytest.raises(AudioError, match="1-D"):
        encode(np.zeros((100, 2), np.float32), RATE, "wav")
    with pytest.raises(AudioError, match="sample rate"):
        StreamEncoder("mp3", 0)
    encoder = StreamEncoder("mp3", RATE)
    encoder.close()
    with pytest.raises(AudioError, match="closed"):
        encoder.write(_signal())


def test_decode_stereo_44k_wav_to_mono_16k(tmp_path) -> None:
    n = 44_100
    tone = np.sin(2 * np.pi * 440 * np.arange(n) / 44_100)
    stereo = np.stack([0.6 * tone, 0.2 * tone], axis=1)  # channel average: 0.4 * tone
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes(np.rint(stereo * 32767).astype("<i2").tobytes())
    path = tmp_path / "stereo.mp3"  # misleading extension: the content decides
    path.write_bytes(buffer.getvalue())

    for source in (buffer.getvalue(), path, str(path)):
        out, rate = decode(source, sample_rate=16_000)
        assert rate == 16_000 and out.dtype == np.float32
        assert len(out) == 16_000
        assert abs(_peak_hz(out, rate) - 440) < 2
        assert _rms(out[100:-100]) == pytest.approx(0.4 / np.sqrt(2), rel=0.01)


@pytest.mark.parametrize(
    "container, codec, rate",
    [("ipod", "aac", 44_100), ("webm", "libopus", 48_000), ("aiff", "pcm_s16be", 22_050)],
)
def test_decode_other_containers(container: str, codec: str, rate: int) -> None:
    """m4a (AAC in MP4), WebM (Opus) and AIFF, written here with PyAV itself."""
    original = _signal(1.0, rate)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(original[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    audio, got_rate = decode(buffer.getvalue(), sample_rate=RATE)
    assert got_rate == RATE
    assert abs(len(audio) - RATE) < 2048 * RATE / rate  # within a codec frame or two of priming/padding
    assert abs(_peak_hz(audio, RATE) - 220) < 3


def test_resample_keeps_frequency_and_removes_aliases() -> None:
    t = np.arange(RATE) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    out = resample(tone, RATE, 16_000)
    assert out.dtype == np.float32 and len(out) == 16_000
    assert abs(_peak_hz(out, 16_000) - 1000) < 1
    assert _rms(out[200:-200]) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    # Aligned with the input (no filter delay): compare with the ideal 16 kHz tone.
    ideal = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16_000) / 16_000)
    assert np.abs(out[200:-200] - ideal[200:-200]).max() < 1e-3

    above_nyquist = (0.5 * np.sin(2 * np.pi * 10_000 * t)).astype(np.float32)  # would alias to 6 kHz
    assert _rms(resample(above_nyquist, RATE, 16_000)[200:-200]) < 1e-4

    assert resample(tone, RATE, RATE) is tone
    for n in (0, 1, 7, 100):  # short inputs keep exact lengths
        assert len(resample(np.ones(n, np.float32), 24_000, 44_100)) == round(n * 44_100 / 24_000)


def test_to_pcm16_clips() -> None:
    samples = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, np.nan, np.inf], np.float32)
    assert np.frombuffer(to_pcm16(samples), "<i2").tolist() == [
        -32768,
        -32768,
        0,
        16384,
        32767,
        32767,
        0,
        32767,
    ]


@pytest.mark.parametrize(
    "path, fmt",
    [
        ("out.wav", "wav"),
        ("OUT.WAV", "wav"),
        ("a/b/speech.mp3", "mp3"),
        ("x.flac", "flac"),
        ("x.ogg", "ogg"),
        ("x.opus", "opus"),
        ("x.aac", "aac"),
        ("x.pcm", "pcm"),
        ("x.raw", "pcm"),
    ],
)
def test_format_from_path(path: str, fmt: str) -> None:
    assert format_from_path(path) == fmt
    assert fmt in FORMATS and FORMATS[fmt].startswith("audio/")


@pytest.mark.parametrize(
    "path, message", [("x.wma", "'.wma'.*\\.mp3"), ("noext", "no extension"), ("x.m4a", "\\.aac")]
)
def test_format_from_path_unknown(path: str, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        format_from_path(path)


def test_decode_errors(tmp_path) -> None:
    with pytest.raises(AudioError, match="0 bytes"):
        decode(b"")
    for seed in range(5):
        noise = np.random.default_rng(seed).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
        with pytest.raises(AudioError, match="not a recognised audio file"):
            decode(noise)
    text = tmp_path / "notes.wav"
    text.write_text("This is a shopping list, not a recording.\n" * 50)
    with pytest.raises(AudioError, match="not a recognised audio file"):
        decode(text)
    with pytest.raises(AudioError, match="not a recognised audio file"):
        decode(encode(_signal(), RATE, "mp3")[:10])  # truncated inside the first frame header
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        decode(empty)
    with pytest.raises(AudioError, match="cannot read"):
        decode(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="zero length"):
        decode(encode(np.zeros(0, np.float32), RATE, "wav"))


def _wav_claiming(rate: int, bits: int = 16, fmt_tag: int = 1, samples: int = 4800) -> bytes:
    """A WAV file whose header says whatever it is told (a hostile or broken client's)."""
    block = bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, 1, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    data = bytes(samples * block)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"rate": 2**31 - 1}, "sample rate of 2,147,483,647 Hz"),
        ({"rate": 2**31 - 1, "bits": 32, "fmt_tag": 3}, "sample rate"),
        ({"rate": 7}, "sample rate of 7 Hz"),
        ({"rate": 2**32 - 1}, "not a recognised audio file"),
        ({"rate": 0}, "not a recognised audio file"),
        ({"rate": 24_000, "bits": 64}, "s64 samples is not supported"),
    ],
)
@pytest.mark.parametrize("target", [None, 16_000])
def test_decode_refuses_absurd_wav_headers(header: dict[str, int], message: str, target: int | None) -> None:
    with pytest.raises(AudioError, match=message):  # an AudioError is an InputError: a 400, never a crash
        decode(_wav_claiming(**header), target)


def test_decode_accepts_unusual_but_real_wav_headers() -> None:
    for header in ({"rate": 8_000, "bits": 8, "fmt_tag": 7}, {"rate": 24_000, "bits": 64, "fmt_tag": 3}):
        audio, rate = decode(_wav_claiming(**header), 16_000)
        assert rate == 16_000 and len(audio) > 0


def test_decode_tolerates_non_utf8_tags() -> None:
    """A WAV whose LIST/INFO title is Latin-1, not UTF-8, still decodes."""
    pcm = to_pcm16(_signal(0.5))
    info = b"INFO" + b"INAM" + struct.pack("<I", 6) + "Café!".encode("latin-1") + b"\0"
    body = (
        b"WAVE"
        + struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, RATE, 2 * RATE, 2, 16)
        + struct.pack("<4sI", b"LIST", len(info))
        + info
        + struct.pack("<4sI", b"data", len(pcm))
        + pcm
    )
    audio, rate = decode(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert rate == RATE and len(audio) == RATE // 2


def test_decode_refuses_video_only_files() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as out:
        stream = out.add_stream("ffv1", rate=5)
        stream.width = stream.height = 16
        for _ in range(3):
            out.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24"))
            )
        out.mux(stream.encode(None))
    with pytest.raises(AudioError, match="no audio stream"):
        decode(buffer.getvalue())


def test_decode_max_seconds() -> None:
    long = encode(np.zeros(700 * 8000, np.float32), 8000, "wav")
    with pytest.raises(AudioError, match="longer than the 600 s limit"):
        decode(long)
    short = encode(_signal(), RATE, "flac")
    with pytest.raises(AudioError, match="1 s limit"):
        decode(short, max_seconds=1)
    assert len(decode(short, max_seconds=2)[0]) == len(_signal())


def test_import_is_light() -> None:
    code = "import sys, parrot.audio; assert 'av' not in sys.modules and 'numpy' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
