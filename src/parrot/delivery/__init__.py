"""Delivery: how the words are spoken, on top of any engine.

``instruct`` turns a natural-language instruction ("用悲伤的语气慢慢说", "speak cheerfully") into a ``Prosody``;
``render`` speaks a parsed script (words, pauses, sounds) on an engine that cannot read markup itself, applying
``effects`` (rate, pitch, loudness, voice quality) and ``sounds`` ([breath], [laughter]...).
"""
