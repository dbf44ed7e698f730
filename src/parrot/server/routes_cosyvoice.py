"""CosyVoice-compatible routes (the form fields of upstream's ``runtime/python/fastapi/server.py``).

Like upstream, each route takes GET or POST with form fields and answers with a stream of raw 16-bit
little-endian mono PCM at the engine's sample rate (header ``X-Parrot-Sample-Rate``). Routes with a
``prompt_wav`` clone its voice for the request (not saved; recent prompts are reused, since upstream's
clients send the same prompt with every request) and then stream exactly like ``/inference_sft``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import StreamingResponse

from ..api import check_text_length
from ..audio import StreamEncoder
from ..delivery.instruct import parse_instruction
from ..errors import InputError
from ..voices.voice import Voice
from .schemas import ApiError, responses
from .speech import off_loop, start_speech, stream_audio, streaming_response
from .state import ServerState, State
from .uploads import read_upload

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
PromptWav = Annotated[
    UploadFile, File(description="Reference recording of the voice to imitate: 3-30 s of one person, any format")
]
_CLONING_NOTE = (
    "The voice of prompt_wav is cloned for this request (not saved); the first request with a new prompt "
    "waits several seconds for the clone, later ones with the same prompt reuse it."
)


@_get_and_post(
    "/inference_sft",
    summary="Speak with a voice by name (spk_id): built-in, or saved with POST /v1/audio/voices",
    responses={**_PCM_RESPONSE, **responses(400, 404, 429, 503)},
)
async def inference_sft(
    state: State, tts_text: TtsText, spk_id: Annotated[str, Form(description="A voice name (GET /v1/audio/voices)")]
) -> StreamingResponse:
    return await _stream_pcm(state, tts_text, spk_id, "cosyvoice", time.perf_counter())


@_get_and_post(
    "/inference_zero_shot",
    summary="Speak in the voice of prompt_wav, whose words are prompt_text",
    description=_CLONING_NOTE,
    responses={**_PCM_RESPONSE, **responses(400, 413, 429, 503)},
)
async def inference_zero_shot(
    state: State,
    tts_text: TtsText,
    prompt_text: Annotated[str, Form(description="What prompt_wav says")],
    prompt_wav: PromptWav,
) -> StreamingResponse:
    if not prompt_text.strip():
        raise ApiError(400, "prompt_text is empty; give the words spoken in prompt_wav", param="prompt_text")
    return await _speak_like_prompt(state, tts_text, prompt_wav, prompt_text)


@_get_and_post(
    "/inference_cross_lingual",
    summary="Speak tts_text, in any supported language, in the voice of prompt_wav",
    description=_CLONING_NOTE + " The words of prompt_wav are transcribed with Whisper.",
    responses={**_PCM_RESPONSE, **responses(400, 413, 429, 503)},
)
async def inference_cross_lingual(
    state: State, tts_text: TtsText, prompt_wav: PromptWav
) -> StreamingResponse:
    return await _speak_like_prompt(state, tts_text, prompt_wav, None)


InstructText = Annotated[
    str,
    Form(description="How to speak, e.g. 'speak cheerfully', '用悲伤的语气慢慢说' (never spoken); "
         "X-Parrot-Instruction says how it was understood, X-Parrot-Warning what cannot be followed"),
]


@_get_and_post(
    "/inference_instruct",
    summary="Speak with a voice by name (spk_id), delivered as instruct_text says",
    responses={**_PCM_RESPONSE, **responses(400, 404, 429, 503)},
)
async def inference_instruct(
    state: State,
    tts_text: TtsText,
    spk_id: Annotated[str, Form(description="A voice name (GET /v1/audio/voices)")],
    instruct_text: InstructText,
) -> StreamingResponse:
    _check_instruction(instruct_text)
    return await _stream_pcm(state, tts_text, spk_id, "cosyvoice", time.perf_counter(), instruction=instruct_text)


@_get_and_post(
    "/inference_instruct2",
    summary="Speak in the voice of prompt_wav, delivered as instruct_text says",
    description=_CLONING_NOTE + " The words of prompt_wav are transcribed with Whisper; instruct_text is never "
    "spoken.",
    responses={**_PCM_RESPONSE, **responses(400, 413, 429, 503)},
)
async def inference_instruct2(
    state: State,
    tts_text: TtsText,
    instruct_text: InstructText,
    prompt_wav: PromptWav,
) -> StreamingResponse:
    _check_instruction(instruct_text)
    return await _speak_like_prompt(state, tts_text, prompt_wav, None, instruction=instruct_text)


def _check_instruction(instruct_text: str) -> None:
    """400 before any cloning work when the instruction is empty or too long."""
    try:
        parse_instruction(instruct_text)
    except InputError as exc:
        raise ApiError(400, str(exc), param="instruct_text") from exc


async def _speak_like_prompt(
    state: ServerState,
    tts_text: str,
    prompt_wav: UploadFile,
    prompt_text: str | None,
    *,
    instruction: str | None = None,
) -> StreamingResponse:
    """Check the text first (cheap), then clone prompt_wav's voice and stream ``tts_text`` in it."""
    started = time.perf_counter()
    check_text_length(tts_text, state.settings.max_text_chars)
    tts = state.tts
    await off_loop(state, tts.prepare, tts_text)
    data = await read_upload(state.settings, prompt_wav, "prompt_wav")
    voice = await state.clones.clone(
        tts, data, prompt_text, name="prompt", param="prompt_wav", transcript_param="prompt_text", reuse=True
    )
    return await _stream_pcm(state, tts_text, voice, "cosyvoice_clone", started, instruction=instruction)


async def _stream_pcm(
    state: ServerState,
    text: str,
    voice: str | Voice,
    route: str,
    started: float,
    *,
    instruction: str | None = None,
) -> StreamingResponse:
    encoder = StreamEncoder("pcm", state.tts.sample_rate)
    speech = await start_speech(state, text, voice, instruction=instruction, encoder=encoder)
    content = stream_audio(state, speech.job, route, started)
    return streaming_response(content, speech.job, "application/octet-stream", speech.headers)
