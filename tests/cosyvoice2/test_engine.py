"""The CosyVoice2 engine around stand-in networks: streaming schedule, per-request state, cross-fade,
modes, voices and errors. (Real flow/HiFT numerics are tested in their own files.)"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from test_frontend import analyzer

from parrot.config import Settings
from parrot.engines.base import SynthesisOptions
from parrot.engines.cosyvoice2.engine import SOURCE_CACHE, CosyVoice2Engine, CosyVoice2Model, load_speakers
from parrot.engines.cosyvoice2.modeldir import MODEL_FILES, check_model_dir
from parrot.errors import InputError, ModelError
from parrot.voices.reference import Reference
from parrot.voices.voice import Voice

CONFIG = {"flow": {"kwargs": {"token_mel_ratio": 2, "pre_lookahead_len": 3}},
          "llm": {"sampling": {"kwargs": {"top_k": 25}}}}  # fmt: skip
EOP = 999


class FakeLM:
    """Yields ``n`` tokens (``7 * i % 6561``) and records what it was asked."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, []

    def inference(self, text, sampler, prompt_text, prompt_speech):
        self.calls.append({"text": list(text), "prompt_text": list(prompt_text), "prompt_speech": list(prompt_speech)})
        for i in range(self.n):
            yield 7 * i % 6561


class FakeFlow(torch.nn.Module):
    """Two mel frames per token whose values depend only on the token (so chunks and wholes agree)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = []

    def inference(self, token, token_len, prompt_token, prompt_token_len, prompt_feat, prompt_feat_len, embedding,
                  streaming, finalize):  # fmt: skip
        assert token.dtype == torch.int32 and int(token_len) == token.size(1)
        assert prompt_feat.size(1) == 2 * prompt_token.size(1) and embedding.shape == (1, 192)
        self.calls.append((token.size(1), streaming, finalize))
        n = token.size(1) - (0 if finalize else 3)
        frames = (token[0, :n].float() / 6561).repeat_interleave(2)
        return frames[None, None].repeat(1, 80, 1) + torch.arange(80.0)[None, :, None] / 80, None


class FakeHiFT(torch.nn.Module):
    """480 samples per frame, each the frame's mean; the source is the speech itself."""

    def inference(self, speech_feat, cache_source=None):
        speech = speech_feat.mean(dim=1).repeat_interleave(480, dim=1)
        source = speech[:, None].clone()
        if cache_source is not None and cache_source.size(2):
            source[:, :, : cache_source.size(2)] = cache_source
        return speech, source


def fake_model(n_tokens: int) -> CosyVoice2Model:
    return CosyVoice2Model(CONFIG, FakeLM(n_tokens), FakeFlow(), FakeHiFT(), torch.device("cpu"))  # type: ignore[arg-type]


class FakeTokenizer:
    def encode(self, text: str) -> list[int]:
        ids, rest = [], text
        while rest:
            if rest.startswith("<|endofprompt|>"):
                ids.append(EOP)
                rest = rest[len("<|endofprompt|>") :]
                continue
            if not rest[0].isspace():
                ids.append(ord(rest[0]) % 900)
            rest = rest[1:]
        return ids


def model_input(n_prompt: int = 12):
    from parrot.engines.cosyvoice2.frontend import SpeechPrompt, assemble

    prompt = SpeechPrompt(np.arange(n_prompt, dtype=np.int32), np.zeros((2 * n_prompt, 80), np.float32),
                          np.ones(192, np.float32))  # fmt: skip
    return assemble("zero_shot", [1, 2, 3], prompt.embedding, prompt, [4, 5])


def test_streaming_follows_the_release_schedule() -> None:
    model = fake_model(140)
    chunks = list(model.synthesize(model_input(12), stream=True))
    # first hop 25 + 13 (pads the 12 prompt tokens to 25) + 3 lookahead, then hops of 50 and 100
    assert model.flow.calls == [(41, True, False), (91, True, False), (140, False, True)]
    assert [len(c) for c in chunks] == [38 * 960 - SOURCE_CACHE, 50 * 960, 52 * 960 + SOURCE_CACHE]


def test_every_request_starts_its_own_schedule() -> None:
    model = fake_model(140)
    list(model.synthesize(model_input(12)))
    list(model.synthesize(model_input(0)))
    assert model.flow.calls[3:] == [(28, True, False), (78, True, False), (140, False, True)]


def test_stream_equals_whole_except_the_cross_faded_joins() -> None:
    model = fake_model(140)
    whole = np.concatenate(list(model.synthesize(model_input(12), stream=False)))
    streamed = np.concatenate(list(model.synthesize(model_input(12), stream=True)))
    assert len(whole) == len(streamed) == 140 * 960
    window = np.hamming(2 * SOURCE_CACHE)
    gain = np.ones(len(whole))
    for join in (38 * 960, 88 * 960):  # where each later chunk starts (8 cached frames before the new tokens)
        gain[join - SOURCE_CACHE : join] = window[:SOURCE_CACHE] + window[SOURCE_CACHE:]
    assert np.abs(streamed - whole * gain).max() < 1e-5  # hamming halves sum to 1.08, as in the release


def test_concurrent_requests_do_not_share_state() -> None:
    model = fake_model(140)
    alone = [c.copy() for c in model.synthesize(model_input(12))]
    a, b = model.synthesize(model_input(12)), model.synthesize(model_input(0))
    interleaved_a = []
    for chunk_a in a:  # one chunk of each request in turn
        interleaved_a.append(chunk_a)
        next(b, None)
    assert len(alone) == len(interleaved_a) == 3
    assert all(np.array_equal(x, y) for x, y in zip(alone, interleaved_a, strict=True))

    results: dict[int, list[np.ndarray]] = {}

    def run(i: int) -> None:
        results[i] = list(fake_model(140).synthesize(model_input(12)))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(np.array_equal(np.concatenate(results[i]), np.concatenate(alone)) for i in range(3))


def test_speed_stretches_the_mel() -> None:
    model = fake_model(50)
    fast = np.concatenate(list(model.synthesize(model_input(0), stream=False, speed=2.0)))
    assert len(fast) == 25 * 960


def engine(n_tokens: int = 60, speakers: list[Voice] | None = None) -> CosyVoice2Engine:
    return CosyVoice2Engine.from_parts(fake_model(n_tokens), FakeTokenizer(), analyzer(50), speakers)


def clip() -> Reference:
    t = np.arange(32000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    return Reference(audio, 16000, 2.0, 2.0)


def test_engine_protocol_flags() -> None:
    e = engine()
    assert (e.name, e.sample_rate, e.native_markup, e.native_instructions) == ("cosyvoice2", 24000, True, True)


def test_cloned_voice_speaks_zero_shot_and_cross_lingual() -> None:
    e = engine()
    voice = e.make_voice(clip(), "ab", "me")
    assert voice.kind == "cloned" and voice.payload["prompt_speech_token"].tolist() == list(range(50))
    assert voice.payload["prompt_mel"].shape == (100, 80) and voice.payload["embedding"].shape == (192,)
    assert bytes(voice.payload["prompt_text"]).decode() == "ab"
    chunks = list(e.stream("Hi there.", voice, SynthesisOptions()))
    assert sum(len(c.audio) for c in chunks) == 60 * 960 and chunks[0].text == "Hi there."
    call = e.model.llm.calls[-1]
    assert call["prompt_text"] == [ord("a"), ord("b")] and call["prompt_speech"] == list(range(50))
    from dataclasses import replace

    list(e.stream("Hi.", replace(voice, language="zh"), SynthesisOptions(lang="en")))
    assert e.model.llm.calls[-1]["prompt_text"] == [] and e.model.llm.calls[-1]["prompt_speech"] == []
    assert e.model.flow.calls[-1][0] == 60  # the flow still gets the prompt (checked inside FakeFlow)


def test_instruction_selects_instruct2() -> None:
    e = engine()
    voice = e.make_voice(clip(), "ab", "me")
    list(e.stream("Hi.", voice, SynthesisOptions(instruction="calm")))
    call = e.model.llm.calls[-1]
    assert call["prompt_text"] == [*(ord(c) for c in "calm"), EOP] and call["prompt_speech"] == []


def test_markup_reaches_the_tokenizer_verbatim() -> None:
    e = engine()
    voice = e.make_voice(clip(), "", "me")  # no transcript: cross_lingual
    list(e.stream("[breath]Hi", voice, SynthesisOptions()))
    assert e.model.llm.calls[-1]["text"] == [ord(c) % 900 for c in "[breath]Hi"]


def test_long_text_is_spoken_in_pieces() -> None:
    e = engine(10)
    text = " ".join(["This is one sentence of several words."] * 6)
    chunks = list(e.stream(text, e.make_voice(clip(), "ab", "me"), SynthesisOptions(fast_start=False)))
    assert len(e.model.llm.calls) > 1 and all(len(c["text"]) <= 80 for c in e.model.llm.calls)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_stock_speakers_from_spk2info(tmp_path: Path) -> None:
    table = {"中文女": {"embedding": torch.full((1, 192), 0.25)},
             "saved": {"embedding": torch.ones(1, 192), "prompt_text": torch.tensor([[3, 4]], dtype=torch.int32),
                       "flow_prompt_speech_token": torch.arange(5, dtype=torch.int32)[None],
                       "prompt_speech_feat": torch.zeros(1, 10, 80)}}  # fmt: skip
    torch.save(table, tmp_path / "spk2info.pt")
    voices = {v.name: v for v in load_speakers(tmp_path / "spk2info.pt")}
    assert set(voices) == {"中文女", "saved"} and voices["中文女"].kind == "stock"
    e = engine(speakers=list(voices.values()))
    assert [v.name for v in e.stock_voices()] == sorted(voices)
    list(e.stream("Hi.", voices["中文女"], SynthesisOptions()))
    assert e.model.llm.calls[-1]["prompt_text"] == [] and e.model.flow.calls[-1][0] == 60
    list(e.stream("Hi.", voices["saved"], SynthesisOptions()))
    assert e.model.llm.calls[-1]["prompt_text"] == [3, 4] and e.model.llm.calls[-1]["prompt_speech"] == list(range(5))
    assert load_speakers(tmp_path / "absent.pt") == []


def test_voice_errors() -> None:
    e = engine()
    kokoro = Voice("k", "kokoro", "stock", {"style": np.zeros((510, 256), np.float32)})
    with pytest.raises(InputError, match="kokoro engine"):
        list(e.stream("Hi.", kokoro, SynthesisOptions()))
    with pytest.raises(InputError, match="nothing to speak"):
        e.stream("...", e.make_voice(clip(), "ab", "me"), SynthesisOptions())


def test_missing_model_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no CosyVoice2 model"):
        check_model_dir(tmp_path / "nowhere")
    (tmp_path / "llm.pt").write_bytes(b"")
    with pytest.raises(ModelError, match="missing cosyvoice2.yaml, flow.pt, hift.pt") as err:
        CosyVoice2Engine(Settings(data_dir=tmp_path, model_dir=tmp_path))
    assert "parrot models download cosyvoice2" in str(err.value)
    for name in MODEL_FILES:
        (tmp_path / name).mkdir(exist_ok=True) if name == "CosyVoice-BlankEN" else (tmp_path / name).touch()
    check_model_dir(tmp_path)


def test_corrupt_checkpoint_is_a_model_error(tmp_path: Path) -> None:
    from parrot.engines.cosyvoice2.engine import load_state

    (tmp_path / "llm.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot load .*llm.pt"):
        load_state(tmp_path / "llm.pt")


@pytest.mark.slow  # token-by-token tiny-LM generation: seconds
def test_text_arriving_in_pieces_is_spoken_with_bistream() -> None:
    from parrot.engines.cosyvoice2.sampling import RasSampler
    from parrot_dev.cosyvoice2 import llm_parity

    lm = llm_parity.tiny_lm()
    e = CosyVoice2Engine.from_parts(CosyVoice2Model(CONFIG, lm, FakeFlow(), FakeHiFT(), torch.device("cpu")),
                                    FakeTokenizer(), analyzer(50))  # fmt: skip
    e.seed = 3
    voice = e.make_voice(clip(), "ab", "me")
    pieces = ["Hi th", "ere", "."]
    chunks = list(e.stream_text(iter(pieces), voice, SynthesisOptions()))
    ids = [FakeTokenizer().encode(p) for p in pieces]
    expected = list(lm.inference_bistream(ids, RasSampler.seeded(3, top_k=25), [ord("a"), ord("b")], list(range(50))))
    assert len(expected) > 0 and sum(len(c.audio) for c in chunks) == len(expected) * 960
    assert chunks[-1].start == chunks[-1].end == len("".join(pieces)) and chunks[-1].text == ""
