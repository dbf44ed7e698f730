"""Voice design: new voices without a recording, by blending voices and adjusting the result.

A blend is written anywhere a voice name goes: ``"jf_alpha*0.3+jm_kumo*0.7"`` (weights are normalised to sum
to 1; ``"a+b"`` is an even mix). Payload arrays blend by their meaning: style tables, trained adapters and
speaker embeddings linearly, pitch and pace factors geometrically. A voice carrying something that has no
meaningful mean (a cloned voice's spectral map, a speech prompt) is refused by name rather than blended
into something else. Adjustments (:class:`Design`) set pitch, pace, brightness and breathiness; they are
payload values the engine applies (``f0_scale``, ``speed``, ``tilt``, ``breath``), so a designed voice
saves, exports and speaks like any other voice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError, UnsupportedError
from .voice import Voice

MAX_PARTS = 8
_TERM = re.compile(r"\s*([^*+]+?)\s*(?:\*\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*)?$")

# How each payload array combines across a blend: "linear" (weighted mean) or "log" (weighted geometric mean).
_BLENDS = {"style": "linear", "adapter": "linear", "style_offset": "linear", "embedding": "linear",
           "f0_scale": "log", "speed": "log", "tilt": "linear", "breath": "linear"}  # fmt: skip
_UNBLENDABLE = {
    "vc_centroids": "a spectral map of a recording (an older clone)",
    "prompt_speech_token": "a speech prompt (CosyVoice2 zero-shot voice)",
}
DESIGNABLE_ENGINES = frozenset({"kokoro"})  # engines that read f0_scale, speed, tilt and breath


@dataclass(frozen=True)
class Design:
    """Adjustments of a voice. ``pitch`` in semitones (-12..12), ``pace`` a speed factor (0.5..2),
    ``brightness`` a spectral tilt in dB per octave above 500 Hz (-6 darker/older .. +6 brighter/younger),
    ``breathiness`` 0 (none) .. 1 (very breathy)."""

    pitch: float = 0.0
    pace: float = 1.0
    brightness: float = 0.0
    breathiness: float = 0.0

    LIMITS = {"pitch": (-12.0, 12.0), "pace": (0.5, 2.0), "brightness": (-6.0, 6.0), "breathiness": (0.0, 1.0)}

    def __post_init__(self) -> None:
        for field_name, (low, high) in self.LIMITS.items():
            value = getattr(self, field_name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise InputError(f"{field_name} must be a number, got {value!r}")
            if not low <= value <= high:
                raise InputError(f"{field_name} must be between {low:g} and {high:g}, got {value:g}")

    @property
    def neutral(self) -> bool:
        return self == Design()

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.LIMITS}


def is_blend(name: str) -> bool:
    """Whether ``name`` is a blend expression (voice names never contain ``*`` or ``+``)."""
    return isinstance(name, str) and ("*" in name or "+" in name)


def parse_blend(expression: str) -> list[tuple[str, float]]:
    """``"a*0.3+b*0.7"`` -> ``[("a", 0.3), ("b", 0.7)]`` with weights summing to 1; the same voice twice is
    merged into one part. Clear errors for empty parts, bad or non-positive weights, too many parts."""
    terms = expression.split("+")
    if len(terms) > MAX_PARTS:
        raise InputError(f"a voice blend has at most {MAX_PARTS} parts, got {len(terms)}")
    parts: dict[str, float] = {}
    for term in terms:
        match = _TERM.match(term)
        if not term.strip() or match is None:
            raise InputError(
                f"cannot read {term.strip()!r} in the voice blend {expression!r}; write it as "
                "'voice_a*0.3+voice_b*0.7' (weights are positive numbers)"
            )
        name, weight = match.group(1), float(match.group(2)) if match.group(2) else 1.0
        if weight <= 0:
            raise InputError(f"the weight of {name!r} in the voice blend must be positive, got {weight:g}")
        parts[name] = parts.get(name, 0.0) + weight
    total = sum(parts.values())
    return [(name, weight / total) for name, weight in parts.items()]


def blend_name(parts: Sequence[tuple[str, float]]) -> str:
    """The canonical expression of a parsed blend (what the blended voice is called)."""
    return "+".join(f"{name}*{weight:.4g}" for name, weight in parts)


def blend(expression: str, resolve: Callable[[str], Voice]) -> Voice:
    """The voice ``expression`` describes; ``resolve`` finds a voice by name (built-in or saved)."""
    parts = parse_blend(expression)
    voices = [(resolve(name), weight) for name, weight in parts]
    if len(voices) == 1:  # "a*1" or "a*0.3+a*0.7": the voice itself, exactly
        return voices[0][0]
    engines = {voice.engine for voice, _ in voices}
    if len(engines) > 1:
        raise UnsupportedError(f"voices of different engines cannot be blended: {', '.join(sorted(engines))}")
    payload = blend_payloads([(voice.payload, weight) for voice, weight in voices], [v.name for v, _ in voices])
    genders = {voice.gender for voice, _ in voices}
    languages = {voice.language for voice, _ in voices}
    return Voice(
        name=blend_name([(voice.name, weight) for voice, weight in voices]),
        engine=engines.pop(),
        kind="cloned",
        payload=payload,
        gender=genders.pop() if len(genders) == 1 else None,
        language=max(voices, key=lambda vw: vw[1])[0].language if len(languages) > 1 else languages.pop(),
        description="blend of " + ", ".join(f"{voice.name} {weight:.0%}" for voice, weight in voices),
        meta={"method": "designed", "design": {"blend": [[voice.name, weight] for voice, weight in voices]}},
    )


def blend_payloads(payloads: Sequence[tuple[dict[str, np.ndarray], float]], names: Sequence[str]) -> dict:
    """Weighted combination of payloads (weights sum to 1). A key missing from some voices counts as its
    neutral value there (zeros for offsets, 1 for factors) when it may; else the blend is refused."""
    keys = sorted({key for payload, _ in payloads for key in payload})
    out: dict[str, np.ndarray] = {}
    for key in keys:
        holders = [name for (payload, _), name in zip(payloads, names, strict=True) if key in payload]
        if key in _UNBLENDABLE or key not in _BLENDS:
            what = _UNBLENDABLE.get(key, f"payload data {key!r}")
            raise UnsupportedError(f"{', '.join(holders)} carries {what}, which cannot be blended; blend other voices")
        arrays = [payload.get(key) for payload, _ in payloads]
        if key == "style":
            if any(a is None for a in arrays):
                raise UnsupportedError("every voice of a blend needs a style")
            arrays = _same_rows([_as_table(a) for a in arrays])
        shapes = {a.shape for a in arrays if a is not None}
        if len(shapes) > 1:
            raise UnsupportedError(f"the voices' {key!r} data differ in shape {sorted(shapes)} and cannot be blended")
        shape = shapes.pop()
        if _BLENDS[key] == "log":
            logs = [np.log(a.astype(np.float64)) if a is not None else np.zeros(shape) for a in arrays]
            value = np.exp(sum(w * x for (_, w), x in zip(payloads, logs, strict=True)))
        else:
            full = [a.astype(np.float64) if a is not None else np.zeros(shape) for a in arrays]
            value = sum(w * x for (_, w), x in zip(payloads, full, strict=True))
        out[key] = np.asarray(value, dtype=np.float32)
    return out


def _as_table(style: np.ndarray) -> np.ndarray:
    return style.reshape(style.shape[0], -1) if style.ndim == 3 else style


def _same_rows(tables: list[np.ndarray]) -> list[np.ndarray]:
    """Style tables of one row (one style for every length) repeated to the others' row count."""
    rows = {t.shape[0] for t in tables if t.shape[0] > 1}
    if len(rows) != 1:
        return tables
    (n,) = rows
    return [np.repeat(t, n, axis=0) if t.shape[0] == 1 else t for t in tables]


def design(voice: Voice, adjust: Design, *, name: str | None = None, description: str = "") -> Voice:
    """``voice`` with ``adjust`` applied on top of what it already has (a designed voice can be designed
    again); named ``name`` (default: the voice's own name)."""
    if voice.engine not in DESIGNABLE_ENGINES:
        raise UnsupportedError(
            f"voice design needs the kokoro engine; {voice.name!r} is a {voice.engine} voice (blends still work)"
        )
    payload = dict(voice.payload)

    def scalar(key: str, neutral: float) -> float:
        return float(payload[key][0]) if key in payload else neutral

    payload["f0_scale"] = np.array([scalar("f0_scale", 1.0) * 2.0 ** (adjust.pitch / 12.0)], dtype=np.float32)
    payload["speed"] = np.array([scalar("speed", 1.0) * adjust.pace], dtype=np.float32)
    payload["tilt"] = np.array([np.clip(scalar("tilt", 0.0) + adjust.brightness, -12, 12)], dtype=np.float32)
    payload["breath"] = np.array([np.clip(scalar("breath", 0.0) + adjust.breathiness, 0, 1)], dtype=np.float32)
    recipe = {**voice.meta.get("design", {"base": voice.name}), **_summed(voice.meta.get("design", {}), adjust)}
    return replace(
        voice,
        name=name or voice.name,
        kind="cloned",
        payload=payload,
        description=description or voice.description,
        meta={**voice.meta, "method": "designed", "design": recipe},
    )


def _summed(previous: dict, adjust: Design) -> dict[str, float]:
    """The adjustments recorded in a designed voice's metadata, added to what it had."""
    old = previous.get("adjust", {})
    pace = float(old.get("pace", 1.0)) * adjust.pace
    summed = {key: round(float(old.get(key, 0.0)) + value, 3) for key, value in adjust.as_dict().items()}
    return {"adjust": {**summed, "pace": round(pace, 3)}}
