"""Named parity checks of the PyTorch CosyVoice2 re-implementation against the recorded reference vectors.

Each ``Check`` (``checks.py``) computes our tensor and the reference tensor for one vector; the tests assert them
and ``bench/cosyvoice2_parity.py`` prints the table of ``ALL_CHECKS`` (the LLM rows come from ``llm_parity``).
"""

from __future__ import annotations

import functools

import torch

from parrot.engines.cosyvoice2.flow import CausalMaskedDiffWithXvec, euler_schedule, reference_noise
from parrot.engines.cosyvoice2.hift import HiFTGenerator, SourceNoise

from . import refdata
from .checks import Check
from .llm_parity import LLM_CHECKS

FLOW_ATOL = 1e-3
HIFT_ATOL = 1e-4


def _v(key: str) -> torch.Tensor:
    return refdata.vectors()[key]


# ---------------------------------------------------------------------------------------------------------- flow

@functools.cache
def tiny_flow() -> CausalMaskedDiffWithXvec:
    """The tiny reference flow with its float32 weights, in eval mode."""
    return CausalMaskedDiffWithXvec.from_state_dict(refdata.tiny_config()["flow"], refdata.tiny_state("flow"))


def flow_inputs(token_count: int | None = None) -> dict[str, torch.Tensor]:
    """Reference inference arguments (all prompt data; the first ``token_count`` new tokens, default all)."""
    token = _v("flow.in.token")[:, :token_count]
    prompt_token, prompt_feat = _v("flow.in.prompt_token"), _v("flow.in.prompt_feat")
    return {"token": token, "token_len": torch.tensor([token.size(1)]),
            "prompt_token": prompt_token, "prompt_token_len": torch.tensor([prompt_token.size(1)]),
            "prompt_feat": prompt_feat, "prompt_feat_len": torch.tensor([prompt_feat.size(1)]),
            "embedding": _v("flow.in.embedding")}


@functools.cache
def flow_mel(streaming: bool, finalize: bool, token_count: int | None = None) -> torch.Tensor:
    mel, cache = tiny_flow().inference(**flow_inputs(token_count), streaming=streaming, finalize=finalize)
    assert cache is None
    return mel


def _all_tokens() -> torch.Tensor:
    return torch.cat([_v("flow.in.prompt_token"), _v("flow.in.token")], dim=1)


@torch.inference_mode()
def _encoder_out() -> tuple[torch.Tensor, torch.Tensor]:
    return tiny_flow().encode(_all_tokens(), streaming=False, finalize=True), _v("flow.nonstream.encoder_out")


@torch.inference_mode()
def _mu() -> tuple[torch.Tensor, torch.Tensor]:
    model = tiny_flow()
    return model.encoder_proj(model.encode(_all_tokens(), False, True)), _v("flow.nonstream.mu")


@torch.inference_mode()
def _stream_chunk0_mu() -> tuple[torch.Tensor, torch.Tensor]:
    model = tiny_flow()
    tokens = _all_tokens()[:, :_v("flow.in.prompt_token").size(1) + int(_v("flow.stream_chunk0.token_count"))]
    return model.encoder_proj(model.encode(tokens, True, False)), _v("flow.stream_chunk0.mu")


@torch.inference_mode()
def _spk_proj() -> tuple[torch.Tensor, torch.Tensor]:
    return tiny_flow().project_speaker(_v("flow.in.embedding")), _v("flow.nonstream.spk_proj")


@torch.inference_mode()
def _est_step0_out() -> tuple[torch.Tensor, torch.Tensor]:
    """The estimator on the recorded CFG batch of step 0: row 0 conditioned, row 1 with zero mu/speaker/cond."""
    mu = _v("flow.nonstream.mu").transpose(1, 2)
    spks = _v("flow.nonstream.spk_proj")
    cond = torch.zeros_like(mu)
    cond[:, :, :_v("flow.in.prompt_feat").size(1)] = _v("flow.in.prompt_feat").transpose(1, 2)
    ours = tiny_flow().decoder.estimator(
        _v("flow.nonstream.est_step0_x"), torch.cat([mu, torch.zeros_like(mu)]), _v("flow.nonstream.est_step0_t"),
        torch.cat([spks, torch.zeros_like(spks)]), torch.cat([cond, torch.zeros_like(cond)]), streaming=False)
    return ours, _v("flow.nonstream.est_step0_out")


@torch.inference_mode()
def _est_step0_x() -> tuple[torch.Tensor, torch.Tensor]:
    """Both CFG rows start from the fixed noise."""
    x0 = reference_noise()[:, :, :_v("flow.nonstream.mu").size(1)]
    return torch.cat([x0, x0]), _v("flow.nonstream.est_step0_x")


def _est_t_all() -> tuple[torch.Tensor, torch.Tensor]:
    """The t fed to the estimator at each Euler step (accumulated like the sampler does)."""
    return torch.stack([t for t, _ in euler_schedule(tiny_flow().n_timesteps)]), _v("flow.nonstream.est_t_all")


def _noise_first400() -> tuple[torch.Tensor, torch.Tensor]:
    return reference_noise()[:, :, :400], _v("flow.noise.first400")


def _noise_full_sum() -> tuple[torch.Tensor, torch.Tensor]:
    noise = reference_noise()
    if list(noise.shape) != _v("flow.noise.full_shape").tolist():
        return torch.tensor(float("inf")), torch.tensor(0.0)
    return noise.double().sum(), _v("flow.noise.full_sum")


def _mel_check(key: str, streaming: bool, finalize: bool, token_count: int | None = None,
               from_frame: int = 0) -> Check:
    return Check(key, FLOW_ATOL, lambda: (flow_mel(streaming, finalize, token_count)[:, :, from_frame:], _v(key)))


FLOW_CHECKS: list[Check] = [
    Check("flow.noise.first400", 0.0, _noise_first400),
    Check("flow.noise.full_sum", 1e-6, _noise_full_sum),
    Check("flow.nonstream.spk_proj", FLOW_ATOL, _spk_proj),
    Check("flow.nonstream.encoder_out", FLOW_ATOL, _encoder_out),
    Check("flow.nonstream.mu", FLOW_ATOL, _mu),
    Check("flow.nonstream.est_step0_x", 0.0, _est_step0_x),
    Check("flow.nonstream.est_t_all", 1e-7, _est_t_all),
    Check("flow.nonstream.est_step0_out", FLOW_ATOL, _est_step0_out),
    _mel_check("flow.nonstream.mel", streaming=False, finalize=True),
    Check("flow.stream_chunk0.mu", FLOW_ATOL, _stream_chunk0_mu),
    # First streaming call of tts(): hop 25 + prompt pad 5 + lookahead 3 = 33 new tokens, lookahead not decoded.
    _mel_check("flow.stream_chunk0.mel", streaming=True, finalize=False, token_count=33),
    _mel_check("flow.stream_finalize.mel", streaming=True, finalize=True),
    # Last call of tts(): non-streaming over all tokens, keeping frames from token_offset (30) * 2.
    _mel_check("flow.stream_last_as_tts.mel", streaming=False, finalize=True, from_frame=60),
]


# ---------------------------------------------------------------------------------------------------------- HiFT

@functools.cache
def tiny_hift() -> HiFTGenerator:
    """The tiny reference HiFT generator with its float32 weights, in eval mode."""
    return HiFTGenerator.from_state_dict(refdata.tiny_config()["hift"], refdata.tiny_state("hift"))


def recorded_source_noise() -> SourceNoise:
    """The random draws the reference made for ``hift.source``."""
    return SourceNoise(_v("hift.rand.rand_ini"), _v("hift.rand.sine_noise"))


@torch.inference_mode()
def _hift_f0() -> tuple[torch.Tensor, torch.Tensor]:
    return tiny_hift().f0_predictor(_v("hift.in.mel")), _v("hift.f0")


@functools.cache
def _hift_inference() -> tuple[torch.Tensor, torch.Tensor]:
    return tiny_hift().inference(_v("hift.in.mel"), noise=recorded_source_noise())


@torch.inference_mode()
def _hift_decode() -> tuple[torch.Tensor, torch.Tensor]:
    return tiny_hift().decode(_v("hift.in.mel"), _v("hift.source")), _v("hift.decode_given_source")


HIFT_CHECKS: list[Check] = [
    Check("hift.f0", HIFT_ATOL, _hift_f0),
    Check("hift.source", HIFT_ATOL, lambda: (_hift_inference()[1], _v("hift.source"))),
    Check("hift.decode_given_source", HIFT_ATOL, _hift_decode),
    Check("hift.speech", HIFT_ATOL, lambda: (_hift_inference()[0], _v("hift.speech"))),
]

ALL_CHECKS: list[Check] = LLM_CHECKS + FLOW_CHECKS + HIFT_CHECKS
