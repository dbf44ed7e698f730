import pytest

from parrot.models import kokoro_vocab
from parrot.text.g2p import G2P


@pytest.fixture(scope="module")
def g2p() -> G2P:
    return G2P(kokoro_vocab())


def test_only_model_symbols(g2p):
    for text, lang in [("你好，世界！", "zh"), ("Hello, world!", "en"), ("こんにちは、世界！", "ja")]:
        phonemes = g2p.phonemize(text, lang)
        assert phonemes
        assert set(phonemes) <= set(g2p.vocab)


def test_mandarin_tones_and_third_tone_sandhi(g2p):
    # 你好: third tone + third tone -> second + third
    assert g2p.phonemize("你好", "zh") == "ni↗xau↓"
    # 一起 (yi4 qi3) and 不要 (bu2 yao4) follow the 一/不 rules
    assert g2p.phonemize("一起", "zh").startswith("i↘")
    assert g2p.phonemize("不要", "zh").startswith("pu↗")


@pytest.mark.parametrize(("text", "reading"), [("银行", "xa↗ŋ"), ("行走", "ɕi↗ŋ"), ("重要", "ꭧʊ↘ŋ"), ("重新", "ꭧʰʊ↗ŋ")])
def test_mandarin_polyphones(g2p, text, reading):
    assert reading in g2p.phonemize(text, "zh")


def test_chinese_punctuation_becomes_pauses(g2p):
    assert g2p.phonemize("你好，世界。", "zh").count(",") == 1


def test_english_uses_kokoro_diphthongs(g2p):
    phonemes = g2p.phonemize("go away", "en")
    assert "O" in phonemes and "A" in phonemes  # oʊ -> O, eɪ -> A as Kokoro was trained


def test_japanese(g2p):
    assert g2p.phonemize("東京", "ja") == "toːkʲoː"


@pytest.mark.parametrize(
    ("text", "lang", "phonemes"),
    [
        ("김치", "ko", "ɡˈimʧʰi"),  # aspirated ㅊ: espeak-ng's "h" becomes Kokoro's ʰ
        ("까치", "ko", "kˈɐʧʰi"),  # tense ㄲ: espeak-ng's uvular q becomes k
        ("말", "ko", "mˈɐl"),  # final ㄹ: espeak-ng's dark ɫ becomes l
        ("hola", "es", "ˈola"),
        ("gracias", "es", "ɡɾˈaθjas"),
        ("bonjour", "fr", "bɔ̃ʒˈuʁ"),
        ("vin", "fr", "vˈɛ̃"),
        ("grazie", "it", "ɡrˈaʦje"),
        ("ciao", "it", "ʧˈao"),
        ("obrigado", "pt", "ˌobriɡˈadʊ"),
        ("não", "pt", "nˈɐ̃ʊ̃"),
        ("नमस्ते", "hi", "nəmˈʌsteː"),
        ("भारत", "hi", "bʰˈaːɾət"),
    ],
)
def test_espeak_languages_known_words(g2p, text, lang, phonemes):
    assert g2p.phonemize(text, lang) == phonemes


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("오늘 날씨가 정말 좋네요. 같이 공원에 산책하러 갈까요? 떡볶이, 빨리, 짜장면, 학교, 닭, 읽다.", "ko"),
        ("¿Dónde está la estación? Mañana llueve, niño, guitarra, jamón.", "es"),
        ("Où est la gare ? Un bon vin blanc, œuvre, grenouille, huit.", "fr"),
        ("Dov'è la stazione? Gli gnocchi, perché, sciarpa, pizza.", "it"),
        ("Onde fica a estação? Pão, coração, trabalho, cidade, mulher.", "pt"),
        ("स्टेशन कहाँ है? ज़िंदगी, क्षमा, ऋषि, फ़िल्म, ड़ ढ़ ञ।", "hi"),
    ],
)
def test_espeak_languages_only_model_symbols(g2p, text, lang):
    phonemes = g2p.phonemize(text, lang)
    assert len(phonemes) > len(text) // 2
    assert set(phonemes) <= set(g2p.vocab)
