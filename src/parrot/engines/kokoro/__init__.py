"""The embedded engine: Kokoro-82M (int8 ONNX from packages).

``engine`` (``KokoroEngine``: text -> phonemes -> audio chunks), ``graph`` (the packaged graph opened up for
trained voices: the adapter and pitch inputs), ``clone`` (a reference clip -> base style + spectral mapping).
"""
