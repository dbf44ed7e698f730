"""The whole tiny model (LM + flow + HiFT, ``tests/data/cosyvoice2/tiny_*.pt``) through ``CosyVoice2Model``
and the engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parrot.engines.base import SynthesisOptions
from parrot.engines.cosyvoice2.engine import CosyVoice2Engine, CosyVoice2Model
from parrot.engines.cosyvoice2.frontend import SpeechPrompt, assemble
from parrot.voices.voice import Voice
from parrot_dev.cosyvoice2 import refdata

pytestmark = pytest.mark.slow  # the whole tiny model end to end: tens of seconds per test

FLOW_ATOL = 1e-3


@pytest.fixture(scope="module")
def model() -> CosyVoice2Model:
    return CosyVoice2Model.from_tiny(refdata.DATA_DIR)


def flow_input():
    v = refdata.vectors()
    embedding = v["flow.in.embedding"][0].numpy()
    prompt = SpeechPrompt(v["flow.in.prompt_token"][0].numpy(), v["flow.in.prompt_feat"][0].numpy(), embedding)
    return v["flow.in.token"][0].tolist(), assemble("zero_shot", [1], embedding, prompt, [2])


def test_model_flow_call_matches_the_reference(model: CosyVoice2Model) -> None:
    tokens, inputs = flow_input()
    v = refdata.vectors()
    whole = model.mel(tokens, inputs, streaming=False, finalize=True)
    assert (whole - v["flow.nonstream.mel"]).abs().max() < FLOW_ATOL
    chunk = model.mel(tokens[:33], inputs, streaming=True, finalize=False)
    assert (chunk - v["flow.stream_chunk0.mel"]).abs().max() < FLOW_ATOL


class ByteTokenizer:
    def encode(self, text: str) -> list[int]:
        return [b % 1024 for b in text.encode("utf-8") if b != 0x20]


def test_engine_speaks_streamed_and_whole(model: CosyVoice2Model) -> None:
    tokens, inputs = flow_input()
    voice = Voice("tiny", "cosyvoice2", "cloned", {
        "embedding": inputs.embedding, "prompt_speech_token": inputs.flow_prompt_tokens,
        "prompt_mel": inputs.flow_prompt_mel, "prompt_text": np.frombuffer(b"hi", np.uint8).copy(),
    })  # fmt: skip
    engine = CosyVoice2Engine.from_parts(model, ByteTokenizer())
    engine.seed = 0
    torch.manual_seed(0)
    streamed = [c.audio for c in engine.stream("Hey.", voice, SynthesisOptions(fast_start=True))]
    whole = [c.audio for c in engine.stream("Hey.", voice, SynthesisOptions(fast_start=False))]
    assert len(streamed) > 1 and len(whole) == 1
    total = sum(len(a) for a in streamed)
    assert total == len(whole[0]) and total % 960 == 0 and total >= 2 * 4 * 960  # at least min_len tokens
    for audio in (*streamed, *whole):
        assert audio.dtype == np.float32 and np.isfinite(audio).all() and np.abs(audio).max() <= 0.99
