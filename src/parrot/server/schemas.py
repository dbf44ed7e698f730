"""Request and response models of the HTTP API, and the OpenAI-shaped error every failure uses."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

SpeechModel = Literal["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "parrot", "kokoro"]
SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
TranscriptionModel = Literal[
    "whisper-1", "whisper-base", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "parrot"
]
TranscriptionFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
TimestampGranularity = Literal["segment", "word"]

# -- errors ---------------------------------------------------------------------------------------

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_error",
}


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong and what to do about it")
    type: str = Field(description="invalid_request_error, authentication_error, rate_limit_error, ...")
    param: str | None = Field(None, description="The request field at fault, if any")
    code: str | None = Field(None, description="Machine-readable reason, e.g. voice_not_found")


class ErrorResponse(BaseModel):
    """The error body of every failed request (OpenAI's shape)."""

    error: ErrorDetail


class ApiError(Exception):
    """Raise from a route to answer with an OpenAI-shaped error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, code=self.code, param=self.param)


def error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """``{"error": {...}}`` as OpenAI sends it (also used for WebSocket error events)."""
    detail = ErrorDetail(message=message, type=error_type(status), param=param, code=code)
    return {"error": detail.model_dump()}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


_ERROR_DESCRIPTIONS = {
    400: "Invalid request, including malformed or missing fields (the message says what to fix)",
    401: "Missing or wrong API key (only when the server has API keys)",
    403: "Not allowed (built-in voices cannot be renamed or deleted)",
    404: "No such voice (the message lists the available ones)",
    409: "A voice with that name already exists (built-in or saved), or a voice is already being trained",
    413: "Upload larger than the server's limit",
    429: "Too many speech streams (or voice clones) in progress; retry after Retry-After seconds",
    502: "The language model server cannot be reached or refused the request (voice chat)",
    503: "The server is starting or shutting down",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route: 401 (API keys) plus the given error statuses."""
    return {
        status: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status]}
        for status in sorted({401, *statuses})
    }


# -- speech ---------------------------------------------------------------------------------------


class VoiceRef(BaseModel):
    id: str = Field(description="A voice name")


class SpeechRequest(BaseModel):
    """OpenAI's ``POST /v1/audio/speech`` body, plus Parrot's optional ``lang``."""

    model_config = ConfigDict(extra="ignore")

    model: SpeechModel = Field("parrot", description="Any of these names selects Parrot's engine")
    input: str = Field(description="The text to speak (Mandarin, English, Japanese, or a mix)")
    voice: str | VoiceRef | None = Field(
        None,
        description="A Parrot voice name (GET /v1/audio/voices), or an OpenAI voice name (alloy, ash, "
        "ballad, coral, echo, fable, onyx, nova, sage, shimmer, verse, marin, cedar) mapped to a stock "
        "voice of the same gender; default: the first stock voice",
    )
    response_format: SpeechFormat = Field(
        "mp3", description="pcm is raw 16-bit little-endian mono at X-Parrot-Sample-Rate (24 kHz)"
    )
    speed: float = Field(1.0, description="Speaking rate; Parrot supports 0.5 to 2.0")
    instructions: str | None = Field(
        None,
        description="How to speak, in English or Chinese: emotion, style, rate, pitch, loudness, e.g. "
        "'speak cheerfully and a bit faster', '用悲伤的语气慢慢说', 'whisper', '像播音员一样'. Never spoken. "
        "X-Parrot-Instruction says how it was understood; X-Parrot-Warning lists what cannot be followed "
        "(dialects, singing, character voices).",
        max_length=500,
    )
    stream_format: Literal["audio", "sse"] = Field(
        "audio",
        description='"audio": the encoded file, sent chunk by chunk as it is made; "sse": text/event-stream '
        'of {"type":"speech.audio.delta","audio":<base64>} events and a final speech.audio.done with usage',
    )
    lang: str | None = Field(None, description="Parrot extension: zh, en, ja or auto (default: detect)")
    timestamps: Literal["none", "word"] = Field(
        "none",
        description='Parrot extension: "word" adds when each word (each Han character) and sentence is said, '
        'in seconds. With stream_format "audio" the answer is then JSON: {"audio": <base64 file in '
        'response_format>, "text": <the words as spoken>, "words": [{"text","start","end"}], "sentences": [...]}; '
        'with "sse" each speech.audio.delta event carries the "words" of its audio and the "sentences" it ends',
    )


class Usage(BaseModel):
    input_tokens: int = Field(description="Characters of input / 4, rounded up (Parrot has no tokenizer)")
    output_tokens: int = Field(description="20 ms frames of audio produced")
    total_tokens: int


# -- models, health, voices -----------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class QueueStats(BaseModel):
    workers: int
    busy_workers: int
    max_jobs: int
    active_jobs: int
    queued: int
    completed: int
    accepting: bool


class LibraryState(BaseModel):
    ok: bool = Field(description="False while the library's index is damaged (saved voices are then read-only)")
    problems: list[str] = Field(description="What is wrong, or what opening the library had to fix (names, no paths)")


class Health(BaseModel):
    status: Literal["ok", "degraded", "shutting_down"] = Field(
        description="degraded: serving, but the voice library is damaged (see library.problems)"
    )
    engine: str
    voices: int
    queue: QueueStats
    library: LibraryState


class VoiceInfo(BaseModel):
    name: str
    engine: str
    kind: str = Field(description="stock, pretrained or cloned")
    gender: str | None = None
    language: str | None = None
    description: str = ""
    transcript: str | None = Field(
        None, description="Cloned voices: what the reference recording says (given, or heard by Whisper)"
    )
    notes: list[str] = Field(
        default_factory=list, description="Cloned voices: what was done to the reference recording"
    )
    consent: ConsentInfo | None = Field(None, description="Cloned voices: the consent statement recorded with it")
    design: dict[str, Any] | None = Field(
        None, description="Designed voices: the recipe (blend of voices, pitch, pace, brightness, breathiness)"
    )


class ConsentInfo(BaseModel):
    by: str = Field(description="Who agreed to have their voice cloned")
    text: str = Field(description="The statement they agreed to")
    at: str = Field(description="When it was recorded (ISO 8601, UTC)")


class VoiceDesign(BaseModel):
    """``POST /v1/audio/voices/design`` (saves) and ``.../design/preview`` (speaks ``input``, saves nothing)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="A voice, or a blend of voices: 'jf_alpha*0.3+jm_kumo*0.7'", max_length=600)
    pitch: float = Field(0.0, description="Semitones, -12 to 12")
    pace: float = Field(1.0, description="Speed factor, 0.5 to 2")
    brightness: float = Field(0.0, description="dB per octave above 500 Hz: -6 darker/older to 6 brighter/younger")
    breathiness: float = Field(0.0, description="0 (none) to 1 (very breathy)")
    name: str | None = Field(None, description="Name of the new voice (required to save)")
    description: str = Field("", description="A line describing the voice", max_length=300)
    input: str | None = Field(None, description="Preview only: the text to speak", max_length=2000)


class VoiceRename(BaseModel):
    """``PATCH /v1/audio/voices/{name}`` body."""

    name: str = Field(description="The new name of the saved voice")


class VoiceList(BaseModel):
    voices: list[VoiceInfo]
    aliases: dict[str, str] = Field(
        description="OpenAI voice names and the Parrot voice each one speaks with"
    )


# -- transcription --------------------------------------------------------------------------------


class DurationUsage(BaseModel):
    type: Literal["duration"] = "duration"
    seconds: float = Field(description="Length of the recording")


class Transcription(BaseModel):
    text: str
    usage: DurationUsage | None = None


class TranscriptionWord(BaseModel):
    word: str
    start: float = Field(description="Seconds from the start of the recording")
    end: float


class TranscriptionSegment(BaseModel):
    id: int
    seek: int = Field(description="Start of the 30 s window it was decoded in, in 10 ms frames")
    start: float = Field(description="Seconds from the start of the recording")
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class VerboseTranscription(BaseModel):
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str = Field(description="ISO code of the language spoken (of the text: en for translations)")
    duration: float
    text: str
    segments: list[TranscriptionSegment]
    words: list[TranscriptionWord] | None = Field(
        None, description="Only when timestamp_granularities[] includes word"
    )
    usage: DurationUsage | None = None
