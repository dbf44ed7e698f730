"""The training loop: the decoder adapter fitted to the speaker's recordings, with checkpoints.

Each step takes a random window of ``crop_frames`` text frames (25 ms each) from one recording, runs the
decoder on its aligned text features, the speaker's pitch and energy, and compares the waveform with the
recording (``losses.reconstruction_loss``) plus an L2 penalty that keeps the adapter near the stock voice.
Adam updates only the adapter. The window of step ``k`` depends only on ``(seed, k)``, and the checkpoint
holds the adapter, the optimiser state and the step, so a resumed run follows an uninterrupted one exactly.
Checkpoints are written to a temporary file, fsynced and renamed: a crash leaves the previous one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .align import TEXT_HOP, Example
from .decoder import Decoder
from .losses import reconstruction_loss


@dataclass(frozen=True)
class TrainOptions:
    """How long and how to train. The run stops at ``minutes`` of training time or ``max_steps``."""

    minutes: float = 10.0
    max_steps: int | None = None
    learning_rate: float = 5e-3
    crop_frames: int = 32
    l2: float = 1e-3
    seed: int = 0
    checkpoint_seconds: float = 20.0
    # Which AdaIN layers are adapted: "decoder" (the acoustic part: encode + decode blocks; the vocoder keeps
    # its stock behaviour) or "all" (the vocoder's too).
    scope: str = "decoder"
    loss: str = "mel"  # "mel" (log-mel L1) or "mel+stft" (adds the multi-resolution STFT loss)
    loss_fmax: float | None = None  # upper edge of the mel loss in Hz (None: 12 kHz, the whole band)
    # Also train the low-rank updates of the decoder's and vocoder's convolutions (``graph.LoraConv``).
    lora: bool = False
    lora_lr_scale: float = 0.1  # their learning rate relative to ``learning_rate`` (an update moves a whole conv)


@dataclass(frozen=True)
class Progress:
    step: int
    loss: float  # mean reconstruction loss over the last few steps
    elapsed: float  # seconds of training so far (over all resumed runs)
    budget: float  # seconds of training allowed
    max_steps: int | None

    @property
    def fraction(self) -> float:
        by_time = self.elapsed / self.budget if self.budget > 0 else 0.0
        by_steps = self.step / self.max_steps if self.max_steps else 0.0
        return min(1.0, max(by_time, by_steps))

    @property
    def seconds_left(self) -> float:
        left = max(0.0, self.budget - self.elapsed)
        if self.max_steps and self.step:
            left = min(left, (self.max_steps - self.step) * self.elapsed / self.step)
        return left


@dataclass
class State:
    adapter: torch.Tensor
    optimiser: dict
    step: int
    elapsed: float
    losses: list[float]


class Trainer:
    """Fits ``decoder.adapter`` to ``examples``; ``run`` resumes from ``checkpoint`` when it exists."""

    def __init__(
        self, decoder: Decoder, examples: list[Example], style: np.ndarray, options: TrainOptions, checkpoint: Path
    ) -> None:
        self.decoder = decoder
        self.examples = examples
        self.style = torch.from_numpy(np.asarray(style, dtype=np.float32).reshape(1, 128))
        self.options = options
        self.checkpoint = checkpoint
        self.optimiser = torch.optim.Adam([decoder.adapter, decoder.style_offset], lr=options.learning_rate)
        self.losses: list[float] = []
        self.step = 0
        self.elapsed = 0.0
        self._weights = np.array([e.frames for e in examples], dtype=np.float64)
        self._weights /= self._weights.sum()
        self._mask = adapter_mask(decoder, options.scope, options.lora)
        self._penalised = penalty_mask(decoder)
        self._lora_part = slice(decoder.layout.bias_size, decoder.layout.size)
        if options.lora:
            decoder.init_lora(options.seed)

    def load(self) -> bool:
        """Continue from the checkpoint, if there is one; returns whether there was."""
        if not self.checkpoint.is_file():
            return False
        saved = torch.load(self.checkpoint, weights_only=True)
        with torch.no_grad():
            self.decoder.adapter.copy_(saved["adapter"])
            self.decoder.style_offset.copy_(saved["style_offset"])
        self.optimiser.load_state_dict(saved["optimiser"])
        self.step, self.elapsed, self.losses = int(saved["step"]), float(saved["elapsed"]), list(saved["losses"])
        return True

    def save(self) -> None:
        state = {
            "adapter": self.decoder.adapter.detach().clone(),
            "style_offset": self.decoder.style_offset.detach().clone(),
            "optimiser": self.optimiser.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "losses": self.losses,
        }
        tmp = self.checkpoint.with_name(f".{self.checkpoint.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                torch.save(state, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.checkpoint)
        finally:
            tmp.unlink(missing_ok=True)

    def batch(self, step: int) -> tuple[torch.Tensor, ...]:
        """The window of ``step``: (asr, f0, n, target audio), a function of ``(seed, step)`` only."""
        rng = np.random.default_rng([self.options.seed, step])
        example = self.examples[int(rng.choice(len(self.examples), p=self._weights))]
        width = min(self.options.crop_frames, example.frames)
        start = int(rng.integers(0, example.frames - width + 1))
        end = start + width
        return (
            torch.from_numpy(example.asr[None, :, start:end]),
            torch.from_numpy(example.f0[None, 2 * start : 2 * end]),
            torch.from_numpy(example.n[None, 2 * start : 2 * end]),
            torch.from_numpy(example.audio[None, start * TEXT_HOP : end * TEXT_HOP]),
        )

    def loss(self, step: int) -> torch.Tensor:
        asr, f0, n, target = self.batch(step)
        output = self.decoder(asr, f0, n, self.style)
        return reconstruction_loss(output, target, stft=self.options.loss == "mel+stft", fmax=self.options.loss_fmax)

    def done(self) -> bool:
        if self.options.max_steps is not None and self.step >= self.options.max_steps:
            return True
        return self.elapsed >= self.options.minutes * 60

    def progress(self) -> Progress:
        recent = self.losses[-10:]
        return Progress(
            self.step, float(np.mean(recent)) if recent else float("nan"), self.elapsed,
            self.options.minutes * 60, self.options.max_steps,
        )  # fmt: skip

    def run(
        self, on_progress: Callable[[Progress], None] | None = None, stop: Callable[[], bool] | None = None
    ) -> bool:
        """Train until the budget is spent (returns True) or ``stop()`` says so (checkpoints, returns False)."""
        last_save = time.monotonic()
        while not self.done():
            if stop is not None and stop():
                self.save()
                return False
            started = time.monotonic()
            self.optimiser.zero_grad()
            reconstruction = self.loss(self.step)
            penalty = (self.decoder.adapter.pow(2) * self._penalised).sum() + self.decoder.style_offset.pow(2).sum()
            total = reconstruction + self.options.l2 * penalty
            total.backward()
            assert self.decoder.adapter.grad is not None
            self.decoder.adapter.grad.mul_(self._mask)
            before = self.decoder.adapter.detach()[self._lora_part].clone()
            self.optimiser.step()
            if self.options.lora_lr_scale != 1.0:  # Adam's step is scale-free: shrink it for the low-rank part
                with torch.no_grad():
                    part = self.decoder.adapter[self._lora_part]
                    part.copy_(before + (part - before) * self.options.lora_lr_scale)
            self.step += 1
            self.losses.append(float(reconstruction.detach()))
            self.elapsed += time.monotonic() - started
            if on_progress is not None:
                on_progress(self.progress())
            if time.monotonic() - last_save >= self.options.checkpoint_seconds:
                self.save()
                last_save = time.monotonic()
        self.save()
        return True

    def adapter(self) -> np.ndarray:
        """The trained adapter vector; only its bias part when the low-rank updates were not trained."""
        adapter = self.decoder.adapter.detach().numpy().astype(np.float32)
        return (adapter if self.options.lora else adapter[: self.decoder.layout.bias_size]).copy()

    def style_offset(self) -> np.ndarray:
        return self.decoder.style_offset.detach().numpy().astype(np.float32).copy()

    def style_table(self, table: np.ndarray) -> np.ndarray:
        """``table`` (510, 256) with the trained offset added to its decoder half."""
        out = np.array(table, dtype=np.float32, copy=True)
        out[:, :128] += self.decoder.style_offset.detach().numpy()
        return out


def adapter_mask(decoder: Decoder, scope: str, lora: bool = False) -> torch.Tensor:
    """1 for the adapter values trained (the AdaIN biases of ``scope``; the low-rank updates if ``lora``)."""
    if scope not in ("decoder", "all"):
        raise ValueError(f"unknown adapter scope {scope!r}; use 'decoder' or 'all'")
    mask = torch.zeros(decoder.layout.size)
    for key, (start, end) in decoder.layout.offsets().items():
        if scope == "all" or not key.startswith("generator."):
            mask[start:end] = 1.0
    if lora:
        mask[decoder.layout.bias_size :] = 1.0
    return mask


def penalty_mask(decoder: Decoder) -> torch.Tensor:
    """1 for the adapter values the L2 penalty pulls to zero: the biases and the ``up`` factors (the update
    is zero when ``up`` is; the random ``down`` factors are left free)."""
    mask = torch.ones(decoder.layout.size)
    for start, middle, _ in decoder.layout.lora_offsets().values():
        mask[start:middle] = 0.0
    return mask
