"""What a voice payload may hold: the arrays each engine reads, their shapes, dtypes and value ranges.

Checked whenever a payload enters the library (save, import) and whenever one is read back, so an engine never
receives a voice it cannot use (a ``style`` of shape ``[3]``, NaN or 1e30 values). Keys an engine does not
declare pass if they are well-formed (numeric, finite), so new payload fields (e.g. trained weights) can be
added without touching this file; declare them here to have them checked more strictly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import ParrotError

__all__ = ["ENGINE_PAYLOADS", "ArraySpec", "EnginePayload", "check_finite", "check_payload"]

Dim = int | tuple[int, int]  # an exact size, or an inclusive (low, high) range
_MAX_LEN = 1_000_000  # sequences (tokens, frames, text bytes)


@dataclass(frozen=True)
class ArraySpec:
    """One payload array: allowed dtype kinds (numpy ``dtype.kind``), shapes and value range."""

    kinds: str  # e.g. "f" (float) or "iu" (signed or unsigned integer)
    shapes: tuple[tuple[Dim, ...], ...]  # any one of these
    low: float
    high: float

    def describe(self) -> str:
        shapes = " or ".join("[" + ", ".join(_dim_text(d) for d in shape) + "]" for shape in self.shapes)
        return f"{_KIND_NAMES.get(self.kinds, self.kinds)} of shape {shapes}, values in [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class EnginePayload:
    """The payload an engine reads: declared arrays, the ones it needs, and arrays that only come together."""

    arrays: Mapping[str, ArraySpec]
    required: frozenset[str]
    together: tuple[frozenset[str], ...] = ()  # all of a group or none
    same_shape: tuple[tuple[str, str], ...] = ()


_KIND_NAMES = {"f": "float", "iu": "integer", "u": "unsigned integer"}

# Kokoro: a style table (one 256-d row per phoneme count, up to 510 rows; stock tables hold values within +-3)
# with the pitch factor and tempo of a cloned or trained voice, and the spectral map of clones made before the fitted
# clone (``engines/kokoro/clone.py``: 48 mel bands, up to 64 clusters).
_KOKORO = EnginePayload(
    arrays={
        "style": ArraySpec("f", (((1, 510), 256), ((1, 510), 1, 256)), -10.0, 10.0),
        "vc_centroids": ArraySpec("f", (((1, 64), 48),), -100.0, 100.0),
        "vc_offsets": ArraySpec("f", (((1, 64), 48),), -10.0, 10.0),
        "vc_f0": ArraySpec("f", ((4,),), -100.0, 100.0),
        # factors and colour of trained and designed voices (``voices/design.py``, ``dsp/colour.py``)
        "f0_scale": ArraySpec("f", ((1,),), 0.25, 4.0),
        "speed": ArraySpec("f", ((1,),), 0.25, 4.0),
        "tilt": ArraySpec("f", ((1,),), -12.0, 12.0),
        "breath": ArraySpec("f", ((1,),), 0.0, 1.0),
    },
    required=frozenset({"style"}),
    together=(frozenset({"vc_centroids", "vc_offsets", "vc_f0"}),),
    same_shape=(("vc_centroids", "vc_offsets"),),
)

# CosyVoice2: a 192-d speaker embedding, optionally a speech prompt (6561 speech tokens, 80-band log-mel frames)
# and its transcript (UTF-8 bytes or Qwen2 token ids).
_COSYVOICE2 = EnginePayload(
    arrays={
        "embedding": ArraySpec("f", ((192,), (1, 192)), -1e3, 1e3),
        "prompt_speech_token": ArraySpec("iu", (((0, _MAX_LEN),),), 0, 6560),
        "prompt_mel": ArraySpec("f", (((0, _MAX_LEN), 80),), -1e3, 1e3),
        "prompt_text": ArraySpec("u", (((0, _MAX_LEN),),), 0, 255),
        "prompt_text_ids": ArraySpec("iu", (((0, _MAX_LEN),),), 0, 2**31 - 1),
    },
    required=frozenset({"embedding"}),
    together=(frozenset({"prompt_speech_token", "prompt_mel"}),),
)

ENGINE_PAYLOADS: dict[str, EnginePayload] = {"kokoro": _KOKORO, "cosyvoice2": _COSYVOICE2}


def check_finite(key: str, array: np.ndarray, error: type[ParrotError]) -> None:
    """Every float or complex value must be finite (NaN and infinity make engines produce silence or noise)."""
    if array.dtype.kind in "fc" and array.size and not np.isfinite(array).all():
        raise error(f"payload array {key!r} holds NaN or infinite values")


def check_payload(engine: str, arrays: Mapping[str, np.ndarray], error: type[ParrotError]) -> None:
    """Check ``arrays`` against what ``engine`` declares (unknown engines and undeclared keys: well-formed only)."""
    for key, array in arrays.items():
        check_finite(key, array, error)
    spec = ENGINE_PAYLOADS.get(engine)
    if spec is None:
        return
    missing = sorted(spec.required - set(arrays))
    if missing:
        raise error(f"a {engine} voice needs the payload array(s) {', '.join(map(repr, missing))}")
    for group in spec.together:
        present = group & set(arrays)
        if present and present != group:
            raise error(f"payload arrays {', '.join(map(repr, sorted(group)))} come together; some are missing")
    for key, array in arrays.items():
        if key in spec.arrays:
            _check_array(key, array, spec.arrays[key], error)
    for a, b in spec.same_shape:
        if a in arrays and b in arrays and arrays[a].shape != arrays[b].shape:
            raise error(f"payload arrays {a!r} and {b!r} must have the same shape")


def _check_array(key: str, array: np.ndarray, spec: ArraySpec, error: type[ParrotError]) -> None:
    if array.dtype.kind not in spec.kinds or not any(_shape_ok(array.shape, shape) for shape in spec.shapes):
        raise error(f"payload array {key!r} is {array.dtype} of shape {list(array.shape)}; expected {spec.describe()}")
    if array.size and (float(array.min()) < spec.low or float(array.max()) > spec.high):
        raise error(f"payload array {key!r} has values outside [{spec.low:g}, {spec.high:g}]")


def _shape_ok(actual: tuple[int, ...], allowed: tuple[Dim, ...]) -> bool:
    if len(actual) != len(allowed):
        return False
    return all(n == d if isinstance(d, int) else d[0] <= n <= d[1] for n, d in zip(actual, allowed, strict=True))


def _dim_text(dim: Dim) -> str:
    return str(dim) if isinstance(dim, int) else f"{dim[0]}-{dim[1]}"
