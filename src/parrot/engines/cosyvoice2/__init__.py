"""CosyVoice2-0.5B engine: Qwen2 LM, flow-matching mel decoder and HiFT vocoder in PyTorch."""
