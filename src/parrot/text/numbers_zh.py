"""Reading numbers aloud in Mandarin, written with Chinese numerals.

10 -> 十, 15 -> 十五, 110 -> 一百一十, 1005 -> 一千零五, 100010000 -> 一亿零一万, with the spoken 两
before 千/万/亿 (2000 -> 两千, 20000 -> 两万). Like the English module, the entry points take digit
strings so very long runs fall back to digit-by-digit reading.
"""

from __future__ import annotations

DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_SECTION_UNITS = ("", "万", "亿", "万亿")
_MAX_CARDINAL_DIGITS = 4 * len(_SECTION_UNITS)


def _section(n: int) -> str:
    """0 < n < 10000 -> numerals with 十/百/千, one 零 for each run of inner zeros (2000 -> 两千)."""
    out: list[str] = []
    pending_zero = False
    for power in range(3, -1, -1):
        digit = (n // 10**power) % 10
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(("两" if digit == 2 and power == 3 else DIGITS[digit]) + _SMALL_UNITS[power])
    return "".join(out)


def cardinal(n: int) -> str:
    """Chinese reading of an integer; 10-19 at the start drop the leading 一 (十五, 十万)."""
    if n < 0:
        return "负" + cardinal(-n)
    if n == 0:
        return "零"
    if len(str(n)) > _MAX_CARDINAL_DIGITS:
        return digits(str(n))
    out: list[str] = []
    pending_zero = False
    for power in range(len(_SECTION_UNITS) - 1, -1, -1):
        section = (n // 10000**power) % 10000
        if section == 0:
            pending_zero = pending_zero or bool(out)
            continue
        if out and (pending_zero or section < 1000):
            out.append("零")
        out.append(("两" if section == 2 and power else _section(section)) + _SECTION_UNITS[power])
        pending_zero = False
    spoken = "".join(out)
    return spoken[1:] if spoken.startswith("一十") else spoken


def digits(text: str) -> str:
    """'2024' -> '二零二四' (non-digits are skipped)."""
    return "".join(DIGITS[int(ch)] for ch in text if "0" <= ch <= "9")


def integer(text: str) -> str:
    """A digit string (commas allowed) as a cardinal, or digit by digit when absurdly long."""
    plain = text.replace(",", "").lstrip("0") or "0"
    if len(plain) > _MAX_CARDINAL_DIGITS:
        return digits(plain)
    return cardinal(int(plain))


def number(text: str) -> str:
    """'-1,234.05' -> '负一千二百三十四点零五'."""
    sign = ""
    if text.startswith(("-", "\u2212")):
        sign, text = "负", text[1:]
    whole, dot, fraction = text.partition(".")
    spoken = integer(whole) if whole else "零"
    if dot and fraction:
        spoken += "点" + digits(fraction)
    return sign + spoken
