"""A fake OpenAI-compatible chat server (``POST /v1/chat/completions``, streaming SSE) for the voice chat tests.

It answers by rule, so tests can check relevance without a real model: a question about France gets
"The capital of France is Paris.", one in Chinese gets a Chinese answer, "markdown" gets markdown with emoji,
"long" gets a long answer (to test barge-in). ``requests`` records every request body; ``api_key`` (if set)
must be sent as a bearer token.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

ANSWERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"france", re.I), "The capital of France is Paris. It is a beautiful city."),
    (re.compile(r"[\u4e00-\u9fff]"), "法国的首都是巴黎。那是一座美丽的城市。"),
    (
        re.compile(r"markdown", re.I),
        "**Sure!** Here is a list 😀:\n- first item\n- second `item`\nSee [docs](http://x.y).",
    ),
    (re.compile(r"long", re.I), " ".join(f"This is sentence number {i} of a very long answer." for i in range(1, 40))),
]
DEFAULT_ANSWER = "I heard you. How can I help?"


class FakeLLM:
    """The app and what it saw."""

    def __init__(self, *, api_key: str | None = None, delay: float = 0.01) -> None:
        self.api_key = api_key
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.completions)

    @staticmethod
    def answer(messages: list[dict[str, str]]) -> str:
        question = messages[-1]["content"]
        return next((text for pattern, text in ANSWERS if pattern.search(question)), DEFAULT_ANSWER)

    async def completions(self, request: Request) -> Any:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, status_code=401
            )
        body = await request.json()
        self.requests.append(body)
        if body.get("model") == "missing-model":
            return JSONResponse({"error": {"message": "model 'missing-model' not found"}}, status_code=404)
        text = self.answer(body["messages"])
        pieces = re.findall(r"\S+\s*|\s+", text)  # roughly one token per word
        return StreamingResponse(self._sse(pieces, body.get("model", "")), media_type="text/event-stream")

    async def _sse(self, pieces: list[str], model: str) -> AsyncIterator[str]:
        def event(delta: dict[str, str], finish: str | None = None) -> str:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk)}\n\n"

        yield event({"role": "assistant"})
        for piece in pieces:
            await asyncio.sleep(self.delay)
            yield event({"content": piece})
        yield event({}, "stop")
        yield "data: [DONE]\n\n"
