"""CosyVoice2 parity checks against the reference vectors in the checkout's ``tests/data/cosyvoice2``."""
