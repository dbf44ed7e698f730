"""The embedded engine: Kokoro-82M (int8 ONNX from packages).

``engine`` (``KokoroEngine``: text -> phonemes -> audio chunks), ``graph`` (the packaged graph opened up for
trained voices: the adapter and pitch inputs), ``fitting`` (a reference clip -> a style fitted by d-vector, with
the speaker's pitch and tempo), ``clone`` (the spectral mapping of clones made before, still spoken).
"""
