"""Access to the CosyVoice2 reference data in ``tests/data/cosyvoice2`` (tiny weights, vectors, config, manifest).

Shared by ``tests/cosyvoice2`` and ``bench/cosyvoice2_parity.py``; the data lives in the source checkout, not
in the installed package. Everything is loaded once per process.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch

DATA_DIR = Path(__file__).resolve().parents[3] / "tests" / "data" / "cosyvoice2"  # src/parrot_dev/cosyvoice2/


@functools.cache
def tiny_config() -> dict:
    """``tiny_config.json``: constructor arguments of the tiny reference modules."""
    return json.loads((DATA_DIR / "tiny_config.json").read_text())


@functools.cache
def manifest() -> dict:
    """``manifest.json``: real checkpoint keys/shapes, hyper-parameters, frontend and streaming notes."""
    return json.loads((DATA_DIR / "manifest.json").read_text())


@functools.cache
def vectors() -> dict[str, torch.Tensor]:
    """``vectors.pt``: named reference inputs, intermediates and outputs."""
    return torch.load(DATA_DIR / "vectors.pt", weights_only=True)


@functools.cache
def tiny_state(name: str) -> dict[str, torch.Tensor]:
    """float32 state dict of ``tiny_<name>.pt`` (stored as exactly-representable fp16)."""
    state = torch.load(DATA_DIR / f"tiny_{name}.pt", weights_only=True)
    return {key: value.float() for key, value in state.items()}


def real_shapes(checkpoint: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a real checkpoint (``"flow.pt"``, ``"hift.pt"``, ``"llm.pt"``) as listed in the manifest."""
    return {p["name"]: tuple(p["shape"]) for p in manifest()["checkpoints"][checkpoint]["params"]}


def meta_state_dict(checkpoint: str) -> dict[str, torch.Tensor]:
    """A meta-device state dict with exactly the real checkpoint's keys and shapes (no data)."""
    return {key: torch.empty(shape, device="meta") for key, shape in real_shapes(checkpoint).items()}
