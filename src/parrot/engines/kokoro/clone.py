"""Voice cloning for the embedded Kokoro engine: a base style plus a learned spectral mapping.

Kokoro can only be conditioned by a 256-d style, and the only styles that ship are five Japanese
speakers; searching the style space alone gets little closer to a new speaker (see
``bench/eval_clone.py`` and the README's measurements). So a cloned voice has two parts:

1. **Base style**: the stock style whose rendering of the reference transcript is spectrally
   closest to the reference after mapping (a short-list by pitch, then the lowest residual).
2. **Spectral mapping** learned from parallel speech: Parrot speaks the reference transcript
   with the base style, both recordings are analysed with WORLD, their frames aligned by dynamic
   time warping on log-mel envelopes, and for each of ``K`` clusters of Parrot's frames the mean
   log-mel difference to the speaker is kept. Pitch is mapped by matching log-F0 mean and spread.

At synthesis time each chunk is analysed with WORLD, its envelope shifted by the soft-assigned
cluster offsets, its F0 mapped, and resynthesised (about 0.04 s per second of audio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...dsp.world import analyze, synthesize
from ...errors import InputError

SAMPLE_RATE = 24_000
BANDS = 48
CLUSTERS = 8
_FMIN = 50.0
_MAX_OFFSET = 2.5  # natural-log gain limit per band (about +-22 dB): larger ones hurt intelligibility


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


@dataclass(frozen=True)
class SpeakerFeatures:
    """A reference recording analysed once: F0 track and log-mel envelope frames."""

    f0: np.ndarray
    logmel: np.ndarray

    @property
    def median_f0(self) -> float:
        voiced = self.f0[self.f0 > 0]
        return float(np.median(voiced)) if voiced.size else 0.0


def analyze_speaker(audio: np.ndarray) -> SpeakerFeatures:
    """WORLD analysis of the speaker's 24 kHz recording, shared by every candidate base style."""
    f0, sp, _ = analyze(audio, SAMPLE_RATE, aperiodicity=False)
    return SpeakerFeatures(f0, np.log(sp @ _mel_matrix(sp.shape[1]).T + 1e-12))


def fit_map(parrot: np.ndarray, speaker: SpeakerFeatures, clusters: int = CLUSTERS) -> SpectralMap:
    """Learn the mapping from Parrot's rendering (24 kHz) of a text to the speaker saying it."""
    f0_s, sp_s, _ = analyze(parrot, SAMPLE_RATE, aperiodicity=False)
    src = _speech_frames(np.log(sp_s @ _mel_matrix(sp_s.shape[1]).T + 1e-12))
    tgt = _speech_frames(speaker.logmel)
    src -= src.mean(0)
    tgt_mean = tgt.mean(0)
    path_s, path_t = dtw(src[::2], tgt[::2] - tgt_mean)
    x, y = src[::2][path_s], tgt[::2][path_t]
    k = max(1, min(clusters, len(x) // 40))
    centroids = _kmeans(x, k)
    labels = _nearest(x, centroids)
    global_offset = (y - x).mean(0)
    offsets = np.stack([(y - x)[labels == c].mean(0) if (labels == c).sum() > 5 else global_offset for c in range(k)])
    offsets = np.clip(offsets, -_MAX_OFFSET, _MAX_OFFSET)
    f0 = np.array([*_log_f0_stats(f0_s), *_log_f0_stats(speaker.f0)], dtype=np.float32)
    return SpectralMap(centroids.astype(np.float32), offsets.astype(np.float32), f0)


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


def _speech_frames(logmel: np.ndarray) -> np.ndarray:
    energy = logmel.mean(1)
    return logmel[energy > np.percentile(energy, 20)].copy()


def _soft_assign(frames: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    dist = ((frames[:, None, :] - centroids[None]) ** 2).sum(-1)
    dist -= dist.min(1, keepdims=True)
    weights = np.exp(-4.0 * dist / (dist.std() + 1e-9))
    return weights / weights.sum(1, keepdims=True)


def _nearest(frames: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return ((frames[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)


def _kmeans(x: np.ndarray, k: int, iterations: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)  # fixed: the same clip always makes the same voice
    centroids = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iterations):
        labels = _nearest(x, centroids)
        for c in range(k):
            if (labels == c).any():
                centroids[c] = x[labels == c].mean(0)
    return centroids


def _log_f0_stats(f0: np.ndarray) -> tuple[float, float]:
    voiced = np.log(f0[f0 > 0])
    if voiced.size < 10:
        raise InputError("no voiced speech found to learn the pitch from; give a clip of someone talking")
    return float(voiced.mean()), float(voiced.std())
