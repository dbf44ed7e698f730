"""Text tokenizer (hand-built vocabularies), prompt analysis (stand-in ONNX sessions) and mode assembly."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from parrot.engines.cosyvoice2.frontend import (
    SpeechAnalyzer,
    SpeechPrompt,
    TextTokenizer,
    assemble,
    instruction_text,
)
from parrot.errors import InputError, ModelError

CHARS = ["h", "e", "l", "o", "w", "r", "d", "Ġ", "!", "1", "2"]
MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r")]
VOCAB = {c: i for i, c in enumerate([*CHARS, *(a + b for a, b in MERGES)])}  # hello = 14, Ġw = 15, or = 16
EOT = len(VOCAB)  # 17, as the base vocabulary's own added token


def write_slow_files(path: Path) -> Path:
    (path / "vocab.json").write_text(json.dumps(VOCAB))
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in MERGES) + "\n")
    added = {str(EOT): {"content": "<|endoftext|>", "special": True}}
    (path / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": added}))
    return path


def write_tokenizer_json(path: Path) -> Path:
    spec = {
        "version": "1.0",
        "added_tokens": [{"id": EOT, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": VOCAB,
                  "merges": [f"{a} {b}" for a, b in MERGES]},
    }
    (path / "tokenizer.json").write_text(json.dumps(spec))
    return path


@pytest.fixture(params=["slow_files", "tokenizer_json"])
def tokenizer(request: pytest.FixtureRequest, tmp_path: Path) -> TextTokenizer:
    write = write_slow_files if request.param == "slow_files" else write_tokenizer_json
    return TextTokenizer.from_dir(write(tmp_path))


def test_bpe_with_qwen2_splits(tokenizer: TextTokenizer) -> None:
    assert tokenizer.encode("hello world!") == [14, 15, 16, 2, 6, 8]
    assert tokenizer.encode("hello 12") == [14, 7, 9, 10]  # digits one by one, the space on its own


def test_special_tokens_follow_the_base_vocabulary_in_order(tokenizer: TextTokenizer) -> None:
    assert tokenizer.token_id("<|endoftext|>") == EOT
    assert [tokenizer.token_id(t) for t in ("<|im_start|>", "<|im_end|>", "<|endofprompt|>", "[breath]", "[mn]")] \
        == [18, 19, 20, 21, 36]


def test_markup_becomes_single_special_tokens(tokenizer: TextTokenizer) -> None:
    ids = tokenizer.encode("hello[breath]<strong>hello</strong>[laughter]")
    assert ids == [14, 21, 22, 14, 23, 25]
    assert tokenizer.decode(ids) == "hello[breath]<strong>hello</strong>[laughter]"
    assert tokenizer.encode(instruction_text("hello")) == [14, 20]


def test_missing_tokenizer_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="vocab.json and merges.txt"):
        TextTokenizer.from_dir(tmp_path)


class FakeSession:
    """Stands in for an onnxruntime session: records its feeds, answers with ``answer(feeds)``."""

    def __init__(self, names: list[str], answer) -> None:
        self.names, self.answer, self.feeds = names, answer, {}

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=n) for n in self.names]

    def run(self, _outputs, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.feeds = feeds
        return [self.answer(feeds)]


def analyzer(n_tokens: int) -> SpeechAnalyzer:
    tokenizer = FakeSession(["feats", "feats_length"], lambda f: np.arange(n_tokens, dtype=np.int64)[None])
    campplus = FakeSession(["input"], lambda f: np.full((1, 192), float(f["input"].shape[1]), np.float32))
    return SpeechAnalyzer(tokenizer, campplus)


def speech(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 180 * t) + 0.1 * np.sin(2 * np.pi * 1300 * t)).astype(np.float32)


def test_prompt_is_trimmed_to_two_mel_frames_per_token() -> None:
    a = analyzer(52)  # the tokenizer gives more tokens than the 100 mel frames of 2 s can pair with
    prompt = a.analyze(speech(2.0, 16000), 16000)
    assert prompt.tokens.tolist() == list(range(50)) and prompt.mel.shape == (100, 80)
    feats = a.speech_tokenizer.feeds["feats"]
    assert feats.shape == (1, 128, 200) and feats.dtype == np.float32
    assert a.speech_tokenizer.feeds["feats_length"].tolist() == [200]
    fbank = a.campplus.feeds["input"]
    assert fbank.shape == (1, 198, 80) and np.abs(fbank.mean(axis=1)).max() < 1e-4
    assert prompt.embedding.shape == (192,) and prompt.embedding[0] == 198

    short = analyzer(40).analyze(speech(2.0, 24000), 24000)  # fewer tokens: the mel is cut instead
    assert len(short.tokens) == 40 and short.mel.shape == (80, 80)


def test_prompt_length_limits() -> None:
    with pytest.raises(InputError, match="longer than 30 s"):
        analyzer(10).analyze(np.zeros(16000 * 31, np.float32), 16000)
    with pytest.raises(InputError, match="too short"):
        analyzer(0).analyze(speech(0.5, 16000), 16000)


PROMPT = SpeechPrompt(np.array([7, 8, 9], np.int32), np.ones((6, 80), np.float32), np.full(192, 0.5, np.float32))
SPEAKER = np.full(192, 2.0, np.float32)


def test_zero_shot_leads_with_prompt_text_and_speech() -> None:
    m = assemble("zero_shot", [1, 2], PROMPT.embedding, PROMPT, prompt_text=[5])
    assert (m.text, m.prompt_text, m.llm_prompt_speech) == ([1, 2], [5], [7, 8, 9])
    assert m.flow_prompt_tokens.tolist() == [7, 8, 9] and m.flow_prompt_mel.shape == (6, 80)


def test_cross_lingual_keeps_the_prompt_out_of_the_lm() -> None:
    m = assemble("cross_lingual", [1, 2], PROMPT.embedding, PROMPT, prompt_text=[5])
    assert (m.prompt_text, m.llm_prompt_speech) == ([], [])
    assert m.flow_prompt_tokens.tolist() == [7, 8, 9] and m.embedding[0] == 0.5


def test_instruct2_uses_the_instruction_as_prompt_text() -> None:
    m = assemble("instruct2", [1, 2], PROMPT.embedding, PROMPT, prompt_text=[30, 20])
    assert (m.prompt_text, m.llm_prompt_speech, m.flow_prompt_tokens.tolist()) == ([30, 20], [], [7, 8, 9])
    stock = assemble("instruct2", [1], SPEAKER, None, prompt_text=[30, 20])
    assert stock.flow_prompt_tokens.size == 0 and stock.embedding[0] == 2.0


def test_sft_has_only_the_speaker() -> None:
    m = assemble("sft", [1, 2], SPEAKER)
    assert (m.prompt_text, m.llm_prompt_speech, m.flow_prompt_tokens.size, m.flow_prompt_mel.shape) \
        == ([], [], 0, (0, 80))


def test_modes_refuse_missing_inputs() -> None:
    with pytest.raises(InputError, match="prompt audio"):
        assemble("zero_shot", [1], SPEAKER, None, [5])
    with pytest.raises(InputError, match="instruction"):
        assemble("instruct2", [1], SPEAKER, PROMPT, [])
    with pytest.raises(InputError, match="unknown CosyVoice2 mode"):
        assemble("vc", [1], SPEAKER)


def test_instruction_text_ends_with_one_end_of_prompt() -> None:
    assert instruction_text(" 用四川话说 ") == "用四川话说<|endofprompt|>"
    assert instruction_text("calm<|endofprompt|>") == "calm<|endofprompt|>"


def word_count(text: str) -> int:
    return len(text.split())


def test_split_text_packs_whole_sentences() -> None:
    from parrot.engines.cosyvoice2.frontend import split_text

    text = "One two three. Four five six seven! Eight nine."
    pieces = split_text(text, word_count, max_tokens=5)
    assert [p.text.strip() for p in pieces] == ["One two three.", "Four five six seven!", "Eight nine."]
    assert all(text[p.start : p.end] == p.text for p in pieces)
    assert [p.text for p in split_text(text, word_count, max_tokens=80)] == [text]


def test_split_text_cuts_long_sentences_at_clauses_and_drops_empty_pieces() -> None:
    from parrot.engines.cosyvoice2.frontend import split_text

    text = "a b c, d e f, g h i. ... "
    pieces = split_text(text, word_count, max_tokens=4)
    assert [p.text.strip() for p in pieces] == ["a b c,", "d e f,", "g h i. ..."]
    assert [p.text.strip() for p in split_text("a b c d e f!", word_count, max_tokens=4)] == ["a b c d", "e f!"]
    assert split_text("... !", word_count) == []
    zh = "今天天气很好。我们去公园吧！"
    assert [p.text for p in split_text(zh, len, max_tokens=8)] == ["今天天气很好。", "我们去公园吧！"]
