"""Reading ``cosyvoice2.yaml`` (HyperPyYAML) into the ``tiny_config.json`` layout, and the real-size build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from parrot.engines.cosyvoice2.flow import CausalMaskedDiffWithXvec
from parrot.engines.cosyvoice2.hift import HiFTGenerator
from parrot.engines.cosyvoice2.hparams import model_config, parse_hyperpyyaml
from parrot.engines.cosyvoice2.llm import Qwen2LM
from parrot.errors import ModelError
from parrot_dev.cosyvoice2 import refdata

# Written for this test in the release's style: seeds, top-level values, !ref arithmetic, nested !new nodes.
YAML = """
__set_seed1: !apply:random.seed [1986]
sample_rate: 24000
llm_input_size: 896
llm_output_size: 896
spk_embed_dim: 192
qwen_pretrain_path: ''
token_frame_rate: 25
token_mel_ratio: 2
chunk_size: 25
num_decoding_left_chunks: -1

llm: !new:cosyvoice.llm.llm.Qwen2LM
    llm_input_size: !ref <llm_input_size>
    llm_output_size: !ref <llm_output_size>
    speech_token_size: 6561
    mix_ratio: [5, 15]
    llm: !new:cosyvoice.llm.llm.Qwen2Encoder
        pretrain_path: !ref <qwen_pretrain_path>
    sampling: !name:cosyvoice.utils.common.ras_sampling
        top_p: 0.8
        top_k: 25
        win_size: 10
        tau_r: 0.1

flow: !new:cosyvoice.flow.flow.CausalMaskedDiffWithXvec
    input_size: 512
    output_size: 80
    spk_embed_dim: !ref <spk_embed_dim>
    output_type: 'mel'
    vocab_size: 6561
    input_frame_rate: !ref <token_frame_rate>
    only_mask_loss: True
    token_mel_ratio: !ref <token_mel_ratio>
    pre_lookahead_len: 3
    encoder: !new:cosyvoice.transformer.upsample_encoder.UpsampleConformerEncoder
        output_size: 512
        attention_heads: 8
        linear_units: 2048
        num_blocks: 6
        dropout_rate: 0.1
        positional_dropout_rate: 0.1
        attention_dropout_rate: 0.1
        normalize_before: True
        input_layer: 'linear'
        pos_enc_layer_type: 'rel_pos_espnet'
        selfattention_layer_type: 'rel_selfattn'
        input_size: 512
        use_cnn_module: False
        macaron_style: False
        static_chunk_size: !ref <chunk_size>
    decoder: !new:cosyvoice.flow.flow_matching.CausalConditionalCFM
        in_channels: 240
        n_spks: 1
        spk_emb_dim: 80
        cfm_params: !new:omegaconf.DictConfig
            content:
                sigma_min: 1e-06
                solver: 'euler'
                t_scheduler: 'cosine'
                training_cfg_rate: 0.2
                inference_cfg_rate: 0.7
                reg_loss_type: 'l1'
        estimator: !new:cosyvoice.flow.decoder.CausalConditionalDecoder
            in_channels: 320
            out_channels: 80
            channels: [256]
            dropout: 0.0
            attention_head_dim: 64
            n_blocks: 4
            num_mid_blocks: 12
            num_heads: 8
            act_fn: 'gelu'
            static_chunk_size: !ref <chunk_size> * <token_mel_ratio>
            num_decoding_left_chunks: !ref <num_decoding_left_chunks>

hift: !new:cosyvoice.hifigan.generator.HiFTGenerator
    in_channels: 80
    base_channels: 512
    nb_harmonics: 8
    sampling_rate: !ref <sample_rate>
    nsf_alpha: 0.1
    nsf_sigma: 0.003
    nsf_voiced_threshold: 10
    upsample_rates: [8, 5, 3]
    upsample_kernel_sizes: [16, 11, 7]
    istft_params:
        n_fft: 16
        hop_len: 4
    resblock_kernel_sizes: [3, 7, 11]
    resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    source_resblock_kernel_sizes: [7, 7, 11]
    source_resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    lrelu_slope: 0.1
    audio_limit: 0.99
    f0_predictor: !new:cosyvoice.hifigan.f0_predictor.ConvRNNF0Predictor
        num_class: 1
        in_channels: 80
        cond_channels: 512

feat_extractor: !name:matcha.utils.audio.mel_spectrogram
    n_fft: 1920
    sampling_rate: !ref <sample_rate>
"""


def test_modules_are_laid_out_like_tiny_config() -> None:
    config = parse_hyperpyyaml(YAML)
    flow, tiny = config["flow"], refdata.tiny_config()
    assert flow["class"] == "cosyvoice.flow.flow.CausalMaskedDiffWithXvec"
    assert flow["kwargs"]["spk_embed_dim"] == 192 and flow["kwargs"]["token_mel_ratio"] == 2
    assert flow["encoder"]["kwargs"]["static_chunk_size"] == 25
    cfm_params = flow["decoder"]["kwargs"]["cfm_params"]
    assert cfm_params["sigma_min"] == 1e-6  # a float (YAML 1.2), not the string "1e-06"
    assert cfm_params == tiny["flow"]["decoder"]["kwargs"]["cfm_params"]
    estimator = flow["decoder"]["estimator"]["kwargs"]
    assert (estimator["static_chunk_size"], estimator["num_decoding_left_chunks"]) == (50, -1)  # <a> * <b>
    assert config["hift"]["kwargs"]["sampling_rate"] == 24000
    assert config["hift"]["f0_predictor"]["kwargs"]["cond_channels"] == 512
    assert config["llm"]["sampling"]["kwargs"] == {"top_p": 0.8, "top_k": 25, "win_size": 10, "tau_r": 0.1}
    for section in ("flow", "hift"):  # the same keys and nesting as the reference data's config
        assert _shape(config[section]) == _shape(tiny[section]) - {"encoder.hardcoded_in_reference", "n_timesteps"}


def _shape(node: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in node.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _shape(value, f"{prefix}{key}.")
    return keys


def test_nothing_in_the_yaml_is_executed() -> None:
    config = parse_hyperpyyaml(YAML.replace("random.seed [1986]", "os.system ['touch /tmp/x']"))
    assert "__set_seed1" not in config


def test_broken_yaml_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="no 'hift' module"):
        parse_hyperpyyaml(YAML.split("hift:")[0])
    with pytest.raises(ModelError, match="cannot parse"):
        parse_hyperpyyaml("llm: [unclosed")


def real_model_dir(tmp_path: Path) -> Path:
    (tmp_path / "cosyvoice2.yaml").write_text(YAML)
    (tmp_path / "CosyVoice-BlankEN").mkdir()
    (tmp_path / "CosyVoice-BlankEN" / "config.json").write_text(json.dumps(refdata.manifest()["llm_body_config"]))
    return tmp_path


def test_real_llm_builds_from_the_model_dir_config(tmp_path: Path) -> None:
    config = model_config(real_model_dir(tmp_path))
    assert config["llm"]["llm_body"]["qwen2_config"]["num_hidden_layers"] == 24
    assert config["flow"]["n_timesteps"] == 10
    with torch.device("meta"):
        model = Qwen2LM.from_config(config["llm"])
    model.load_state_dict(refdata.meta_state_dict("llm.pt"), strict=True, assign=True)


def test_real_flow_and_hift_build_from_the_model_dir_config(tmp_path: Path) -> None:
    config = model_config(real_model_dir(tmp_path))
    for cls, section, checkpoint in ((CausalMaskedDiffWithXvec, "flow", "flow.pt"),
                                     (HiFTGenerator, "hift", "hift.pt")):  # fmt: skip
        with torch.device("meta"):
            module = cls.from_config(config[section])
        module.load_state_dict(refdata.meta_state_dict(checkpoint), strict=True, assign=True)


def test_missing_body_config_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "cosyvoice2.yaml").write_text(YAML)
    with pytest.raises(ModelError, match="config.json"):
        model_config(tmp_path)
