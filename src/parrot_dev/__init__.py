"""Development helpers shared by the tests and the benchmarks; not part of Parrot itself.

``parrot`` never imports ``parrot_dev`` (tests/test_architecture.py checks it). It is installed with Parrot
(``pip install -e .``), so tests and bench scripts import it like any package, with no ``sys.path`` edits.

- ``background``: run a FastAPI app under uvicorn on a free loopback port in a thread.
- ``evaluation``: intelligibility (CER/WER on canonical text) and delivery measures of speech.
- ``cosyvoice2``: the CosyVoice2 reference data of the checkout (``tests/data/cosyvoice2``) and the named
  parity checks the tests assert and ``bench/cosyvoice2_parity.py`` tabulates (needs a source checkout and torch).
"""
