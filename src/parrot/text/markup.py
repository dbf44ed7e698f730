"""Inline markup in the text to speak: CosyVoice tags, pause tags, an SSML subset, language tags.

``parse_markup`` turns marked-up text into a flat script of pieces: ``Words`` (text with the
delivery and language in force there), ``Pause`` and ``Sound`` (a breath, a laugh...). Markup is
never spoken. What it understands:

- CosyVoice sounds ``[breath]``, ``[quick_breath]``, ``[laughter]``, ``[sigh]``, ``[cough]`` and the
  rest of its tag set; ``<strong>..</strong>`` (emphasis) and ``<laughter>..</laughter>`` (said
  laughing).
- Pauses: ``[pause:1.5s]``, ``[pause:300ms]``, ``<break time="500ms"/>``, ``<break strength="strong"/>``.
- SSML: ``<speak>``, ``<p>``, ``<s>``, ``<emphasis level=..>``, ``<prosody rate=.. pitch=.. volume=..>``,
  ``<say-as interpret-as="digits|characters|spell-out|telephone|cardinal|date|time">``,
  ``<lang xml:lang="en-US">``.
- Language tags ``<|zh|>``, ``<|en|>``, ``<|ja|>``, ``<|ko|>`` (and ``<|es|>``, ``<|fr|>``, ``<|it|>``, ``<|pt|>``,
  ``<|hi|>``) force the language of the text that follows.

A pause is at most ``MAX_PAUSE_SECONDS``, all the pauses of a text together at most
``MAX_TOTAL_PAUSE_SECONDS`` (``AudioBudgetError``). Tokenizing takes linear time whatever the input.
Malformed values (``<break time="soon"/>``) raise ``InputError``; a closing tag without its
opening one is dropped. ``rewrite_outside_markup`` applies a function to the text between tags only,
for engines that read the markup themselves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import AudioBudgetError, InputError, UnsupportedLanguageError
from ..prosody import NEUTRAL, Prosody

MAX_PAUSE_SECONDS = 10.0
MAX_TOTAL_PAUSE_SECONDS = 120.0  # all the pauses of one text together

SOUNDS = (
    "breath",
    "quick_breath",
    "laughter",
    "sigh",
    "cough",
    "noise",
    "clucking",
    "accent",
    "hissing",
    "vocalized-noise",
    "lipsmack",
    "mn",
)
_LANG_CODES = {
    "zh": "zh", "cmn": "zh", "en": "en", "ja": "ja", "jp": "ja", "yue": "yue", "ko": "ko", "kr": "ko", "es": "es",
    "fr": "fr", "it": "it", "pt": "pt", "hi": "hi",
}  # fmt: skip

# Linear time on any input: no two quantifiers compete for the same characters (the attributes run to the
# first '>' and a trailing '/' is recognised in code), so a tag that never closes costs one scan, not a square.
_TOKEN = re.compile(
    r"\[(?P<sound>" + "|".join(re.escape(s) for s in SOUNDS) + r")\]"
    r"|\[pause(?::(?P<pause>[^\]\[]*+))?\]"
    r"|<\|(?P<langtag>[a-z]{2,3})\|>"
    r"|<(?P<close>/)?(?P<tag>strong|laughter|emphasis|prosody|say-as|speak|voice|lang|break|s|p)"
    r"(?:(?P<attrs>\s[^<>]*+)|(?P<selfclose>/))?>",
    re.IGNORECASE,
)
# An attribute starts only where a name starts (the lookbehind), so a long run of name characters is read once.
_ATTR = re.compile(r"(?<![\w:-])([\w:-]++)\s*+=\s*+(?:\"([^\"]*+)\"|'([^']*+)'|([^\s\"'>/]++))")

EMPHASIS = Prosody(rate=0.92, pitch=1.0, pitch_range=1.35, volume=3.0, brightness=1.0)
_EMPHASIS_LEVELS = {
    "strong": EMPHASIS.scaled(1.5),
    "moderate": EMPHASIS,
    "none": NEUTRAL,
    "reduced": Prosody(rate=1.05, pitch_range=0.8, volume=-3.0),
}
LAUGHING = Prosody(pitch=2.0, pitch_range=1.3, quality="breathy", tremolo=0.6)
_RATES = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}
_PITCHES = {"x-low": -4.0, "low": -2.0, "medium": 0.0, "default": 0.0, "high": 2.0, "x-high": 4.0}
_VOLUMES = {"silent": -20.0, "x-soft": -10.0, "soft": -5.0, "medium": 0.0, "default": 0.0, "loud": 5.0, "x-loud": 9.0}
_BREAKS = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 0.8, "x-strong": 1.2}


@dataclass(frozen=True)
class Words:
    """Text to speak with the delivery and language in force where it stands."""

    text: str
    prosody: Prosody = NEUTRAL
    lang: str | None = None


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Sound:
    """A non-verbal sound: one of ``SOUNDS``."""

    kind: str


Piece = Words | Pause | Sound


@dataclass(frozen=True)
class Markup:
    """Parsed text: the pieces in order, the tags found, and notes for the user."""

    pieces: tuple[Piece, ...]
    tags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def plain_text(self) -> str:
        return "".join(p.text if isinstance(p, Words) else " " for p in self.pieces)


@dataclass
class _Span:
    tag: str
    prosody: Prosody
    lang: str | None
    transform: Callable[[str], str] | None = None


class _Spans:
    """The open tags. Each entry holds the delivery in force inside it (its own prosody on top of its parent's,
    the nearest say-as transform), so words cost O(1) however deep the nesting, and closing a tag that is not
    open costs O(1) too: parsing stays linear in the length of the text."""

    def __init__(self) -> None:
        self._stack = [_Span("", NEUTRAL.then(NEUTRAL), None)]
        self._open: dict[str, int] = {}

    @property
    def top(self) -> _Span:
        return self._stack[-1]

    def push(self, span: _Span) -> None:
        parent = self._stack[-1]
        transform = span.transform if span.transform is not None else parent.transform
        self._stack.append(_Span(span.tag, parent.prosody.then(span.prosody), span.lang, transform))
        self._open[span.tag] = self._open.get(span.tag, 0) + 1

    def close(self, tag: str) -> None:
        """Close the innermost open ``tag`` and everything opened inside it; nothing if it is not open."""
        if not self._open.get(tag):
            return
        while True:
            span = self._stack.pop()
            self._open[span.tag] -= 1
            if span.tag == tag:
                return


def parse_markup(text: str, languages: tuple[str, ...] = ("zh", "en", "ja")) -> Markup:
    """Split ``text`` into pieces; ``languages`` are those the engine can speak (for language tags)."""
    pieces: list[Piece] = []
    tags: list[str] = []
    warnings: list[str] = []
    spans = _Spans()
    forced_lang: str | None = None  # from <|xx|> tags: in force until the next one
    position = 0
    paused = 0.0  # seconds of pauses so far

    def add_words(chunk: str) -> None:
        if not chunk:
            return
        top = spans.top
        if top.transform is not None:
            chunk = top.transform(chunk)
        pieces.append(Words(chunk, top.prosody, top.lang or forced_lang))

    for match in _TOKEN.finditer(text):
        add_words(text[position : match.start()])
        position = match.end()
        token = match.group()
        tags.append(token)
        if match.group("sound"):
            pieces.append(Sound(match.group("sound").lower()))
        elif token.lower().startswith("[pause"):
            pause = Pause(_duration(match.group("pause") or "0.5s", token))
            pieces.append(pause)
            paused += pause.seconds
        elif match.group("langtag"):
            forced_lang = _language(match.group("langtag"), token, languages)
        else:
            name = match.group("tag").lower()
            raw = (match.group("attrs") or "").rstrip()
            selfclose = bool(match.group("selfclose")) or raw.endswith("/")
            attrs = _attributes(raw.removesuffix("/") if raw.endswith("/") else raw)
            if match.group("close"):
                spans.close(name)
                if name in ("p", "s"):
                    last = pieces[-1] if pieces else None
                    context = (last.prosody, last.lang) if isinstance(last, Words) else (NEUTRAL, None)
                    pieces.append(Words("\n" if name == "p" else " ", *context))
            elif name == "break":
                pause = Pause(_break(attrs, token))
                pieces.append(pause)
                paused += pause.seconds
            elif name == "voice":
                warnings.append("<voice> inside the text is ignored; choose the voice in the request")
            elif not selfclose:
                spans.push(_open(name, attrs, token, languages))
        if paused > MAX_TOTAL_PAUSE_SECONDS:
            raise AudioBudgetError(
                f"the pauses in the text add up to more than {MAX_TOTAL_PAUSE_SECONDS:g} s (at {token}); "
                "that is the most one text may hold"
            )
    add_words(text[position:])
    return Markup(_merged(pieces), tuple(tags), tuple(dict.fromkeys(warnings)))


def rewrite_outside_markup(text: str, rewrite: Callable[[str], str]) -> str:
    """``text`` with ``rewrite`` applied to each run between tags; the tags stay as they are."""
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(rewrite(text[position : match.start()]))
        out.append(match.group())
        position = match.end()
    out.append(rewrite(text[position:]))
    return "".join(out)


def _open(name: str, attrs: dict[str, str], token: str, languages: tuple[str, ...]) -> _Span:
    if name == "strong":
        return _Span(name, EMPHASIS, None)
    if name == "emphasis":
        level = attrs.get("level", "moderate").lower()
        if level not in _EMPHASIS_LEVELS:
            raise InputError(f"{token}: level must be one of {', '.join(_EMPHASIS_LEVELS)}")
        return _Span(name, _EMPHASIS_LEVELS[level], None)
    if name == "laughter":
        return _Span(name, LAUGHING, None)
    if name == "prosody":
        return _Span(name, _prosody(attrs, token), None)
    if name == "say-as":
        return _Span(name, NEUTRAL, None, _say_as(attrs, token))
    if name == "lang":
        code = attrs.get("xml:lang") or attrs.get("lang") or ""
        return _Span(name, NEUTRAL, _language(code, token, languages))
    return _Span(name, NEUTRAL, None)  # speak, s, p: structure only


def _merged(pieces: list[Piece]) -> tuple[Piece, ...]:
    """Adjacent words said the same way become one piece (joined once: linear time)."""
    out: list[Piece] = []
    run: list[Words] = []
    for piece in [*pieces, None]:
        if isinstance(piece, Words) and run and (run[-1].prosody, run[-1].lang) == (piece.prosody, piece.lang):
            run.append(piece)
            continue
        if run:
            out.append(run[0] if len(run) == 1 else Words("".join(w.text for w in run), run[0].prosody, run[0].lang))
            run = []
        if isinstance(piece, Words):
            run.append(piece)
        elif piece is not None:
            out.append(piece)
    return tuple(out)


def _attributes(raw: str) -> dict[str, str]:
    return {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None) for m in _ATTR.finditer(raw)}


def _duration(raw: str, token: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", raw, re.IGNORECASE)
    if not match:
        raise InputError(f"{token}: give the pause as seconds or milliseconds, e.g. 1.5s or 500ms")
    seconds = float(match.group(1)) / (1000.0 if (match.group(2) or "s").lower() == "ms" else 1.0)
    if seconds > MAX_PAUSE_SECONDS:
        raise InputError(f"{token}: a pause can be at most {MAX_PAUSE_SECONDS:g} s")
    return seconds


def _break(attrs: dict[str, str], token: str) -> float:
    if "time" in attrs:
        return _duration(attrs["time"], token)
    strength = attrs.get("strength", "medium").lower()
    if strength not in _BREAKS:
        raise InputError(f"{token}: strength must be one of {', '.join(_BREAKS)}")
    return _BREAKS[strength]


def _language(code: str, token: str, languages: tuple[str, ...]) -> str:
    lang = _LANG_CODES.get(code.lower().split("-")[0].split("_")[0])
    if lang is None or lang not in languages:
        raise UnsupportedLanguageError(
            f"{token}: language {code!r} is not supported by this engine; use one of {', '.join(languages)}"
        )
    return lang


def _prosody(attrs: dict[str, str], token: str) -> Prosody:
    unknown = set(attrs) - {"rate", "pitch", "volume", "range"}
    if unknown:
        raise InputError(f"{token}: unknown attribute {sorted(unknown)[0]!r}; use rate, pitch, range or volume")
    rate = _scale(attrs["rate"], _RATES, token, "rate") if "rate" in attrs else 1.0
    pitch = _semitones(attrs["pitch"], token) if "pitch" in attrs else 0.0
    spread = (
        _scale(attrs["range"], {"low": 0.6, "medium": 1.0, "high": 1.5}, token, "range") if "range" in attrs else 1.0
    )
    volume = _decibels(attrs["volume"], token) if "volume" in attrs else 0.0
    return Prosody(rate=rate, pitch=pitch, pitch_range=spread, volume=volume)


def _scale(raw: str, words: dict[str, float], token: str, what: str) -> float:
    value = raw.strip().lower()
    if value in words:
        return words[value]
    percent = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?)%", value)
    if percent:  # "80%" is a fraction of normal; "+10%" / "-10%" a change
        number = float(percent.group(2)) / 100.0
        factor = number if not percent.group(1) else 1.0 + number * (1 if percent.group(1) == "+" else -1)
    elif re.fullmatch(r"\d+(?:\.\d+)?", value):
        factor = float(value)
    else:
        raise InputError(f"{token}: {what} must be {', '.join(words)}, a percentage like 80% or +10%, or a number")
    if not 0.25 <= factor <= 4.0:
        raise InputError(f"{token}: {what} {raw!r} is out of range (25% to 400%)")
    return factor


def _semitones(raw: str, token: str) -> float:
    value = raw.strip().lower()
    if value in _PITCHES:
        return _PITCHES[value]
    match = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)\s*(st|%)", value)
    if not match:
        raise InputError(f"{token}: pitch must be {', '.join(_PITCHES)}, semitones like +2st, or a change like -10%")
    number = float(match.group(1))
    if match.group(2) == "%":
        if number <= -100:
            raise InputError(f"{token}: pitch {raw!r} is out of range")
        return 12.0 * math.log2(1.0 + number / 100.0)
    return number


def _decibels(raw: str, token: str) -> float:
    value = raw.strip().lower()
    if value in _VOLUMES:
        return _VOLUMES[value]
    match = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)\s*db", value)
    if not match:
        raise InputError(f"{token}: volume must be {', '.join(_VOLUMES)} or a change like +6dB")
    return float(match.group(1))


def _say_as(attrs: dict[str, str], token: str) -> Callable[[str], str] | None:
    kind = (attrs.get("interpret-as") or "").lower()
    if kind in ("digits", "telephone"):
        return lambda s: " ".join(c for c in s if not c.isspace()) if any(c.isdigit() for c in s) else s
    if kind in ("characters", "spell-out", "verbatim"):
        return lambda s: " ".join(c.upper() if c.isascii() else c for c in s if not c.isspace())
    if kind in ("cardinal", "number", "ordinal", "date", "time", "currency", "unit", ""):
        return None  # the normaliser already reads these
    raise InputError(
        f"{token}: interpret-as must be digits, telephone, characters, spell-out, cardinal, ordinal, date or time"
    )
