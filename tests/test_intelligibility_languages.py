"""Korean, Spanish, French, Italian, Portuguese and Hindi are understood by Whisper base (slow, real model).

Spoken with each language's default voice (``Engine.default_voices``, no voice named); sentences not in
``bench/languages.json``. The limits guard against a broken front end (wrong phonemes, the wrong G2P, dropped
words push the error past 40 %), with room for Whisper base's own errors on two short sentences: they are not
the issue #19 targets, which bench/eval_languages.py measures on 20 sentences per language. Measured
(2026-12, loaded machine): ko 0.33 and 0.00 ("커피를 마셔요" heard "카필을 마세요"), es 0.17 (¿Dónde heard donde).
"""

import numpy as np
import pytest

from parrot.audio import resample
from parrot_dev.evaluation import error_rate

pytestmark = pytest.mark.slow

SENTENCES = {
    "ko": ["저는 매일 아침 커피를 마셔요.", "이 근처에 지하철역이 있나요?"],
    "es": ["Me gusta mucho leer por la noche.", "¿Dónde está la estación de tren?"],
    "fr": ["J'aime beaucoup lire le soir.", "Où se trouve la gare, s'il vous plaît?"],
    "it": ["Mi piace molto leggere la sera.", "Dove si trova la stazione dei treni?"],
    "pt": ["Eu gosto muito de ler à noite.", "Onde fica a estação de trem?"],
    "hi": ["मुझे रात को पढ़ना बहुत पसंद है।", "रेलवे स्टेशन कहाँ है?"],
}
# Measured means: ko 0.17, es 0.09, fr 0.49, it 0.00, pt 0.00, hi 0.48 (French and Hindi miss the #19 targets).
LIMITS = {"ko": 0.25, "es": 0.2, "fr": 0.55, "it": 0.2, "pt": 0.3, "hi": 0.55}
PROMPTS = {"hi": "यह वाक्य हिंदी में है।"}  # otherwise Whisper base writes Hindi in Urdu script


@pytest.mark.parametrize("lang", list(SENTENCES))
def test_new_languages_are_intelligible(tts, recognizer, lang):
    rates = []
    for sentence in SENTENCES[lang]:
        audio = tts.say(sentence, lang=lang).audio
        heard = recognizer.transcribe(resample(audio, tts.sample_rate, 16_000), language=lang, prompt=PROMPTS.get(lang))
        rates.append(error_rate(sentence, heard.text, lang))
        print(f"{lang} {rates[-1]:.2f} | {sentence} | {heard.text}")
    assert float(np.mean(rates)) <= LIMITS[lang]


def test_korean_is_detected_from_hangul_and_mixed_with_chinese_and_english(tts, recognizer):
    chunks = list(tts.stream("오늘 날씨가 정말 좋네요. 我们去公园吧。", fast_start=False))
    assert [c.text.strip() for c in chunks] == ["오늘 날씨가 정말 좋네요.", "我们去公园吧。"]
    heard = recognizer.transcribe(resample(chunks[0].audio, 24_000, 16_000), language="ko")
    assert error_rate("오늘 날씨가 정말 좋네요.", heard.text, "ko") <= 0.35  # measured 0.30: 날씨가 heard 나오시가
