"""Voice design: does each setting do what it says, and what does it cost in intelligibility and quality?

    .venv/bin/pip install -r bench/requirements.txt      # DNSMOS
    .venv/bin/python bench/bench_design.py [--voice jf_alpha] [--sentences 6]

For each design (pitch, pace, brightness, breathiness, a blend) on the same English sentences, it prints
what was measured from the audio, with measures independent of how it was made: median F0 by Harvest
(the engine scales the model's own F0), speech duration, spectral centroid, the high-band (4-8 kHz) share
of energy; Whisper base word error rate; DNSMOS P.835 overall. Compare each row with the plain voice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from parrot import Parrot
from parrot.audio import resample
from parrot.config import Settings
from parrot.voices.design import Design
from parrot_dev.evaluation import error_rate, measure_delivery

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dnsmos import Dnsmos  # noqa: E402

SENTENCES = [
    "My brother bought a new bicycle for the summer trip.",
    "Please remember to water the plants before you leave on Friday.",
    "The museum opens at nine and closes late on weekends.",
    "She wrote three letters and posted them on her way home.",
    "A gentle wind moved the curtains in the quiet room.",
    "We should check the weather before we drive to the mountains.",
    "Their new kitchen has a large window facing the garden.",
    "He forgot his umbrella, so he waited under the bridge.",
]
DESIGNS: list[tuple[str, str | None, Design]] = [
    ("plain", None, Design()),
    ("pitch +4 st", None, Design(pitch=4)),
    ("pitch -4 st", None, Design(pitch=-4)),
    ("pace 1.25", None, Design(pace=1.25)),
    ("brightness +3", None, Design(brightness=3)),
    ("brightness -3", None, Design(brightness=-3)),
    ("breathiness 0.3", None, Design(breathiness=0.3)),
    ("breathiness 0.6", None, Design(breathiness=0.6)),
    ("blend 50/50 jm_kumo", "jm_kumo", Design()),
]


def spectrum_figures(audio: np.ndarray, rate: int) -> tuple[float, float]:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / rate)
    centroid = float((freqs * spectrum).sum() / spectrum.sum())
    high = float(spectrum[(freqs >= 4000) & (freqs < 8000)].sum() / spectrum.sum())
    return centroid, high


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", default="jf_alpha")
    parser.add_argument("--sentences", type=int, default=6)
    args = parser.parse_args()
    tts = Parrot(settings=Settings.from_env())
    recognizer, dnsmos = tts.recognizer, Dnsmos()
    sentences = SENTENCES[: args.sentences]
    print(f"voice {args.voice}, {len(sentences)} English sentences; Whisper base; DNSMOS P.835 OVRL")
    print(f"{'design':<22}{'F0 Hz':>8}{'st':>7}{'dur s':>8}{'x':>6}{'centroid':>10}{'4-8k %':>8}{'WER %':>8}{'MOS':>6}")
    base = None
    for label, other, adjust in DESIGNS:
        source = f"{args.voice}*0.5+{other}*0.5" if other else args.voice
        voice = tts.design(source, adjust, name="bench")
        f0s, durs, cents, highs, errs, moss = [], [], [], [], [], []
        for text in sentences:
            speech = tts.say(text, voice)
            delivery = measure_delivery(speech.audio, speech.sample_rate)
            centroid, high = spectrum_figures(speech.audio, speech.sample_rate)
            audio16 = resample(speech.audio, speech.sample_rate, 16_000)
            heard = recognizer.transcribe(audio16, language="en").text
            f0s.append(delivery.f0_median)
            durs.append(delivery.seconds)
            cents.append(centroid)
            highs.append(high)
            errs.append(error_rate(text, heard))
            moss.append(dnsmos.overall(audio16))
        row = (float(np.median(f0s)), float(np.sum(durs)), float(np.mean(cents)), float(np.mean(highs)))
        base = base or row
        semitones = 12 * np.log2(row[0] / base[0])
        print(f"{label:<22}{row[0]:8.1f}{semitones:+7.2f}{row[1]:8.1f}{base[1] / row[1]:6.2f}{row[2]:10.0f}"
              f"{100 * row[3]:8.2f}{100 * np.mean(errs):8.1f}{np.mean(moss):6.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
