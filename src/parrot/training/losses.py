"""Reconstruction losses between the decoder's waveform and the recording (no discriminator ships)."""

from __future__ import annotations

from functools import cache

import torch

from ..dsp.melscale import slaney_mel_filters

SAMPLE_RATE = 24_000
RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the multi-resolution STFT loss
MEL_FFT, MEL_HOP, MELS = 1024, 256, 80


@cache
def _window(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft)


@cache
def _mel_matrix() -> torch.Tensor:
    return torch.tensor(slaney_mel_filters(SAMPLE_RATE, MEL_FFT, MELS), dtype=torch.float32)


def _magnitude(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    spec = torch.stft(x, n_fft, hop, n_fft, window=_window(n_fft), return_complex=True)
    return spec.abs().clamp(min=1e-5)


def stft_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + log-magnitude L1, averaged over resolutions."""
    total = y.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        my, mx = _magnitude(y, n_fft, hop), _magnitude(x, n_fft, hop)
        convergence = torch.linalg.norm(mx - my) / torch.linalg.norm(mx).clamp(min=1e-5)
        total = total + convergence + (mx.log() - my.log()).abs().mean()
    return total / len(RESOLUTIONS)


def mel_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 between log-mel spectrograms (80 bands, 1024-point FFT)."""
    mel = _mel_matrix()
    my = (mel @ _magnitude(y, MEL_FFT, MEL_HOP)).clamp(min=1e-5).log()
    mx = (mel @ _magnitude(x, MEL_FFT, MEL_HOP)).clamp(min=1e-5).log()
    return (my - mx).abs().mean()


def reconstruction_loss(y: torch.Tensor, x: torch.Tensor, stft: bool = False) -> torch.Tensor:
    """What training minimises (before regularisation): mel L1, plus the multi-resolution STFT loss if ``stft``."""
    n = min(y.shape[-1], x.shape[-1])
    y, x = y[..., :n], x[..., :n]
    return mel_loss(y, x) + stft_loss(y, x) if stft else mel_loss(y, x)
