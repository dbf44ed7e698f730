"""Qwen2LM: real-size structure, parity with the reference vectors, stopping rules and bistream layout."""

from __future__ import annotations

import pytest
import torch

from parrot.engines.cosyvoice2.llm import SOS, TASK_ID, Qwen2LM
from parrot.engines.cosyvoice2.qwen2 import Qwen2Config
from parrot.engines.cosyvoice2.sampling import greedy
from parrot_dev.cosyvoice2 import llm_parity, refdata
from parrot_dev.cosyvoice2.checks import Check


def real_lm_on_meta() -> Qwen2LM:
    manifest = refdata.manifest()
    cfg = {
        "kwargs": {"llm_input_size": 896, "llm_output_size": 896, "speech_token_size": 6561, "mix_ratio": [5, 15]},
        "llm_body": {"qwen2_config": manifest["llm_body_config"]},
    }
    with torch.device("meta"):
        return Qwen2LM.from_config(cfg)


def test_real_size_state_dict_matches_the_manifest_exactly() -> None:
    model = real_lm_on_meta()
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == refdata.real_shapes("llm.pt")
    model.load_state_dict(refdata.meta_state_dict("llm.pt"), strict=True, assign=True)
    model.tie_weights()
    assert model.llm.model.lm_head.weight is model.llm.model.model.embed_tokens.weight


def test_real_size_rejects_a_wrong_shape() -> None:
    state = refdata.meta_state_dict("llm.pt")
    state["speech_embedding.weight"] = torch.empty(6561, 896, device="meta")
    with pytest.raises(RuntimeError, match="speech_embedding"):
        real_lm_on_meta().load_state_dict(state, strict=True, assign=True)


@pytest.mark.parametrize("check", llm_parity.LLM_CHECKS, ids=lambda c: c.name)
def test_parity_with_reference(check: Check) -> None:
    assert check.max_abs_error() <= check.atol


def test_inference_yields_the_greedy_tokens() -> None:
    model = llm_parity.tiny_lm()
    text, prompt_text, prompt_speech = llm_parity.inputs()
    tokens = []
    for token in model.inference(text, greedy, prompt_text, prompt_speech):
        tokens.append(token)
        if len(tokens) == 30:
            break
    assert tokens == refdata.vectors()["llm.greedy_zero_shot.tokens"].tolist()


def test_length_limits_count_only_the_text_to_speak() -> None:
    assert llm_parity.tiny_lm().length_limits(7) == (14, 140)


def _biased(bias_token: int) -> Qwen2LM:
    """The tiny LM with a huge decoder bias on one token, so greedy picks it whenever allowed."""
    model = Qwen2LM.from_config(refdata.tiny_config()["llm"])
    model.load_state_dict(refdata.tiny_state("llm"))
    with torch.no_grad():
        model.llm_decoder.bias[bias_token] += 1e4
    return model.eval()


def test_eos_is_masked_until_min_len_then_stops() -> None:
    model = _biased(6561)
    tokens = list(model.inference([1, 2, 3], greedy))
    assert len(tokens) == 6 and all(t < 6561 for t in tokens)


def test_other_stop_tokens_stop_at_once() -> None:
    assert list(_biased(6562).inference([1, 2, 3], greedy)) == []


def test_max_len_bounds_generation() -> None:
    model = llm_parity.tiny_lm()
    tokens = list(model.inference([5], greedy))  # no eos in 20 steps for this random model
    assert len(tokens) == 20


def _teacher_forced_choices(
    model: Qwen2LM, layout: list[torch.Tensor], predicting: list[int], text_phase: int
) -> list[int]:
    """Greedy choice at each position in ``predicting`` of one full forward over ``layout``; the first
    ``text_phase`` of them may not be eos or 6562 (text still arriving)."""
    with torch.inference_mode():
        logp = model.logits(torch.cat(layout, dim=1))[0].log_softmax(-1)
        logp[predicting[:text_phase], 6561:6563] = -float("inf")
    return [int(logp[i].argmax()) for i in predicting]


@pytest.mark.slow  # token-by-token tiny-LM generation: seconds each
@pytest.mark.parametrize("piece_size", [1, 3, 12])
def test_bistream_interleaves_five_text_with_fifteen_speech_tokens(piece_size: int) -> None:
    model = llm_parity.tiny_lm()
    text = list(range(100, 112))
    pieces = [text[i : i + piece_size] for i in range(0, len(text), piece_size)]
    out = list(model.inference_bistream(pieces, greedy))
    assert len(out) > 30 and all(t < 6561 for t in out)
    # The same sequence laid out by hand: sos, T0-4, S0-14, T5-9, S15-29, T10-11, task_id, S30...
    s = model.embed_speech(out)
    layout = [model.special(SOS), model.embed_text(text[:5]), s[:, :15], model.embed_text(text[5:10]), s[:, 15:30],
              model.embed_text(text[10:]), model.special(TASK_ID), s[:, 30:]]
    predicting = [*range(5, 5 + 15), *range(25, 25 + 15), *range(43, 43 + len(out) - 30)]
    expected = _teacher_forced_choices(model, layout, predicting, 30)
    assert out[:30] == expected[:30]
    assert out[30:] == expected[30 : len(out)]


@pytest.mark.slow  # token-by-token tiny-LM generation: seconds each
def test_bistream_feeds_the_prompt_speech_first() -> None:
    model = llm_parity.tiny_lm()
    text, prompt_text, prompt_speech = llm_parity.inputs()  # 7 text, 5 prompt text, 12 prompt speech tokens
    out = list(model.inference_bistream([text], greedy, prompt_text, prompt_speech))
    assert len(out) > 3
    # sos, PT0-4, PS0-11, S0-2 (fill after 12+3 = 15 speech tokens), T0-4, S3-17, T5-6, task_id, S18...
    s = model.embed_speech(out)
    layout = [model.special(SOS), model.embed_text(prompt_text), model.embed_speech(prompt_speech), s[:, :3],
              model.embed_text(text[:5]), s[:, 3:18], model.embed_text(text[5:]), model.special(TASK_ID), s[:, 18:]]
    predicting = [*range(17, 20), *range(25, 25 + 15), *range(43, 43 + len(out) - 18)]
    assert out == _teacher_forced_choices(model, layout, predicting, 18)[: len(out)]


def test_no_speaker_embedding_parameters() -> None:
    """CosyVoice2's LM ignores the speaker embedding, so it has no layer for it (the reference check: 0)."""
    assert float(refdata.vectors()["llm.check.embedding_ignored_maxdiff"]) == 0
    assert not any("spk" in k for k in llm_parity.tiny_lm().state_dict())


def test_config_from_dict_ignores_unknown_keys() -> None:
    config = Qwen2Config.from_dict(refdata.manifest()["llm_body_config"])
    assert (config.hidden_size, config.num_key_value_heads, config.rope_theta, config.head_dim) == (896, 2, 1e6, 64)


@pytest.mark.slow  # token-by-token tiny-LM generation: seconds each
def test_bistream_feeds_left_over_prompt_speech_after_task_id() -> None:
    model = llm_parity.tiny_lm()
    prompt_text, prompt_speech, text = [7, 8], list(range(300, 340)), [100, 101, 102, 103, 104, 105]
    out = list(model.inference_bistream([text], greedy, prompt_text, prompt_speech))
    # text (2 + 6) covers one group: sos, PT+T0-2, PS0-14, then T3-5, task_id, PS15-39, S0...
    s = model.embed_speech(out)
    layout = [model.special(SOS), model.embed_text(prompt_text + text[:3]), model.embed_speech(prompt_speech[:15]),
              model.embed_text(text[3:]), model.special(TASK_ID), model.embed_speech(prompt_speech[15:]), s]
    first = 1 + 5 + 15 + 3 + 1 + 25 - 1
    assert out == _teacher_forced_choices(model, layout, list(range(first, first + len(out))), 0)
