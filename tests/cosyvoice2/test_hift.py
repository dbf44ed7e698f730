"""CosyVoice2 HiFT vocoder (mel -> waveform): real-size structure, checkpoint names, parity with the reference."""

from __future__ import annotations

import pytest
import torch

from parrot.engines.cosyvoice2.hift import HiFTGenerator, SourceNoise, normalize_hift_state_dict, real_hift_config
from parrot_dev.cosyvoice2 import parity, refdata
from parrot_dev.cosyvoice2.checks import Check

SEED = 20250104  # the seed the reference set before HiFTGenerator.inference


def _legacy_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same tensors under pre-parametrization weight-norm names, saved from the GAN wrapper."""
    renamed = {}
    for key, value in state.items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        renamed["generator." + key.replace("parametrizations.weight.original1", "weight_v")] = value
    return renamed


def test_real_size_hift_has_exactly_the_checkpoint_keys_and_shapes() -> None:
    with torch.device("meta"):
        model = HiFTGenerator.from_config(real_hift_config())
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == refdata.real_shapes("hift.pt")
    model.load_state_dict(refdata.meta_state_dict("hift.pt"), strict=True)
    model.load_reference_state_dict(_legacy_names(refdata.meta_state_dict("hift.pt")), strict=True)


def test_real_hift_config_agrees_with_the_manifest_hyper_parameters() -> None:
    hp = refdata.manifest()["hyper_parameters"]["hift"]
    kw = real_hift_config()["kwargs"]
    assert kw["upsample_rates"] == hp["upsample_rates"]
    assert (kw["istft_params"]["n_fft"], kw["istft_params"]["hop_len"]) == (hp["istft_n_fft"], hp["istft_hop"])
    assert kw["nb_harmonics"] == hp["nb_harmonics"] and kw["audio_limit"] == hp["audio_limit"]
    assert kw["sampling_rate"] == refdata.manifest()["hyper_parameters"]["sample_rate"]
    # The tiny model keeps every rate, kernel and iSTFT setting; only the widths shrink.
    tiny = dict(refdata.tiny_config()["hift"]["kwargs"])
    assert tiny.pop("base_channels") < kw.pop("base_channels")
    assert tiny == kw


def test_real_size_hift_runs_at_480_samples_per_frame() -> None:
    model = HiFTGenerator.from_config(real_hift_config()).eval()
    assert model.upsample_scale == refdata.manifest()["hyper_parameters"]["hift"]["samples_per_mel_frame"]
    speech, source = model.inference(torch.randn(1, 80, 2, generator=torch.Generator().manual_seed(1)),
                                     generator=torch.Generator().manual_seed(2))
    assert speech.shape == (1, 960) and source.shape == (1, 1, 960)
    assert torch.isfinite(speech).all() and speech.abs().max() <= 0.99


def test_fused_weight_norm_gives_the_same_audio() -> None:
    vec = refdata.vectors()
    model = HiFTGenerator.from_config(refdata.tiny_config()["hift"]).eval()
    model.load_state_dict(refdata.tiny_state("hift"))
    model.fuse_weight_norm()
    assert not any("parametrizations" in key for key in model.state_dict())
    with torch.inference_mode():
        speech = model.decode(vec["hift.in.mel"], vec["hift.source"])
    assert (speech - vec["hift.decode_given_source"]).abs().max() <= parity.HIFT_ATOL


def test_legacy_weight_norm_names_load_the_same_weights() -> None:
    state = refdata.tiny_state("hift")
    legacy = _legacy_names(state)
    assert any(k.endswith(".weight_g") for k in legacy) and any(k.endswith(".weight_v") for k in legacy)
    assert normalize_hift_state_dict(legacy).keys() == state.keys()
    model = HiFTGenerator.from_config(refdata.tiny_config()["hift"])
    model.load_reference_state_dict(legacy)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("check", parity.HIFT_CHECKS, ids=lambda c: c.name)
def test_hift_matches_reference_vector(check: Check) -> None:
    err = check.max_abs_error()
    assert err <= check.atol, f"{check.name}: max abs error {err:.3e} > {check.atol:.0e} (inf: shape mismatch)"


def test_seeded_generator_makes_the_reference_draws() -> None:
    vec = refdata.vectors()
    noise = SourceNoise.draw(1, 14400, 9, torch.Generator().manual_seed(SEED))
    assert torch.equal(noise.rand_ini, vec["hift.rand.rand_ini"])
    assert torch.equal(noise.sine_noise, vec["hift.rand.sine_noise"])
    _, source = parity.tiny_hift().inference(vec["hift.in.mel"], generator=torch.Generator().manual_seed(SEED))
    assert (source - vec["hift.source"]).abs().max() <= parity.HIFT_ATOL


def test_generator_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    parity.tiny_hift().inference(refdata.vectors()["hift.in.mel"][:, :, :4], generator=torch.Generator())
    assert torch.equal(torch.rand(3), expected)


def test_voiced_fraction_and_output_range() -> None:
    vec = refdata.vectors()
    with torch.inference_mode():
        f0 = parity.tiny_hift().f0_predictor(vec["hift.in.mel"])
    assert (f0 > 10).float().mean() == pytest.approx(float(vec["hift.uv_fraction"]))
    speech, source = parity.tiny_hift().inference(vec["hift.in.mel"], noise=parity.recorded_source_noise())
    assert speech.shape == (1, 480 * 30) and source.shape == (1, 1, 480 * 30)
    assert speech.abs().max() <= 0.99


def test_cache_source_overwrites_the_start_of_the_excitation() -> None:
    vec = refdata.vectors()
    cache = torch.full((1, 1, 960), 0.25)
    speech, source = parity.tiny_hift().inference(vec["hift.in.mel"], cache, noise=parity.recorded_source_noise())
    assert torch.equal(source[:, :, :960], cache)
    assert (source[:, :, 960:] - vec["hift.source"][:, :, 960:]).abs().max() <= parity.HIFT_ATOL
    assert (speech - vec["hift.speech"]).abs().max() > 1e-3
