"""From checked recordings to training material: base style, aligned examples, pitch and tempo of the speaker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..audio import resample
from ..engines.base import SynthesisOptions
from ..engines.kokoro.graph import ADAPTER_INPUT, F0_SCALE_INPUT, PROBES, adaptable_graph
from ..errors import InputError
from ..text.normalize import normalize
from .align import Example, Rendering, make_example, prosody_stats
from .clips import Piece

if TYPE_CHECKING:
    from ..engines.kokoro.engine import KokoroEngine

MAX_TOKENS = 510
MIN_SPEED, MAX_SPEED = 0.75, 1.35  # the speaker's tempo relative to the base style, clamped
MAX_F0_SHIFT = 1.0  # natural-log pitch shift limit (a factor of e either way)


@dataclass(frozen=True)
class Prepared:
    """Everything training needs, independent of the recordings' files."""

    examples: list[Example]
    base_style: str
    style_table: np.ndarray  # (510, 256): the base style with one decoder half for every row
    f0_scale: float
    speed: float
    speech_seconds: float

    @property
    def decoder_style(self) -> np.ndarray:
        return self.style_table[0, :128]


class Renderer:
    """The packaged graph with probe outputs, to render transcripts for alignment."""

    def __init__(self, model_path: Path, threads: int) -> None:
        import onnxruntime as ort

        data, self.layout = adaptable_graph(model_path, probes=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])

    def render(self, tokens: list[int], style: np.ndarray) -> Rendering:
        outputs = self._session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style.reshape(1, 256).astype(np.float32),
                "speed": np.ones(1, dtype=np.float32),
                ADAPTER_INPUT: np.zeros(self.layout.size, dtype=np.float32),
                F0_SCALE_INPUT: np.ones(1, dtype=np.float32),
            },
        )
        probes = dict(zip(PROBES, outputs[1:], strict=True))
        return Rendering(
            t_en=probes["t_en"][0],
            durations=probes["durations"][0].astype(np.int64),
            f0=probes["f0"][0],
            n=probes["n"][0],
            audio=np.asarray(outputs[0], dtype=np.float32).reshape(-1),
        )


def piece_tokens(engine: KokoroEngine, piece: Piece) -> list[int]:
    """The token ids of a piece's transcript, as the engine would speak it in one call."""
    options = SynthesisOptions(lang=piece.language if piece.language in engine.languages else None, fast_start=False)
    phonemes = " ".join(chunk.phonemes for chunk in engine.plan(normalize(piece.text), options))
    tokens = engine.tokenize(phonemes)
    if not tokens:
        raise InputError(f"the transcript {piece.text[:60]!r} has nothing speakable")
    if len(tokens) > MAX_TOKENS:
        raise InputError(f"the transcript {piece.text[:60]!r} is too long for one piece; use shorter clips")
    return tokens


def prepare(engine: KokoroEngine, renderer: Renderer, pieces: list[Piece], base_style: str | None = None) -> Prepared:
    """Pick the base style (nearest stock voice by d-vector unless given), align every piece, measure prosody."""
    if base_style is None:
        speech16 = np.concatenate([resample(p.audio, 24_000, 16_000) for p in pieces])
        base_style = engine.nearest_stock_styles(speech16)[0]
    table = engine.stock_style(base_style)
    token_lists = [piece_tokens(engine, p) for p in pieces]
    row = int(np.median([len(t) for t in token_lists])) - 1
    table = table.copy()
    table[:, :128] = table[min(row, len(table) - 1), :128]  # one decoder half: the adapter is trained for it
    examples, shifts, weights, ratios = [], [], [], []
    for piece, tokens in zip(pieces, token_lists, strict=True):
        rendering = renderer.render(tokens, table[min(len(tokens), len(table)) - 1])
        example = make_example(rendering, piece.audio)
        shift, voiced, ratio = prosody_stats(rendering, example)
        examples.append(example)
        shifts.append(shift)
        weights.append(voiced)
        ratios.append(ratio)
    shift = float(np.average(shifts, weights=np.asarray(weights) + 1e-6))
    speed = float(np.clip(1.0 / max(np.median(ratios), 1e-3), MIN_SPEED, MAX_SPEED))
    return Prepared(
        examples=examples,
        base_style=base_style,
        style_table=table.astype(np.float32),
        f0_scale=float(np.exp(np.clip(shift, -MAX_F0_SHIFT, MAX_F0_SHIFT))),
        speed=speed,
        speech_seconds=float(sum(p.seconds for p in pieces)),
    )
