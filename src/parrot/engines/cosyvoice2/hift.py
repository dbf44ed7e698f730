"""CosyVoice2 vocoder: ``HiFTGenerator`` (neural source-filter HiFi-GAN with an iSTFT head), mel -> 24 kHz audio.

1. ``ConvRNNF0Predictor`` estimates f0 per mel frame;
2. the f0 is repeated to the sample rate and ``SineGen2`` makes a harmonic excitation (fundamental + 8 overtones,
   voiced where f0 > 10 Hz, plus noise), merged to one channel by ``Linear(9, 1)`` + tanh (the *source*);
3. the mel goes through upsampling transposed convolutions; at each scale the STFT of the source is downsampled,
   refined by a residual block and added; multi-receptive-field residual blocks with Snake activations follow;
4. ``conv_post`` predicts log-magnitude and phase of a 16-point STFT (hop 4), inverted with ``torch.istft``.

The source uses random draws (initial harmonic phases and additive noise). They are explicit: pass a
``torch.Generator`` or a ``SourceNoise`` to replay recorded draws; the global RNG is used only when neither is given.
Parameter names follow the reference ``hift.pt`` (weight norm as ``parametrizations.weight.original0/1``; the
legacy ``weight_g``/``weight_v`` names and a ``generator.`` prefix are mapped by ``normalize_hift_state_dict``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

_REAL_HIFT_CONFIG: dict = {
    "class": "cosyvoice.hifigan.generator.HiFTGenerator",
    "kwargs": {"in_channels": 80, "base_channels": 512, "nb_harmonics": 8, "sampling_rate": 24000,
               "nsf_alpha": 0.1, "nsf_sigma": 0.003, "nsf_voiced_threshold": 10, "upsample_rates": [8, 5, 3],
               "upsample_kernel_sizes": [16, 11, 7], "istft_params": {"n_fft": 16, "hop_len": 4},
               "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
               "source_resblock_kernel_sizes": [7, 7, 11],
               "source_resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
               "lrelu_slope": 0.1, "audio_limit": 0.99},
    "f0_predictor": {"class": "cosyvoice.hifigan.f0_predictor.ConvRNNF0Predictor",
                     "kwargs": {"num_class": 1, "in_channels": 80, "cond_channels": 512}},
}


def real_hift_config() -> dict:
    """HiFT config of the released CosyVoice2-0.5B (``cosyvoice2.yaml``), in the ``tiny_config.json`` layout."""
    return copy.deepcopy(_REAL_HIFT_CONFIG)


def normalize_hift_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a reference ``hift.pt`` state dict onto this module's names.

    Strips a leading ``generator.`` (checkpoints saved from the GAN wrapper) and renames legacy weight-norm tensors
    ``X.weight_g``/``X.weight_v`` to ``X.parametrizations.weight.original0``/``original1``.
    """
    legacy = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("generator.")
        head, _, leaf = key.rpartition(".")
        if leaf in legacy:
            key = f"{head}.{legacy[leaf]}" if head else legacy[leaf]
        out[key] = value
    return out


def _padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class Snake(nn.Module):
    """Snake activation ``x + sin^2(alpha x) / alpha`` with a learned per-channel ``alpha`` (linear scale)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to ``[B, C, T]``."""
        alpha = self.alpha.unsqueeze(0).unsqueeze(-1)
        return x + (1.0 / (alpha + 1e-9)) * torch.pow(torch.sin(x * alpha), 2)


class ResBlock(nn.Module):
    """HiFi-GAN residual block: per dilation, Snake -> dilated conv -> Snake -> conv, added to the input."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_padding(kernel_size, d)))
            for d in dilations)
        self.convs2 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, padding=_padding(kernel_size)))
            for _ in dilations)
        self.activations1 = nn.ModuleList(Snake(channels) for _ in dilations)
        self.activations2 = nn.ModuleList(Snake(channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T]`` -> ``[B, C, T]``."""
        layers = zip(self.activations1, self.convs1, self.activations2, self.convs2, strict=True)
        for act1, conv1, act2, conv2 in layers:
            x = x + conv2(act2(conv1(act1(x))))
        return x


class ConvRNNF0Predictor(nn.Module):
    """Five weight-normed conv + ELU layers and a linear head; returns ``|f0|`` per mel frame ``[B, T]``."""

    def __init__(self, num_class: int = 1, in_channels: int = 80, cond_channels: int = 512) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(5):
            layers += [weight_norm(nn.Conv1d(in_channels if i == 0 else cond_channels, cond_channels, 3, padding=1)),
                       nn.ELU()]
        self.condnet = nn.Sequential(*layers)
        self.classifier = nn.Linear(cond_channels, num_class)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``[B, 80, T]`` mel -> ``[B, T]`` f0 in Hz."""
        return torch.abs(self.classifier(self.condnet(mel).transpose(1, 2)).squeeze(-1))


@dataclass(frozen=True)
class SourceNoise:
    """The random draws of one source excitation, in the reference's draw order.

    ``rand_ini`` ``[B, H]``: uniform [0, 1) initial phase of each harmonic, in cycles (element 0 is zero);
    ``sine_noise`` ``[B, L, H]``: standard normal noise added to the sines (``H`` = harmonics + 1, ``L`` samples).
    """

    rand_ini: torch.Tensor
    sine_noise: torch.Tensor

    @classmethod
    def draw(cls, batch: int, length: int, dim: int, generator: torch.Generator | None = None,
             device: torch.device | None = None) -> SourceNoise:
        """Draw fresh values (from ``generator`` if given, else the global RNG).

        The noise fills a ``[B, L, H]`` view of harmonic-major memory, the layout of the reference's ``randn_like``
        on its transposed sine tensor; torch's sampling depends on that layout, so equal seeds give equal draws.
        """
        rand_ini = torch.rand(batch, dim, generator=generator, device=device)
        rand_ini[:, 0] = 0
        sine_noise = torch.empty(batch, dim, length, device=device).transpose(1, 2).normal_(generator=generator)
        return cls(rand_ini, sine_noise)


class SineGen2(nn.Module):
    """Harmonic sine excitation at the audio rate from a sample-rate f0 track (reference ``SineGen2``).

    The per-sample phase increment is resampled to the frame rate (linear interpolation by 1/upsample_scale),
    integrated there and linearly interpolated back up (scaled by upsample_scale), which keeps the phase smooth.
    """

    def __init__(self, sampling_rate: int, upsample_scale: int, harmonic_num: int = 8, sine_amp: float = 0.1,
                 noise_std: float = 0.003, voiced_threshold: float = 10) -> None:
        super().__init__()
        self.sampling_rate = sampling_rate
        self.upsample_scale = upsample_scale
        self.dim = harmonic_num + 1
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.voiced_threshold = voiced_threshold

    def forward(self, f0: torch.Tensor, noise: SourceNoise) -> torch.Tensor:
        """``f0`` ``[B, L, 1]`` (Hz per sample) -> noisy harmonics ``[B, L, harmonic_num + 1]``."""
        harmonics = torch.arange(1, self.dim + 1, dtype=f0.dtype, device=f0.device).view(1, 1, -1)
        rad = (f0 * harmonics / self.sampling_rate) % 1
        rad[:, 0, :] = rad[:, 0, :] + noise.rand_ini.to(rad)
        rad = F.interpolate(rad.transpose(1, 2), scale_factor=1 / self.upsample_scale, mode="linear")
        phase = torch.cumsum(rad, dim=2) * 2 * math.pi
        phase = F.interpolate(phase * self.upsample_scale, scale_factor=self.upsample_scale, mode="linear")
        sines = torch.sin(phase).transpose(1, 2) * self.sine_amp
        uv = (f0 > self.voiced_threshold).to(f0.dtype)
        noise_amp = uv * self.noise_std + (1 - uv) * self.sine_amp / 3
        return sines * uv + noise_amp * noise.sine_noise.to(sines)


class SourceModuleHnNSF(nn.Module):
    """Harmonic-plus-noise source: ``tanh(Linear(9, 1)(SineGen2(f0)))``."""

    def __init__(self, sampling_rate: int, upsample_scale: int, harmonic_num: int, sine_amp: float,
                 noise_std: float, voiced_threshold: float) -> None:
        super().__init__()
        self.l_sin_gen = SineGen2(sampling_rate, upsample_scale, harmonic_num, sine_amp, noise_std, voiced_threshold)
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def forward(self, f0: torch.Tensor, noise: SourceNoise) -> torch.Tensor:
        """``[B, L, 1]`` f0 -> ``[B, L, 1]`` excitation."""
        return torch.tanh(self.l_linear(self.l_sin_gen(f0, noise)))


class HiFTGenerator(nn.Module):
    """HiFTNet generator (NSF + iSTFTNet) as configured for CosyVoice2 (24 kHz, 480 samples per mel frame)."""

    def __init__(self, f0_predictor: ConvRNNF0Predictor, in_channels: int = 80, base_channels: int = 512,
                 nb_harmonics: int = 8, sampling_rate: int = 24000, nsf_alpha: float = 0.1, nsf_sigma: float = 0.003,
                 nsf_voiced_threshold: float = 10, upsample_rates: Sequence[int] = (8, 5, 3),
                 upsample_kernel_sizes: Sequence[int] = (16, 11, 7), n_fft: int = 16, hop_len: int = 4,
                 resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
                 resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
                 source_resblock_kernel_sizes: Sequence[int] = (7, 7, 11),
                 source_resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
                 lrelu_slope: float = 0.1, audio_limit: float = 0.99) -> None:
        super().__init__()
        if sampling_rate == 22050:
            raise ValueError("the 22.05 kHz SineGen variant (CosyVoice 1) is not implemented; CosyVoice2 is 24 kHz")
        self.n_fft = n_fft
        self.hop_len = hop_len
        self.lrelu_slope = lrelu_slope
        self.audio_limit = audio_limit
        self.num_kernels = len(resblock_kernel_sizes)
        self.upsample_scale = math.prod(upsample_rates) * hop_len
        self.m_source = SourceModuleHnNSF(sampling_rate, self.upsample_scale, nb_harmonics, nsf_alpha, nsf_sigma,
                                          nsf_voiced_threshold)
        self.f0_predictor = f0_predictor
        self.conv_pre = weight_norm(nn.Conv1d(in_channels, base_channels, 7, padding=3))
        self.ups = nn.ModuleList(
            weight_norm(nn.ConvTranspose1d(base_channels // 2**i, base_channels // 2**(i + 1), k, u,
                                           padding=(k - u) // 2))
            for i, (u, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes, strict=True)))
        # Source STFT frames are brought to each upsampling stage's rate: strides are the cumulative rates still
        # to come (e.g. 15, 3, 1 for rates 8, 5, 3).
        rates = [1, *list(upsample_rates)[::-1][:-1]]
        strides = [math.prod(rates[:i + 1]) for i in range(len(rates))][::-1]
        self.source_downs = nn.ModuleList()
        self.source_resblocks = nn.ModuleList()
        source_blocks = zip(strides, source_resblock_kernel_sizes, source_resblock_dilation_sizes, strict=True)
        for i, (u, k, d) in enumerate(source_blocks):
            ch = base_channels // 2**(i + 1)
            conv = nn.Conv1d(n_fft + 2, ch, 1) if u == 1 else nn.Conv1d(n_fft + 2, ch, u * 2, u, padding=u // 2)
            self.source_downs.append(conv)
            self.source_resblocks.append(ResBlock(ch, k, d))
        self.resblocks = nn.ModuleList(
            ResBlock(base_channels // 2**(i + 1), k, d)
            for i in range(len(upsample_rates))
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True))
        self.conv_post = weight_norm(nn.Conv1d(base_channels // 2**len(upsample_rates), n_fft + 2, 7, padding=3))

    @classmethod
    def from_config(cls, cfg: dict) -> HiFTGenerator:
        """Build from the ``hift`` section of ``tiny_config.json`` (or ``real_hift_config()``)."""
        kw = dict(cfg["kwargs"])
        istft = kw.pop("istft_params")
        return cls(ConvRNNF0Predictor(**cfg["f0_predictor"]["kwargs"]), n_fft=istft["n_fft"],
                   hop_len=istft["hop_len"], **kw)

    @classmethod
    def from_state_dict(cls, cfg: dict, state: Mapping[str, torch.Tensor]) -> HiFTGenerator:
        """Build from ``cfg`` and adopt the tensors of a reference ``hift.pt`` state dict (strict), in eval mode.

        Created on the meta device (no random initialisation); legacy names are accepted as in
        ``load_reference_state_dict``.
        """
        with torch.device("meta"):
            model = cls.from_config(cfg)
        model.load_reference_state_dict(state, strict=True, assign=True)
        return model.eval()

    def load_reference_state_dict(self, state: Mapping[str, torch.Tensor], strict: bool = True,
                                  assign: bool = False) -> None:
        """Load a reference ``hift.pt`` state dict (legacy weight-norm names and ``generator.`` prefix accepted)."""
        self.load_state_dict(normalize_hift_state_dict(state), strict=strict, assign=assign)

    def fuse_weight_norm(self) -> None:
        """Bake the weight-norm parametrisations into plain weights (after loading; saves recomputing them on
        every call). The state dict then has plain ``weight`` keys instead of ``parametrizations.weight.*``."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)

    def _window(self, x: torch.Tensor) -> torch.Tensor:
        # Periodic Hann, computed in float64 like scipy's get_window("hann", n_fft, fftbins=True).
        return torch.hann_window(self.n_fft, periodic=True, dtype=torch.float64).to(device=x.device, dtype=x.dtype)

    def source(self, f0: torch.Tensor, noise: SourceNoise | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Excitation ``[B, 1, L]`` for frame-rate ``f0`` ``[B, T]`` (``L = 480 T``); draws noise unless given."""
        f0_samples = F.interpolate(f0[:, None], scale_factor=float(self.upsample_scale)).transpose(1, 2)
        shape = (f0.size(0), f0_samples.size(1), self.m_source.l_sin_gen.dim)
        if noise is None:
            noise = SourceNoise.draw(*shape, generator=generator, device=f0.device)
        elif tuple(noise.sine_noise.shape) != shape:
            raise ValueError(f"source noise has shape {tuple(noise.sine_noise.shape)}, expected {shape}")
        return self.m_source(f0_samples, noise).transpose(1, 2)

    def decode(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """Waveform ``[B, L]`` from mel ``x`` ``[B, 80, T]`` and excitation ``source`` ``[B, 1, L]`` (deterministic)."""
        window = self._window(source)
        spec = torch.view_as_real(torch.stft(source.squeeze(1), self.n_fft, self.hop_len, self.n_fft, window=window,
                                             return_complex=True))
        s_stft = torch.cat([spec[..., 0], spec[..., 1]], dim=1)
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, self.lrelu_slope))
            if i == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + self.source_resblocks[i](self.source_downs[i](s_stft))
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            total = blocks[0](x)
            for block in blocks[1:]:
                total = total + block(x)
            x = total / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))
        bins = self.n_fft // 2 + 1
        magnitude = torch.clip(torch.exp(x[:, :bins]), max=1e2)
        phase = torch.sin(x[:, bins:])
        spec = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        audio = torch.istft(spec, self.n_fft, self.hop_len, self.n_fft, window=window)
        return torch.clamp(audio, -self.audio_limit, self.audio_limit)

    @torch.inference_mode()
    def inference(self, speech_feat: torch.Tensor, cache_source: torch.Tensor | None = None, *,
                  noise: SourceNoise | None = None,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveform ``[B, 480 T]`` and the excitation ``[B, 1, 480 T]`` used, for mel ``speech_feat`` ``[B, 80, T]``.

        ``cache_source`` ``[B, 1, n]`` (the previous chunk's source tail) overwrites the first ``n`` source samples
        so streamed chunks join without phase jumps. ``noise`` replays recorded draws; otherwise they come from
        ``generator`` (or the global RNG when it is None).
        """
        source = self.source(self.f0_predictor(speech_feat), noise, generator)
        if cache_source is not None and cache_source.size(2) > 0:
            source[:, :, :cache_source.size(2)] = cache_source
        return self.decode(speech_feat, source), source
