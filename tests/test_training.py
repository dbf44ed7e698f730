"""Trained voices: the adaptable graph, alignment, the training loop, the job, bad input, the voice file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parrot.audio import AudioError, encode, resample
from parrot.errors import InputError

torch = pytest.importorskip("torch")

RATE = 16_000
TEXT = "The old lighthouse keeper walked down to the harbour every morning to watch the boats."
HELD_OUT = "Please remember to bring an umbrella, because it may rain this afternoon."


def _wav(audio: np.ndarray, rate: int) -> bytes:
    return encode(audio, rate, "wav")


@pytest.fixture(scope="module")
def speaker(tts) -> tuple[bytes, np.ndarray]:
    """The 'speaker' to train: Parrot's jf_alpha saying TEXT (a WAV, and the 24 kHz audio)."""
    audio = tts.say(TEXT, "jf_alpha", lang="en").audio
    return _wav(audio, tts.sample_rate), audio


@pytest.fixture(scope="module")
def prepared(tts, speaker):
    """TEXT aligned for training from jm_kumo (a different voice than the speaker's)."""
    from parrot.training.clips import load_pieces
    from parrot.training.prepare import Renderer, prepare

    pieces = load_pieces([speaker[0]], tts.recognizer, [TEXT], "en")
    return prepare(tts.engine, Renderer(tts.engine.model_path, 2), pieces, base_style="jm_kumo")


@pytest.fixture(scope="module")
def decoder(tts):
    from parrot.training.decoder import Decoder

    return Decoder(tts.engine.model_path)


def test_stock_voices_are_unchanged_by_the_adaptable_graph(tts):
    import onnxruntime as ort

    style = tts.engine.stock_style("jf_alpha")
    phonemes = tts.engine.g2p.phonemize("Hello there.", "en")
    plain = ort.InferenceSession(str(tts.engine.model_path), providers=["CPUExecutionProvider"])
    tokens = tts.engine.tokenize(phonemes)
    (expected,) = plain.run(None, {
        "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
        "style": style[len(tokens) - 1].reshape(1, 256),
        "speed": np.ones(1, dtype=np.float32),
    })  # fmt: skip
    assert np.array_equal(tts.engine.infer(phonemes, style, 1.0), expected.reshape(-1))


def test_torch_decoder_matches_the_onnx_graph(tts, decoder):
    """Same text features, F0 and energy in: the PyTorch decoder's waveform follows the ONNX one."""
    from parrot.training.prepare import Renderer

    tokens = tts.engine.tokenize(tts.engine.g2p.phonemize("Hello world, this is a test.", "en"))
    style = tts.engine.stock_style("jf_alpha")[len(tokens) - 1]
    rendering = Renderer(tts.engine.model_path, 2).render(tokens, style)
    with torch.no_grad():
        out = decoder(*(torch.from_numpy(a[None]) for a in (rendering.t_en @ _expand(rendering.durations),
                                                                rendering.f0, rendering.n)),
                      torch.from_numpy(style[None, :128]))[0].numpy()  # fmt: skip
    n = min(len(out), len(rendering.audio))
    assert np.corrcoef(out[:n], rendering.audio[:n])[0, 1] > 0.9


def test_low_rank_updates_act_alike_in_torch_and_onnx(tts, decoder):
    """A random adapter with low-rank updates: the ONNX graph's waveform moves the way the torch decoder's does."""
    from parrot.training.prepare import Renderer

    engine, layout = tts.engine, tts.engine.lora_layout()
    assert layout.lora and layout.size > layout.bias_size == engine.adapter_layout.size
    phonemes = engine.g2p.phonemize("Hello world, this is a test.", "en")
    tokens = engine.tokenize(phonemes)
    table = engine.stock_style("jf_alpha")
    style = table[len(tokens) - 1]
    rendering = Renderer(engine.model_path, 2).render(tokens, style)
    decoder.reset()
    decoder.init_lora(0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _start, middle, end in layout.lora_offsets().values():
            decoder.adapter[middle:end] = 0.05 * torch.randn(end - middle, generator=generator)
        inputs = [torch.from_numpy(a[None]) for a in (rendering.t_en @ _expand(rendering.durations), rendering.f0,
                                                      rendering.n)]  # fmt: skip
        adapted = decoder(*inputs, torch.from_numpy(style[None, :128]))[0].numpy()
        adapter = decoder.adapter.detach().numpy().copy()
        decoder.reset()
        stock = decoder(*inputs, torch.from_numpy(style[None, :128]))[0].numpy()
    onnx_adapted = engine.infer(phonemes, table, 1.0, adapter)
    n = min(len(adapted), len(onnx_adapted), len(rendering.audio))
    torch_delta, onnx_delta = adapted[:n] - stock[:n], onnx_adapted[:n] - rendering.audio[:n]
    assert np.abs(onnx_delta).mean() > 0.01  # the update changes the sound...
    assert np.corrcoef(torch_delta, onnx_delta)[0, 1] > 0.7  # ...the same way in both (int8 noise aside)


def test_each_adapter_runs_on_its_graph_and_a_foreign_one_is_refused(tts):
    """A bias-only adapter (voices trained without low-rank updates) runs on the lean graph every stock voice
    uses; one with them on the low-rank graph; any other size is refused with a clear error."""
    from parrot.errors import ModelError

    engine = tts.engine
    assert not engine.adapter_layout.lora
    biases = np.random.default_rng(0).normal(0, 0.01, engine.adapter_layout.size).astype(np.float32)
    assert engine._session_for(biases)[0] is engine._session
    full = np.zeros(engine.lora_layout().size, np.float32)
    assert engine._session_for(full)[0] is not engine._session
    with pytest.raises(ModelError, match="adapter of 5 values"):
        engine._session_for(np.zeros(5, np.float32))


def _expand(durations: np.ndarray) -> np.ndarray:
    index = np.repeat(np.arange(len(durations)), durations)
    alignment = np.zeros((len(durations), len(index)), dtype=np.float32)
    alignment[index, np.arange(len(index))] = 1
    return alignment


def test_alignment_follows_a_slower_recording(tts, prepared):
    """The speaker's recording is aligned token by token: monotonic, covering the text, pads at the ends."""
    example = prepared.examples[0]
    tokens = example.token_frames
    assert np.all(np.diff(tokens) >= 0)
    assert tokens[0] == 0 and tokens[-1] == tokens.max()
    assert len(np.unique(tokens)) > 0.6 * tokens.max()  # most tokens get frames
    assert example.asr.shape == (512, example.frames) and example.f0.shape == (2 * example.frames,)
    assert 0.5 < prepared.speed < 1.5 and prepared.f0_scale > 1.2  # jf_alpha speaks higher than jm_kumo


def _trainer(decoder, prepared, tmp_path: Path, steps: int, name: str = "ck.pt", lora: bool = False):
    from parrot.training.trainer import Trainer, TrainOptions

    decoder.reset()
    options = TrainOptions(max_steps=steps, minutes=60, crop_frames=12, learning_rate=1e-2, seed=3, lora=lora)
    return Trainer(decoder, prepared.examples, prepared.decoder_style, options, tmp_path / name)


@pytest.mark.parametrize("lora", [True, False])
def test_training_lowers_the_loss_and_resume_equals_an_uninterrupted_run(decoder, prepared, tmp_path, lora):
    from dataclasses import replace

    trainer = _trainer(decoder, prepared, tmp_path, 6, "straight.pt", lora)
    with torch.no_grad():
        before = [float(trainer.loss(step)) for step in range(3)]
    trainer.run()
    with torch.no_grad():
        after = [float(trainer.loss(step)) for step in range(3)]
    assert np.mean(after) < np.mean(before)
    straight = trainer.adapter()
    layout = decoder.layout
    assert straight.shape == ((layout.size,) if lora else (layout.bias_size,))

    first = _trainer(decoder, prepared, tmp_path, 3, "resumed.pt", lora)
    assert first.run() and first.step == 3
    second = _trainer(decoder, prepared, tmp_path, 6, "resumed.pt", lora)
    assert second.load() and second.step == 3
    second.options = replace(second.options, max_steps=6)
    second.run()
    np.testing.assert_allclose(second.adapter(), straight, rtol=0, atol=1e-6)


def _job(tts, clips, name="trainee", **kw):
    from parrot.training.job import TrainingJob
    from parrot.training.trainer import TrainOptions

    options = TrainOptions(max_steps=kw.pop("steps", 3), minutes=60, crop_frames=12)
    return TrainingJob(tts, name, clips, texts=kw.pop("texts", [TEXT]), language="en", options=options,
                       base_style="jm_kumo", **kw)  # fmt: skip


def test_crash_mid_training_leaves_the_library_intact_and_resume_finishes(tts, speaker, monkeypatch):
    from parrot.training.trainer import Trainer

    before = tts.voices.names()
    real_loss = Trainer.loss

    def crash(self, step):
        if step == 2:
            raise RuntimeError("power cut")
        return real_loss(self, step)

    monkeypatch.setattr(Trainer, "loss", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        _job(tts, [speaker[0]]).run()
    assert tts.voices.names() == before
    monkeypatch.setattr(Trainer, "loss", real_loss)
    job = _job(tts, [speaker[0]], resume=True)
    voice = job.run()
    assert voice.kind == "cloned" and voice.meta["method"] == "trained" and voice.meta["steps"] == 3
    assert tts.voices.get("trainee").payload["adapter"].shape == (tts.engine.adapter_layout.size,)
    tts.voices.delete("trainee")


def test_cancel_keeps_the_checkpoint(tts, speaker):
    from parrot.training.job import TrainingCancelled

    job = _job(tts, [speaker[0]], name="cancelled", steps=50)
    job.start(on_progress=lambda p: job.cancel())
    with pytest.raises(TrainingCancelled):
        job.wait(timeout=600)
    assert job.state == "cancelled" and (job.workdir / "checkpoint.pt").is_file()
    assert "cancelled" not in tts.voices.names()


def test_trained_voice_speaks_and_round_trips_bit_exact(tts, decoder, prepared, tmp_path):
    from parrot.training.job import TrainingJob

    trainer = _trainer(decoder, prepared, tmp_path, 2)
    trainer.run()
    voice = TrainingJob._voice(_job(tts, [b""], name="roundtrip"), prepared, trainer, [])
    saved = tts.voices.save(voice, overwrite=True)
    data = tts.voices.export("roundtrip")
    assert len(data) < 3 * 1024 * 1024 and tts.voices.export("roundtrip") == data
    imported = tts.voices.import_(data, name="roundtrip2")
    for key, array in saved.payload.items():
        assert imported.payload[key].tobytes() == array.tobytes() and imported.payload[key].dtype == array.dtype
    speech = tts.say("Trained voices speak like any other.", "roundtrip2")
    assert speech.duration > 1.0 and np.abs(speech.audio).max() > 0.05
    for name in ("roundtrip", "roundtrip2"):
        tts.voices.delete(name)


@pytest.mark.parametrize(
    ("make", "texts", "error", "message"),
    [
        (lambda s: np.zeros(RATE * 5, np.float32), None, AudioError, "silent"),
        (lambda s: s[:RATE], None, AudioError, "only 1.0 s of speech"),
        (lambda s: 0.3 * np.sin(2 * np.pi * np.outer(np.arange(RATE * 6) / RATE, [220, 277, 330]).sum(1) / 3),
         None, AudioError, "speech"),
        (lambda s: s, ["A completely different sentence about cooking pasta at home."], InputError, "does not match"),
    ],
)  # fmt: skip
def test_bad_training_input_is_refused(tts, speaker, make, texts, error, message):
    from parrot.training.clips import load_pieces

    audio16 = resample(speaker[1], tts.sample_rate, RATE)
    clip = _wav(np.asarray(make(audio16), dtype=np.float32), RATE)
    with pytest.raises(error, match=message):
        load_pieces([clip], tts.recognizer, texts, "en")


@pytest.mark.slow
def test_short_training_moves_similarity_up_on_a_held_out_sentence(tts, decoder, prepared, tmp_path):
    """Trained from jm_kumo towards the speaker (jf_alpha) for a few dozen steps: on a sentence never
    trained on, the d-vector similarity to the speaker rises (the judge is not used in training)."""
    from parrot.training.job import TrainingJob
    from parrot.voices.embedding import SpeakerEncoder

    encoder = SpeakerEncoder()

    def embed(voice) -> np.ndarray:
        return encoder.embed(resample(tts.say(HELD_OUT, voice, lang="en").audio, tts.sample_rate, RATE))

    target = embed("jf_alpha")
    trainer = _trainer(decoder, prepared, tmp_path, 40)
    trainer.options = type(trainer.options)(max_steps=40, minutes=60, crop_frames=40, learning_rate=1e-2)
    trainer.run()
    trained = TrainingJob._voice(_job(tts, [b""], name="e2e"), prepared, trainer, [])
    untrained = {k: v for k, v in trained.payload.items() if k not in ("adapter", "style_offset")}
    untrained["style"] = prepared.style_table  # without the trained style offset
    base = type(trained)("base", "kokoro", "cloned", untrained)
    assert float(embed(trained) @ target) > float(embed(base) @ target) + 0.02


def _cli(tmp_path: Path):
    import os
    import subprocess
    import sys

    from parrot.config import Settings

    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(Settings.from_env().data_dir / "models")
    env = {**os.environ, "PARROT_DATA_DIR": str(data)}

    def parrot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "parrot.cli", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=900, check=False)  # fmt: skip

    return parrot


def test_cli_train_refuses_a_silent_clip(tmp_path):
    (tmp_path / "silence.wav").write_bytes(_wav(np.zeros(RATE * 5, np.float32), RATE))
    done = _cli(tmp_path)("voices", "train", "quiet", "silence.wav")
    assert done.returncode == 2 and "silent" in done.stderr


@pytest.mark.slow
def test_cli_trains_saves_and_speaks(tmp_path, speaker):
    parrot = _cli(tmp_path)
    (tmp_path / "me.wav").write_bytes(speaker[0])
    trained = parrot("voices", "train", "me", "me.wav", "--text", TEXT, "--minutes", "0.1")
    assert trained.returncode == 0, trained.stderr
    assert "saved voice 'me'" in trained.stdout and "step" in trained.stderr
    assert parrot("say", "Good night.", "-v", "me", "-o", "night.wav", "-q").returncode == 0
    assert '"method": "trained"' in parrot("voices", "show", "me").stdout
