"""The CosyVoice2-0.5B engine: text -> speech tokens (``Qwen2LM``) -> mel (flow matching) -> 24 kHz audio (HiFT).

``CosyVoice2Model`` holds the three networks on one device and turns a ``ModelInput`` into audio, either
at once or streamed with the release's chunking schedule. ``CosyVoice2Engine`` adds the front end
(tokenizer, prompt analysis), voices and the ``Engine`` protocol. Every piece of streaming state (tokens
so far, token offset, hop length, vocoder caches) lives in the per-request ``_Stream``; the shared
objects are read-only, so requests can run in parallel threads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ...config import Settings
from ...errors import InputError, ModelError
from ...voices.reference import Reference
from ...voices.voice import Voice
from ..base import AudioChunk, Engine, SynthesisOptions
from .frontend import (
    ModelInput,
    SpeechAnalyzer,
    SpeechPrompt,
    TextPiece,
    TextTokenizer,
    assemble,
    instruction_text,
    split_text,
)
from .hparams import model_config
from .llm import Qwen2LM
from .modeldir import DOWNLOAD_HINT, check_model_dir
from .sampling import RasSampler, Sampler

SAMPLE_RATE = 24_000
SAMPLES_PER_FRAME = 480  # HiFT: one mel frame is 20 ms
TOKEN_HOP = 25  # first streaming hop, in tokens (the flow encoder's chunk size)
MAX_TOKEN_HOP = 100  # the hop doubles after every chunk up to this
MEL_CACHE_FRAMES = 8  # mel frames re-vocoded at the start of the next chunk
SOURCE_CACHE = MEL_CACHE_FRAMES * SAMPLES_PER_FRAME  # 3840 samples, cross-faded between chunks
MAX_PIECE_TOKENS = 80


class Tokenizer(Protocol):
    """What the engine needs from a text tokenizer (``frontend.TextTokenizer`` in production)."""

    def encode(self, text: str) -> list[int]: ...


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's state dict, memory-mapped on the CPU (``ModelError`` if unreadable)."""
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, pickle errors, zip errors...
        raise ModelError(f"cannot load {path}: {exc}; delete it and run `{DOWNLOAD_HINT}` again") from exc
    if not isinstance(state, Mapping):
        raise ModelError(f"{path} does not hold a state dict")
    return dict(state)


def _load_module(module: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str, assign: bool) -> None:
    try:
        module.load_state_dict(state, strict=True, assign=assign)
    except RuntimeError as exc:
        raise ModelError(f"the {what} weights do not fit the CosyVoice2 architecture: {exc}") from exc


def _float32(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in state.items()}


def _build(cls: Any, config: dict[str, Any], state: dict[str, torch.Tensor], what: str) -> torch.nn.Module:
    """``cls.from_state_dict`` when the class has it (no random init), else ``from_config`` + a strict load."""
    try:
        if hasattr(cls, "from_state_dict"):
            return cls.from_state_dict(config, state)
    except RuntimeError as exc:
        raise ModelError(f"the {what} weights do not fit the CosyVoice2 architecture: {exc}") from exc
    module = cls.from_config(config)
    _load_module(module, state, what, assign=False)
    return module


class CosyVoice2Model:
    """LLM, flow and HiFT on one device; holds no per-request state."""

    def __init__(
        self, config: dict[str, Any], llm: Qwen2LM, flow: torch.nn.Module, hift: torch.nn.Module, device: torch.device
    ) -> None:
        self.config = config
        self.llm, self.flow, self.hift = llm, flow, hift
        self.device = device
        flow_kwargs = config["flow"]["kwargs"]
        self.token_mel_ratio = int(flow_kwargs.get("token_mel_ratio", 2))
        self.pre_lookahead = int(flow_kwargs.get("pre_lookahead_len", 3))
        self.sampling = dict(config["llm"].get("sampling", {}).get("kwargs", {}))
        self.fade = torch.from_numpy(np.hamming(2 * SOURCE_CACHE)).float()

    @classmethod
    def from_state_dicts(
        cls,
        config: dict[str, Any],
        llm_state: Mapping[str, torch.Tensor],
        flow_state: Mapping[str, torch.Tensor],
        hift_state: Mapping[str, torch.Tensor],
        device: torch.device | None = None,
    ) -> CosyVoice2Model:
        """Build the three modules from configs (``tiny_config.json`` layout) and load their weights strictly.

        Weights are used in float32 whatever their stored type. The modules are built on the meta device
        where possible and take the given tensors (no random initialisation, no second copy).
        """
        from .flow import CausalMaskedDiffWithXvec
        from .hift import HiFTGenerator

        device = device or default_device()
        with torch.device("meta"):
            llm = Qwen2LM.from_config(config["llm"])
        _load_module(llm, _float32(llm_state), "llm.pt", assign=True)
        llm.tie_weights()
        flow = _build(CausalMaskedDiffWithXvec, config["flow"], _float32(flow_state), "flow.pt")
        hift_state = {k.removeprefix("generator."): v for k, v in _float32(hift_state).items()}
        hift = _build(HiFTGenerator, config["hift"], hift_state, "hift.pt")
        fuse = getattr(hift, "fuse_weight_norm", None)  # bake weight norm in once instead of on every call
        if callable(fuse):
            fuse()
        modules = [m.to(device).eval() for m in (llm, flow, hift)]
        return cls(config, modules[0], modules[1], modules[2], device)  # type: ignore[arg-type]

    @classmethod
    def from_model_dir(cls, model_dir: Path, device: torch.device | None = None) -> CosyVoice2Model:
        """Load a downloaded ``CosyVoice2-0.5B`` directory."""
        check_model_dir(model_dir)
        states = [load_state(model_dir / f"{name}.pt") for name in ("llm", "flow", "hift")]
        return cls.from_state_dicts(model_config(model_dir), *states, device=device)

    @classmethod
    def from_tiny(cls, directory: Path, device: torch.device | None = None) -> CosyVoice2Model:
        """The tiny reference model (``tiny_config.json`` and ``tiny_{llm,flow,hift}.pt``), for tests and benches."""
        config = json.loads((directory / "tiny_config.json").read_text())
        states = [load_state(directory / f"tiny_{name}.pt") for name in ("llm", "flow", "hift")]
        return cls.from_state_dicts(config, *states, device=device or torch.device("cpu"))

    def sampler(self, seed: int | None = None) -> RasSampler:
        """A fresh repetition-aware sampler with the model's parameters (one per request)."""
        return RasSampler.seeded(seed, **self.sampling)

    def speech_tokens(self, inputs: ModelInput, sampler: Sampler) -> Iterator[int]:
        """The LM's speech tokens for one piece of text, as they are decoded."""
        return self.llm.inference(inputs.text, sampler, inputs.prompt_text, inputs.llm_prompt_speech)

    def synthesize(
        self, inputs: ModelInput, sampler: Sampler | None = None, *, stream: bool = True, speed: float = 1.0
    ) -> Iterator[np.ndarray]:
        """Float32 audio for one piece of text: several chunks when ``stream``, else one."""
        request = _Stream(self, inputs, speed)
        tokens = self.speech_tokens(inputs, sampler or self.sampler())
        if stream:
            yield from request.run(tokens)
        else:
            request.tokens.extend(tokens)
            yield request.finish()

    def mel(self, tokens: list[int], inputs: ModelInput, streaming: bool, finalize: bool) -> torch.Tensor:
        """Flow output ``[1, 80, frames]`` for ``tokens`` (the prompt's own frames excluded)."""
        device = self.device

        def ints(values: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values, np.int32), device=device).reshape(1, -1)

        def length(tensor: torch.Tensor, dim: int = 1) -> torch.Tensor:
            return torch.tensor([tensor.size(dim)], dtype=torch.int32, device=device)

        token, prompt_token = ints(tokens), ints(inputs.flow_prompt_tokens)
        prompt_feat = torch.as_tensor(inputs.flow_prompt_mel, device=device).reshape(1, -1, 80)
        embedding = torch.as_tensor(inputs.embedding, device=device).reshape(1, -1)
        with torch.inference_mode():
            mel, _ = self.flow.inference(
                token=token, token_len=length(token), prompt_token=prompt_token, prompt_token_len=length(prompt_token),
                prompt_feat=prompt_feat, prompt_feat_len=length(prompt_feat), embedding=embedding,
                streaming=streaming, finalize=finalize,
            )  # fmt: skip
        return mel

    def vocode(self, mel: torch.Tensor, cache_source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """HiFT: speech ``[1, 480 T]`` and its excitation ``[1, 1, 480 T]``."""
        with torch.inference_mode():
            return self.hift.inference(speech_feat=mel, cache_source=cache_source)


@dataclass
class _Stream:
    """All the state of one synthesis: tokens so far, how far they are vocoded, the vocoder caches."""

    model: CosyVoice2Model
    inputs: ModelInput
    speed: float = 1.0
    tokens: list[int] = field(default_factory=list)
    offset: int = 0  # tokens already turned into audio
    hop: int = TOKEN_HOP
    mel_cache: torch.Tensor | None = None
    source_cache: torch.Tensor | None = None
    speech_cache: torch.Tensor | None = None

    def run(self, tokens: Iterator[int]) -> Iterator[np.ndarray]:
        """Vocode chunk by chunk while tokens arrive, then the rest (the release's schedule)."""
        prompt_tokens = len(self.inputs.flow_prompt_tokens)
        prompt_pad = math.ceil(prompt_tokens / TOKEN_HOP) * TOKEN_HOP - prompt_tokens  # align with encoder chunks
        for token in tokens:
            self.tokens.append(token)
            hop = self.hop + prompt_pad if self.offset == 0 else self.hop
            if len(self.tokens) - self.offset >= hop + self.model.pre_lookahead:
                mel = self.model.mel(self.tokens[: self.offset + hop + self.model.pre_lookahead], self.inputs,
                                     streaming=True, finalize=False)  # fmt: skip
                yield self._vocode(mel[:, :, self.offset * self.model.token_mel_ratio :], final=False)
                self.offset += hop
                self.hop = min(MAX_TOKEN_HOP, self.hop * 2)
        yield self.finish()

    def finish(self) -> np.ndarray:
        """The audio of every token not vocoded yet (full attention over all tokens)."""
        if not self.tokens:
            return np.zeros(0, np.float32)
        mel = self.model.mel(self.tokens, self.inputs, streaming=False, finalize=True)
        return self._vocode(mel[:, :, self.offset * self.model.token_mel_ratio :], final=True)

    def _vocode(self, mel: torch.Tensor, final: bool) -> np.ndarray:
        if self.speed != 1.0 and mel.size(2):
            mel = F.interpolate(mel, size=max(1, int(mel.size(2) / self.speed)), mode="linear")
        if self.mel_cache is not None:
            mel = torch.cat([self.mel_cache, mel], dim=2)
        source_cache = self.source_cache if self.source_cache is not None else torch.zeros(1, 1, 0, device=mel.device)
        speech, source = self.model.vocode(mel, source_cache)
        speech = speech.float().cpu()
        if self.speech_cache is not None:  # cross-fade the re-vocoded start with the withheld end of the last chunk
            overlap = min(SOURCE_CACHE, speech.size(1), self.speech_cache.size(1))
            fade_in, fade_out = self.model.fade[:overlap], self.model.fade[SOURCE_CACHE : SOURCE_CACHE + overlap]
            speech = speech.clone()
            speech[:, :overlap] = speech[:, :overlap] * fade_in + self.speech_cache[:, -overlap:] * fade_out
        if not final:
            self.mel_cache = mel[:, :, -MEL_CACHE_FRAMES:]
            self.source_cache = source[:, :, -SOURCE_CACHE:]
            self.speech_cache = speech[:, -SOURCE_CACHE:]
            speech = speech[:, :-SOURCE_CACHE]
        return speech.reshape(-1).numpy().astype(np.float32)


@dataclass(frozen=True)
class _VoicePrompt:
    """A voice's conditioning, decoded from its payload."""

    embedding: np.ndarray
    prompt: SpeechPrompt | None
    prompt_text: list[int]


class CosyVoice2Engine(Engine):
    """CosyVoice2-0.5B behind the ``Engine`` protocol. Thread-safe: requests share only read-only objects."""

    name = "cosyvoice2"
    sample_rate = SAMPLE_RATE
    languages = ("zh", "en", "ja", "ko")
    native_markup = True  # [breath], <strong>, <|en|> ... are passed to the tokenizer verbatim
    native_instructions = True  # SynthesisOptions.instruction drives instruct2

    def __init__(self, settings: Settings | None = None, model_dir: Path | None = None) -> None:
        settings = settings or Settings.from_env()
        model_dir = model_dir or settings.resolved_model_dir()
        check_model_dir(model_dir)
        if settings.threads > 0:
            torch.set_num_threads(settings.threads)
        model = CosyVoice2Model.from_model_dir(model_dir)
        analyzer = SpeechAnalyzer(*(_onnx_session(model_dir / name, settings)
                                    for name in ("speech_tokenizer_v2.onnx", "campplus.onnx")))  # fmt: skip
        self._setup(model, TextTokenizer.from_dir(model_dir / "CosyVoice-BlankEN"), analyzer,
                    load_speakers(model_dir / "spk2info.pt"))  # fmt: skip

    @classmethod
    def from_parts(
        cls,
        model: CosyVoice2Model,
        tokenizer: Tokenizer,
        analyzer: SpeechAnalyzer | None = None,
        speakers: list[Voice] | None = None,
    ) -> CosyVoice2Engine:
        """An engine around objects already in memory (e.g. ``CosyVoice2Model.from_tiny`` in tests)."""
        engine = cls.__new__(cls)
        engine._setup(model, tokenizer, analyzer, speakers or [])
        return engine

    def _setup(
        self, model: CosyVoice2Model, tokenizer: Tokenizer, analyzer: SpeechAnalyzer | None, speakers: list[Voice]
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.analyzer = analyzer
        self._speakers = speakers
        self.seed: int | None = None  # fixed sampling seed for reproducible output (None = fresh per request)

    def stock_voices(self) -> list[Voice]:
        """The release's pretrained speakers (``spk2info.pt``), if it has any."""
        return list(self._speakers)

    def make_voice(self, reference: Reference, transcript: str, name: str) -> Voice:
        """A zero-shot voice: the clip's speech tokens, mel frames and speaker embedding, plus its transcript."""
        if self.analyzer is None:
            raise ModelError("this CosyVoice2 engine was built without the prompt analysis models")
        prompt = self.analyzer.analyze(reference.audio, reference.sample_rate)
        payload = {"prompt_speech_token": prompt.tokens, "prompt_mel": prompt.mel, "embedding": prompt.embedding}
        if transcript.strip():
            payload["prompt_text"] = np.frombuffer(transcript.strip().encode("utf-8"), dtype=np.uint8).copy()
        return Voice(
            name=name,
            engine=self.name,
            kind="cloned",
            payload=payload,
            description="cloned voice (CosyVoice2 speech prompt)",
            meta={"prompt_tokens": len(prompt.tokens)},
        )

    def model_input(self, text: str, voice: Voice, options: SynthesisOptions) -> ModelInput:
        """The mode and inputs for one piece of text with ``voice`` (see ``choose_mode``)."""
        text_ids = self.tokenizer.encode(text)
        if not text_ids:
            raise InputError("the text has nothing to speak")
        return self._assemble(text_ids, voice, options)

    def _assemble(self, text_ids: list[int], voice: Voice, options: SynthesisOptions) -> ModelInput:
        conditioning = self._conditioning(voice)
        mode = choose_mode(voice, conditioning.prompt is not None, bool(conditioning.prompt_text), options)
        prompt_text = conditioning.prompt_text
        if mode == "instruct2":
            prompt_text = self.tokenizer.encode(instruction_text(options.instruction or ""))
        return assemble(mode, text_ids, conditioning.embedding, conditioning.prompt, prompt_text)

    def stream_text(self, pieces: Iterable[str], voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak text that arrives in pieces (e.g. a chat model's output) while it arrives (bistream decoding).

        The LM reads 5 text tokens per 15 speech tokens, so audio starts after a few words and never waits
        for the end of the text. The voice and options choose the prompts as in ``stream``. The spoken span
        of each chunk is not known: chunks carry empty text and ``start == end ==`` the number of
        characters received so far.
        """
        inputs = self._assemble([], voice, options)  # voice errors before any audio
        return self._generate_incremental(pieces, inputs, options)

    def _generate_incremental(
        self, pieces: Iterable[str], inputs: ModelInput, options: SynthesisOptions
    ) -> Iterator[AudioChunk]:
        received = 0

        def token_pieces() -> Iterator[list[int]]:
            nonlocal received
            for piece in pieces:
                received += len(piece)
                yield self.tokenizer.encode(piece)

        tokens = self.model.llm.inference_bistream(
            token_pieces(), self.model.sampler(self.seed), inputs.prompt_text, inputs.llm_prompt_speech
        )
        for audio in _Stream(self.model, inputs, options.speed).run(tokens):
            if len(audio):
                yield AudioChunk(audio, SAMPLE_RATE, "", received, received)

    def stream(self, text: str, voice: Voice, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak ``text`` piece by piece (at most ~80 tokens each); chunks carry their piece's text span.

        ``fast_start`` streams each piece with the release's chunk schedule; otherwise each piece is
        vocoded at once. ``speed`` stretches the mel frames (linear interpolation) before vocoding.
        """
        pieces = split_text(text, lambda s: len(self.tokenizer.encode(s)), MAX_PIECE_TOKENS)
        if not pieces:
            raise InputError("the text has nothing to speak")
        inputs = [self.model_input(piece.text.strip(), voice, options) for piece in pieces]  # errors before audio
        return self._generate(pieces, inputs, options)

    def _generate(
        self, pieces: list[TextPiece], inputs: list[ModelInput], options: SynthesisOptions
    ) -> Iterator[AudioChunk]:
        for piece, model_input in zip(pieces, inputs, strict=True):
            sampler = self.model.sampler(self.seed)
            for audio in self.model.synthesize(model_input, sampler, stream=options.fast_start, speed=options.speed):
                if len(audio):
                    yield AudioChunk(audio, SAMPLE_RATE, piece.text, piece.start, piece.end)

    def _conditioning(self, voice: Voice) -> _VoicePrompt:
        if voice.engine != self.name:
            raise InputError(f"voice {voice.name!r} was made for the {voice.engine} engine, not cosyvoice2")
        payload = voice.payload
        if "embedding" not in payload:
            raise InputError(f"voice {voice.name!r} has no speaker embedding; clone it again")
        prompt = None
        if payload.get("prompt_speech_token") is not None and len(payload["prompt_speech_token"]):
            prompt = SpeechPrompt(np.asarray(payload["prompt_speech_token"], np.int32),
                                  np.asarray(payload["prompt_mel"], np.float32),
                                  np.asarray(payload["embedding"], np.float32).reshape(-1))  # fmt: skip
        if "prompt_text_ids" in payload:
            prompt_text = [int(t) for t in payload["prompt_text_ids"]]
        elif "prompt_text" in payload:
            prompt_text = self.tokenizer.encode(bytes(np.asarray(payload["prompt_text"], np.uint8)).decode("utf-8"))
        else:
            prompt_text = []
        return _VoicePrompt(np.asarray(payload["embedding"], np.float32).reshape(-1), prompt, prompt_text)


def choose_mode(voice: Voice, has_prompt: bool, has_prompt_text: bool, options: SynthesisOptions) -> str:
    """Which CosyVoice2 mode speaks with ``voice``.

    An instruction selects instruct2. A voice without a speech prompt (a pretrained speaker) uses sft.
    A cloned voice uses zero_shot when its transcript is known and the requested language (if any) is
    the voice's own (if known); otherwise cross_lingual, so the prompt's language does not leak.
    """
    if options.instruction and options.instruction.strip():
        return "instruct2"
    if not has_prompt:
        return "sft"
    other_language = bool(options.lang and voice.language and options.lang != voice.language)
    return "zero_shot" if has_prompt_text and not other_language else "cross_lingual"


def load_speakers(path: Path) -> list[Voice]:
    """Voices from a release's ``spk2info.pt`` (absent file: none).

    Entries with only ``embedding`` are pretrained (sft) speakers; entries saved from a zero-shot prompt
    also carry ``prompt_text``, ``flow_prompt_speech_token`` and ``prompt_speech_feat``.
    """
    if not path.is_file():
        return []
    try:
        table = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt pickle/zip
        raise ModelError(f"cannot load the speaker table {path}: {exc}") from exc

    def array(value: Any, dtype: type) -> np.ndarray:
        return np.asarray(value.detach().cpu().numpy() if torch.is_tensor(value) else value, dtype=dtype)

    voices = []
    for name, entry in sorted(table.items()):
        embedding = entry.get("embedding", entry.get("flow_embedding"))
        if embedding is None:
            continue
        payload = {"embedding": array(embedding, np.float32).reshape(-1)}
        if "flow_prompt_speech_token" in entry and "prompt_speech_feat" in entry:
            payload["prompt_speech_token"] = array(entry["flow_prompt_speech_token"], np.int32).reshape(-1)
            payload["prompt_mel"] = array(entry["prompt_speech_feat"], np.float32).reshape(-1, 80)
        if "prompt_text" in entry:
            payload["prompt_text_ids"] = array(entry["prompt_text"], np.int32).reshape(-1)
        voices.append(Voice(name=str(name), engine="cosyvoice2", kind="stock", payload=payload,
                            description="CosyVoice2 pretrained speaker"))  # fmt: skip
    return voices


def _onnx_session(path: Path, settings: Settings) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.resolved_threads()
    providers = ["CPUExecutionProvider"]
    if torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load {path}: {exc}") from exc
