"""Predicted speech quality: Microsoft DNSMOS (P.835 overall), the ONNX models inside the ``speechmos`` wheel.

    pip install speechmos==0.0.1.1 librosa     # (bench/requirements.txt)

Coarse for synthesis artefacts: compare systems on the same sentences, never tune to it.
"""

from __future__ import annotations

import numpy as np

RATE = 16_000


class Dnsmos:
    """``overall(audio16k)`` -> DNSMOS P.835 OVRL (1-5)."""

    def __init__(self) -> None:
        from speechmos import dnsmos

        self._run = dnsmos.run

    def overall(self, audio: np.ndarray) -> float:
        audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        return float(self._run(audio, RATE)["ovrl_mos"])
