"""A self-contained Qwen2 decoder (the text-speech LM body of CosyVoice2) in plain PyTorch.

Pre-norm decoder blocks: RMSNorm, grouped-query self-attention with q/k/v biases and rotary position
embeddings, and a SiLU-gated MLP. Module and parameter names follow Hugging Face's ``Qwen2ForCausalLM``
so the released checkpoint loads strictly (``model.embed_tokens``, ``model.layers.N.self_attn.q_proj``,
``model.norm``, ``lm_head``). It does not depend on ``transformers``: the reference's cached decoding
loop relies on mask semantics that changed in transformers 5.x, so the cache is managed here explicitly
(``KVCache``), one per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Qwen2Config:
    """The hyper-parameters of a Qwen2 body (a subset of Hugging Face's ``config.json``)."""

    hidden_size: int = 896
    intermediate_size: int = 4864
    num_hidden_layers: int = 24
    num_attention_heads: int = 14
    num_key_value_heads: int = 2
    vocab_size: int = 151936
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = True

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Qwen2Config:
        """Pick the known keys out of a Hugging Face style config dict; the rest is ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


@dataclass
class KVCache:
    """Past keys and values of every layer for one sequence (``[1, kv_heads, T, head_dim]`` each)."""

    keys: list[torch.Tensor | None] = field(default_factory=list)
    values: list[torch.Tensor | None] = field(default_factory=list)

    @property
    def length(self) -> int:
        """How many positions are cached."""
        return 0 if not self.keys or self.keys[0] is None else self.keys[0].size(2)

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's keys/values for ``layer``; return everything cached for it so far."""
        while len(self.keys) <= layer:
            self.keys.append(None)
            self.values.append(None)
        past_key, past_value = self.keys[layer], self.values[layer]
        if past_key is not None and past_value is not None:
            key = torch.cat([past_key, key], dim=2)
            value = torch.cat([past_value, value], dim=2)
        self.keys[layer], self.values[layer] = key, value
        return key, value


class RMSNorm(nn.Module):
    """Root-mean-square layer norm with a learned scale (computed in float32)."""

    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding: cos/sin tables for given positions.

    The inverse frequencies are recomputed per call (a few dozen values) rather than kept in a buffer,
    so a model built on the meta device and then loaded with ``assign=True`` needs no fix-up.
    """

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta

    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cos, sin)``, each ``[T, head_dim]``, for integer ``positions`` ``[T]``."""
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.int64, device=positions.device).float()
        inv_freq = 1.0 / (self.theta ** (exponents / self.head_dim))
        freqs = positions.float()[:, None] * inv_freq[None, :]
        angles = torch.cat([freqs, freqs], dim=-1)
        return angles.cos().to(dtype), angles.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` ``[B, heads, T, head_dim]`` by the angles in ``cos``/``sin`` ``[T, head_dim]``."""
    return x * cos + _rotate_half(x) * sin


class Qwen2Attention(nn.Module):
    """Grouped-query self-attention with biased q/k/v projections and rotary positions."""

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        hidden = config.hidden_size
        self.q_proj = nn.Linear(hidden, self.num_heads * self.head_dim, bias=True)
        self.k_proj = nn.Linear(hidden, self.num_kv_heads * self.head_dim, bias=True)
        self.v_proj = nn.Linear(hidden, self.num_kv_heads * self.head_dim, bias=True)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, hidden, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        cache: KVCache | None,
        layer: int,
    ) -> torch.Tensor:
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)  # kv heads shared by groups
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


class Qwen2MLP(nn.Module):
    """SiLU-gated feed-forward: ``down(silu(gate(x)) * up(x))``."""

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Qwen2DecoderLayer(nn.Module):
    """One pre-norm block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``."""

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.self_attn = Qwen2Attention(config)
        self.mlp = Qwen2MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        cache: KVCache | None,
        layer: int,
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), rotary, mask, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


def causal_mask(length: int, past: int, device: torch.device) -> torch.Tensor | None:
    """Boolean ``[length, past + length]`` mask (True = may attend); None when a single query sees everything."""
    if length == 1:
        return None
    return torch.ones(length, past + length, dtype=torch.bool, device=device).tril(diagonal=past)


class Qwen2Model(nn.Module):
    """Token embedding, the decoder stack and the final norm (``Qwen2ForCausalLM.model``)."""

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(Qwen2DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config.head_dim, config.rope_theta)

    def forward(self, inputs_embeds: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Last hidden state (after the final norm) ``[1, T, hidden]`` for ``inputs_embeds`` ``[1, T, hidden]``.

        With a ``cache``, the inputs continue the cached sequence (positions start at ``cache.length``)
        and their keys/values are appended to it.
        """
        past = cache.length if cache is not None else 0
        length = inputs_embeds.size(1)
        positions = torch.arange(past, past + length, device=inputs_embeds.device)
        rotary = self.rotary_emb(positions, inputs_embeds.dtype)
        mask = causal_mask(length, past, inputs_embeds.device)
        x = inputs_embeds
        for index, layer in enumerate(self.layers):
            x = layer(x, rotary, mask, cache, index)
        return self.norm(x)


class Qwen2ForCausalLM(nn.Module):
    """``Qwen2Model`` plus its text ``lm_head`` (tied to the embedding when the config says so).

    CosyVoice2 never uses ``lm_head`` (speech tokens come from its own decoder); it exists so the
    checkpoint's ``lm_head.weight`` key loads strictly.
    """

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__()
        self.model = Qwen2Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, inputs_embeds: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The body's last hidden state (see ``Qwen2Model.forward``)."""
        return self.model(inputs_embeds, cache)
