"""CosyVoice2's front end: text tokens, the speech prompt (speech tokens, mel frames, speaker embedding),
and how the four synthesis modes turn them into the LM's and the flow's inputs.

Text goes through the Qwen2 byte-level BPE of ``CosyVoice-BlankEN`` (``tokenizer.json``, or ``vocab.json``
and ``merges.txt``) plus CosyVoice's special tokens (``<|endofprompt|>``, ``[breath]``, ``<strong>`` ...),
which are matched verbatim before the BPE. Prompt audio gives 25 speech tokens per second
(``speech_tokenizer_v2.onnx`` on Whisper log-mels), 50 mel frames per second (``features.prompt_mel``),
and a 192-d speaker embedding (``campplus.onnx`` on mean-normalised Kaldi fbanks).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...audio import resample
from ...errors import InputError, ModelError
from .features import kaldi_fbank, prompt_mel, whisper_log_mel

SPEECH_TOKEN_RATE = 16_000  # speech tokenizer and speaker encoder input rate
FLOW_RATE = 24_000
MAX_PROMPT_SECONDS = 30.0  # the speech tokenizer's limit
END_OF_PROMPT = "<|endofprompt|>"
SPECIAL_TOKENS = (
    "<|im_start|>", "<|im_end|>", END_OF_PROMPT,
    "[breath]", "<strong>", "</strong>", "[noise]", "[laughter]", "[cough]", "[clucking]", "[accent]",
    "[quick_breath]", "<laughter>", "</laughter>", "[hissing]", "[sigh]", "[vocalized-noise]", "[lipsmack]", "[mn]",
)  # fmt: skip
END_OF_TEXT = "<|endoftext|>"
INSTALL_HINT = "pip install 'parrot-tts[cosyvoice2]'"
# Qwen2's pre-tokenizer: contractions, letter runs, single digits, punctuation runs, newlines, spaces.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


class TextTokenizer:
    """Qwen2 byte-level BPE plus CosyVoice2's special tokens; ``encode`` adds no BOS/EOS."""

    def __init__(self, tokenizer: Any) -> None:
        from tokenizers import AddedToken

        self._tokenizer = tokenizer
        tokenizer.add_special_tokens(
            [AddedToken(t, special=True, normalized=False) for t in (END_OF_TEXT, *SPECIAL_TOKENS)]
        )

    @classmethod
    def from_dir(cls, path: Path) -> TextTokenizer:
        """Load ``tokenizer.json`` if present, else build the tokenizer from ``vocab.json`` + ``merges.txt``."""
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(f"the cosyvoice2 engine needs the tokenizers package: {INSTALL_HINT}") from exc
        if (path / "tokenizer.json").is_file():
            return cls(Tokenizer.from_file(str(path / "tokenizer.json")))
        if (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
            return cls(_bpe_from_vocab(path))
        raise ModelError(f"no tokenizer in {path}: expected tokenizer.json, or vocab.json and merges.txt")

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special tokens written in it become their single ids."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=False))

    def token_id(self, token: str) -> int:
        """The id of one (special) token; ``ModelError`` if the vocabulary lacks it."""
        found = self._tokenizer.token_to_id(token)
        if found is None:
            raise ModelError(f"the tokenizer has no {token!r} token")
        return int(found)


def _bpe_from_vocab(path: Path) -> Any:
    """Qwen2's fast tokenizer rebuilt from the slow files (what ``transformers`` converts them to)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    merges = []
    for line in (path / "merges.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#version"):
            left, right = line.split(" ")
            merges.append((left, right))
    vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    config_path = path / "tokenizer_config.json"
    if config_path.is_file():  # tokens the base vocabulary already numbers (e.g. <|endoftext|> = 151643)
        added = json.loads(config_path.read_text(encoding="utf-8")).get("added_tokens_decoder", {})
        for _, spec in sorted(added.items(), key=lambda kv: int(kv[0])):
            token = AddedToken(spec["content"], special=spec.get("special", True), normalized=False)
            tokenizer.add_special_tokens([token])
    return tokenizer


class OnnxSession(Protocol):
    """The part of ``onnxruntime.InferenceSession`` used here."""

    def get_inputs(self) -> list[Any]: ...

    def run(self, output_names: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class SpeechPrompt:
    """What a reference clip conditions on: speech tokens ``[P]`` (int32), mel ``[2P, 80]`` and x-vector ``[192]``."""

    tokens: np.ndarray
    mel: np.ndarray
    embedding: np.ndarray


class SpeechAnalyzer:
    """Runs the two ONNX models of the release on prompt audio."""

    def __init__(self, speech_tokenizer: OnnxSession, campplus: OnnxSession) -> None:
        self.speech_tokenizer = speech_tokenizer
        self.campplus = campplus

    def speech_tokens(self, audio16k: np.ndarray) -> np.ndarray:
        """25 Hz speech tokens (int32) of 16 kHz audio of at most 30 s."""
        if len(audio16k) > MAX_PROMPT_SECONDS * SPEECH_TOKEN_RATE:
            raise InputError(f"prompt audio is longer than {MAX_PROMPT_SECONDS:.0f} s; use a shorter clip")
        feats = whisper_log_mel(audio16k)[None]
        inputs = self.speech_tokenizer.get_inputs()
        feeds = {inputs[0].name: feats, inputs[1].name: np.array([feats.shape[2]], dtype=np.int32)}
        return np.asarray(self.speech_tokenizer.run(None, feeds)[0], dtype=np.int32).reshape(-1)

    def speaker_embedding(self, audio16k: np.ndarray) -> np.ndarray:
        """CAM++ speaker embedding ``[192]`` (float32) of 16 kHz audio."""
        feats = kaldi_fbank(audio16k)
        feats = feats - feats.mean(axis=0, keepdims=True)
        name = self.campplus.get_inputs()[0].name
        return np.asarray(self.campplus.run(None, {name: feats[None].astype(np.float32)})[0], np.float32).reshape(-1)

    def analyze(self, audio: np.ndarray, sample_rate: int) -> SpeechPrompt:
        """The prompt of a clip, trimmed so the mel has exactly 2 frames per speech token."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        audio16k = resample(audio, sample_rate, SPEECH_TOKEN_RATE)
        tokens = self.speech_tokens(audio16k)
        mel = prompt_mel(resample(audio, sample_rate, FLOW_RATE))
        n_tokens = min(len(mel) // 2, len(tokens))
        if n_tokens == 0:
            raise InputError("the prompt audio is too short to condition on; use 3-30 s of speech")
        return SpeechPrompt(tokens[:n_tokens], mel[: 2 * n_tokens], self.speaker_embedding(audio16k))


MODES = ("sft", "zero_shot", "cross_lingual", "instruct2")


@dataclass(frozen=True)
class ModelInput:
    """Everything one synthesis needs: the LM's text/prompts and the flow's prompt and speaker.

    ``llm_prompt_speech`` may be empty while ``flow_prompt_tokens`` is not (cross_lingual, instruct2).
    """

    text: list[int]
    prompt_text: list[int]
    llm_prompt_speech: list[int]
    flow_prompt_tokens: np.ndarray  # [P] int32
    flow_prompt_mel: np.ndarray  # [2P, 80] float32
    embedding: np.ndarray  # [192] float32


def assemble(
    mode: str,
    text: list[int],
    embedding: np.ndarray,
    prompt: SpeechPrompt | None = None,
    prompt_text: list[int] | None = None,
) -> ModelInput:
    """The inputs of one mode (``manifest.json: text_frontend.modes``).

    - ``sft``: a pretrained speaker; only its embedding (flow only, the LM ignores speakers).
    - ``zero_shot``: prompt text and prompt speech tokens lead the LM input; the flow gets the prompt.
    - ``cross_lingual``: like zero_shot without any LM prompt (the prompt's language does not leak).
    - ``instruct2``: ``prompt_text`` is the instruction ending in ``<|endofprompt|>``; no LM speech prompt.
      With a pretrained speaker (no ``prompt``) the flow gets only the embedding, as in sft.
    """
    if mode not in MODES:
        raise InputError(f"unknown CosyVoice2 mode {mode!r}; use one of {', '.join(MODES)}")
    empty_tokens, empty_mel = np.zeros(0, np.int32), np.zeros((0, 80), np.float32)
    if prompt is None and mode in ("zero_shot", "cross_lingual"):
        raise InputError(f"{mode} needs prompt audio (a cloned voice)")
    if mode in ("zero_shot", "instruct2") and not prompt_text:
        raise InputError(f"{mode} needs {'an instruction' if mode == 'instruct2' else 'the prompt transcript'}")
    flow_tokens = prompt.tokens if prompt is not None and mode != "sft" else empty_tokens
    flow_mel = prompt.mel if prompt is not None and mode != "sft" else empty_mel
    return ModelInput(
        text=list(text),
        prompt_text=list(prompt_text or []) if mode in ("zero_shot", "instruct2") else [],
        llm_prompt_speech=[int(t) for t in flow_tokens] if mode == "zero_shot" else [],
        flow_prompt_tokens=np.asarray(flow_tokens, np.int32),
        flow_prompt_mel=np.asarray(flow_mel, np.float32),
        embedding=np.asarray(embedding, np.float32).reshape(-1),
    )


def instruction_text(instruction: str) -> str:
    """The instruct2 prompt text: the instruction followed by ``<|endofprompt|>`` (added once)."""
    instruction = instruction.strip()
    return instruction if instruction.endswith(END_OF_PROMPT) else instruction + END_OF_PROMPT


@dataclass(frozen=True)
class TextPiece:
    """A span of the text to speak in one LM pass (CosyVoice splits text into pieces of at most ~80 tokens)."""

    text: str
    start: int
    end: int


_SENTENCE = re.compile(r".+?(?:[。！？!?…；;]+[”’\"')）]*|\.+(?=\s|$)[”’\"')]*|\n+|$)", re.S)
_CLAUSE = re.compile(r".+?(?:[，,、：:—]+|$)", re.S)
_WORD = re.compile(r"\S+\s*|\s+")


def split_text(text: str, count_tokens: Callable[[str], int], max_tokens: int = 80) -> list[TextPiece]:
    """Whole sentences packed into pieces of at most ``max_tokens`` tokens.

    A sentence that is too long alone is cut at clause marks, a clause that is still too long between
    words; a word run without spaces (Chinese) that is still too long stays whole. Pieces with nothing
    to say (only punctuation or spaces) are dropped.
    """

    def units_of(start: int, end: int, levels: tuple[re.Pattern[str], ...]) -> list[tuple[int, int]]:
        if not levels or count_tokens(text[start:end]) <= max_tokens:
            return [(start, end)]
        spans = [m.span() for m in levels[0].finditer(text, start, end) if m.group()]
        return [unit for s, e in spans for unit in units_of(s, e, levels[1:])]

    units = [u for m in _SENTENCE.finditer(text) if m.group() for u in units_of(*m.span(), (_CLAUSE, _WORD))]
    pieces: list[TextPiece] = []
    start = end = None
    for unit_start, unit_end in units:
        if start is not None and count_tokens(text[start:unit_end]) > max_tokens:
            pieces.append(TextPiece(text[start:end], start, end))
            start = None
        start = unit_start if start is None else start
        end = unit_end
    if start is not None and end is not None:
        pieces.append(TextPiece(text[start:end], start, end))
    return [p for p in pieces if any(c.isalnum() for c in p.text)]
