"""Reading numbers aloud in English (American style: no "and" inside numbers).

All functions take digit strings rather than ints where the input comes straight from text, so
arbitrarily long digit runs never hit Python's int-from-string size limit: anything too long for
a cardinal reading is read digit by digit instead.
"""

from __future__ import annotations

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen")  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion")
_MAX_CARDINAL_DIGITS = 3 * len(_SCALES)

_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_FRACTION_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(f"{_TENS[tens]}-{_ONES[ones]}" if ones else _TENS[tens])
    elif rest:
        words.append(_ONES[rest])
    return words


def cardinal(n: int) -> str:
    """1234 -> 'one thousand two hundred thirty-four'; negatives get 'minus'."""
    if n < 0:
        return f"minus {cardinal(-n)}"
    if n < 20:
        return _ONES[n]
    if len(str(n)) > _MAX_CARDINAL_DIGITS:
        return digits(str(n))
    words: list[str] = []
    for power in range(len(_SCALES) - 1, -1, -1):
        chunk = (n // 1000**power) % 1000
        if chunk:
            words += _below_thousand(chunk)
            if _SCALES[power]:
                words.append(_SCALES[power])
    return " ".join(words)


def ordinal(n: int) -> str:
    """21 -> 'twenty-first'."""
    words = cardinal(n)
    head, sep, last = words.rpartition(" ")
    prefix, hyphen, piece = last.rpartition("-")
    if piece in _IRREGULAR_ORDINALS:
        piece = _IRREGULAR_ORDINALS[piece]
    elif piece.endswith("y"):
        piece = piece[:-1] + "ieth"
    else:
        piece += "th"
    return f"{head}{sep}{prefix}{hyphen}{piece}"


def plural(word: str) -> str:
    """'ninety' -> 'nineties', 'hundred' -> 'hundreds' (for decades and fractions)."""
    if word.endswith("y"):
        return word[:-1] + "ies"
    if word.endswith("f"):
        return word[:-1] + "ves"
    return word + "s"


def year(n: int) -> str:
    """1999 -> 'nineteen ninety-nine', 2008 -> 'two thousand eight', 2024 -> 'twenty twenty-four'."""
    if not 1000 <= n <= 9999 or n % 1000 == 0 or 2000 < n < 2010:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    if low < 10:
        return f"{cardinal(high)} oh {cardinal(low)}"
    return f"{cardinal(high)} {cardinal(low)}"


def digits(text: str, zero: str = "zero") -> str:
    """'0123' -> 'zero one two three' (non-digits are skipped)."""
    return " ".join(zero if ch == "0" else _ONES[int(ch)] for ch in text if "0" <= ch <= "9")


def integer(text: str) -> str:
    """A digit string (commas allowed) as a cardinal, or digit by digit when absurdly long."""
    plain = text.replace(",", "").lstrip("0") or "0"
    if len(plain) > _MAX_CARDINAL_DIGITS:
        return digits(plain)
    return cardinal(int(plain))


def number(text: str) -> str:
    """'-1,234.05' -> 'minus one thousand two hundred thirty-four point zero five'."""
    sign = ""
    if text.startswith(("-", "\u2212")):
        sign, text = "minus ", text[1:]
    whole, dot, fraction = text.partition(".")
    spoken = integer(whole) if whole else "zero"
    if dot and fraction:
        spoken += " point " + digits(fraction)
    return sign + spoken


def fraction(numerator: int, denominator: int) -> str:
    """3/4 -> 'three quarters', 1/2 -> 'one half', 2/3 -> 'two thirds', 7/250 -> 'seven over ...'."""
    top = cardinal(numerator)
    if denominator in _FRACTION_DENOMINATORS:
        single, many = _FRACTION_DENOMINATORS[denominator]
        return f"{top} {single if numerator == 1 else many}"
    if 3 <= denominator <= 20 or denominator in (100, 1000):
        bottom = ordinal(denominator).removeprefix("one ")
        return f"{top} {bottom if numerator == 1 else plural(bottom)}"
    return f"{top} over {cardinal(denominator)}"
