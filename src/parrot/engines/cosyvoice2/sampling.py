"""How the LM picks each speech token from its log-probabilities.

``RasSampler`` is CosyVoice2's repetition-aware sampling: nucleus (top-p and top-k) sampling, except
that a token already seen in the recent window is rejected and replaced by a draw from the whole
distribution without it. ``greedy`` takes the arg-max (deterministic; used by the parity tests).
A sampler must not modify the scores it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch


class Sampler(Protocol):
    """Picks a token id from ``scores`` (log-probabilities ``[V]``) given the tokens decoded so far."""

    def __call__(self, scores: torch.Tensor, decoded: Sequence[int]) -> int: ...


def greedy(scores: torch.Tensor, decoded: Sequence[int]) -> int:
    """The most likely token (the first one on ties)."""
    return int(torch.argmax(scores))


@dataclass
class RasSampler:
    """Repetition-aware sampling with its own random generator (one instance per request).

    Nucleus step: sort the probabilities (stable, descending) and keep tokens while the probability
    mass kept *before* a token is below ``top_p`` and fewer than ``top_k`` are kept; draw from them in
    proportion to their probabilities. If the drawn token occurs at least ``win_size * tau_r`` times
    among the last ``win_size`` decoded tokens, its score is removed and the token is drawn from the
    softmax of all the remaining scores instead.
    """

    top_p: float = 0.8
    top_k: int = 25
    win_size: int = 10
    tau_r: float = 0.1
    generator: torch.Generator | None = None

    @classmethod
    def seeded(cls, seed: int | None, **params: float) -> RasSampler:
        """A sampler drawing from a private generator (seeded if ``seed`` is given)."""
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        return cls(generator=generator, **params)  # type: ignore[arg-type]

    def _draw(self, probs: torch.Tensor) -> int:
        return int(torch.multinomial(probs.float().cpu(), 1, replacement=True, generator=self.generator))

    def nucleus(self, scores: torch.Tensor) -> int:
        """One draw from the top-p / top-k nucleus of ``softmax(scores)``."""
        probs, order = scores.softmax(dim=0).sort(descending=True, stable=True)
        mass_before = torch.cat([probs.new_zeros(1), torch.cumsum(probs, dim=0)[:-1]])
        keep = int(((mass_before < self.top_p)[: self.top_k]).sum())
        keep = max(keep, 1)
        return int(order[self._draw(probs[:keep])])

    def __call__(self, scores: torch.Tensor, decoded: Sequence[int]) -> int:
        token = self.nucleus(scores)
        recent = list(decoded[-self.win_size :])
        if recent.count(token) >= self.win_size * self.tau_r:
            scores = scores.clone()
            scores[token] = -float("inf")
            token = self._draw(scores.softmax(dim=0))
        return token
