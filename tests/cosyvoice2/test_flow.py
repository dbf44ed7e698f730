"""CosyVoice2 flow (tokens -> mel): real-size structure and parity with the reference vectors (tiny weights)."""

from __future__ import annotations

import pytest
import torch

from parrot.engines.cosyvoice2.flow import CausalMaskedDiffWithXvec, real_flow_config, reference_noise
from parrot.engines.cosyvoice2.flow_encoder import chunk_attention_mask
from parrot_dev.cosyvoice2 import parity, refdata
from parrot_dev.cosyvoice2.checks import Check


def test_real_size_flow_has_exactly_the_checkpoint_keys_and_shapes() -> None:
    with torch.device("meta"):
        model = CausalMaskedDiffWithXvec.from_config(real_flow_config())
    expected = refdata.real_shapes("flow.pt")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    model.load_state_dict(refdata.meta_state_dict("flow.pt"), strict=True)


def test_real_size_flow_forward_shapes() -> None:
    """The real-size graph runs end to end (on the meta device: shapes only, one Euler step to keep it quick)."""
    with torch.device("meta"):
        model = CausalMaskedDiffWithXvec.from_config(real_flow_config()).eval()
        model.n_timesteps = 1
        mel, _ = model.inference(torch.zeros(1, 28, dtype=torch.long), 28, torch.zeros(1, 10, dtype=torch.long), 10,
                                 torch.zeros(1, 20, 80), 20, torch.zeros(1, 192), streaming=True, finalize=False)
    # 10 prompt + 28 new tokens, the last 3 only lookahead: (10 + 25) * 2 frames minus the 20 prompt frames.
    assert mel.shape == (1, 80, 50)


def test_real_flow_config_agrees_with_the_manifest_hyper_parameters() -> None:
    hp = refdata.manifest()["hyper_parameters"]["flow"]
    cfg = real_flow_config()
    estimator = cfg["decoder"]["estimator"]["kwargs"]
    assert cfg["n_timesteps"] == hp["n_timesteps"]
    assert cfg["decoder"]["kwargs"]["cfm_params"]["inference_cfg_rate"] == hp["inference_cfg_rate"]
    assert cfg["decoder"]["kwargs"]["cfm_params"]["solver"] == hp["solver"]
    assert cfg["encoder"]["kwargs"]["static_chunk_size"] == hp["encoder_static_chunk_size_tokens"]
    assert estimator["static_chunk_size"] == hp["decoder_static_chunk_size_frames"]
    assert estimator["num_decoding_left_chunks"] == hp["num_decoding_left_chunks"]
    assert cfg["kwargs"]["pre_lookahead_len"] == hp["pre_lookahead_len"]
    # The tiny model differs only in sizes.
    tiny = refdata.tiny_config()["flow"]
    assert tiny["decoder"]["kwargs"]["cfm_params"] == cfg["decoder"]["kwargs"]["cfm_params"]
    assert tiny["kwargs"] == cfg["kwargs"]


@pytest.mark.parametrize("check", parity.FLOW_CHECKS, ids=lambda c: c.name)
def test_flow_matches_reference_vector(check: Check) -> None:
    err = check.max_abs_error()
    assert err <= check.atol, f"{check.name}: max abs error {err:.3e} > {check.atol:.0e} (inf: shape mismatch)"


def test_chunk_mask_sees_own_chunk_and_everything_left() -> None:
    expected = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    assert torch.equal(chunk_attention_mask(5, 2), expected.bool())


@pytest.mark.slow  # several tiny-flow runs: seconds each
def test_streaming_and_lookahead_change_the_result() -> None:
    """Guards the parity vectors against being insensitive to the chunk masks and the lookahead context."""
    full = parity.flow_mel(streaming=False, finalize=True)
    chunked = parity.flow_mel(streaming=True, finalize=True)
    assert (full - chunked).abs().max() > 1e-2
    # Without finalize the last 3 tokens only serve as lookahead: 3 tokens fewer are decoded.
    assert parity.flow_mel(streaming=True, finalize=False, token_count=33).shape[2] == 2 * 30


@pytest.mark.slow  # several tiny-flow runs: seconds each
def test_without_prompt_every_token_gives_two_frames() -> None:
    """sft / cross-lingual calls have no prompt speech: empty prompt tokens and mel."""
    model = parity.tiny_flow()
    token = refdata.vectors()["flow.in.token"][:, :10]
    empty = {"prompt_token": torch.zeros(1, 0, dtype=torch.int32), "prompt_token_len": torch.tensor([0]),
             "prompt_feat": torch.zeros(1, 0, 80), "prompt_feat_len": torch.tensor([0])}
    embedding = refdata.vectors()["flow.in.embedding"]
    mel, _ = model.inference(token, 10, **empty, embedding=embedding, streaming=False, finalize=True)
    assert mel.shape == (1, 80, 20) and torch.isfinite(mel).all()
    mel, _ = model.inference(token, 10, **empty, embedding=embedding, streaming=True, finalize=False)
    assert mel.shape == (1, 80, 14)


def test_fixed_noise_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    reference_noise.cache_clear()
    reference_noise()
    assert torch.equal(torch.rand(3), expected)


def test_inference_rejects_inconsistent_lengths() -> None:
    args = parity.flow_inputs()
    args["token_len"] = torch.tensor([args["token"].size(1) - 1])
    with pytest.raises(ValueError, match="token_len"):
        parity.tiny_flow().inference(**args, streaming=False, finalize=True)
