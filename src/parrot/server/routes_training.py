"""Training voices over HTTP: start a job, follow its progress (JSON or Server-Sent Events), cancel it.

The work itself is in ``training.py`` (a low-priority child process per job); these routes validate the
request before any work and translate HTTP to calls on ``state.training``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..text.segment import check_language
from .errors import checked
from .names import VOICE_NAME_HELP, check_voice_name, refuse_taken_name
from .schemas import ApiError, responses
from .sse import sse_event
from .state import State
from .training import (
    DEFAULT_MINUTES,
    MAX_CLIPS,
    MAX_MINUTES,
    MIN_MINUTES,
    MIN_TOTAL_SECONDS,
    TrainingJobInfo,
    TrainingJobList,
)
from .uploads import decode_data, read_upload

router = APIRouter()
PATH = "/v1/audio/voices/train"


@router.post(
    PATH,
    tags=["training"],
    summary="Train a voice from recordings of one speaker (a background job)",
    description="Starts a training job and answers at once (202) with it; follow it with GET "
    f"{PATH}/{{id}} or the event stream {PATH}/{{id}}/events. When it is done the voice is saved under "
    "`name` and works as `voice` in every speech route. One job runs at a time (409 while one does); it runs "
    "in a low-priority process so speech requests keep being served. Send 10 s to a few minutes of one "
    "person speaking, as one or more `files` (any audio format; all together within the upload limit).",
    status_code=202,
    response_model=TrainingJobInfo,
    responses=responses(400, 409, 413),
)
async def start_training(
    state: State,
    response: Response,
    name: Annotated[str, Form(description=f"Name of the new voice: {VOICE_NAME_HELP}")],
    files: Annotated[list[UploadFile], File(description="Recordings of the speaker, any format")],
    text: Annotated[
        list[str] | None,
        Form(description="What each file says, once per file in order; empty or absent: transcribed with Whisper"),
    ] = None,
    language: Annotated[
        str | None, Form(description="Language of the recordings: zh, en, ja or auto (default: detect)")
    ] = None,
    minutes: Annotated[
        float, Form(description=f"Training time budget, {MIN_MINUTES:g}-{MAX_MINUTES:g} minutes")
    ] = DEFAULT_MINUTES,
    resume: Annotated[
        bool, Form(description="Continue a cancelled or interrupted training of the same name and recordings")
    ] = False,
) -> TrainingJobInfo:
    name = check_voice_name(name)
    language = checked(check_language, language, "language")
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ApiError(
            400, f"minutes must be between {MIN_MINUTES:g} and {MAX_MINUTES:g}", code="invalid_value", param="minutes"
        )
    _check_counts(files, text)
    state.training.refuse_if_busy()
    tts = state.tts
    await run_in_threadpool(refuse_taken_name, tts.voices, name)
    clips = [await read_upload(state.settings, upload, "files") for upload in files]
    seconds = 0.0
    for data in clips:
        audio, rate = await decode_data(data, "files", sample_rate=16_000)
        seconds += len(audio) / rate
    if seconds < MIN_TOTAL_SECONDS:
        raise ApiError(
            400,
            f"files: {seconds:.1f} s of recordings is too little to train a voice; send at least "
            f"{MIN_TOTAL_SECONDS:g} s (10 s to a few minutes of one person speaking)",
            code="audio_too_short",
            param="files",
        )
    texts = [t.strip() for t in text] if text else None
    job = await state.training.start(tts, name, clips, texts, language, minutes, resume)
    response.headers["Location"] = f"{PATH}/{quote(job.id)}"
    return job.info


@router.get(PATH, tags=["training"], summary="Training jobs, newest first", response_model=TrainingJobList,
            responses=responses())  # fmt: skip
async def list_training(state: State) -> TrainingJobList:
    return TrainingJobList(jobs=state.training.jobs())


@router.get(
    PATH + "/{job_id}",
    tags=["training"],
    summary="A training job: state, step, loss, fraction done, time left, error, the voice once done",
    response_model=TrainingJobInfo,
    responses=responses(404),
)
async def get_training(job_id: str, state: State) -> TrainingJobInfo:
    return state.training.get(job_id).info


@router.delete(
    PATH + "/{job_id}",
    tags=["training"],
    summary="Cancel a training job (the work so far is kept: start it again with resume=true to continue)",
    response_model=TrainingJobInfo,
    responses=responses(404),
)
async def cancel_training(job_id: str, state: State) -> TrainingJobInfo:
    job = state.training.get(job_id)
    state.training.cancel(job)
    return job.info


@router.get(
    PATH + "/{job_id}/events",
    tags=["training"],
    summary="Server-Sent Events: the job as it changes (one `data: {job}` per change) until it finishes",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **responses(404)},
)
async def training_events(job_id: str, state: State) -> StreamingResponse:
    job = state.training.get(job_id)

    async def events() -> AsyncIterator[str]:
        async for info in job.updates():
            yield sse_event(info.model_dump(mode="json"))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _check_counts(files: list[UploadFile], text: list[str] | None) -> None:
    if not files:
        raise ApiError(400, "files: send one or more recordings of the speaker", code="invalid_value", param="files")
    if len(files) > MAX_CLIPS:
        raise ApiError(400, f"files: at most {MAX_CLIPS} recordings per job", code="invalid_value", param="files")
    if text and len(text) != len(files):
        raise ApiError(
            400,
            f"text: {len(text)} transcripts for {len(files)} files; send one per file (empty to transcribe), or none",
            code="invalid_value",
            param="text",
        )
