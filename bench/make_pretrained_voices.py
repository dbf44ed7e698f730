"""Build Parrot's pretrained voices by cloning public-domain recordings; writes src/parrot/data/voices/.

    .venv/bin/python bench/make_pretrained_voices.py

Only recordings whose licence allows redistribution of a derived voice are used (public domain).
Each ``.voice`` file records its provenance in its metadata, and ``PROVENANCE.md`` lists them.
The recordings are fetched from packages at run time (see clone_data.py); no audio is committed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from clone_data import load_speakers

from parrot import Parrot
from parrot.voices.store import encode_voice_file

OUT = Path(__file__).resolve().parent.parent / "src" / "parrot" / "data" / "voices"

# speaker id in clone_speakers.json -> (voice name, description, licence note)
PRETRAINED = {
    "en_f_lj": (
        "linda",
        "English female (LJSpeech reader Linda Johnson), cloned",
        "LJSpeech 1.1: public domain recordings of LibriVox non-fiction readings (via tortoise-tts 3.0.0)",
    ),
    "en_m_librivox": (
        "austen_reader",
        "English male (LibriVox reader of Sense and Sensibility), cloned",
        "LibriVox recording, public domain (via Debian pocketsphinx-testdata 0.8+5prealpha+1-15)",
    ),
}


def main() -> None:
    tts = Parrot()
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["# Pretrained voices and where they come from", ""]
    for speaker in load_speakers(ids=list(PRETRAINED)):
        name, description, licence = PRETRAINED[speaker.id]
        # Both utterances of the speaker make a longer, steadier reference.
        audio = np.concatenate([speaker.ref16(), np.zeros(8000, np.float32), speaker.other16()])
        voice = tts.clone(audio, f"{speaker.ref_text} {speaker.other_text}", name=name, sample_rate=16_000)
        meta = {**voice.meta, "provenance": speaker.provenance, "licence": licence}
        voice = replace(voice, kind="pretrained", description=description, gender=speaker.sex,
                        language=speaker.lang, meta=meta)
        (OUT / f"{name}.voice").write_bytes(encode_voice_file(voice))
        lines.append(f"- **{name}** ({speaker.sex}, {speaker.lang}): {description}. Source: {licence}. "
                     f"Base style {meta.get('base_style')}; transcript: \"{meta['transcript']}\"")
        print(json.dumps({"name": name, "seconds": meta["clone_seconds"], "base": meta.get("base_style")}))
    lines += ["", "No Mandarin recording with a licence that allows redistribution is available offline here,",
              "so there is no pretrained Mandarin voice yet; the stock voices and cloning cover Mandarin."]
    (OUT / "PROVENANCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
