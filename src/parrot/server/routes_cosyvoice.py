"""CosyVoice-compatible routes (the form fields of upstream's ``runtime/python/fastapi/server.py``).

Like upstream, each route takes GET or POST with form fields and answers with a stream of raw 16-bit
little-endian mono PCM at the engine's sample rate (header ``X-Parrot-Sample-Rate``). Routes that need a
reference recording check their inputs and then answer 501 until voice cloning exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import StreamingResponse

from ..audio import StreamEncoder
from .app import ServerState, State
from .routes_openai import REFERENCE_MAX_SECONDS, stream_audio
from .schemas import CLONING_UNAVAILABLE, ApiError, responses

router = APIRouter(tags=["cosyvoice"])
F = TypeVar("F", bound=Callable[..., Any])

_PCM_RESPONSE = {
    200: {
        "description": "Raw int16 little-endian mono PCM at X-Parrot-Sample-Rate Hz, streamed as it is made",
        "content": {"application/octet-stream": {}},
    }
}


def _get_and_post(path: str, **kwargs: Any) -> Callable[[F], F]:
    """Register a route for GET and POST, as upstream does (form fields in the body either way)."""

    def register(func: F) -> F:
        name = path.strip("/")
        router.get(path, operation_id=f"{name}_get", response_class=StreamingResponse, **kwargs)(func)
        router.post(path, operation_id=f"{name}_post", response_class=StreamingResponse, **kwargs)(func)
        return func

    return register


TtsText = Annotated[str, Form(description="The text to speak")]
PromptWav = Annotated[UploadFile, File(description="Reference recording of the voice to imitate")]


@_get_and_post(
    "/inference_sft",
    summary="Speak with a stock voice (spk_id)",
    responses={**_PCM_RESPONSE, **responses(400, 404, 429, 503)},
)
async def inference_sft(
    state: State, tts_text: TtsText, spk_id: Annotated[str, Form(description="A voice name")]
) -> StreamingResponse:
    started = time.perf_counter()
    rate = state.tts.sample_rate
    job = state.start_speech(tts_text, spk_id, encoder=StreamEncoder("pcm", rate))
    content = stream_audio(state, job, "cosyvoice", started)
    return state.streaming_response(
        content, job, "application/octet-stream", {"X-Parrot-Sample-Rate": str(rate)}
    )


@_get_and_post(
    "/inference_zero_shot",
    summary="Clone the voice of prompt_wav (whose words are prompt_text) — not available yet",
    responses={**_PCM_RESPONSE, **responses(400, 413, 501)},
)
async def inference_zero_shot(
    state: State,
    tts_text: TtsText,
    prompt_text: Annotated[str, Form(description="What prompt_wav says")],
    prompt_wav: PromptWav,
) -> StreamingResponse:
    if not prompt_text.strip():
        raise ApiError(400, "prompt_text is empty; give the words spoken in prompt_wav", param="prompt_text")
    return await _needs_cloning(state, tts_text, prompt_wav)


@_get_and_post(
    "/inference_cross_lingual",
    summary="Speak tts_text in the voice of prompt_wav, any language — not available yet",
    responses={**_PCM_RESPONSE, **responses(400, 413, 501)},
)
async def inference_cross_lingual(
    state: State, tts_text: TtsText, prompt_wav: PromptWav
) -> StreamingResponse:
    return await _needs_cloning(state, tts_text, prompt_wav)


@_get_and_post(
    "/inference_instruct2",
    summary="Speak in the voice of prompt_wav following instruct_text — not available yet",
    responses={**_PCM_RESPONSE, **responses(400, 413, 501)},
)
async def inference_instruct2(
    state: State,
    tts_text: TtsText,
    instruct_text: Annotated[str, Form(description="How to speak, e.g. 'speak cheerfully'")],
    prompt_wav: PromptWav,
) -> StreamingResponse:
    if not instruct_text.strip():
        raise ApiError(
            400, "instruct_text is empty; say how the text should be spoken", param="instruct_text"
        )
    return await _needs_cloning(state, tts_text, prompt_wav)


async def _needs_cloning(state: ServerState, tts_text: str, prompt_wav: UploadFile) -> StreamingResponse:
    """Check the text and the reference recording as the real thing will, then say it is not here yet."""
    state.check_text(tts_text)
    state.tts.prepare(tts_text)
    await state.decode_upload(prompt_wav, "prompt_wav", max_seconds=REFERENCE_MAX_SECONDS)
    raise ApiError(501, CLONING_UNAVAILABLE, code="not_implemented")
