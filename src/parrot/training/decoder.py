"""Kokoro's decoder and iSTFTNet vocoder in PyTorch, with the weights of the packaged int8 ONNX graph.

Only the part of the model that turns aligned text features, F0 and energy into a waveform is needed to
train a voice (``parrot.training.trainer``): the text side runs in ONNX Runtime (``engines.kokoro.graph.PROBES``).
Weights are read from the graph and dequantised (``(w - zero_point) * scale``; linear layers have a
zero point and scale per output column, convolutions one per tensor); weight norm is already folded in.

The trainable parts are ``adapter`` (one offset per AdaIN bias, laid out as ``engines.kokoro.graph.AdapterLayout``, so
the ONNX graph applies it at synthesis time) and ``style_offset`` (added to the decoder half of the style,
folded into the voice's style table).

Two behaviours of the exported graph are reproduced: the sine source has no noise and no random initial
phase, and the inverse STFT output is 1.5 times that of ``torch.istft``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..engines.kokoro.graph import AdapterLayout, adapter_layout

SAMPLE_RATE = 24_000
HOP = 300  # samples per F0 frame (80 per second); a text frame is two of them
_N_FFT, _ISTFT_HOP = 20, 5
_HARMONICS = 9
_ISTFT_GAIN = 1.5
_PREFIX = "/decoder/decoder/"
_WEIGHT_OPS = {"ConvInteger", "Conv", "ConvTranspose", "MatMulInteger", "MatMul"}


@dataclass
class Layer:
    weight: torch.Tensor
    bias: torch.Tensor | None


def _module_path(node_name: str) -> str:
    """Node path to module path: "./asr_res/asr_res.0/Conv_quant" -> "asr_res.0"."""
    parts = node_name[len(_PREFIX) :].split("/")[:-1]
    if parts[:1] == ["asr_res"]:
        parts = parts[1:]
    return ".".join(parts)


def load_decoder_weights(path: Path) -> tuple[dict[str, Layer], dict[str, torch.Tensor], AdapterLayout]:
    """Every decoder layer (dequantised, float32) and every Snake alpha of the packaged graph."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(inits[name]).astype(np.float32)

    layers: dict[str, Layer] = {}
    for node in model.graph.node:
        if not node.name.startswith(_PREFIX) or node.op_type not in _WEIGHT_OPS or "istft" in node.name:
            continue
        if node.op_type == "MatMul" and "l_linear" not in node.name:
            continue
        key = _module_path(node.name)
        weight_name = node.input[1]
        if node.op_type in ("ConvInteger", "MatMulInteger"):
            scale = array(weight_name.replace("_quantized", "_scale"))
            weight = (array(weight_name) - array(node.input[3])) * scale
        else:
            weight = array(weight_name)
        if node.op_type in ("MatMulInteger", "MatMul"):
            weight = weight.T  # (out, in) like torch.nn.Linear
        bias_name = f"decoder.decoder.{key}.bias"
        bias = torch.from_numpy(array(bias_name)) if bias_name in inits else None
        layers[key] = Layer(torch.from_numpy(np.ascontiguousarray(weight)), bias)
    alphas = {
        name[len("decoder.decoder.") :]: torch.from_numpy(array(name))
        for name in inits
        if name.startswith("decoder.decoder.generator.") and ".alpha" in name
    }
    return layers, alphas, adapter_layout(model, lora=True)  # the biases, then the low-rank updates


class Decoder(torch.nn.Module):
    """``forward(asr, f0, n, style)`` -> waveform (1, samples); ``adapter`` and ``style_offset`` train."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.layers, self.alphas, self.layout = load_decoder_weights(path)
        for layer in self.layers.values():
            layer.weight.requires_grad_(False)
        self.adapter = torch.nn.Parameter(torch.zeros(self.layout.size))
        # An offset to the decoder half of the style: one global direction for every AdaIN layer at once
        # (folded into the voice's style table after training).
        self.style_offset = torch.nn.Parameter(torch.zeros(128))
        self._slices = self.layout.offsets()
        self._lora = {c.key: (c, *self.layout.lora_offsets()[c.key]) for c in self.layout.lora}
        self.register_buffer("_window", torch.hann_window(_N_FFT, periodic=True), persistent=False)

    def reset(self) -> None:
        """Back to the stock voice (no adaptation)."""
        with torch.no_grad():
            self.adapter.zero_()
            self.style_offset.zero_()

    # -- building blocks ------------------------------------------------------------------------------

    def _conv(self, x: torch.Tensor, key: str, **kw: int) -> torch.Tensor:
        layer = self.layers[key]
        out = F.conv1d(x, layer.weight, layer.bias, **kw)
        if key in self._lora:  # the low-rank update, as the adaptable graph applies it
            conv, start, middle, end = self._lora[key]
            down = self.adapter[start:middle].view(conv.rank, conv.in_channels, conv.kernel)
            up = self.adapter[middle:end].view(conv.out_channels, conv.rank, 1)
            out = out + F.conv1d(F.conv1d(x, down, **kw), up)
        return out

    def init_lora(self, seed: int) -> None:
        """Random ``down`` factors (``up`` stays zero, so the voice is unchanged until training moves it)."""
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for conv, start, middle, _ in self._lora.values():
                fan_in = conv.in_channels * conv.kernel
                values = torch.randn(middle - start, generator=generator) / math.sqrt(fan_in)
                self.adapter[start:middle] = values

    def _adain(self, x: torch.Tensor, key: str, style: torch.Tensor) -> torch.Tensor:
        layer = self.layers[f"{key}.fc"]
        start, end = self._slices[key]
        h = style @ layer.weight.T + layer.bias + self.adapter[start:end]
        channels = x.shape[1]
        gamma, beta = h[:, :channels, None], h[:, channels:, None]
        mean = x.mean(-1, keepdim=True)
        var = (x - mean).pow(2).mean(-1, keepdim=True)
        return (1 + gamma) * (x - mean) / torch.sqrt(var + 1e-5) + beta

    def _res_block(self, x: torch.Tensor, key: str, style: torch.Tensor, upsample: bool = False) -> torch.Tensor:
        h = F.leaky_relu(self._adain(x, f"{key}.norm1", style), 0.2)
        if upsample:
            pool = self.layers[f"{key}.pool"]
            h = F.conv_transpose1d(h, pool.weight, pool.bias, stride=2, padding=1, output_padding=1, groups=h.shape[1])
        h = self._conv(h, f"{key}.conv1", padding=1)
        h = F.leaky_relu(self._adain(h, f"{key}.norm2", style), 0.2)
        h = self._conv(h, f"{key}.conv2", padding=1)
        shortcut = F.interpolate(x, scale_factor=2.0, mode="nearest") if upsample else x
        shortcut = self._conv(shortcut, f"{key}.conv1x1")
        return (h + shortcut) / math.sqrt(2.0)

    def _snake_block(self, x: torch.Tensor, key: str, style: torch.Tensor, kernel: int) -> torch.Tensor:
        for j, dilation in enumerate((1, 3, 5)):
            a1, a2 = self.alphas[f"{key}.alpha1.{j}"], self.alphas[f"{key}.alpha2.{j}"]
            h = self._adain(x, f"{key}.adain1.{j}", style)
            h = h + torch.sin(a1 * h).pow(2) / a1
            h = self._conv(h, f"{key}.convs1.{j}", dilation=dilation, padding=(kernel * dilation - dilation) // 2)
            h = self._adain(h, f"{key}.adain2.{j}", style)
            h = h + torch.sin(a2 * h).pow(2) / a2
            h = self._conv(h, f"{key}.convs2.{j}", padding=(kernel - 1) // 2)
            x = x + h
        return x

    def _source(self, f0: torch.Tensor) -> torch.Tensor:
        """Harmonic source (no noise, as exported) -> its STFT magnitude and phase, (1, 22, frames)."""
        with torch.no_grad():
            up = f0.repeat_interleave(HOP, dim=1)[:, :, None]  # (1, samples, 1)
            harmonics = up * torch.arange(1, _HARMONICS + 1, dtype=up.dtype)
            rad = (harmonics / SAMPLE_RATE) % 1
            rad = F.interpolate(rad.transpose(1, 2), scale_factor=1 / HOP, mode="linear")
            phase = torch.cumsum(rad, dim=-1) * 2 * math.pi
            phase = F.interpolate(phase * HOP, scale_factor=float(HOP), mode="linear").transpose(1, 2)
            sines = torch.sin(phase) * 0.1 * (up > 10).float()
            linear = self.layers["generator.m_source.l_linear"]
            source = torch.tanh(F.linear(sines, linear.weight, linear.bias))[:, :, 0]
            spec = torch.stft(source, _N_FFT, _ISTFT_HOP, _N_FFT, window=self._window, return_complex=True)
            return torch.cat([spec.abs(), spec.angle()], dim=1)

    def _generator(self, x: torch.Tensor, style: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        har = self._source(f0)
        for i, (stride, kernel, noise_kernel) in enumerate(((10, 20, 7), (6, 12, 11))):
            x = F.leaky_relu(x, 0.1)
            if i == 0:
                source = self._conv(har, "generator.noise_convs.0", stride=6, padding=3)
            else:
                source = self._conv(har, "generator.noise_convs.1")
            source = self._snake_block(source, f"generator.noise_res.{i}", style, noise_kernel)
            up = self.layers[f"generator.ups.{i}"]
            x = F.conv_transpose1d(x, up.weight, up.bias, stride=stride, padding=(kernel - stride) // 2)
            if i == 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + source
            x = sum(
                self._snake_block(x, f"generator.resblocks.{3 * i + j}", style, k) for j, k in enumerate((3, 7, 11))
            )
            x = x / 3
        x = self._conv(F.leaky_relu(x, 0.01), "generator.conv_post", padding=3)
        bins = _N_FFT // 2 + 1
        spec = torch.exp(x[:, :bins]) * torch.exp(1j * torch.sin(x[:, bins:]))
        audio = torch.istft(spec, _N_FFT, _ISTFT_HOP, _N_FFT, window=self._window)
        return audio * _ISTFT_GAIN

    def forward(self, asr: torch.Tensor, f0: torch.Tensor, n: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``asr`` (1, 512, T), ``f0``/``n`` (1, 2T), ``style`` (1, 128): the decoder half of a style row."""
        style = style + self.style_offset
        f0_feat = self._conv(f0[:, None], "F0_conv", stride=2, padding=1)
        n_feat = self._conv(n[:, None], "N_conv", stride=2, padding=1)
        x = self._res_block(torch.cat([asr, f0_feat, n_feat], dim=1), "encode", style)
        asr_res = self._conv(asr, "asr_res.0")
        for i in range(4):
            x = self._res_block(torch.cat([x, asr_res, f0_feat, n_feat], dim=1), f"decode.{i}", style, upsample=i == 3)
        return self._generator(x, style, f0)
