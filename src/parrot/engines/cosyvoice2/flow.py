"""CosyVoice2 flow: speech tokens -> 80-bin mel spectrogram (``CausalMaskedDiffWithXvec``).

Pipeline (batch 1, as in the reference inference):

1. the speaker x-vector is L2-normalised and projected 192 -> 80;
2. prompt tokens and new tokens are embedded and encoded by ``UpsampleConformerEncoder`` (25 Hz -> 50 Hz) and
   projected to 80 channels (``mu``);
3. ``CausalConditionalCFM`` integrates the flow-matching ODE from fixed noise with 10 Euler steps on a cosine time
   schedule and classifier-free guidance, conditioned on ``mu``, the speaker and the prompt mel;
4. the prompt's mel frames are dropped from the result.

``from_config`` takes the ``flow`` section of ``tiny_config.json``; ``real_flow_config()`` returns the same
structure for the released CosyVoice2-0.5B ``flow.pt``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from parrot.engines.cosyvoice2.flow_decoder import CausalConditionalDecoder
from parrot.engines.cosyvoice2.flow_encoder import UpsampleConformerEncoder

#: Seed and size of the reference's fixed decoder noise (``torch.manual_seed(0); torch.randn(1, 80, 15000)``).
NOISE_SEED = 0
NOISE_SHAPE = (1, 80, 50 * 300)

_REAL_FLOW_CONFIG: dict = {
    "class": "cosyvoice.flow.flow.CausalMaskedDiffWithXvec",
    "kwargs": {"input_size": 512, "output_size": 80, "spk_embed_dim": 192, "output_type": "mel",
               "vocab_size": 6561, "input_frame_rate": 25, "only_mask_loss": True, "token_mel_ratio": 2,
               "pre_lookahead_len": 3},
    "encoder": {
        "class": "cosyvoice.transformer.upsample_encoder.UpsampleConformerEncoder",
        "kwargs": {"input_size": 512, "output_size": 512, "attention_heads": 8, "linear_units": 2048,
                   "num_blocks": 6, "dropout_rate": 0.1, "positional_dropout_rate": 0.1,
                   "attention_dropout_rate": 0.1, "normalize_before": True, "input_layer": "linear",
                   "pos_enc_layer_type": "rel_pos_espnet", "selfattention_layer_type": "rel_selfattn",
                   "use_cnn_module": False, "macaron_style": False, "static_chunk_size": 25},
    },
    "decoder": {
        "class": "cosyvoice.flow.flow_matching.CausalConditionalCFM",
        "kwargs": {"in_channels": 240, "n_spks": 1, "spk_emb_dim": 80,
                   "cfm_params": {"sigma_min": 1e-06, "solver": "euler", "t_scheduler": "cosine",
                                  "training_cfg_rate": 0.2, "inference_cfg_rate": 0.7, "reg_loss_type": "l1"}},
        "estimator": {
            "class": "cosyvoice.flow.decoder.CausalConditionalDecoder",
            "kwargs": {"in_channels": 320, "out_channels": 80, "channels": [256], "dropout": 0.0,
                       "attention_head_dim": 64, "n_blocks": 4, "num_mid_blocks": 12, "num_heads": 8,
                       "act_fn": "gelu", "static_chunk_size": 50, "num_decoding_left_chunks": -1},
        },
    },
    "n_timesteps": 10,
}


def real_flow_config() -> dict:
    """Flow config of the released CosyVoice2-0.5B (``cosyvoice2.yaml``), in the ``tiny_config.json`` layout."""
    return copy.deepcopy(_REAL_FLOW_CONFIG)


@functools.lru_cache(maxsize=1)
def reference_noise() -> torch.Tensor:
    """The fixed starting noise ``[1, 80, 15000]`` (CPU), drawn from a private generator seeded like the reference."""
    generator = torch.Generator(device="cpu").manual_seed(NOISE_SEED)
    return torch.randn(NOISE_SHAPE, generator=generator, device="cpu")


def euler_schedule(n_timesteps: int, dtype: torch.dtype = torch.float32,
                   device: torch.device | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(t, dt)`` of each Euler step on the cosine schedule ``t_k = 1 - cos(k/n * pi/2)``.

    Same arithmetic as the reference: ``t`` accumulates ``dt`` and each ``dt`` is measured from the accumulated ``t``
    (so the values match it bit for bit, not just the closed form).
    """
    span = 1 - torch.cos(torch.linspace(0, 1, n_timesteps + 1, device=device, dtype=dtype) * 0.5 * torch.pi)
    t, dt = span[0], span[1] - span[0]
    steps = []
    for step in range(1, n_timesteps + 1):
        steps.append((t, dt))
        t = t + dt
        if step < n_timesteps:
            dt = span[step + 1] - t
    return steps


class CausalConditionalCFM(nn.Module):
    """Conditional flow matching sampler: Euler integration with classifier-free guidance.

    Each step runs the estimator once on a batch of two: the conditioned row ``(x, mu, spks, cond)`` and the
    unconditioned row ``(x, 0, 0, 0)``; the velocity is ``(1 + rate) * v_cond - rate * v_uncond``.
    """

    def __init__(self, estimator: CausalConditionalDecoder, inference_cfg_rate: float = 0.7,
                 t_scheduler: str = "cosine") -> None:
        super().__init__()
        if t_scheduler != "cosine":
            raise ValueError(f"unsupported t_scheduler {t_scheduler!r} (only 'cosine')")
        self.estimator = estimator
        self.inference_cfg_rate = inference_cfg_rate

    @classmethod
    def from_config(cls, cfg: dict) -> CausalConditionalCFM:
        """Build from the ``flow.decoder`` section (CFM kwargs plus its ``estimator``)."""
        params = cfg["kwargs"]["cfm_params"]
        if params.get("solver", "euler") != "euler":
            raise ValueError(f"unsupported solver {params['solver']!r} (only 'euler')")
        estimator = CausalConditionalDecoder.from_kwargs(cfg["estimator"]["kwargs"])
        return cls(estimator, inference_cfg_rate=params["inference_cfg_rate"], t_scheduler=params["t_scheduler"])

    def guided_velocity(self, x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, spks: torch.Tensor,
                        cond: torch.Tensor, streaming: bool) -> torch.Tensor:
        """Classifier-free-guided velocity for one sequence (``x``, ``mu``, ``cond`` ``[1, 80, T]``, ``t`` scalar)."""
        v = self.estimator(
            torch.cat([x, x]), torch.cat([mu, torch.zeros_like(mu)]), t.reshape(1).expand(2),
            torch.cat([spks, torch.zeros_like(spks)]), torch.cat([cond, torch.zeros_like(cond)]), streaming)
        v_cond, v_uncond = v.split(x.size(0))
        return (1.0 + self.inference_cfg_rate) * v_cond - self.inference_cfg_rate * v_uncond

    def forward(self, mu: torch.Tensor, spks: torch.Tensor, cond: torch.Tensor, n_timesteps: int = 10,
                streaming: bool = False, temperature: float = 1.0) -> torch.Tensor:
        """Sample a mel ``[1, 80, T]`` given ``mu`` and ``cond`` ``[1, 80, T]`` and ``spks`` ``[1, 80]``."""
        length = mu.size(2)
        if length > NOISE_SHAPE[2]:
            raise ValueError(f"at most {NOISE_SHAPE[2]} mel frames per call, got {length}")
        x = reference_noise()[:, :, :length].to(device=mu.device, dtype=mu.dtype) * temperature
        for t, dt in euler_schedule(n_timesteps, mu.dtype, mu.device):
            x = x + dt * self.guided_velocity(x, mu, t, spks, cond, streaming)
        return x


class CausalMaskedDiffWithXvec(nn.Module):
    """Token-to-mel flow of CosyVoice2 (encoder + conditional flow matching), inference only."""

    def __init__(self, encoder: UpsampleConformerEncoder, decoder: CausalConditionalCFM, vocab_size: int = 6561,
                 input_size: int = 512, output_size: int = 80, spk_embed_dim: int = 192, token_mel_ratio: int = 2,
                 pre_lookahead_len: int = 3, n_timesteps: int = 10) -> None:
        super().__init__()
        if token_mel_ratio != encoder.up_layer.stride:
            raise ValueError(f"token_mel_ratio {token_mel_ratio} must equal the encoder's upsampling stride")
        self.output_size = output_size
        self.pre_lookahead_len = pre_lookahead_len
        self.n_timesteps = n_timesteps
        self.input_embedding = nn.Embedding(vocab_size, input_size)
        self.spk_embed_affine_layer = nn.Linear(spk_embed_dim, output_size)
        self.encoder = encoder
        self.encoder_proj = nn.Linear(encoder.output_size, output_size)
        self.decoder = decoder

    @classmethod
    def from_config(cls, cfg: dict) -> CausalMaskedDiffWithXvec:
        """Build from the ``flow`` section of ``tiny_config.json`` (or ``real_flow_config()``)."""
        kw = cfg["kwargs"]
        if kw.get("output_type", "mel") != "mel":
            raise ValueError(f"unsupported output_type {kw['output_type']!r}")
        encoder = UpsampleConformerEncoder.from_kwargs(cfg["encoder"]["kwargs"], kw["pre_lookahead_len"])
        return cls(encoder, CausalConditionalCFM.from_config(cfg["decoder"]), vocab_size=kw["vocab_size"],
                   input_size=kw["input_size"], output_size=kw["output_size"], spk_embed_dim=kw["spk_embed_dim"],
                   token_mel_ratio=kw["token_mel_ratio"], pre_lookahead_len=kw["pre_lookahead_len"],
                   n_timesteps=cfg.get("n_timesteps", 10))

    @classmethod
    def from_state_dict(cls, cfg: dict, state: Mapping[str, torch.Tensor]) -> CausalMaskedDiffWithXvec:
        """Build from ``cfg`` and adopt the tensors of ``state`` (e.g. ``flow.pt``; strict), in eval mode.

        The modules are created on the meta device, so the 112M parameters of the real model are never randomly
        initialised; the model takes the state's tensors as they are (their dtype and device).
        """
        with torch.device("meta"):
            model = cls.from_config(cfg)
        model.load_state_dict(state, strict=True, assign=True)
        return model.eval()

    def project_speaker(self, embedding: torch.Tensor) -> torch.Tensor:
        """``[1, 192]`` x-vector -> ``[1, 80]`` speaker condition."""
        return self.spk_embed_affine_layer(F.normalize(embedding, dim=1))

    def encode(self, tokens: torch.Tensor, streaming: bool, finalize: bool) -> torch.Tensor:
        """Encoder output ``[1, T_mel, 512]`` for all tokens ``[1, N]`` (prompt + new).

        Unless ``finalize``, the last ``pre_lookahead_len`` tokens are only lookahead context and produce no frames.
        """
        embedded = self.input_embedding(torch.clamp(tokens, min=0))
        if finalize:
            return self.encoder(embedded, streaming=streaming)
        split = embedded.size(1) - self.pre_lookahead_len
        return self.encoder(embedded[:, :split], context=embedded[:, split:], streaming=streaming)

    @staticmethod
    def _check_lengths(name: str, values: torch.Tensor, lengths: torch.Tensor | int, dim: int = 1) -> None:
        if values.size(0) != 1:
            raise ValueError(f"flow inference takes a batch of one, got {name} with batch {values.size(0)}")
        length = lengths if isinstance(lengths, int) else int(lengths.reshape(-1)[0])
        if length != values.size(dim):
            raise ValueError(f"{name}_len {length} does not match the length of {name} ({values.size(dim)})")

    @torch.inference_mode()
    def inference(self, token: torch.Tensor, token_len: torch.Tensor | int, prompt_token: torch.Tensor,
                  prompt_token_len: torch.Tensor | int, prompt_feat: torch.Tensor, prompt_feat_len: torch.Tensor | int,
                  embedding: torch.Tensor, streaming: bool, finalize: bool) -> tuple[torch.Tensor, None]:
        """Mel ``[1, 80, T]`` for ``token`` ``[1, N]``, conditioned on the prompt and speaker (reference semantics).

        ``prompt_token`` ``[1, P]`` and ``prompt_feat`` ``[1, 2P, 80]`` are the prompt's tokens and mel frames
        (possibly empty), ``embedding`` ``[1, 192]`` the speaker x-vector. The prompt frames are removed from the
        output. ``streaming`` uses chunk masks; ``finalize=False`` treats the last 3 tokens as lookahead only (their
        frames are produced by the next call). The second element is always None (the reference's unused cache).
        """
        self._check_lengths("token", token, token_len)
        self._check_lengths("prompt_token", prompt_token, prompt_token_len)
        self._check_lengths("prompt_feat", prompt_feat, prompt_feat_len)
        spks = self.project_speaker(embedding)
        tokens = torch.cat([prompt_token, token], dim=1)
        mu = self.encoder_proj(self.encode(tokens, streaming, finalize))
        prompt_frames = prompt_feat.size(1)
        cond = torch.zeros(1, mu.size(1), self.output_size, device=mu.device, dtype=mu.dtype)
        cond[:, :prompt_frames] = prompt_feat
        mel = self.decoder(mu.transpose(1, 2).contiguous(), spks, cond.transpose(1, 2).contiguous(),
                           n_timesteps=self.n_timesteps, streaming=streaming)
        return mel[:, :, prompt_frames:].float(), None

