"""Spectral mapping of the cloned voices made before the fitted clone (``fitting``): kept so they still speak.

Before it, a cloned voice was a stock style plus a mapping learned from parallel speech with WORLD:
for each of ``K`` clusters of Parrot's log-mel frames, the mean log-mel offset to the speaker, and a log-F0
mapping (mean and spread). Such voices (payload arrays ``vc_centroids``, ``vc_offsets``, ``vc_f0``, e.g. in
saved clones and ``.voice`` files) are still spoken: each chunk is analysed with WORLD, its envelope
shifted by the soft-assigned cluster offsets, its F0 mapped, and resynthesised. New clones no longer
carry a mapping: measured with ``bench/eval_clone.py``, the resynthesis cost more quality than it gained
in similarity (see the README). ``dtw`` is shared with training's alignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...dsp.world import analyze, synthesize
from ...errors import InputError

SAMPLE_RATE = 24_000
BANDS = 48
_FMIN = 50.0


@dataclass(frozen=True)
class SpectralMap:
    """Per-cluster log-mel offsets and a log-F0 mapping; see the module docstring."""

    centroids: np.ndarray  # (K, BANDS) mean-normalised log-mel of Parrot's frames
    offsets: np.ndarray  # (K, BANDS) speaker minus Parrot, per cluster
    f0: np.ndarray  # (4,) source log-F0 mean, std; target log-F0 mean, std

    def payload(self) -> dict[str, np.ndarray]:
        return {"vc_centroids": self.centroids, "vc_offsets": self.offsets, "vc_f0": self.f0}

    @classmethod
    def from_payload(cls, payload: dict[str, np.ndarray]) -> SpectralMap | None:
        if "vc_offsets" not in payload:
            return None
        return cls(payload["vc_centroids"], payload["vc_offsets"], payload["vc_f0"])

    def apply(self, audio: np.ndarray) -> np.ndarray:
        """Convert Parrot's 24 kHz audio towards the cloned speaker."""
        if audio.size < SAMPLE_RATE // 20:
            return audio
        f0, sp, ap = analyze(audio, SAMPLE_RATE)
        band = _mel_matrix(sp.shape[1])
        logmel = np.log(sp @ band.T + 1e-12)
        weights = _soft_assign(logmel - logmel.mean(0), self.centroids)
        gain = _to_linear(weights @ self.offsets, band)
        src_mean, src_std, tgt_mean, tgt_std = (float(v) for v in self.f0)
        voiced = f0 > 0
        mapped = np.zeros_like(f0)
        spread = float(np.clip(tgt_std / max(src_std, 1e-3), 0.5, 2.0))
        mapped[voiced] = np.exp((np.log(f0[voiced]) - src_mean) * spread + tgt_mean)
        out = synthesize(mapped, sp * np.exp(gain), ap, SAMPLE_RATE, audio.size)
        peak = float(np.abs(out).max()) if out.size else 0.0
        level = float(np.sqrt(np.mean(audio**2)) / max(np.sqrt(np.mean(out**2)), 1e-9))
        return np.clip(out * min(level, 0.95 / max(peak, 1e-9)), -1.0, 1.0).astype(np.float32)


def dtw(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic time warping of two frame sequences (squared Euclidean); returns aligned indices.

    Vectorised over anti-diagonals, so 1,000 x 1,000 frames take tens of milliseconds.
    """
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise InputError("no speech frames to align")
    cost = ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T).clip(min=0)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    i, j = n, m
    path_i, path_j = [], []
    while i > 0 and j > 0:
        path_i.append(i - 1)
        path_j.append(j - 1)
        step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return np.array(path_i[::-1]), np.array(path_j[::-1])


def _mel_matrix(bins: int) -> np.ndarray:
    """Triangular mel bands (rows sum to 1) over ``bins`` linear-frequency bins up to Nyquist."""

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges = 700.0 * (10 ** (np.linspace(mel(_FMIN), mel(SAMPLE_RATE / 2), BANDS + 2) / 2595.0) - 1.0)
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, bins)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
    return tri / (tri.sum(1, keepdims=True) + 1e-12)


def _to_linear(band_gain: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Spread per-band log gains over linear bins (weighted by band overlap)."""
    weight = band.sum(0)
    return (band_gain @ band) / np.where(weight > 0, weight, 1.0)


def _soft_assign(frames: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    dist = ((frames[:, None, :] - centroids[None]) ** 2).sum(-1)
    dist -= dist.min(1, keepdims=True)
    weights = np.exp(-4.0 * dist / (dist.std() + 1e-9))
    return weights / weights.sum(1, keepdims=True)
