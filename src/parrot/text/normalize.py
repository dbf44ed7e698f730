"""Text normalisation: rewrite user text so every token is speakable words.

``normalize`` runs on the whole input before language segmentation. It cleans the text (control
characters, full-width forms, whitespace), expands English abbreviations, and rewrites numbers and
symbols in the language of their surroundings: Mandarin numerals next to Chinese, English words
next to English, Korean readings (``numbers_ko``: Sino-Korean or native by the counter) next to
Hangul, and, where the caller names the language, Spanish, French, Italian or Portuguese words for
Latin-script text (``numbers_intl``). Numbers in Japanese and Hindi sentences are left as digits for
their G2P to read.

The rewriting is a fixed sequence of regex passes, most specific first (e-mails, dates, times,
phone numbers, money, percentages, units, ... and finally bare numbers and symbols). Each pass
turns its digits into words, so later passes never see them again. Every replacement decides its
language with ``_Context.lang``: the word right after the number (past any attached unit), then
the nearest letters before it, then after it, then the dominant script of the whole text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from . import numbers_en as en
from . import numbers_intl as intl
from . import numbers_ko as ko
from . import numbers_zh as zh
from .segment import LATIN_LANGUAGES

__all__ = ["normalize"]

# --------------------------------------------------------------------------- characters & scripts

_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\u00ad\u200b\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_NEWLINES = re.compile(r" ?\n[\n ]*")
_HALFWIDTH_KANA = re.compile(r"[\uff61-\uff9f]+")

# Full-width letters, digits and symbols always become ASCII; sentence punctuation only in Latin
# context (see _fullwidth_punctuation) because the Chinese forms drive pauses later on.
_FULLWIDTH = str.maketrans(
    {
        **{cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)},
        **{cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)},
        **{cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)},
        **{ord(ch): ord(ch) - 0xFEE0 for ch in "＃＄％＆＊＋－／＜＝＞＠＼＾＿｀｜～"},
        ord("￡"): "£",
        ord("￠"): "¢",
        ord("\u2212"): "-",
    }
)
_FULLWIDTH_PUNCT = re.compile(r"[！＂＇（），．：；？［］｛｝]")
_OPENING_PUNCT = frozenset("（［｛＂＇")

_SENTENCE_END = frozenset("。！？!?\n")
_SCAN_LIMIT = 24  # how far (in characters) to look for a deciding letter
_TOKEN_LIMIT = 32  # how far an attached alphanumeric token may extend the span
_SENTENCE_LIMIT = 200

_HAN_RE = re.compile(r"[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_KANA_RE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL_RE = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_DEVANAGARI_RE = re.compile(r"[\u0900-\u0963\u0966-\u097f]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
_SCRIPT_CLASS = (
    r"[\nA-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u3001-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uf900-\ufaff\uff00-\uff65\uff66-\uff9f\U00020000-\U0002ffff\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"
    r"\u0900-\u0963\u0966-\u097f]"
)
_FIRST_SCRIPT_CHAR = re.compile(rf"({_SCRIPT_CLASS})")
_LAST_SCRIPT_CHAR = re.compile(rf"(?s:.*)({_SCRIPT_CLASS})")  # greedy prefix: the match is the last one
_TOKEN_BEFORE = re.compile(r"(?:[A-Za-z0-9]|(?<=[A-Za-z0-9])[-.])+$")
_TOKEN_AFTER = re.compile(r"(?:[A-Za-z0-9]|[-.](?=[A-Za-z0-9]))+")


def _script(ch: str) -> str | None:
    """'latin', 'han', 'kana', 'hangul', 'deva', 'cjk' (CJK punctuation) or None for neutral characters."""
    cp = ord(ch)
    if cp < 0x80:
        return "latin" if ch.isalpha() else None
    if 0xAC00 <= cp <= 0xD7A3 or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "hangul"
    if 0x0900 <= cp <= 0x097F and cp not in (0x0964, 0x0965):
        return "deva"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FFFF:
        return "han"
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9F:
        return "kana"
    if 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFF65:
        return "cjk" if cp != 0x3000 else None
    if 0xC0 <= cp <= 0x24F and ch.isalpha():
        return "latin"
    return None


@dataclass(frozen=True)
class _Context:
    """Per-call facts about the whole text that the passes need (no state is kept between calls)."""

    default: str  # language of a number with no letters around it: "zh", "en", "ja", "ko", "hi" or ``latin``
    has_kana: bool
    latin: str = "en"  # the language of Latin-script text: English unless the caller names another
    has_hangul: bool = False
    has_devanagari: bool = False

    @classmethod
    def of(cls, text: str, lang: str | None = None) -> _Context:
        latin_lang = lang if lang in LATIN_LANGUAGES else "en"
        counts = {
            "zh": len(_HAN_RE.findall(text)) + text.count("￥"),  # a full-width yuan sign means Chinese
            "ja": len(_KANA_RE.findall(text)),
            "ko": len(_HANGUL_RE.findall(text)),
            "hi": len(_DEVANAGARI_RE.findall(text)),
        }
        kana, latin, other = counts["ja"], len(_LATIN_RE.findall(text)), counts["ko"] + counts["hi"]
        scripts = {"has_kana": kana > 0, "has_hangul": counts["ko"] > 0, "has_devanagari": counts["hi"] > 0}
        if lang is not None:
            return cls(lang, latin=latin_lang, **scripts)
        if other > counts["zh"] + kana and other > latin:
            return cls("ko" if counts["ko"] >= counts["hi"] else "hi", **scripts)
        if counts["zh"] + kana > latin:
            return cls("ja" if kana * 5 >= counts["zh"] + kana else "zh", **scripts)
        return cls("en", **scripts)

    def needs(self, handler: Handler) -> bool:
        """Whether a pass can change anything here: the Korean and es/fr/it/pt/hi passes are skipped for
        texts without Hangul, or without Devanagari or a named Latin-script language other than English."""
        if handler in (_korean, _korean_acronym):
            return self.has_hangul or self.default == "ko"
        if handler is _international:
            return self.has_devanagari or self.default in ("hi", *intl.NUM2WORDS) or self.latin != "en"
        return True

    def lang(self, text: str, start: int, end: int) -> str:
        """Language ("zh", "en", "ja", "ko", "hi", "es", "fr", "it", "pt") in which text[start:end] is read."""
        start, end = _token_span(text, start, end)
        script = _script_right_after(text, end) or _scan(text, start - 1, -1) or _scan(text, end, 1)
        if script is None:
            return self.default
        if script == "latin":
            return self.latin
        if script == "hangul":
            return "ko"
        if script == "deva":
            return "hi"
        if script == "kana" or (self.has_kana and _sentence_has_kana(text, start)):
            return "ja"
        return "zh"


def _token_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow [start, end) over glued ASCII letters/digits (``GPT-4``, ``5G``, ``iPhone15``)."""
    left = _TOKEN_BEFORE.search(text, max(0, start - _TOKEN_LIMIT), start)
    right = _TOKEN_AFTER.match(text, end, min(len(text), end + _TOKEN_LIMIT))
    return (left.start() if left else start), (right.end() if right else end)


def _script_right_after(text: str, end: int) -> str | None:
    """Script of the word right after a number (one space allowed in between)."""
    if end < len(text) and text[end] == " ":
        end += 1
    return _script(text[end]) if end < len(text) else None


def _scan(text: str, pos: int, step: int) -> str | None:
    """Nearest script-bearing character from pos in direction step, within one line."""
    if step > 0:
        found = _FIRST_SCRIPT_CHAR.search(text, pos, pos + _SCAN_LIMIT)
    else:
        found = _LAST_SCRIPT_CHAR.match(text, max(0, pos + 1 - _SCAN_LIMIT), pos + 1)
    if found is None or found.group(1) == "\n":
        return None
    return _script(found.group(1))


def _sentence_has_kana(text: str, pos: int) -> bool:
    """Han characters are Japanese when their sentence contains kana (as in segment.py)."""
    low, high = max(0, pos - _SENTENCE_LIMIT), min(len(text), pos + _SENTENCE_LIMIT)
    previous_end = max(text.rfind(mark, low, pos) for mark in _SENTENCE_END)
    start = previous_end + 1 if previous_end >= 0 else low
    next_ends = [i for i in (text.find(mark, pos, high) for mark in _SENTENCE_END) if i >= 0]
    return _KANA_RE.search(text, start, min(next_ends, default=high)) is not None


def _pad(m: re.Match[str], words: str) -> str:
    """Put spaces between English words and letters/digits glued to the match."""
    text = m.string
    if m.start() > 0 and _glues(text[m.start() - 1]):
        words = " " + words
    if m.end() < len(text) and _glues(text[m.end()]):
        words += " "
    return words


def _glues(ch: str) -> bool:
    """Would English words run into this neighbouring character without a space?"""
    return ch.isdigit() or _script(ch) == "latin"


# --------------------------------------------------------------------------- shared number bits

_N = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)"  # 1,234.5 or 1234.5
_RANGE_SEP = r"(?:[-~–—]|to(?= ))"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_MONTH_BY_NAME = {name: i for i, name in enumerate(_MONTHS, 1)} | {
    name[:3]: i for i, name in enumerate(_MONTHS, 1)
} | {"Sept": 9}
_MONTH_PATTERN = "|".join(sorted(_MONTH_BY_NAME, key=len, reverse=True))

# A bare 2 before these reads 两 (两个, 两点, 两公里); after 第 it stays 二.
_LIANG_NEXT = (
    *"个只件位本张条次天种台辆块元瓶杯碗双对名人岁斤周倍页层份段句首把间家所座场部篇门颗棵匹头架艘枚粒根支盒包袋箱吨米克升秒点万千亿",
    *("小时", "分钟", "公里", "公斤", "千克", "厘米", "毫米", "毫升", "星期", "美元", "欧元", "英镑"),
)
_ZH_NUMERALS = frozenset("零一二三四五六七八九十百千万亿两点")


def _zh_count(num: str, text: str, start: int, end: int) -> str:
    """Chinese reading of num, with 两 for a lone 2 before a measure word."""
    ordinal = text[max(0, start - 1) : start] in ("第", "初")
    if num == "2" and not ordinal and text.startswith(_LIANG_NEXT, end):
        return "两"
    return zh.number(num)


def _en_count_unit(num: str, singular: str, plural: str) -> str:
    return f"{en.number(num)} {singular if num in ('1', '-1') else plural}"


def _trim_decimal(num: str) -> str:
    """'5.00' -> '5', '3.50' -> '3.5' (money reads better without trailing zeros)."""
    if "." in num:
        num = num.rstrip("0").rstrip(".")
    return num


# --------------------------------------------------------------------------- the passes

Handler = Callable[[re.Match[str], _Context], str]

# --- e-mail addresses and URLs: spelled out in English --------------------------------------------

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![A-Za-z0-9])"
)
_URL = re.compile(r"(?<![A-Za-z0-9])(?:https?://|www\.)[A-Za-z0-9\-._~:/?#@!$&*+,;=%]*[A-Za-z0-9/]")
_URL_SYMBOL_WORDS = {
    ".": "dot", "/": "slash", "-": "dash", "_": "underscore", "@": "at", ":": "colon", "?": "question mark",
    "=": "equals", "&": "and", "#": "hash", "%": "percent", "+": "plus", "~": "tilde",
}  # fmt: skip
_URL_PIECES = re.compile(r"[A-Za-z]+|[0-9]|.")


def _spell_address(address: str) -> str:
    address = re.sub(r"^https?://", "", address).rstrip("/")
    words = []
    for piece in _URL_PIECES.findall(address):
        if piece.isdigit():
            words.append(en.digits(piece))
        elif piece.isalpha():
            words.append(" ".join(piece) if piece.lower() == "www" else piece)
        elif piece in _URL_SYMBOL_WORDS:
            words.append(_URL_SYMBOL_WORDS[piece])
    return " ".join(words)


def _address(m: re.Match[str], ctx: _Context) -> str:
    return _pad(m, _spell_address(m.group()))


# --- English abbreviations -----------------------------------------------------------------------

_ABBREVIATION = re.compile(
    r"(?<![A-Za-z.])(?:(Mrs|Mr|Ms|Dr|Prof|Jr|Sr|St|Mt|Ave|Inc|Ltd|Fig|Vol|[Aa]pprox|etc|[Vv]s|e\.g|E\.g|i\.e"
    r"|I\.e|U\.S|U\.K)\.|(Mrs|Mr|Ms|Dr)(?=\s+[A-Z])|(vs)(?=\s))"
    r"|(?<![A-Za-z])([Nn])o\.\s?(?=[0-9])"
)
_ABBREVIATIONS = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor", "Jr": "Junior", "Sr": "Senior",
    "Mt": "Mount", "Ave": "Avenue", "Inc": "Incorporated", "Ltd": "Limited", "Fig": "Figure", "Vol": "Volume",
    "approx": "approximately", "Approx": "Approximately", "etc": "et cetera", "vs": "versus",
    "Vs": "Versus", "e.g": "for example", "E.g": "For example", "i.e": "that is", "I.e": "That is",
    "U.S": "U S", "U.K": "U K",
}  # fmt: skip
_MAY_END_SENTENCE = frozenset({"Jr", "Sr", "Ave", "Inc", "Ltd", "etc", "St", "Dr", "U.S", "U.K"})
_STREET_BEFORE = re.compile(r"[0-9]+[A-Za-z]?(?:\s+[A-Z][A-Za-z]*){1,3}\s+$")
_NEXT_IS_NAME = re.compile(r"\s+[A-Z]")
_SENTENCE_BREAK_AFTER = re.compile(r"\s*(?:\n|$)")


def _abbreviation(m: re.Match[str], ctx: _Context) -> str:
    if m.group(4):
        return "Number " if m.group(4) == "N" else "number "
    abbr = m.group(1) or m.group(2) or m.group(3)
    text, end = m.string, m.end()
    street_before = bool(_STREET_BEFORE.search(text[max(0, m.start() - 40):m.start()]))
    if abbr == "Dr":
        word = "Drive" if street_before else "Doctor"
    elif abbr == "St":
        word = "Saint" if not street_before and _NEXT_IS_NAME.match(text, end) else "Street"
    else:
        word = _ABBREVIATIONS[abbr]
    dotted = m.group(1) is not None
    if dotted and abbr in _MAY_END_SENTENCE and word != "Saint" and (
        _SENTENCE_BREAK_AFTER.match(text, end) or (abbr == "etc" and _NEXT_IS_NAME.match(text, end))
    ):
        word += "."
    return word


# --- dates ------------------------------------------------------------------------------------------

_DATE_MONTH_FIRST = re.compile(
    rf"(?<![A-Za-z])({_MONTH_PATTERN})\.?\s+([0-9]{{1,2}})(?:st|nd|rd|th)?(?![0-9A-Za-z])"
    rf"(?:,?\s+([0-9]{{4}})(?![0-9]))?"
)
_DATE_DAY_FIRST = re.compile(
    rf"(?<![0-9A-Za-z.,])([0-9]{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_PATTERN})(?![A-Za-z])"
    rf"(?:,?\s+([0-9]{{4}})(?![0-9]))?"
)
_DATE_YMD = re.compile(
    r"(?<![0-9./-])([12][0-9]{3})([-/.])(0?[1-9]|1[0-2])\2(0?[1-9]|[12][0-9]|3[01])(?![0-9]|[./-][0-9])"
)
_DATE_DMY = re.compile(r"(?<![0-9./-])([0-9]{1,2})([-/.])([0-9]{1,2})\2([12][0-9]{3})(?![0-9]|[./-][0-9])")


def _say_date(m: re.Match[str], ctx: _Context, year: int, month: int, day: int) -> str:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group()
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "zh":
        return f"{zh.digits(str(year))}年{zh.cardinal(month)}月{zh.cardinal(day)}日"
    if lang == "ja":
        return m.group()
    return _pad(m, f"{_MONTHS[month - 1]} {en.ordinal(day)}, {en.year(year)}")


def _date_ymd(m: re.Match[str], ctx: _Context) -> str:
    return _say_date(m, ctx, int(m.group(1)), int(m.group(3)), int(m.group(4)))


def _date_dmy(m: re.Match[str], ctx: _Context) -> str:
    first, second = int(m.group(1)), int(m.group(3))
    # 03/05/2024 is March 5 (US); 05.03.2024 is 5 March (European); 25/12/2024 can only be day-first.
    day_first = first > 12 or (m.group(2) == "." and second <= 12)
    month, day = (second, first) if day_first else (first, second)
    return _say_date(m, ctx, int(m.group(4)), month, day)


def _english_date(month: str, day: str, year: str | None, day_first: str | None = None) -> str:
    """day_first is the article to put before "fifth of March" ("the", or "" after a "the")."""
    name, nth = _MONTHS[_MONTH_BY_NAME[month] - 1], en.ordinal(int(day))
    spoken = f"{name} {nth}" if day_first is None else f"{day_first}{nth} of {name}"
    return f"{spoken}, {en.year(int(year))}" if year else spoken


def _date_month_first(m: re.Match[str], ctx: _Context) -> str:
    if not 1 <= int(m.group(2)) <= 31:
        return m.group()
    return _pad(m, _english_date(m.group(1), m.group(2), m.group(3)))


def _date_day_first(m: re.Match[str], ctx: _Context) -> str:
    if not 1 <= int(m.group(1)) <= 31:
        return m.group()
    after_the = m.string[max(0, m.start() - 4) : m.start()].lower() == "the "
    return _pad(m, _english_date(m.group(2), m.group(1), m.group(3), day_first="" if after_the else "the "))


# --- times ------------------------------------------------------------------------------------------

_MERIDIEM = r"(?:\s?([AaPp])\.?[Mm](?![A-Za-z])(\.)?)"
_TIME = re.compile(
    rf"(?<![0-9:.])([01]?[0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9]))?(?![0-9]|:[0-9]){_MERIDIEM}?"
)
_TIME_HOUR = re.compile(rf"(?<![0-9:.,])(1[0-2]|0?[1-9]){_MERIDIEM}")
_ZH_DAYPART_BEFORE = ("上午", "下午", "早上", "晚上", "中午", "凌晨", "傍晚", "夜里", "早晨")


def _time_en(hour: int, minute: int, second: int | None, meridiem: str | None) -> str:
    """3:30 pm -> 'three thirty p m', 10:05 -> 'ten oh five', 7:00 -> "seven o'clock"."""
    if not meridiem and hour in (0, 24) and minute == 0 and not second:
        return "midnight"
    spoken = en.cardinal(hour or 12) if meridiem else en.cardinal(hour)
    if minute:
        spoken += f" oh {en.cardinal(minute)}" if minute < 10 else f" {en.cardinal(minute)}"
    elif not meridiem:
        spoken += " o'clock"
    if second:
        spoken += f" and {en.cardinal(second)} second{'s' if second != 1 else ''}"
    return f"{spoken} {meridiem}" if meridiem else spoken


def _time_zh(hour: int, minute: int, second: int | None) -> str:
    """15:30 -> 十五点三十分, 8:05 -> 八点零五分, 2:00 -> 两点."""
    spoken = ("两" if hour == 2 else zh.cardinal(hour)) + "点"
    if minute:
        spoken += ("零" if minute < 10 else "") + zh.cardinal(minute) + "分"
    elif second:
        spoken += "零分"
    if second:
        spoken += zh.cardinal(second) + "秒"
    return spoken


def _say_time(m: re.Match[str], ctx: _Context, hour: int, minute: int, second: int | None) -> str:
    letter, final_dot = m.group(m.re.groups - 1), m.group(m.re.groups)  # the a.m./p.m. groups
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "ja":
        return m.group()
    if lang == "zh":
        daypart = ""
        if letter and m.string[max(0, m.start() - 2) : m.start()] not in _ZH_DAYPART_BEFORE:
            daypart = "上午" if letter in "Aa" else "下午"
        return daypart + _time_zh(hour, minute, second) + ("." if final_dot else "")
    meridiem = ("a m" if letter in "Aa" else "p m") if letter else None
    spoken = _time_en(hour, minute, second, meridiem)
    if final_dot and _ends_sentence(m.string, m.end()):
        spoken += "."
    return _pad(m, spoken)


def _ends_sentence(text: str, end: int) -> bool:
    return bool(_SENTENCE_BREAK_AFTER.match(text, end) or _NEXT_IS_NAME.match(text, end))


def _time(m: re.Match[str], ctx: _Context) -> str:
    second = int(m.group(3)) if m.group(3) else None
    return _say_time(m, ctx, int(m.group(1)), int(m.group(2)), second)


def _time_hour(m: re.Match[str], ctx: _Context) -> str:
    return _say_time(m, ctx, int(m.group(1)), 0, None)


# --- phone numbers: digit by digit ------------------------------------------------------------------

_PHONE = re.compile(
    r"""(?<![0-9A-Za-z+\-.])(?:
        \+[0-9]{1,3}[\s-]?(?:\([0-9]{1,4}\)[\s-]?)?[0-9]{2,4}(?:[\s-][0-9]{2,4}){1,3}
      | \+[0-9]{1,3}[\s-]?[0-9]{7,11}
      | \([0-9]{3}\)\s?[0-9]{3}[\s-][0-9]{4}
      | 1-[0-9]{3}-[0-9]{3}-[0-9]{4}
      | [0-9]{3}-[0-9]{3,4}-[0-9]{4}
      | 0[0-9]{2,3}-[0-9]{7,8}
      | 1[3-9][0-9]\ [0-9]{4}\ [0-9]{4}
    )(?![0-9]|-[0-9])""",
    re.VERBOSE,
)
_PHONE_GROUPS = re.compile(r"\+|[0-9]+")


def _phone(m: re.Match[str], ctx: _Context) -> str:
    lang = ctx.lang(m.string, m.start(), m.end())
    groups = _PHONE_GROUPS.findall(m.group())
    if lang == "zh":
        return "".join("加" if g == "+" else zh.digits(g) for g in groups)
    if lang == "ja":
        return m.group()
    spoken = ", ".join(en.digits(g, zero="oh") for g in groups if g != "+")
    return _pad(m, f"plus {spoken}" if groups[0] == "+" else spoken)


# --- arithmetic with "=" ----------------------------------------------------------------------------

_OPERAND = r"-?[0-9]+(?:\.[0-9]+)?"
_MATH = re.compile(
    rf"(?<![0-9A-Za-z.])(?:{_OPERAND})(?:\s?[-+×xX*÷/]\s?{_OPERAND}){{1,6}}\s?=\s?{_OPERAND}(?![0-9.])"
)
_MATH_TOKENS = re.compile(r"[0-9]+(?:\.[0-9]+)?|[-+×xX*÷/=]")
_OPERATORS_EN = {"+": "plus", "-": "minus", "×": "times", "x": "times", "X": "times", "*": "times",
                 "÷": "divided by", "/": "divided by", "=": "equals"}
_OPERATORS_ZH = {"+": "加", "-": "减", "×": "乘", "x": "乘", "X": "乘", "*": "乘", "÷": "除以", "/": "除以",
                 "=": "等于"}


def _math(m: re.Match[str], ctx: _Context) -> str:
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "ja":
        return m.group()
    operators, say = (_OPERATORS_ZH, zh.number) if lang == "zh" else (_OPERATORS_EN, en.number)
    words: list[str] = []
    expect_number, negative = True, False
    for token in _MATH_TOKENS.findall(m.group()):
        if token[0].isdigit():
            words.append(say(("-" if negative else "") + token))
            expect_number, negative = False, False
        elif expect_number and token == "-":
            negative = True
        else:
            words.append(operators[token])
            expect_number = True
    return "".join(words) if lang == "zh" else _pad(m, " ".join(words))


# --- money ------------------------------------------------------------------------------------------

_SCALE = r"(?:(?i:thousand|million|billion|trillion)\b|(?:[kKMB]|bn|mn)(?![A-Za-z])|千万|百万|万|亿)"
_CURRENCY = re.compile(
    rf"(?<![0-9])(-)?([$€£¥￥])\s?({_N})(?:\s?(?:-|~|to)\s?[$€£¥￥]?\s?({_N}))?(?:\s?({_SCALE}))?"
)


@dataclass(frozen=True)
class _Currency:
    one: str
    many: str
    cent: str | None
    cents: str | None
    zh: str


_CURRENCIES = {
    "$": _Currency("dollar", "dollars", "cent", "cents", "美元"),
    "€": _Currency("euro", "euros", "cent", "cents", "欧元"),
    "£": _Currency("pound", "pounds", "penny", "pence", "英镑"),
    "¥": _Currency("yen", "yen", None, None, "元"),
    "￥": _Currency("yuan", "yuan", None, None, "元"),  # the full-width sign is always Chinese yuan
}
_SCALE_EN = {"k": "thousand", "m": "million", "mn": "million", "b": "billion", "bn": "billion",
             "万": "ten thousand", "亿": "hundred million", "千万": "ten million", "百万": "million"}
_SCALE_ZH = {"k": "千", "thousand": "千", "m": "百万", "mn": "百万", "million": "百万", "b": "十亿",
             "bn": "十亿", "billion": "十亿", "trillion": "万亿"}


def _money_en(amount: str, currency: _Currency) -> str:
    whole, _, fraction = amount.partition(".")
    if fraction and (len(fraction) > 2 or currency.cent is None):
        return f"{en.number(amount)} {currency.many}"
    units = int(whole.replace(",", "")) if len(whole) <= 24 else None
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    if units is None:
        return f"{en.number(whole)} {currency.many}"
    parts = []
    if units or not cents:
        parts.append(f"{en.cardinal(units)} {currency.one if units == 1 else currency.many}")
    if cents:
        parts.append(f"{en.cardinal(cents)} {currency.cent if cents == 1 else currency.cents}")
    return " and ".join(parts)


def _currency(m: re.Match[str], ctx: _Context) -> str:
    negative, symbol, amount, upper, scale = m.groups()
    currency = _CURRENCIES[symbol]
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "ja":
        return m.group()
    if lang == "zh":
        scale_zh = _SCALE_ZH.get(scale.lower(), scale) if scale else ""
        plain_two = amount == "2" and not scale and not upper
        spoken = "两" if plain_two else zh.number(_trim_decimal(amount))  # 两美元
        if upper:
            spoken += "到" + zh.number(_trim_decimal(upper))
        return ("负" if negative else "") + spoken + scale_zh + currency.zh
    if scale or upper:
        scale_en = f" {_SCALE_EN.get(scale.lower(), scale.lower())}" if scale else ""
        spoken = en.number(amount) + (f" to {en.number(upper)}" if upper else "") + scale_en
        spoken += f" {currency.many}"
    else:
        spoken = _money_en(amount, currency)
    return _pad(m, ("minus " if negative else "") + spoken)


# --- "~5" (about five), "#3" (number three) ------------------------------------------------------------

_APPROX = re.compile(r"[~≈]\s?(?=-?[0-9])")
_HASH_NUMBER = re.compile(r"(?<![A-Za-z0-9&])#\s?(?=[0-9])")


def _approx(m: re.Match[str], ctx: _Context) -> str:
    before = _near_non_space(m.string, m.start() - 1, -1)
    if before and (before.isdigit() or before in "%$€£¥￥"):
        return m.group()  # a range "3 ~ 5": handled later
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "zh":
        return "" if before == "约" else "约"  # 约~5公里 -> 约五公里
    return m.group() if lang == "ja" else _pad(m, "about")


def _hash_number(m: re.Match[str], ctx: _Context) -> str:
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "zh":
        return "第"
    return m.group() if lang == "ja" else _pad(m, "number")


# --- percentages ------------------------------------------------------------------------------------

_PERCENT = re.compile(rf"(?<![0-9.])(-?{_N})(?:\s?%?\s?{_RANGE_SEP}\s?(-?{_N}))?\s?([%‰])")


def _percent(m: re.Match[str], ctx: _Context) -> str:
    low, high, sign = m.groups()
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "ja":
        return m.group()
    if lang == "zh":
        prefix = "百分之" if sign == "%" else "千分之"

        def say(num: str) -> str:
            return ("负" if num.startswith("-") else "") + prefix + zh.number(num.lstrip("-"))

        return say(low) + (f"到{say(high)}" if high else "")
    word = "percent" if sign == "%" else "per mille"
    spoken = en.number(low) + (f" to {en.number(high)}" if high else "")
    return _pad(m, f"{spoken} {word}")


# --- decades, ordinals -------------------------------------------------------------------------------

_SHORT_YEAR = re.compile(r"(?<![A-Za-z0-9'])'(0[1-9]|[1-9][0-9])(?![0-9A-Za-z'])")
_DECADE = re.compile(r"(?<![0-9A-Za-z])'?((?:1[0-9]|20)[0-9]0|[1-9]0)'?s(?![A-Za-z])")
_ORDINAL = re.compile(r"(?<![0-9A-Za-z.])([0-9]{1,18})(st|nd|rd|th|ST|ND|RD|TH)(?![A-Za-z0-9])")


def _short_year(m: re.Match[str], ctx: _Context) -> str:
    """'99 -> ninety-nine, '05 -> oh five (English only; elsewhere the digits are read later)."""
    if ctx.lang(m.string, m.start(), m.end()) != "en":
        return m.group()
    value = int(m.group(1))
    return _pad(m, f"oh {en.cardinal(value)}" if value < 10 else en.cardinal(value))


def _decade(m: re.Match[str], ctx: _Context) -> str:
    value = int(m.group(1))
    words = en.year(value) if value >= 1000 else en.cardinal(value)
    head, sep, last = words.rpartition(" ")
    return _pad(m, f"{head}{sep}{en.plural(last)}")


def _ordinal(m: re.Match[str], ctx: _Context) -> str:
    return _pad(m, en.ordinal(int(m.group(1))))


# --- versions, IP addresses, model names -----------------------------------------------------------------

_DOTTED = re.compile(r"(?<![0-9.])[0-9]{1,9}(?:\.[0-9]{1,9}){2,}(?![0-9]|\.[0-9])")
_VERSION = re.compile(r"(?<![A-Za-z0-9])[vV]([0-9]{1,9}(?:\.[0-9]{1,9})*)(?![0-9A-Za-z]|\.[0-9])")
_MODEL = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]+)(-?)(?=[0-9])")


def _dotted(m: re.Match[str], ctx: _Context) -> str:
    parts = m.group().split(".")
    lang = ctx.lang(m.string, m.start(), m.end())
    is_ip = len(parts) == 4 and all(len(p) <= 3 and int(p) <= 255 for p in parts)
    if lang == "zh":
        return "点".join(zh.digits(p) if is_ip else zh.integer(p) for p in parts)
    if lang == "ja":
        return m.group()
    if is_ip:
        return _pad(m, " dot ".join(en.digits(p) for p in parts))
    return _pad(m, " point ".join(en.integer(p) for p in parts))


def _version(m: re.Match[str], ctx: _Context) -> str:
    parts = m.group(1).split(".")
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "zh":
        return "V" + "点".join(zh.integer(p) for p in parts)
    if lang == "ja":
        return m.group()
    spoken = [en.integer(parts[0])] + ["oh" if int(p) == 0 else en.integer(p) for p in parts[1:]]
    return _pad(m, "version " + " point ".join(spoken))


def _model(m: re.Match[str], ctx: _Context) -> str:
    """'GPT-4' -> 'G P T 4', 'COVID-19' -> 'COVID 19': the number is read by a later pass."""
    word = m.group(1)
    spell = word.isupper() and 2 <= len(word) <= 5 and (len(word) <= 3 or not set(word) & set("AEIOU"))
    return (" ".join(word) if spell else word) + " "


# --- units ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Unit:
    one: str
    many: str
    zh: str


def _unit(one: str, many: str, zh_name: str, *symbols: str) -> dict[str, _Unit]:
    return dict.fromkeys(symbols, _Unit(one, many, zh_name))


_UNITS: dict[str, _Unit] = {
    **_unit("kilometer per hour", "kilometers per hour", "公里每小时", "km/h", "kph", "kmh"),
    **_unit("mile per hour", "miles per hour", "英里每小时", "mph"),
    **_unit("meter per second", "meters per second", "米每秒", "m/s"),
    **_unit("square kilometer", "square kilometers", "平方公里", "km²", "km2"),
    **_unit("square meter", "square meters", "平方米", "m²", "㎡"),
    **_unit("square centimeter", "square centimeters", "平方厘米", "cm²"),
    **_unit("cubic meter", "cubic meters", "立方米", "m³"),
    **_unit("kilometer", "kilometers", "公里", "km", "KM", "Km"),
    **_unit("centimeter", "centimeters", "厘米", "cm"),
    **_unit("millimeter", "millimeters", "毫米", "mm"),
    **_unit("nanometer", "nanometers", "纳米", "nm"),
    **_unit("micrometer", "micrometers", "微米", "μm", "µm"),
    **_unit("meter", "meters", "米", "m"),
    **_unit("kilogram", "kilograms", "公斤", "kg", "KG", "Kg"),
    **_unit("milligram", "milligrams", "毫克", "mg"),
    **_unit("gram", "grams", "克", "g"),
    **_unit("pound", "pounds", "磅", "lb", "lbs"),
    **_unit("ounce", "ounces", "盎司", "oz"),
    **_unit("foot", "feet", "英尺", "ft"),
    **_unit("milliliter", "milliliters", "毫升", "ml", "mL", "ML"),
    **_unit("liter", "liters", "升", "L", "l"),
    **_unit("degree Celsius", "degrees Celsius", "摄氏度", "°C", "℃"),
    **_unit("degree Fahrenheit", "degrees Fahrenheit", "华氏度", "°F", "℉"),
    **_unit("degree", "degrees", "度", "°"),
    **_unit("kilobyte", "kilobytes", "KB", "KB"),
    **_unit("megabyte", "megabytes", "MB", "MB"),
    **_unit("gigabyte", "gigabytes", "GB", "GB"),
    **_unit("terabyte", "terabytes", "TB", "TB"),
    **_unit("kilobit per second", "kilobits per second", "Kbps", "Kbps", "kbps"),
    **_unit("megabit per second", "megabits per second", "Mbps", "Mbps"),
    **_unit("gigabit per second", "gigabits per second", "Gbps", "Gbps"),
    **_unit("gigahertz", "gigahertz", "吉赫兹", "GHz"),
    **_unit("megahertz", "megahertz", "兆赫兹", "MHz"),
    **_unit("kilohertz", "kilohertz", "千赫兹", "kHz"),
    **_unit("hertz", "hertz", "赫兹", "Hz"),
    **_unit("kilowatt hour", "kilowatt hours", "千瓦时", "kWh"),
    **_unit("kilowatt", "kilowatts", "千瓦", "kW"),
    **_unit("watt", "watts", "瓦", "W"),
    **_unit("volt", "volts", "伏", "V"),
    **_unit("milliamp hour", "milliamp hours", "毫安时", "mAh"),
    **_unit("millisecond", "milliseconds", "毫秒", "ms"),
    **_unit("second", "seconds", "秒", "sec", "secs"),
    **_unit("minute", "minutes", "分钟", "min", "mins"),
    **_unit("hour", "hours", "小时", "h", "hr", "hrs"),
    **_unit("kilocalorie", "kilocalories", "千卡", "kcal"),
    **_unit("times", "times", "倍", "x", "×"),
}
# One-letter units only count when glued to the number ("5m", not "5 m"), as do the "x"/"×" factors.
_GLUED_UNITS = frozenset(symbol for symbol in _UNITS if len(symbol) == 1 and symbol != "°")
_DEGREE_UNITS = frozenset({"°C", "℃", "°F", "℉", "°"})  # 零下五度, and never 两度
_UNIT_RE = re.compile(
    rf"(?<![0-9.])(-?{_N})(?:\s?{_RANGE_SEP}\s?(-?{_N}))?(\s?)"
    rf"({'|'.join(re.escape(s) for s in sorted(_UNITS, key=len, reverse=True))})(?![A-Za-z0-9²³])"
)


def _zh_unit_number(num: str, symbol: str) -> str:
    if num.startswith("-") and symbol in _DEGREE_UNITS:
        return "零下" + zh.number(num[1:])
    if num == "2" and symbol not in _DEGREE_UNITS:
        return "两"
    return zh.number(num)


def _units(m: re.Match[str], ctx: _Context) -> str:
    low, high, space, symbol = m.groups()
    if space and symbol in _GLUED_UNITS:
        return m.group()
    unit = _UNITS[symbol]
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "ja":
        return m.group()
    if lang == "zh":
        spoken = _zh_unit_number(low, symbol) + (f"到{_zh_unit_number(high, symbol)}" if high else "")
        return spoken + unit.zh
    if high:
        return _pad(m, f"{en.number(low)} to {en.number(high)} {unit.many}")
    return _pad(m, _en_count_unit(low, unit.one, unit.many))


_FEET_INCHES = re.compile(r"(?<![0-9.])([0-9]{1,2})['′]\s?([0-9]{1,2})(?:\"|″|'')")


def _feet_inches(m: re.Match[str], ctx: _Context) -> str:
    """6'2" -> six foot two / 六英尺二英寸."""
    feet, inches = m.group(1), m.group(2)
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "zh":
        return f"{zh.integer(feet)}英尺{zh.integer(inches)}英寸"
    return m.group() if lang == "ja" else _pad(m, f"{en.integer(feet)} foot {en.integer(inches)}")


# --- fractions, ratios, ranges ------------------------------------------------------------------------

_SAID_AS_NAMES_EN = {(24, 7): "twenty-four seven", (50, 50): "fifty-fifty", (9, 11): "nine eleven"}
_FRACTION = re.compile(r"(?<![0-9/.])(?:([0-9]{1,9}) )?([0-9]{1,9})/([0-9]{1,9})(?![0-9]|/[0-9]|\.[0-9])")
_RATIO = re.compile(r"(?<![0-9:.])([0-9]{1,9}):([0-9]{1,9})(?![0-9]|:[0-9])")
_RANGE = re.compile(rf"(?<![0-9.,])(-?{_N})\s?([-~–—])\s?(-?{_N})(?![0-9]|\s?[-+×*/=])")


def _fraction(m: re.Match[str], ctx: _Context) -> str:
    whole, top, bottom = m.group(1), int(m.group(2)), int(m.group(3))
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "ja":
        return m.group()
    if lang == "zh":
        spoken = f"{zh.cardinal(bottom)}分之{zh.cardinal(top)}"
        return f"{zh.cardinal(int(whole))}又{spoken}" if whole else spoken
    if (top, bottom) in _SAID_AS_NAMES_EN and not whole:
        spoken = _SAID_AS_NAMES_EN[top, bottom]
    else:
        spoken = en.fraction(top, bottom)
        if whole:
            spoken = f"{en.cardinal(int(whole))} and " + (f"a {spoken[4:]}" if top == 1 else spoken)
    return _pad(m, spoken)


def _ratio(m: re.Match[str], ctx: _Context) -> str:
    left, right = m.group(1), m.group(2)
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang == "zh":
        return f"{zh.integer(left)}比{zh.integer(right)}"
    return m.group() if lang == "ja" else _pad(m, f"{en.integer(left)} to {en.integer(right)}")


def _is_year_like(num: str) -> bool:
    return len(num) == 4 and num.isdigit() and 1000 <= int(num) <= 2099


def _range(m: re.Match[str], ctx: _Context) -> str:
    low, _, high = m.groups()
    text = m.string
    lang = ctx.lang(text, m.start(), m.end())
    if lang == "ja":
        return m.group()
    years = _is_year_like(low) and _is_year_like(high) and int(low) < int(high)
    if lang == "zh":
        if years and text.startswith("年", m.end()):
            return f"{zh.digits(low)}到{zh.digits(high)}"
        first = "两" if low == "2" and text.startswith(_LIANG_NEXT, m.end()) else zh.number(low)
        return f"{first}到{zh.number(high)}"
    if years:
        return _pad(m, f"{en.year(int(low))} to {en.year(int(high))}")
    return _pad(m, f"{en.number(low)} to {en.number(high)}")


# --- Chinese years, long digit strings, everything else -------------------------------------------------

_YEAR_ZH = re.compile(r"(?<![0-9.,])(?:[0-9]{4}(?=\s?年)|[0-9]{2}(?=年代|后(?!面|来)))(?![0-9])")
_LONG_DIGITS = re.compile(r"(?<![0-9.,])(?:[0-9]{7,}|0[0-9]+)(?![0-9]|[.,][0-9])")
_ZH_DATE_UNITS = tuple("月日号点时分秒")
_NUMBER = re.compile(rf"(?<![0-9])((?<![0-9A-Za-z.])-)?({_N})")

_YEAR_CUES = frozenset(
    {"in", "since", "by", "from", "until", "till", "to", "of", "year", "circa", "before", "after", "during",
     "around", "through", "early", "late", "mid", "spring", "summer", "autumn", "fall", "winter", "born"}
) | {month.lower() for month in _MONTH_BY_NAME}
_SAID_AS_DIGITS_EN = frozenset({"911", "999", "411"})  # emergency / information numbers
_YEAR_VERBS = frozenset(
    {"is", "was", "will", "has", "had", "saw", "marked", "brought", "began", "ended", "became"}
)
_WORD_BEFORE = re.compile(r"([A-Za-z]+)[\s,]*$")
_WORD_AFTER = re.compile(r"\s*([A-Za-z]*)")


def _year_zh(m: re.Match[str], ctx: _Context) -> str:
    lang = ctx.lang(m.string, m.start(), m.end())
    return zh.digits(m.group()) if lang == "zh" else m.group()


def _long_digits(m: re.Match[str], ctx: _Context) -> str:
    digits, text = m.group(), m.string
    lang = ctx.lang(text, m.start(), m.end())
    if lang == "ja":
        return m.group()
    if lang == "zh":
        if digits[0] == "0" and text.startswith(_ZH_DATE_UNITS, m.end()):
            return zh.integer(digits)
        if digits[0] != "0" and text.startswith(_LIANG_NEXT, m.end()):
            return zh.integer(digits)
        return zh.digits(digits)
    return _pad(m, en.digits(digits))


def _looks_like_year(text: str, start: int, end: int) -> bool:
    """Should a bare 4-digit number in English be read as a year ("in 1999", "2024.")?"""
    before = _WORD_BEFORE.search(text, max(0, start - _SCAN_LIMIT), start)
    if before and before.group(1).lower() in _YEAR_CUES:
        return True
    next_word = _WORD_AFTER.match(text, end, end + _SCAN_LIMIT).group(1)
    if not next_word:
        return True
    previous = _near_non_space(text, start - 1, -1)
    return previous in ("", ".", "!", "?", "\n") and next_word.lower() in _YEAR_VERBS


def _number(m: re.Match[str], ctx: _Context) -> str:
    sign, num = m.groups()
    text = m.string
    lang = ctx.lang(text, m.start(), m.end())
    if lang == "ja":
        return m.group()
    if lang == "zh":
        if sign and text.startswith(("度", "摄氏度"), m.end()):
            return "零下" + zh.number(num)
        return ("负" if sign else "") + _zh_count(num, text, m.start(), m.end())
    if not sign and _is_year_like(num) and _looks_like_year(text, m.start(), m.end()):
        return _pad(m, en.year(int(num)))
    if num in _SAID_AS_DIGITS_EN:
        return _pad(m, en.digits(num))
    return _pad(m, en.number((sign or "") + num))


# --- symbols ------------------------------------------------------------------------------------------

_SYMBOL = re.compile(r"[&+=@×÷%‰]|(?<=[A-G])#(?![A-Za-z0-9])|#(?=[A-Za-z])")
_SYMBOLS_EN = {"&": "and", "+": "plus", "=": "equals", "@": "at", "×": "times", "÷": "divided by",
               "%": "percent", "‰": "per mille"}
_SYMBOLS_ZH = {"&": "和", "+": "加", "=": "等于", "@": "at", "×": "乘", "÷": "除以", "%": "百分号",
               "‰": "千分号"}


def _symbol(m: re.Match[str], ctx: _Context) -> str:
    symbol, text = m.group(), m.string
    if symbol == "#":
        return _pad(m, "sharp" if text[m.start() - 1 : m.start()].isupper() else "hashtag")
    lang = ctx.lang(text, m.start(), m.end())
    if lang == "ja":
        return symbol
    if lang == "zh":
        after_number = text[m.start() - 1 : m.start()] in _ZH_NUMERALS
        if symbol == "+" and after_number and text[m.end() : m.end() + 1] not in _ZH_NUMERALS:
            return "多"  # 100+ -> 一百多
        return _SYMBOLS_ZH[symbol]
    return f" {_SYMBOLS_EN[symbol]} "


# --------------------------------------------------------------------------- Korean, es/fr/it/pt, Hindi


def _korean(m: re.Match[str], ctx: _Context) -> str:
    """Numbers in Korean text (``numbers_ko``); elsewhere left for the passes below."""
    if ctx.lang(m.string, m.start(), m.end()) != "ko":
        return m.group()
    return _pad_korean(m, ko.read(m))


def _korean_acronym(m: re.Match[str], ctx: _Context) -> str:
    """KTX를 -> 케이티엑스를: capitals inside Korean are read letter by letter, the Korean way."""
    return ko.spell_acronym(m.group()) if ctx.lang(m.string, m.start(), m.end()) == "ko" else m.group()


def _pad_korean(m: re.Match[str], words: str) -> str:
    """A space before the reading when a Hangul word or Latin letter is glued to the number's left."""
    before = m.string[m.start() - 1 : m.start()]
    return (" " + words) if before and (_script(before) in ("hangul", "latin")) else words


def _international(m: re.Match[str], ctx: _Context) -> str:
    """Numbers in Spanish, French, Italian, Portuguese or Hindi text (``numbers_intl``)."""
    lang = ctx.lang(m.string, m.start(), m.end())
    if lang not in intl.NUM2WORDS and lang != "hi":
        return m.group()
    words = intl.read(m, lang)
    before, after = m.string[m.start() - 1 : m.start()], m.string[m.end() : m.end() + 1]
    return (" " if before.isalpha() else "") + words + (" " if after.isalpha() else "")


# --------------------------------------------------------------------------- pipeline

_PASSES: tuple[tuple[re.Pattern[str], Handler], ...] = (
    (_EMAIL, _address),
    (_URL, _address),
    (_ABBREVIATION, _abbreviation),
    (ko.KOREAN_NUMBER, _korean),
    (ko.KOREAN_ACRONYM, _korean_acronym),
    (intl.INTL_NUMBER, _international),
    (_DATE_MONTH_FIRST, _date_month_first),
    (_DATE_DAY_FIRST, _date_day_first),
    (_DATE_YMD, _date_ymd),
    (_DATE_DMY, _date_dmy),
    (_TIME, _time),
    (_TIME_HOUR, _time_hour),
    (_PHONE, _phone),
    (_MATH, _math),
    (_CURRENCY, _currency),
    (_APPROX, _approx),
    (_HASH_NUMBER, _hash_number),
    (_PERCENT, _percent),
    (_DECADE, _decade),
    (_SHORT_YEAR, _short_year),
    (_ORDINAL, _ordinal),
    (_VERSION, _version),
    (_DOTTED, _dotted),
    (_UNIT_RE, _units),
    (_FEET_INCHES, _feet_inches),
    (_MODEL, _model),
    (_FRACTION, _fraction),
    (_RATIO, _ratio),
    (_RANGE, _range),
    (_YEAR_ZH, _year_zh),
    (_LONG_DIGITS, _long_digits),
    (_NUMBER, _number),
    (_SYMBOL, _symbol),
)


def _run(pattern: re.Pattern[str], handler: Handler, text: str, ctx: _Context) -> str:
    def replace(m: re.Match[str]) -> str:
        try:
            return handler(m, ctx)
        except Exception:  # a rule that trips over odd input must never lose the text
            return m.group()

    return pattern.sub(replace, text)


def _near_non_space(text: str, pos: int, step: int) -> str:
    while 0 <= pos < len(text) and text[pos] == " ":
        pos += step
    return text[pos] if 0 <= pos < len(text) else ""


def _fullwidth_punctuation(m: re.Match[str]) -> str:
    """'ｈｅｌｌｏ，ｗｏｒｌｄ' -> 'hello,world' but '你好，world' and '我有3，' keep their '，'."""
    ch, text = m.group(), m.string
    before = _near_non_space(text, m.start() - 1, -1)
    after = _near_non_space(text, m.end(), 1)
    ascii_form = chr(ord(ch) - 0xFEE0)
    if ch in "：．" and before.isdigit() and after.isdigit():
        return ascii_form  # 12：30, 3．5
    # Punctuation belongs to the text it is attached to: the following text for opening brackets
    # and quotes, the preceding text otherwise. Convert only if that text is Latin and the other
    # side is not Chinese/Japanese.
    if ch in _OPENING_PUNCT:
        attached, other, script = after, before, _scan(text, m.end(), 1)
    else:
        attached, other, script = before, after, _scan(text, m.start() - 1, -1)
    convert = attached != "" and attached.isascii() and script in ("latin", None)
    return ascii_form if convert and _script(other or " ") not in ("han", "kana", "cjk") else ch


def _clean(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = text.translate(_FULLWIDTH)
    text = _HALFWIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return _FULLWIDTH_PUNCT.sub(_fullwidth_punctuation, _collapse_spaces(text))


def _collapse_spaces(text: str) -> str:
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip(" \n")


def normalize(text: str, lang: str | None = None) -> str:
    """Rewrite text so every token is speakable words: numbers, symbols, abbreviations expanded.

    ``lang`` (a checked code, or None to go by the script) is the language the caller asked for: it
    decides how Latin-script text and numbers with no letters around them are read.
    """
    text = _clean(text)
    if not text:
        return ""
    ctx = _Context.of(text, lang)
    for pattern, handler in _PASSES:
        if ctx.needs(handler):
            text = _run(pattern, handler, text, ctx)
    return _collapse_spaces(text)
