"""Resemble's PerTh implicit watermarker on Parrot's speech: robustness, false positives, audibility, cost.

    .venv/bin/python bench/bench_watermark.py [--threads 1] [--threshold 0.5]

Needs torch and, for the quality figure, speechmos (bench/requirements.txt). The ``resemble-perth`` 1.0.1
wheel (MIT; it carries the weights) is fetched with ``pip download --no-deps`` into the bench cache and
imported from there (nothing is installed). PerTh imports ``torchaudio.transforms`` only for
``Spectrogram``/``InverseSpectrogram`` (thin wrappers of ``torch.stft``/``istft``) and an unused
``TimeStretch``; when torchaudio is absent they are provided here with the same settings.

Generated speech: 8 sentences (English and Mandarin, 4 voices), watermarked one by one. Printed, at the
decision ``--threshold`` on PerTh's score (0-1): the detection rate of watermarked speech as it is, after
MP3 at 64 kbit/s, Ogg Opus at 32 kbit/s, resampling to 16 kHz, white noise at 20 dB SNR, and a 10 s excerpt
cut from a 40 s watermarked recording; the false-positive rate on the same speech unmarked and on 18 real
human recordings (bench/clone_data.py; also after MP3); the watermark's SNR and DNSMOS change; and the
cost: watermarking seconds per second of audio against Parrot's own synthesis time. Figures only.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from collections.abc import Callable

import numpy as np
from clone_data import Package, fetch, load_speakers

PERTH = Package("wheel", "resemble-perth", "1.0.1")
SENTENCES = (
    ("The quick brown fox jumps over the lazy dog, and then it runs far away into the quiet green forest.", "linda"),
    ("今天天气真不错啊，要不要一起去公园散步？我们可以在湖边坐一会儿。", "jf_alpha"),
    ("Every morning the old keeper walked down to the harbour to count the boats.", "jm_kumo"),
    ("我们终于到山顶了，风景真的太美了！", "jm_kumo"),
    ("She folded the letter twice and put it in the pocket of her coat.", "jf_alpha"),
    ("A parrot on the windowsill repeated every word the children said.", "linda"),
    ("请在下一个路口左转，然后一直往前走大约五百米。", "linda"),
    ("By noon the market square was full of voices, carts and the smell of bread.", "jm_kumo"),
)


def _torchaudio_transforms() -> None:
    """``torchaudio.transforms`` as PerTh uses it, when torchaudio is not installed."""
    try:
        import torchaudio.transforms  # noqa: F401

        return
    except ImportError:
        pass
    import torch
    from torch import nn

    class Spectrogram(nn.Module):
        def __init__(self, n_fft, win_length, hop_length, window_fn, power=None, normalized=False):  # noqa: ANN001
            super().__init__()
            self.args = (n_fft, hop_length, win_length)
            self.register_buffer("window", window_fn(win_length))

        def forward(self, x):  # noqa: ANN001, ANN202
            n_fft, hop, win = self.args
            return torch.stft(x, n_fft, hop, win, self.window, center=True, pad_mode="reflect", return_complex=True)

    class InverseSpectrogram(Spectrogram):
        def forward(self, spec):  # noqa: ANN001, ANN202
            n_fft, hop, win = self.args
            return torch.istft(spec, n_fft, hop, win, self.window, center=True)

    class TimeStretch(nn.Module):  # unused by watermarking and detection; holds its checkpoint buffer
        def __init__(self, n_freq: int, hop_length: int) -> None:
            super().__init__()
            self.register_buffer("phase_advance", torch.zeros(n_freq, 1))

    package = types.ModuleType("torchaudio")
    transforms = types.ModuleType("torchaudio.transforms")
    transforms.Spectrogram, transforms.InverseSpectrogram, transforms.TimeStretch = (
        Spectrogram, InverseSpectrogram, TimeStretch,
    )  # fmt: skip
    package.transforms = transforms
    sys.modules["torchaudio"], sys.modules["torchaudio.transforms"] = package, transforms


def load_perth():  # -> PerthImplicitWatermarker
    root = fetch(PERTH)
    sys.path.insert(0, str(root))
    _torchaudio_transforms()
    from perth.perth_net.perth_net_implicit.perth_watermarker import PerthImplicitWatermarker

    return PerthImplicitWatermarker()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for PerTh (default 1)")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    import torch

    from parrot.api import Parrot
    from parrot.audio import decode, encode, resample

    torch.set_num_threads(args.threads)
    perth = load_perth()
    tts = Parrot()
    tts.engine.warm_up()
    rng = np.random.default_rng(0)

    def score(audio: np.ndarray, rate: int) -> float:
        return float(perth.get_watermark(np.asarray(audio, np.float32), rate, round=False))

    def mark(audio: np.ndarray, rate: int) -> np.ndarray:
        out = np.asarray(perth.apply_watermark(audio, rate), dtype=np.float32)
        return np.pad(out, (0, max(0, len(audio) - len(out))))[: len(audio)]

    def noisy(audio: np.ndarray) -> np.ndarray:
        power = float(np.mean(audio**2))
        return (audio + rng.normal(0, np.sqrt(power / 100), len(audio))).astype(np.float32)

    attacks: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, int]]] = {
        "as made": lambda a, r: (a, r),
        "mp3 64k": lambda a, r: decode(encode(a, r, "mp3")),
        "opus 32k": lambda a, r: decode(encode(a, r, "opus")),
        "16 kHz": lambda a, r: (resample(a, r, 16_000), 16_000),
        "noise 20 dB": lambda a, r: (noisy(a), r),
    }
    marked_scores: dict[str, list[float]] = {k: [] for k in attacks}
    clean_scores: dict[str, list[float]] = {k: [] for k in attacks}
    synth_seconds = mark_seconds = audio_seconds = 0.0
    snrs, before, after = [], [], []
    try:
        from dnsmos import Dnsmos

        judge: Dnsmos | None = Dnsmos()
    except ImportError:
        judge = None
    clips = []
    for text, voice in SENTENCES:
        started = time.perf_counter()
        speech = tts.say(text, voice)
        synth_seconds += time.perf_counter() - started
        audio, rate = speech.audio, speech.sample_rate
        started = time.perf_counter()
        marked = mark(audio, rate)
        mark_seconds += time.perf_counter() - started
        audio_seconds += len(audio) / rate
        clips.append(audio)
        snrs.append(10 * np.log10(np.sum(audio**2) / max(1e-12, float(np.sum((audio - marked) ** 2)))))
        if judge is not None:
            before.append(judge.overall(resample(audio, rate, 16_000)))
            after.append(judge.overall(resample(marked, rate, 16_000)))
        for name, attack in attacks.items():
            marked_scores[name].append(score(*attack(marked, rate)))
            clean_scores[name].append(score(*attack(audio, rate)))
    rate = tts.sample_rate
    long = np.concatenate([np.concatenate([c, np.zeros(rate // 2, np.float32)]) for c in clips])
    long_marked = mark(long, rate)
    excerpts = [long_marked[s : s + 10 * rate] for s in range(0, len(long) - 10 * rate, 5 * rate)]
    excerpt_scores = [score(e, rate) for e in excerpts]
    humans = []
    for speaker in load_speakers():
        for audio, r in ((speaker.ref_audio, speaker.ref_rate), (speaker.other_audio, speaker.other_rate)):
            humans += [score(audio, r), score(*decode(encode(audio, r, "mp3")))]

    t = args.threshold
    print(f"PerTh implicit 1.0.1, threshold {t}, {len(SENTENCES)} generated clips ({audio_seconds:.0f} s), "
          f"torch threads {args.threads}")  # fmt: skip
    print(f"{'condition':<14} {'detected (marked)':>18} {'false pos. (unmarked)':>22} {'min marked score':>17}")
    for name in attacks:
        hit = np.mean(np.array(marked_scores[name]) >= t)
        false = np.mean(np.array(clean_scores[name]) >= t)
        print(f"{name:<14} {hit:>18.2f} {false:>22.2f} {min(marked_scores[name]):>17.3f}")
    print(
        f"{'10 s excerpt':<14} {np.mean(np.array(excerpt_scores) >= t):>18.2f} {'':>22} "
        f"{min(excerpt_scores):>17.3f}   ({len(excerpts)} excerpts of a {len(long) / rate:.0f} s recording)"
    )
    print(
        f"real human speech: {np.mean(np.array(humans) >= t):.3f} false positives of {len(humans)} "
        f"(9 speakers x 2 clips, as recorded and after mp3), highest score {max(humans):.3f}"
    )
    print(f"watermark SNR {np.mean(snrs):.1f} dB (min {min(snrs):.1f})")
    if judge is not None:
        change = np.array(after) - np.array(before)
        print(f"DNSMOS OVRL {np.mean(before):.3f} -> {np.mean(after):.3f} (change {np.mean(change):+.3f}, "
              f"worst {change.min():+.3f})")  # fmt: skip
    print(f"cost: synthesis {synth_seconds / audio_seconds:.3f} s per audio s, watermarking "
          f"{mark_seconds / audio_seconds:.3f} s per audio s = {100 * mark_seconds / synth_seconds:.0f} % of the "
          f"synthesis time")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
