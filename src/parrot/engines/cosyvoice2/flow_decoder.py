"""Vector-field estimator of the CosyVoice2 flow: ``CausalConditionalDecoder``.

A 1-D U-Net over mel frames (causal convolutions, ResNet blocks conditioned on the flow time, transformer blocks)
that predicts the flow-matching velocity from ``x`` (current sample), ``mu`` (encoder output), the projected speaker
embedding and the prompt-mel condition. CosyVoice2 uses a single resolution stage (``channels=[256]``), so there is
no down/up-sampling; other layouts are rejected rather than half-supported.

Parameter names follow the reference ``flow.pt`` state dict (``down_blocks.0.0`` = ResNet, ``.1.N`` = transformer
blocks, ``.2`` = closing causal convolution, likewise for ``mid_blocks`` and ``up_blocks``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from parrot.engines.cosyvoice2.flow_encoder import chunk_attention_mask


def timestep_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[B, dim]`` of the flow time ``t`` ``[B]`` (sin half then cos half)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device).float() * -(math.log(10000) / (half - 1)))
    args = scale * t.unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat((args.sin(), args.cos()), dim=-1)


class CausalConv1d(nn.Conv1d):
    """Stride-1 convolution padded on the left only, so frame ``t`` never sees frames after ``t``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size)
        self.causal_padding = kernel_size - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T]`` -> ``[B, C_out, T]``."""
        return super().forward(F.pad(x, (self.causal_padding, 0)))


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of a ``[B, C, T]`` tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each frame's channel vector."""
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class CausalBlock1D(nn.Module):
    """Causal conv (k=3) -> LayerNorm over channels -> Mish."""

    def __init__(self, dim: int, dim_out: int) -> None:
        super().__init__()
        # Indices 0 and 2 carry the parameters, as in the reference (1 and 3 were transposes).
        self.block = nn.Sequential(CausalConv1d(dim, dim_out, 3), nn.Identity(), ChannelLayerNorm(dim_out),
                                   nn.Identity(), nn.Mish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, dim, T]`` -> ``[B, dim_out, T]``."""
        return self.block(x)


class CausalResnetBlock1D(nn.Module):
    """Two causal blocks with the time embedding added in between, plus a 1x1 residual projection."""

    def __init__(self, dim: int, dim_out: int, time_emb_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Mish(), nn.Linear(time_emb_dim, dim_out))
        self.block1 = CausalBlock1D(dim, dim_out)
        self.block2 = CausalBlock1D(dim_out, dim_out)
        self.res_conv = nn.Conv1d(dim, dim_out, 1)

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, dim, T]``, ``time_emb`` ``[B, time_emb_dim]`` -> ``[B, dim_out, T]``."""
        h = self.block1(x) + self.mlp(time_emb).unsqueeze(-1)
        return self.block2(h) + self.res_conv(x)


class TimestepMLP(nn.Module):
    """Linear -> SiLU -> Linear on the sinusoidal time embedding."""

    def __init__(self, in_channels: int, time_embed_dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels]`` -> ``[B, time_embed_dim]``."""
        return self.linear_2(F.silu(self.linear_1(x)))


class SelfAttention(nn.Module):
    """Multi-head self-attention without q/k/v biases (diffusers ``Attention`` layout: ``to_q``..``to_out.0``)."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """``x`` ``[B, T, dim]``; ``bias`` is an additive ``[T, T]`` attention bias or None."""
        batch, length, _ = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(batch, length, self.heads, -1).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.to_q(x)), split(self.to_k(x)), split(self.to_v(x)),
                                             attn_mask=bias)
        return self.to_out[0](out.transpose(1, 2).reshape(batch, length, -1))


class GELUProjection(nn.Module):
    """Linear followed by exact GELU (diffusers ``GELU`` activation module)."""

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project then apply GELU."""
        return F.gelu(self.proj(x))


class FeedForward(nn.Module):
    """GELU feed-forward with a 4x hidden width (``net.0.proj`` and ``net.2``)."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(GELUProjection(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply along the last dimension."""
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-norm self-attention + feed-forward block (Matcha ``BasicTransformerBlock`` with layer norms)."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = SelfAttention(dim, heads, dim_head)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """``[B, T, dim]`` -> ``[B, T, dim]``."""
        x = x + self.attn1(self.norm1(x), bias)
        return x + self.ff(self.norm3(x))


class CausalConditionalDecoder(nn.Module):
    """Flow-matching velocity estimator (single-stage causal U-Net with transformer blocks).

    Inputs are stacked on the channel axis: ``x``, ``mu``, speaker embedding (repeated over time) and ``cond``, each
    ``out_channels`` wide, so ``in_channels`` is ``4 * out_channels``.
    """

    def __init__(self, in_channels: int = 320, out_channels: int = 80, channels: tuple[int, ...] = (256,),
                 attention_head_dim: int = 64, n_blocks: int = 4, num_mid_blocks: int = 12, num_heads: int = 8,
                 static_chunk_size: int = 50) -> None:
        super().__init__()
        if len(channels) != 1:
            raise ValueError("only the single-stage layout used by CosyVoice2 (one entry in channels) is supported")
        ch = channels[0]
        time_dim = ch * 4
        self.in_channels = in_channels
        self.static_chunk_size = static_chunk_size
        self.time_mlp = TimestepMLP(in_channels, time_dim)

        def stage(dim_in: int, closing_conv: bool) -> nn.ModuleList:
            parts: list[nn.Module] = [
                CausalResnetBlock1D(dim_in, ch, time_dim),
                nn.ModuleList(TransformerBlock(ch, num_heads, attention_head_dim) for _ in range(n_blocks)),
            ]
            if closing_conv:
                parts.append(CausalConv1d(ch, ch, 3))
            return nn.ModuleList(parts)

        self.down_blocks = nn.ModuleList([stage(in_channels, True)])
        self.mid_blocks = nn.ModuleList(stage(ch, False) for _ in range(num_mid_blocks))
        self.up_blocks = nn.ModuleList([stage(2 * ch, True)])
        self.final_block = CausalBlock1D(ch, ch)
        self.final_proj = nn.Conv1d(ch, out_channels, 1)

    @classmethod
    def from_kwargs(cls, kwargs: dict) -> CausalConditionalDecoder:
        """Build from the reference constructor arguments (``flow.decoder.estimator.kwargs``)."""
        if kwargs.get("act_fn", "gelu") != "gelu":
            raise ValueError(f"unsupported estimator activation {kwargs['act_fn']!r} (only 'gelu')")
        if kwargs.get("num_decoding_left_chunks", -1) >= 0:
            raise ValueError("limited left context is not supported (reference uses all left chunks)")
        return cls(in_channels=kwargs["in_channels"], out_channels=kwargs["out_channels"],
                   channels=tuple(kwargs["channels"]), attention_head_dim=kwargs["attention_head_dim"],
                   n_blocks=kwargs["n_blocks"], num_mid_blocks=kwargs["num_mid_blocks"],
                   num_heads=kwargs["num_heads"], static_chunk_size=kwargs["static_chunk_size"])

    @staticmethod
    def _stage(stage: nn.ModuleList, x: torch.Tensor, t: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """ResNet block then transformer blocks (channels-first in and out)."""
        h = stage[0](x, t).transpose(1, 2)
        for block in stage[1]:
            h = block(h, bias)
        return h.transpose(1, 2)

    def forward(self, x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, spks: torch.Tensor, cond: torch.Tensor,
                streaming: bool = False) -> torch.Tensor:
        """Velocity ``[B, out, T]`` for ``x``, ``mu``, ``cond`` ``[B, out, T]``, ``t`` ``[B]``, ``spks`` ``[B, out]``.

        With ``streaming`` the transformer blocks use static chunk masks of ``static_chunk_size`` frames.
        """
        t_emb = self.time_mlp(timestep_embedding(t, self.in_channels).to(t.dtype))
        h = torch.cat([x, mu, spks.unsqueeze(-1).expand(-1, -1, x.size(-1)), cond], dim=1)
        bias = None
        if streaming:
            allowed = chunk_attention_mask(x.size(-1), self.static_chunk_size, x.device)
            bias = (1.0 - allowed.to(x.dtype)) * -1.0e10

        down = self.down_blocks[0]
        skip = self._stage(down, h, t_emb, bias)
        h = down[2](skip)
        for mid in self.mid_blocks:
            h = self._stage(mid, h, t_emb, bias)
        up = self.up_blocks[0]
        h = up[2](self._stage(up, torch.cat([h, skip], dim=1), t_emb, bias))
        return self.final_proj(self.final_block(h))
