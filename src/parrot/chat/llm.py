"""Language models behind one small protocol: any OpenAI-compatible chat endpoint, or an embedded GGUF model.

    model = OpenAICompatibleModel("http://localhost:11434/v1", "llama3.2")      # Ollama, vLLM, llama.cpp...
    model = EmbeddedModel.load(settings)                                         # llama-cpp-python, offline
    async for text in model.stream([Message("user", "Hi!")]):
        ...

Both stream the answer as it is generated; stopping the iteration (or cancelling the task) stops the
generation. Failures raise ``LLMError`` with a message that says what to check.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import InputError, ParrotError
from . import runtime
from .aio import iterate_in_thread
from .runtime import RuntimeStatus

LOCAL_AHEAD = 2  # pieces the embedded model may write ahead of its reader: a reader that waits pauses it


class LLMError(ParrotError):
    """The language model cannot answer (server unreachable, refused the request, model missing)."""

    kind = "llm_unavailable"


class ChatRuntimeNotReady(LLMError):
    """The embedded model's runtime (llama-cpp-python) is still being built, or its build failed."""

    kind = "chat_runtime_not_ready"

    def __init__(self, status: RuntimeStatus) -> None:
        super().__init__(status.message())
        self.status = status


@dataclass(frozen=True)
class Message:
    """One message of a conversation (``role`` is ``system``, ``user`` or ``assistant``)."""

    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class ChatModel(Protocol):
    """What voice chat needs from a language model."""

    name: str

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 200, temperature: float = 0.6
    ) -> AsyncIterator[str]:
        """The answer to ``messages``, piece by piece as it is generated."""
        ...


class OpenAICompatibleModel:
    """``POST {base_url}/chat/completions`` with ``stream: true`` (Server-Sent Events), as OpenAI, Ollama,
    vLLM, llama.cpp's server, LM Studio and others implement it. ``base_url`` includes the version path,
    e.g. ``http://localhost:11434/v1``."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *, timeout: float = 60.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise LLMError(f"the language model URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model
        self.api_key = api_key
        self.timeout = timeout

    async def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 200, temperature: float = 0.6
    ) -> AsyncIterator[str]:
        import httpx

        url = f"{self.base_url}/chat/completions"
        body = {
            "model": self.model,
            "messages": [m.as_dict() for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
        try:
            async with (
                httpx.AsyncClient(timeout=timeout) as client,
                client.stream("POST", url, json=body, headers=headers) as response,
            ):
                if response.status_code != 200:
                    detail = _error_detail((await response.aread()).decode("utf-8", "replace"))
                    raise LLMError(
                        f"the language model server at {self.base_url} answered HTTP {response.status_code}"
                        f"{': ' + detail if detail else ''} (check PARROT_LLM_MODEL and PARROT_LLM_API_KEY)"
                    )
                async for line in response.aiter_lines():
                    text = _sse_text(line)
                    if text is None:
                        break
                    if text:
                        yield text
        except httpx.TimeoutException as exc:
            raise LLMError(f"the language model server at {self.base_url} did not answer in time ({exc})") from exc
        except httpx.HTTPError as exc:
            raise LLMError(
                f"cannot reach the language model server at {self.base_url} ({exc.__class__.__name__}: {exc}); "
                "is it running? (PARROT_LLM_BASE_URL)"
            ) from exc


def _sse_text(line: str) -> str | None:
    """The text in one Server-Sent Events line of a chat completion stream; None at ``[DONE]``."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        event = json.loads(data)
    except json.JSONDecodeError as exc:
        raise LLMError(f"the language model server sent an event that is not JSON: {data[:200]!r}") from exc
    if isinstance(event, dict) and event.get("error"):
        raise LLMError(f"the language model failed: {_error_detail(json.dumps(event))}")
    try:
        choice = event["choices"][0] if event.get("choices") else {}
        return (choice.get("delta") or {}).get("content") or ""
    except (AttributeError, KeyError, TypeError, IndexError) as exc:
        raise LLMError(f"unexpected event from the language model server: {data[:200]!r}") from exc


def _error_detail(body: str) -> str:
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return body.strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    if error:
        return str(error)[:300]
    return body.strip()[:300]


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def _plain_cpu_buffers() -> Iterator[None]:
    """Load weights into plain CPU buffers, without llama.cpp's "extra buffer types" (AMX tiles, repacked
    weights). A llama.cpp built with ``-march=native`` (pip's source build) on a CPU that advertises AMX
    uses AMX kernels for quantised weights, and virtual machines that advertise AMX without enabling it
    (this project's build machines) kill the process with SIGILL on the first prompt. The plain AVX2/AVX-512
    kernels work everywhere. ``Llama`` does not expose the flag, so the default parameters are adjusted while
    the model loads."""
    from llama_cpp import llama_cpp as lib

    original = lib.llama_model_default_params

    def params():  # noqa: ANN202 - llama_model_params
        value = original()
        if hasattr(value, "use_extra_bufts"):
            value.use_extra_bufts = False
        return value

    with _PARAMS_LOCK:
        lib.llama_model_default_params = params
        try:
            yield
        finally:
            lib.llama_model_default_params = original


class EmbeddedModel:
    """A GGUF instruct model run in this process by llama-cpp-python (CPU). One generation at a time; a
    second waits for the first. The chat template stored in the GGUF formats the conversation."""

    def __init__(self, path: Path, name: str, *, threads: int = 0, context: int = 2048) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError(
                "the embedded language model needs llama-cpp-python (pip install llama-cpp-python==0.3.36), "
                "or set PARROT_LLM_BASE_URL to use a language model server"
            ) from exc
        self.name = name
        self.path = path
        kwargs: dict[str, Any] = {"n_ctx": context, "verbose": False}
        if threads > 0:
            kwargs["n_threads"] = threads
        try:
            with _plain_cpu_buffers():
                self._llama = Llama(model_path=str(path), **kwargs)
        except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
            raise LLMError(f"cannot load the embedded language model {path}: {exc}") from exc
        self._lock = threading.Lock()

    @classmethod
    def load(cls, choice: str, data_dir: Path, *, threads: int = 0) -> EmbeddedModel:
        """The embedded model ``choice`` (see ``parrot.models.EMBEDDED_LLMS``), assembled if needed."""
        from ..models import embedded_llm_path

        current = runtime.status(data_dir)
        if current.state == "missing":  # first use: start building it (speech is not affected)
            current = runtime.start_build(data_dir)
        if current.state != "ready":
            raise ChatRuntimeNotReady(current)
        return cls(embedded_llm_path(data_dir, choice), choice, threads=threads)

    def warm_up(self, system_prompt: str) -> None:
        """Evaluate ``system_prompt`` once: llama.cpp keeps it in its cache, and the first real turn of
        every conversation with that prompt skips reading it again."""
        with self._lock:
            self._llama.create_chat_completion(
                messages=[{"role": "system", "content": system_prompt}, {"role": "user", "content": "Hi"}],
                max_tokens=1,
            )

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 200, temperature: float = 0.6
    ) -> AsyncIterator[str]:
        payload = [m.as_dict() for m in messages]

        def generate() -> Iterator[str]:
            with self._lock:
                chunks = self._llama.create_chat_completion(
                    messages=payload,  # type: ignore[arg-type]
                    stream=True,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    top_p=0.9,
                    repeat_penalty=1.1,
                )
                try:
                    for chunk in chunks:
                        text = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
                        if text:
                            yield text
                except ValueError as exc:  # llama.cpp: "Requested tokens (N) exceed context window of M"
                    if "context window" not in str(exc):
                        raise
                    raise InputError(
                        f"the conversation is too long for the embedded language model ({exc}); "
                        "ask a shorter question, or start a new conversation"
                    ) from exc
                finally:
                    chunks.close()  # type: ignore[union-attr]

        return iterate_in_thread(generate, name="parrot-llm", ahead=LOCAL_AHEAD)
