"""The OpenAI-compatible client against a fake server, and its errors."""

from __future__ import annotations

import asyncio
import socket

import pytest

from parrot.chat.config import ChatSettings, load_model
from parrot.chat.llm import LLMError, Message, OpenAICompatibleModel


async def answer(model: OpenAICompatibleModel, text: str) -> list[str]:
    return [piece async for piece in model.stream([Message("user", text)], max_tokens=50)]


def test_streams_the_answer_piece_by_piece(fake_llm) -> None:
    url, fake = fake_llm
    pieces = asyncio.run(answer(OpenAICompatibleModel(url, "llama3"), "What is the capital of France?"))
    assert len(pieces) > 5
    assert "".join(pieces) == "The capital of France is Paris. It is a beautiful city."
    sent = fake.requests[-1]
    assert sent["model"] == "llama3" and sent["stream"] is True and sent["max_tokens"] == 50
    assert sent["messages"] == [{"role": "user", "content": "What is the capital of France?"}]


def test_stopping_early_stops_reading(fake_llm) -> None:
    url, _ = fake_llm

    async def first_two() -> list[str]:
        got = []
        stream = OpenAICompatibleModel(url, "m").stream([Message("user", "a long answer please")])
        async for piece in stream:
            got.append(piece)
            if len(got) == 2:
                break
        await stream.aclose()
        return got

    assert len(asyncio.run(first_two())) == 2


def test_server_errors_are_explained(fake_llm) -> None:
    url, _ = fake_llm
    with pytest.raises(LLMError, match=r"HTTP 404: model 'missing-model' not found.*PARROT_LLM_MODEL"):
        asyncio.run(answer(OpenAICompatibleModel(url, "missing-model"), "hi"))


def test_api_key_is_sent_and_a_wrong_one_explained() -> None:
    from fake_llm import FakeLLM

    from parrot_dev.background import serve_in_background

    fake = FakeLLM(api_key="sk-right")
    with serve_in_background(fake.app, startup_timeout=30) as base:
        ok = asyncio.run(answer(OpenAICompatibleModel(base + "/v1", "m", "sk-right"), "France?"))
        assert "Paris" in "".join(ok)
        with pytest.raises(LLMError, match="HTTP 401: Incorrect API key"):
            asyncio.run(answer(OpenAICompatibleModel(base + "/v1", "m", "sk-wrong"), "France?"))


def test_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMError, match=rf"cannot reach the language model server at http://127.0.0.1:{port}/v1"):
        asyncio.run(answer(OpenAICompatibleModel(f"http://127.0.0.1:{port}/v1", "m", timeout=5), "hi"))
    with pytest.raises(LLMError, match="must start with http"):
        OpenAICompatibleModel("localhost:11434", "m")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARROT_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("PARROT_LLM_MODEL", "qwen2.5:7b")
    monkeypatch.setenv("PARROT_LLM_API_KEY", "sk-x")
    monkeypatch.setenv("PARROT_CHAT_SYSTEM_PROMPT", "Talk like a pirate.")
    monkeypatch.setenv("PARROT_CHAT_VOICE", "linda")
    settings = ChatSettings.from_env()
    assert (settings.llm_model, settings.llm_api_key, settings.voice) == ("qwen2.5:7b", "sk-x", "linda")
    assert settings.system_prompt == "Talk like a pirate."
    model = load_model(settings)
    assert isinstance(model, OpenAICompatibleModel) and model.base_url == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("PARROT_LLM_EMBEDDED", "gpt-17")
    with pytest.raises(ValueError, match="PARROT_LLM_EMBEDDED must be one of qwen2.5-0.5b, smollm2-135m"):
        ChatSettings.from_env()
