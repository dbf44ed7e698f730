"""Voice chat settings, read from ``PARROT_LLM_*`` and ``PARROT_CHAT_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Settings, env_number
from ..errors import InputError
from ..models import DEFAULT_EMBEDDED_LLM, EMBEDDED_LLMS

DEFAULT_SYSTEM_PROMPT = (
    "You are Parrot, a friendly voice assistant. Your answers are spoken aloud, so reply in one to three "
    "short sentences of plain conversational text, without markdown, lists, code, emoji or links. Always "
    "answer in the language the user speaks."
)


@dataclass(frozen=True)
class ChatSettings:
    """Which language model answers, and how a conversation behaves by default.

    ``llm_base_url`` (``PARROT_LLM_BASE_URL``): an OpenAI-compatible endpoint such as
    ``http://localhost:11434/v1``; unset means the embedded model ``embedded_llm`` (``PARROT_LLM_EMBEDDED``:
    ``qwen2.5-0.5b`` or ``smollm2-135m``). ``llm_model`` / ``llm_api_key``: ``PARROT_LLM_MODEL`` /
    ``PARROT_LLM_API_KEY``. ``system_prompt``, ``voice``: ``PARROT_CHAT_SYSTEM_PROMPT``, ``PARROT_CHAT_VOICE``
    (default: the engine's default voice). ``max_tokens``: ``PARROT_CHAT_MAX_TOKENS``; ``history_turns``:
    exchanges remembered per session (``PARROT_CHAT_HISTORY_TURNS``); ``llm_threads``: threads of the
    embedded model (``PARROT_LLM_THREADS``; 0: as many as ``PARROT_THREADS``).
    """

    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout: float = 60.0
    embedded_llm: str = DEFAULT_EMBEDDED_LLM
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    voice: str | None = None
    max_tokens: int = 160
    temperature: float = 0.6
    history_turns: int = 8
    llm_threads: int = 0  # embedded model's threads; 0 = PARROT_THREADS (all cores)

    def __post_init__(self) -> None:
        if self.embedded_llm not in EMBEDDED_LLMS:
            raise InputError(
                f"PARROT_LLM_EMBEDDED must be one of {', '.join(EMBEDDED_LLMS)}, got {self.embedded_llm!r}"
            )

    @property
    def llm_description(self) -> str:
        if self.llm_base_url:
            return f"{self.llm_model} at {self.llm_base_url}"
        return f"embedded {self.embedded_llm}"

    @classmethod
    def from_env(cls) -> ChatSettings:
        env = os.environ
        return cls(
            llm_base_url=env.get("PARROT_LLM_BASE_URL", "").strip() or None,
            llm_model=env.get("PARROT_LLM_MODEL", "").strip() or cls.llm_model,
            llm_api_key=env.get("PARROT_LLM_API_KEY", "").strip() or None,
            llm_timeout=env_number("PARROT_LLM_TIMEOUT", cls.llm_timeout, float, 1.0),
            embedded_llm=env.get("PARROT_LLM_EMBEDDED", "").strip() or DEFAULT_EMBEDDED_LLM,
            system_prompt=env.get("PARROT_CHAT_SYSTEM_PROMPT", "").strip() or DEFAULT_SYSTEM_PROMPT,
            voice=env.get("PARROT_CHAT_VOICE", "").strip() or None,
            max_tokens=env_number("PARROT_CHAT_MAX_TOKENS", cls.max_tokens, int, 1),
            history_turns=env_number("PARROT_CHAT_HISTORY_TURNS", cls.history_turns, int, 0),
            llm_threads=env_number("PARROT_LLM_THREADS", cls.llm_threads, int, 0),
        )


def load_model(chat: ChatSettings, settings: Settings | None = None):  # noqa: ANN201 - ChatModel
    """The language model ``chat`` configures: the endpoint if a base URL is set, else the embedded one."""
    from .llm import EmbeddedModel, OpenAICompatibleModel

    if chat.llm_base_url:
        return OpenAICompatibleModel(chat.llm_base_url, chat.llm_model, chat.llm_api_key, timeout=chat.llm_timeout)
    settings = settings or Settings.from_env()
    threads = chat.llm_threads or settings.resolved_threads()
    model = EmbeddedModel.load(chat.embedded_llm, settings.data_dir, threads=threads)
    model.warm_up(chat.system_prompt)
    return model
