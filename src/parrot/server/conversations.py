"""Voice chat state of one app: the language model (loaded on first use) and the memory of HTTP conversations."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import anyio
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from ..chat.config import ChatSettings
    from ..chat.llm import ChatModel, Message
    from ..config import Settings

CHAT_SESSIONS_KEPT = 256  # conversations (by session_id) whose memory POST /v1/audio/chat keeps


class Conversations:
    """The chat model and the conversations' memory; ``settings`` default to the environment."""

    def __init__(self, settings: ChatSettings | None = None) -> None:
        self._settings = settings
        self._model: ChatModel | None = None
        self._model_lock = anyio.Lock()
        self._histories: OrderedDict[str, list[Message]] = OrderedDict()

    @property
    def settings(self) -> ChatSettings:
        if self._settings is None:
            from ..chat.config import ChatSettings

            self._settings = ChatSettings.from_env()
        return self._settings

    async def model(self, parrot_settings: Settings) -> ChatModel:
        """The configured language model, created on first use (loading the embedded one takes a second)."""
        async with self._model_lock:
            if self._model is None:
                from ..chat.config import load_model

                chat = self.settings
                self._model = await run_in_threadpool(lambda: load_model(chat, parrot_settings))
            return self._model

    def history(self, session_id: str) -> list[Message]:
        """A copy of the memory of conversation ``session_id`` (empty if unknown or forgotten)."""
        return list(self._histories.get(session_id, []))

    def remember(self, session_id: str, history: list[Message]) -> None:
        """Keep a conversation's memory for its next HTTP turn (the least recently used are forgotten)."""
        self._histories[session_id] = list(history)
        self._histories.move_to_end(session_id)
        while len(self._histories) > CHAT_SESSIONS_KEPT:
            self._histories.popitem(last=False)
