"""The embedded engine: Kokoro-82M (int8 ONNX) on onnxruntime, 24 kHz.

Conditioning is a 256-d style vector picked from a voice's (510, 256) table by phoneme count.
Text is planned into chunks (``parrot.text.chunk``), each chunk phonemized per language and
synthesized in one model call; chunk edges are trimmed, faded and separated by the pause the
punctuation asks for, so joins do not click.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ...audio import resample
from ...config import Settings
from ...dsp.colour import breathe, tilt
from ...dsp.world import pitch
from ...errors import InputError, ModelError
from ...models import kokoro_model_path, kokoro_stock_styles, kokoro_vocab
from ...text.chunk import Chunk, plan
from ...text.g2p import G2P
from ...text.normalize import normalize
from ...text.words import word_spans
from ...voices.embedding import SpeakerEncoder
from ...voices.reference import Reference
from ...voices.voice import Voice
from ..base import AudioChunk, Engine, SynthesisOptions, TimedText
from .clone import SpectralMap
from .fitting import fit_voice
from .graph import ADAPTER_INPUT, DURATIONS_OUTPUT, F0_SCALE_INPUT, GRAPH_VERSION, AdapterLayout, adaptable_graph

SAMPLE_RATE = 24_000
FRAME = 600  # samples per text frame: the model's durations count these (40 per second)
MAX_PHONEMES = 480  # the model takes 510 tokens; keep a margin for punctuation spacing
FIRST_CHUNK_PHONEMES = 16  # two or three words: streams start in about 0.55 s (bench_engine.py sweeps this)
_FADE = int(0.006 * SAMPLE_RATE)
_PAD_BEFORE = int(0.02 * SAMPLE_RATE)
_PAD_AFTER = int(0.05 * SAMPLE_RATE)
_TRIM_LEVEL = 0.02  # share of the peak below which audio counts as silence (edges of chunks and of words)
_MIN_WORD = 0.03  # seconds: a word's span is never narrowed below this

_PROBES = {
    "zh": "今天天气很好，我们一起去公园散步，顺便买一点新鲜的水果回家。",
    "en": "The morning was bright and calm, so we walked along the river and talked about old friends.",
}

_STOCK_INFO: dict[str, tuple[str, str]] = {
    "jf_alpha": ("female", "Kokoro stock voice (Japanese female, bright)"),
    "jf_gongitsune": ("female", "Kokoro stock voice (Japanese female, storyteller)"),
    "jf_nezumi": ("female", "Kokoro stock voice (Japanese female, soft)"),
    "jf_tebukuro": ("female", "Kokoro stock voice (Japanese female, gentle)"),
    "jm_kumo": ("male", "Kokoro stock voice (Japanese male)"),
}


class KokoroEngine(Engine):
    """Thread-safe: one ONNX session and one G2P shared by all requests, no per-request state."""

    name = "kokoro"
    sample_rate = SAMPLE_RATE
    languages = ("zh", "en", "ja", "ko", "es", "fr", "it", "pt", "hi")
    # Chosen by bench/eval_languages.py (Whisper base error, then DNSMOS; README "Languages"): jm_kumo was the
    # most intelligible voice in every language measured, jf_alpha (the first stock voice) one of the least.
    default_voices = MappingProxyType(dict.fromkeys(languages, "jm_kumo"))

    def __init__(self, settings: Settings | None = None, model_path: Path | None = None) -> None:

        settings = settings or Settings.from_env()
        path = model_path or kokoro_model_path(settings.data_dir)
        self.model_path = path
        self.threads = settings.resolved_threads()
        self._dvector_cache = path.with_name("stock-dvectors.npz")
        self._session, self.adapter_layout = self._load_session(lora=False)
        # Voices with low-rank updates run a second graph, loaded when the first such voice speaks.
        self._lora_session: tuple[object, AdapterLayout] | None = None
        self._lora_lock = threading.Lock()
        self._no_adapter = np.zeros(self.adapter_layout.size, dtype=np.float32)
        self.vocab = kokoro_vocab()
        self.g2p = G2P(self.vocab)
        self._stock = [
            Voice(
                name=name,
                engine=self.name,
                kind="stock",
                payload={"style": table},
                gender=_STOCK_INFO.get(name, (None, ""))[0],
                language="ja",
                description=_STOCK_INFO.get(name, (None, "Kokoro stock voice"))[1],
            )
            for name, table in kokoro_stock_styles().items()
        ]
        self._warm = threading.Event()
        self._clone_lock = threading.Lock()
        self._encoder: SpeakerEncoder | None = None
        self._stock_dvectors: dict[str, np.ndarray] | None = None

    def stock_voices(self) -> list[Voice]:
        return list(self._stock)

    def warm_up(self) -> None:
        """Load every G2P dictionary and run the model once, so the first request is fast."""
        if self._warm.is_set():
            return
        self.g2p.warm_up()
        self.infer("həlˈO", self._stock[0].payload["style"], 1.0)
        self._warm.set()

    def stock_style(self, name: str) -> np.ndarray:
        """The (510, 256) style table of a stock voice."""
        for voice in self._stock:
            if voice.name == name:
                return voice.payload["style"]
        raise InputError(f"no stock style named {name!r}; stock styles: {', '.join(v.name for v in self._stock)}")

    def nearest_stock_styles(self, speech16: np.ndarray) -> list[str]:
        """Stock voices from the closest to ``speech16`` (16 kHz) by d-vector."""
        target = self._speaker_encoder().embed(speech16)
        return [name for name, _ in sorted(self._stock_embeddings().items(), key=lambda kv: -float(kv[1] @ target))]

    def tokenize(self, phonemes: str) -> list[int]:
        """Model token ids of a phoneme string (unknown symbols dropped, at most 510)."""
        return [self.vocab[p] for p in phonemes if p in self.vocab][:510]

    def make_voice(self, reference: Reference, transcript: str, name: str) -> Voice:
        """Clone: a stock-based style fitted by d-vector, with the speaker's pitch and tempo (``fitting``)."""
        encoder = self._speaker_encoder()
        phonemes = [c.phonemes for c in self.plan(normalize(transcript), SynthesisOptions(fast_start=False))]
        if not phonemes:
            raise InputError("the transcript has nothing speakable; give the words spoken in the clip")
        speech = reference.at(SAMPLE_RATE)
        target = encoder.embed(reference.audio)
        stock = {v.name: v.payload["style"] for v in self._stock}
        ranked = sorted(self._stock_embeddings().items(), key=lambda kv: -float(kv[1] @ target))

        def render(table: np.ndarray, speed: float, f0_scale: float) -> np.ndarray:
            audio = [self.infer(p, table, speed, None, f0_scale) for p in phonemes]
            return _shape_edges(np.concatenate(audio))[0]

        def embed(audio: np.ndarray) -> np.ndarray:
            return encoder.embed(resample(audio, SAMPLE_RATE, 16_000))

        fit = fit_voice([(n, stock[n]) for n, _ in ranked], speech, render, embed)
        f0 = pitch(speech, SAMPLE_RATE)
        median_f0 = float(np.median(f0[f0 > 0]))
        return Voice(
            name=name,
            engine=self.name,
            kind="cloned",
            payload={
                "style": fit.table.astype(np.float32),
                "f0_scale": np.array([fit.f0_scale], dtype=np.float32),
                "speed": np.array([fit.speed], dtype=np.float32),
            },
            gender="male" if median_f0 < 165 else "female",
            description=f"cloned voice ({fit.describe()})",
            meta={
                "method": "fitted",
                "base_style": fit.base,
                "blend": fit.blend,
                "f0_scale": round(fit.f0_scale, 3),
                "speed": round(fit.speed, 3),
                "dvector_similarity": round(fit.score, 3),
            },
        )

    def _speaker_encoder(self) -> SpeakerEncoder:
        with self._clone_lock:
            if self._encoder is None:
                self._encoder = SpeakerEncoder()
            return self._encoder

    def _stock_embeddings(self) -> dict[str, np.ndarray]:
        """d-vectors of each stock voice speaking a Mandarin and an English probe.

        Computed once per data directory (about 10 s) and cached next to the model; deterministic.
        """
        encoder = self._speaker_encoder()
        with self._clone_lock:
            if self._stock_dvectors is None:
                self._stock_dvectors = self._load_dvectors() or self._compute_dvectors(encoder)
            return self._stock_dvectors

    def _load_dvectors(self) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self._dvector_cache) as cached:
                vectors = {name: cached[name] for name in cached.files}
        except (OSError, ValueError):
            return None
        return vectors if set(vectors) == {v.name for v in self._stock} else None

    def _compute_dvectors(self, encoder: SpeakerEncoder) -> dict[str, np.ndarray]:
        probes = [self.g2p.phonemize(text, lang) for lang, text in _PROBES.items()]
        vectors = {}
        for voice in self._stock:
            audio = np.concatenate([self.infer(p, voice.payload["style"], 1.0) for p in probes])
            vectors[voice.name] = encoder.embed(resample(audio, SAMPLE_RATE, 16_000))
        tmp = self._dvector_cache.with_name(f".{self._dvector_cache.name}.{os.getpid()}.tmp.npz")
        try:
            np.savez(tmp, **vectors)
            os.replace(tmp, self._dvector_cache)
        except OSError:  # a read-only data directory only costs the cache
            tmp.unlink(missing_ok=True)
        return vectors

    def _load_session(self, lora: bool) -> tuple[object, AdapterLayout]:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            graph, layout = _adaptable_model(self.model_path, lora)
            model = graph if isinstance(graph, bytes) else str(graph)
            return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"]), layout
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load the Kokoro model at {self.model_path}: {exc}") from exc

    def lora_layout(self) -> AdapterLayout:
        """The adapter layout of voices with low-rank updates (loads their graph)."""
        return self._session_for_lora()[1]

    def _session_for_lora(self) -> tuple[object, AdapterLayout]:
        with self._lora_lock:
            if self._lora_session is None:
                self._lora_session = self._load_session(lora=True)
            return self._lora_session

    def _session_for(self, adapter: np.ndarray | None) -> tuple[object, np.ndarray]:
        """The session that plays ``adapter`` and the vector to feed it (ModelError if it fits neither)."""
        if adapter is None:
            return self._session, self._no_adapter
        adapter = np.asarray(adapter, dtype=np.float32).reshape(-1)
        if adapter.size == self.adapter_layout.size:
            return self._session, adapter
        session, layout = self._session_for_lora()
        if adapter.size != layout.size:
            raise ModelError(
                f"an adapter of {adapter.size} values was trained for a different Kokoro model (this one takes "
                f"{self.adapter_layout.size} or {layout.size}); train the voice again"
            )
        return session, adapter

    def infer(
        self,
        phonemes: str,
        style_table: np.ndarray,
        speed: float,
        adapter: np.ndarray | None = None,
        f0_scale: float = 1.0,
    ) -> np.ndarray:
        """One model call: phoneme string -> raw float32 audio (``adapter``/``f0_scale``: a trained voice's)."""
        return self.infer_timed(phonemes, style_table, speed, adapter, f0_scale)[0]

    def infer_timed(
        self,
        phonemes: str,
        style_table: np.ndarray,
        speed: float,
        adapter: np.ndarray | None = None,
        f0_scale: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``infer``, and the samples each symbol of ``phonemes`` starts at (``len(phonemes) + 1`` values, the
        last where the final symbol ends; the model's silent edge tokens are outside)."""
        tokens = self.tokenize(phonemes)
        if not tokens:
            return np.zeros(0, dtype=np.float32), np.zeros(len(phonemes) + 1, dtype=np.int64)
        style = style_table[min(len(tokens), len(style_table)) - 1].reshape(1, 256).astype(np.float32)
        session, vector = self._session_for(adapter)
        audio, durations = session.run(  # type: ignore[attr-defined]
            ["audio", DURATIONS_OUTPUT],
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([speed], dtype=np.float32),
                ADAPTER_INPUT: vector,
                F0_SCALE_INPUT: np.array([f0_scale], dtype=np.float32),
            },
        )
        starts = np.cumsum(np.concatenate([[0], np.asarray(durations, dtype=np.int64).reshape(-1)])) * FRAME
        # Symbol i is token i + 1 (after the leading edge token); symbols the vocabulary lacks (none, after
        # the G2P) or past the model's limit get the end of the last token said.
        bounds = starts[1 : len(tokens) + 2]
        bounds = np.concatenate([bounds, np.full(len(phonemes) + 1 - len(bounds), bounds[-1])])
        return np.asarray(audio, dtype=np.float32).reshape(-1), bounds[: len(phonemes) + 1]

    def plan(self, text: str, options: SynthesisOptions) -> Iterator[Chunk]:
        return plan(
            text,
            self.g2p,
            lang=options.lang,
            max_phonemes=MAX_PHONEMES,
            first_max_phonemes=FIRST_CHUNK_PHONEMES if options.fast_start else None,
        )

    def stream(self, text: str, voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        style = voice.payload.get("style")
        if style is None:
            raise ModelError(f"voice {voice.name!r} was made for the {voice.engine} engine, not kokoro")
        mapping = SpectralMap.from_payload(voice.payload)
        adapter = voice.payload.get("adapter")
        if adapter is not None:
            self._session_for(adapter)  # a voice for another model is refused before any audio
        f0_scale = float(voice.payload["f0_scale"][0]) if "f0_scale" in voice.payload else 1.0
        speed = options.speed * (float(voice.payload["speed"][0]) if "speed" in voice.payload else 1.0)
        brightness = float(voice.payload["tilt"][0]) if "tilt" in voice.payload else 0.0  # a designed voice's
        breathiness = float(voice.payload["breath"][0]) if "breath" in voice.payload else 0.0
        pending_pause = 0.0
        for index, chunk in enumerate(self.plan(text, options)):
            audio, bounds = self.infer_timed(chunk.phonemes, style, speed, adapter, f0_scale)
            if mapping is not None:
                audio = mapping.apply(audio)
            audio = breathe(tilt(audio, SAMPLE_RATE, brightness), SAMPLE_RATE, breathiness, seed=index)
            audio, cut = _shape_edges(audio)
            silence = np.zeros(int(pending_pause / options.speed * SAMPLE_RATE), dtype=np.float32)
            if silence.size:
                audio = np.concatenate([silence, audio])
            pending_pause = chunk.pause
            first = chunk.start + text[chunk.start : chunk.end].find(chunk.text)
            words = _timed_words(chunk.text, chunk.phonemes, bounds - cut + silence.size, audio, first)
            yield AudioChunk(audio, SAMPLE_RATE, chunk.text, chunk.start, chunk.end, words)


def _adaptable_model(path: Path, lora: bool = False) -> tuple[Path | bytes, AdapterLayout]:
    """The packaged graph with the trained-voice inputs (``graph``), built once and kept next to the model
    (or only in memory when the data directory is read-only)."""
    derived = path.with_name(f"{path.stem}.adaptable{'-lora' if lora else ''}-v{GRAPH_VERSION}.onnx")
    marker = derived.with_name(derived.name + ".json")
    source = f"v{GRAPH_VERSION}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
    try:
        info = json.loads(marker.read_text())
        if derived.is_file() and info["source"] == source and info.get("graph") == GRAPH_VERSION:
            return derived, AdapterLayout.from_json(info["layout"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    data, layout = adaptable_graph(path, lora=lora)
    tmp = derived.with_name(f".{derived.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, derived)
        text = json.dumps({"source": source, "graph": GRAPH_VERSION, "layout": layout.to_json()})
        marker_tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
        marker_tmp.write_text(text)
        os.replace(marker_tmp, marker)
    except OSError:
        tmp.unlink(missing_ok=True)
        return data, layout
    return derived, layout


def _timed_words(text: str, phonemes: str, bounds: np.ndarray, audio: np.ndarray, first: int) -> tuple[TimedText, ...]:
    """The words of a chunk timed by its symbols' sample ``bounds`` in the chunk's final ``audio``; ``first``:
    where ``text`` starts in the text the engine was given.

    The model gives the silence before a pause to the last symbol of the word before it (and sometimes some to
    the first symbol after), so each word's span is then narrowed to where its audio is louder than the
    quietest speech (``_TRIM_LEVEL`` of the peak, as ``_shape_edges``), never below ``_MIN_WORD`` seconds."""
    edges = np.clip(bounds, 0, audio.size)
    level = np.abs(audio)
    loud = level > max(0.004, _TRIM_LEVEL * float(level.max())) if audio.size else level
    words = []
    for w in word_spans(text, phonemes):
        start, end = int(edges[w.first]), int(edges[w.last])
        inside = np.flatnonzero(loud[start:end])
        if inside.size and (inside[-1] - inside[0]) / SAMPLE_RATE >= _MIN_WORD:
            start, end = start + int(inside[0]), start + int(inside[-1]) + 1
        seconds = start / SAMPLE_RATE, end / SAMPLE_RATE
        words.append(TimedText(text[w.start : w.end], *seconds, first + w.start, first + w.end))
    return tuple(words)


def _shape_edges(audio: np.ndarray) -> tuple[np.ndarray, int]:
    """Trim silence at both ends (keeping a little room) and fade the edges to avoid clicks; also the number
    of samples cut from the start."""
    if audio.size == 0:
        return audio, 0
    level = np.abs(audio)
    threshold = max(0.004, _TRIM_LEVEL * float(level.max()))
    loud = np.flatnonzero(level > threshold)
    if loud.size == 0:
        return np.zeros(0, dtype=np.float32), audio.size
    cut = max(0, loud[0] - _PAD_BEFORE)
    out = audio[cut : loud[-1] + _PAD_AFTER].copy()
    n = min(_FADE, out.size // 2)
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out, int(cut)
