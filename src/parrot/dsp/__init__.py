"""Signal processing shared by engines, delivery and training: the WORLD vocoder and mel filter banks."""
