"""Training a voice into the model (needs torch): recordings in, a saved voice out.

``job`` (TrainingJob: start / progress / cancel / wait), ``trainer`` (the loop, checkpoints), ``decoder`` (the
decoder and vocoder in PyTorch from the packaged int8 weights), ``align`` (recordings to phonemes), ``losses``,
``clips`` (input checks, transcripts), ``prepare`` (base style, examples, pitch and tempo), ``progress``.
Nothing is imported here, so ``import parrot.training`` stays cheap.
"""
