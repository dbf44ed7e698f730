"""``Check``: one named reference vector compared with our output (shared by the CosyVoice2 parity tables)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Check:
    """One reference vector: ``compute()`` returns ``(ours, reference)``; they must agree within ``atol``."""

    name: str
    atol: float
    compute: Callable[[], tuple[torch.Tensor, torch.Tensor]]

    def max_abs_error(self) -> float:
        """Largest absolute difference over the finite reference entries (inf if shapes or -inf masks differ)."""
        ours, ref = self.compute()
        if ours.shape != ref.shape or not torch.equal(torch.isfinite(ours), torch.isfinite(ref)):
            return float("inf")
        finite = torch.isfinite(ref)
        return (ours[finite].double() - ref[finite].double()).abs().max().item() if finite.any() else 0.0
