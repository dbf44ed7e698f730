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
