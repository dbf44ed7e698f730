"""Reading ``cosyvoice2.yaml`` (HyperPyYAML) into the ``tiny_config.json`` layout, and the real-size build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import refdata
import torch

from parrot.engines.cosyvoice2.hparams import model_config, parse_hyperpyyaml
from parrot.engines.cosyvoice2.llm import Qwen2LM
from parrot.errors import ModelError

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
    spk_embed_dim: !ref <spk_embed_dim>
    token_mel_ratio: !ref <token_mel_ratio>
    pre_lookahead_len: 3
    encoder: !new:cosyvoice.transformer.upsample_encoder.UpsampleConformerEncoder
        output_size: 512
        static_chunk_size: !ref <chunk_size>
    decoder: !new:cosyvoice.flow.flow_matching.CausalConditionalCFM
        in_channels: 240
        cfm_params: !new:omegaconf.DictConfig
            content:
                sigma_min: 1e-06
                inference_cfg_rate: 0.7
        estimator: !new:cosyvoice.flow.decoder.CausalConditionalDecoder
            channels: [256]
            static_chunk_size: !ref <chunk_size> * <token_mel_ratio>
            num_decoding_left_chunks: !ref <num_decoding_left_chunks>

hift: !new:cosyvoice.hifigan.generator.HiFTGenerator
    sampling_rate: !ref <sample_rate>
    istft_params:
        n_fft: 16
        hop_len: 4
    f0_predictor: !new:cosyvoice.hifigan.f0_predictor.ConvRNNF0Predictor
        cond_channels: 512

feat_extractor: !name:matcha.utils.audio.mel_spectrogram
    n_fft: 1920
    sampling_rate: !ref <sample_rate>
"""


def test_modules_are_laid_out_like_tiny_config() -> None:
    config = parse_hyperpyyaml(YAML)
    flow = config["flow"]
    assert flow["class"] == "cosyvoice.flow.flow.CausalMaskedDiffWithXvec"
    assert flow["kwargs"] == {"input_size": 512, "spk_embed_dim": 192, "token_mel_ratio": 2, "pre_lookahead_len": 3}
    assert flow["encoder"]["kwargs"] == {"output_size": 512, "static_chunk_size": 25}
    cfm_params = {"sigma_min": 1e-6, "inference_cfg_rate": 0.7}  # 1e-06 is a float (YAML 1.2), not a string
    assert flow["decoder"]["kwargs"] == {"in_channels": 240, "cfm_params": cfm_params}
    assert flow["decoder"]["estimator"]["kwargs"] == {"channels": [256], "static_chunk_size": 50,
                                                      "num_decoding_left_chunks": -1}  # fmt: skip
    assert config["hift"]["kwargs"] == {"sampling_rate": 24000, "istft_params": {"n_fft": 16, "hop_len": 4}}
    assert config["hift"]["f0_predictor"]["kwargs"] == {"cond_channels": 512}
    assert config["llm"]["sampling"]["kwargs"] == {"top_p": 0.8, "top_k": 25, "win_size": 10, "tau_r": 0.1}
    tiny = refdata.tiny_config()  # same nesting as the reference data's config
    assert set(tiny["flow"]["decoder"]) == set(flow["decoder"]) and set(tiny["hift"]) == set(config["hift"])


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


def test_missing_body_config_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "cosyvoice2.yaml").write_text(YAML)
    with pytest.raises(ModelError, match="config.json"):
        model_config(tmp_path)
