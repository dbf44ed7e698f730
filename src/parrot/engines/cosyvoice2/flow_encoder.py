"""Token encoder of the CosyVoice2 flow: ``UpsampleConformerEncoder``.

Speech-token embeddings (25 Hz) go through a linear input layer, a pre-lookahead convolution, conformer blocks with
relative-position self-attention, a x2 upsampler and four more conformer blocks, giving 50 Hz frames (one per mel
frame). With ``streaming=True`` attention is restricted by static chunk masks (each position sees its own chunk and
every chunk to its left), which is what makes chunked synthesis consistent with the final pass.

Inference runs on one unpadded sequence (batch 1), as in the reference, so no padding masks are needed. Parameter
names follow the reference ``flow.pt`` state dict.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def chunk_attention_mask(size: int, chunk_size: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean ``[size, size]`` mask: query ``i`` may attend to every key before the end of its own chunk."""
    pos = torch.arange(size, device=device)
    chunk_end = (torch.div(pos, chunk_size, rounding_mode="trunc") + 1) * chunk_size
    return pos.unsqueeze(0) < chunk_end.unsqueeze(1)


def relative_positional_encoding(length: int, d_model: int) -> torch.Tensor:
    """ESPnet relative sinusoidal table ``[1, 2*length-1, d_model]`` for relative positions ``length-1 .. -(length-1)``.

    Row ``k`` encodes the relative position ``length - 1 - k`` (key to the left of the query is positive).
    """
    position = torch.arange(0, length, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
    positive = torch.zeros(length, d_model)
    negative = torch.zeros(length, d_model)
    positive[:, 0::2] = torch.sin(position * div_term)
    positive[:, 1::2] = torch.cos(position * div_term)
    negative[:, 0::2] = torch.sin(-1 * position * div_term)
    negative[:, 1::2] = torch.cos(-1 * position * div_term)
    return torch.cat([torch.flip(positive, [0]), negative[1:]], dim=0).unsqueeze(0)


class LinearInput(nn.Module):
    """Linear + LayerNorm input layer, scaled by sqrt(d_model), returning the relative position table too."""

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.out = nn.Sequential(nn.Linear(input_size, output_size), nn.LayerNorm(output_size, eps=1e-5))
        self.output_size = output_size
        self.xscale = math.sqrt(output_size)

    def project(self, xs: torch.Tensor) -> torch.Tensor:
        """``[B, T, input_size]`` -> scaled ``[B, T, output_size]`` (no position table)."""
        return self.out(xs) * self.xscale

    def forward(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the projected input and its ``[1, 2T-1, D]`` relative position table."""
        table = relative_positional_encoding(xs.size(1), self.output_size).to(device=xs.device, dtype=xs.dtype)
        return self.project(xs), table


class RelPositionSelfAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL relative positions (``rel_selfattn``)."""

    def __init__(self, n_head: int, n_feat: int) -> None:
        super().__init__()
        if n_feat % n_head:
            raise ValueError(f"attention width {n_feat} is not divisible by {n_head} heads")
        self.h = n_head
        self.d_k = n_feat // n_head
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k = nn.Linear(n_feat, n_feat)
        self.linear_v = nn.Linear(n_feat, n_feat)
        self.linear_out = nn.Linear(n_feat, n_feat)
        self.linear_pos = nn.Linear(n_feat, n_feat, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(n_head, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(n_head, self.d_k))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, H*d]`` -> ``[B, T, H, d]``."""
        return x.view(x.size(0), -1, self.h, self.d_k)

    def forward(self, x: torch.Tensor, pos_emb: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Attend ``x`` ``[B, T, D]`` to itself; ``mask`` is a boolean ``[T, T]`` (True = may attend) or None."""
        batch, length = x.size(0), x.size(1)
        q = self._heads(self.linear_q(x))  # (B, T, H, d)
        k = self._heads(self.linear_k(x)).transpose(1, 2)  # (B, H, T, d)
        v = self._heads(self.linear_v(x)).transpose(1, 2)
        p = self._heads(self.linear_pos(pos_emb)).transpose(1, 2)  # (1, H, 2T-1, d)
        content = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))
        position = torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1))  # (B, H, T, 2T-1)
        # Row i, key j needs relative position i - j, i.e. table index (T - 1) - i + j.
        steps = torch.arange(length, device=x.device)
        index = (length - 1) - steps.unsqueeze(1) + steps
        position = torch.gather(position, 3, index.expand(batch, self.h, length, length))
        scores = (content + position) / math.sqrt(self.d_k)
        if mask is not None:
            scores = scores.masked_fill(~mask, -float("inf"))
        attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).contiguous().view(batch, length, self.h * self.d_k)
        return self.linear_out(out)


class PositionwiseFeedForward(nn.Module):
    """Two linear layers with a Swish activation in between."""

    def __init__(self, size: int, hidden: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(size, hidden)
        self.w_2 = nn.Linear(hidden, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the feed-forward network along the last dimension."""
        hidden = self.w_1(x)
        return self.w_2(hidden * torch.sigmoid(hidden))


class ConformerBlock(nn.Module):
    """Pre-norm conformer layer without macaron FFN or convolution module (as configured for CosyVoice2)."""

    def __init__(self, size: int, heads: int, linear_units: int) -> None:
        super().__init__()
        self.self_attn = RelPositionSelfAttention(heads, size)
        self.feed_forward = PositionwiseFeedForward(size, linear_units)
        self.norm_ff = nn.LayerNorm(size, eps=1e-12)
        self.norm_mha = nn.LayerNorm(size, eps=1e-12)

    def forward(self, x: torch.Tensor, pos_emb: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Self-attention then feed-forward, each with a residual connection."""
        x = x + self.self_attn(self.norm_mha(x), pos_emb, mask)
        return x + self.feed_forward(self.norm_ff(x))


class PreLookaheadLayer(nn.Module):
    """Residual convolution that lets each token see ``pre_lookahead_len`` future tokens (zeros at the end)."""

    def __init__(self, channels: int, pre_lookahead_len: int) -> None:
        super().__init__()
        self.pre_lookahead_len = pre_lookahead_len
        self.conv1 = nn.Conv1d(channels, channels, kernel_size=pre_lookahead_len + 1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3)

    def forward(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``inputs`` ``[B, T, C]``; ``context`` ``[B, pre_lookahead_len, C]`` holds the real future tokens if known."""
        x = inputs.transpose(1, 2)
        if context is None:
            x = F.pad(x, (0, self.pre_lookahead_len))
        else:
            if context.size(1) != self.pre_lookahead_len:
                raise ValueError(f"lookahead context must have {self.pre_lookahead_len} frames, got {context.size(1)}")
            x = torch.cat([x, context.transpose(1, 2)], dim=2)
        x = F.leaky_relu(self.conv1(x))
        x = self.conv2(F.pad(x, (self.conv2.kernel_size[0] - 1, 0)))
        return x.transpose(1, 2) + inputs


class Upsample1D(nn.Module):
    """Nearest-neighbour upsampling by ``stride`` followed by a causal convolution."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(channels, channels, stride * 2 + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T]`` -> ``[B, C, stride*T]``."""
        x = F.interpolate(x, scale_factor=float(self.stride), mode="nearest")
        return self.conv(F.pad(x, (self.stride * 2, 0)))


class UpsampleConformerEncoder(nn.Module):
    """Conformer encoder with pre-lookahead and x2 upsampling (speech tokens -> mel-rate hidden states).

    The reference hard-codes 512 channels for the lookahead, upsampling and four up-blocks, so ``output_size`` (and
    ``input_size``) must be 512 in every configuration; it is still a parameter so the shapes are explicit.
    """

    def __init__(self, input_size: int = 512, output_size: int = 512, attention_heads: int = 8,
                 linear_units: int = 2048, num_blocks: int = 6, static_chunk_size: int = 25,
                 pre_lookahead_len: int = 3, upsample_stride: int = 2, num_up_blocks: int = 4) -> None:
        super().__init__()
        if input_size != output_size:
            raise ValueError("the lookahead/upsample layers need input_size == output_size")
        self.output_size = output_size
        self.static_chunk_size = static_chunk_size
        self.embed = LinearInput(input_size, output_size)
        self.pre_lookahead_layer = PreLookaheadLayer(output_size, pre_lookahead_len)
        self.encoders = nn.ModuleList(
            ConformerBlock(output_size, attention_heads, linear_units) for _ in range(num_blocks))
        self.up_layer = Upsample1D(output_size, upsample_stride)
        self.up_embed = LinearInput(output_size, output_size)
        self.up_encoders = nn.ModuleList(
            ConformerBlock(output_size, attention_heads, linear_units) for _ in range(num_up_blocks))
        self.after_norm = nn.LayerNorm(output_size, eps=1e-5)

    @classmethod
    def from_kwargs(cls, kwargs: dict, pre_lookahead_len: int) -> UpsampleConformerEncoder:
        """Build from the reference constructor arguments (``flow.encoder.kwargs``), checking the fixed choices."""
        fixed = {"input_layer": "linear", "pos_enc_layer_type": "rel_pos_espnet",
                 "selfattention_layer_type": "rel_selfattn", "normalize_before": True,
                 "use_cnn_module": False, "macaron_style": False}
        for key, expected in fixed.items():
            if kwargs.get(key, expected) != expected:
                raise ValueError(f"unsupported encoder option {key}={kwargs[key]!r} (only {expected!r})")
        return cls(input_size=kwargs["input_size"], output_size=kwargs["output_size"],
                   attention_heads=kwargs["attention_heads"], linear_units=kwargs["linear_units"],
                   num_blocks=kwargs["num_blocks"], static_chunk_size=kwargs["static_chunk_size"],
                   pre_lookahead_len=pre_lookahead_len)

    @staticmethod
    def _run(blocks: nn.ModuleList, x: torch.Tensor, pos_emb: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for block in blocks:
            x = block(x, pos_emb, mask)
        return x

    def forward(self, xs: torch.Tensor, context: torch.Tensor | None = None, streaming: bool = False) -> torch.Tensor:
        """Encode token embeddings ``[1, T, D]`` into ``[1, stride*T, D]``.

        ``context`` (``[1, pre_lookahead_len, D]`` token embeddings that follow ``xs``) is only used by the lookahead
        layer; it is not encoded itself. ``streaming`` switches on the static chunk masks.
        """
        xs, pos_emb = self.embed(xs)
        if context is not None:
            context = self.embed.project(context)
        mask = chunk_attention_mask(xs.size(1), self.static_chunk_size, xs.device) if streaming else None
        xs = self.pre_lookahead_layer(xs, context)
        xs = self._run(self.encoders, xs, pos_emb, mask)

        xs = self.up_layer(xs.transpose(1, 2)).transpose(1, 2)
        xs, pos_emb = self.up_embed(xs)
        up_chunk = self.static_chunk_size * self.up_layer.stride
        mask = chunk_attention_mask(xs.size(1), up_chunk, xs.device) if streaming else None
        xs = self._run(self.up_encoders, xs, pos_emb, mask)
        return self.after_norm(xs)
