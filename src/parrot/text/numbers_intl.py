"""Reading numbers aloud in Spanish, French, Italian, Brazilian Portuguese (``num2words``) and Hindi.

These languages write 1.500 or 1 500 for fifteen hundred and 3,5 for three and a half; ``read`` takes one
match of ``INTL_NUMBER`` (a number with an optional percent or currency sign) and returns its words.
Hindi numbers become Devanagari digits (thousands separators removed, Indian 1,50,000 included):
espeak-ng, which phonemizes Hindi, reads them in Hindi itself, ``num2words`` has no Hindi, and the
English passes that follow leave non-ASCII digits alone.
"""

from __future__ import annotations

import re

from num2words import num2words

_DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")
NUM2WORDS = {"es": "es", "fr": "fr", "it": "it", "pt": "pt_BR"}
_PERCENT = {"es": "por ciento", "fr": "pour cent", "it": "per cento", "pt": "por cento", "hi": "प्रतिशत"}
_CURRENCIES = {
    "€": {"es": "euros", "fr": "euros", "it": "euro", "pt": "euros", "hi": "यूरो"},
    "$": {"es": "dólares", "fr": "dollars", "it": "dollari", "pt": "dólares", "hi": "डॉलर"},
    "R$": {"es": "reales", "fr": "réaux", "it": "real", "pt": "reais", "hi": "रियाल"},
    "₹": {"es": "rupias", "fr": "roupies", "it": "rupie", "pt": "rupias", "hi": "रुपये"},
}
_GROUPED = r"[0-9]{1,3}(?:[. \u202f][0-9]{3})+|[0-9]{1,3}(?:,[0-9]{2})*,[0-9]{3}"  # 1.500, 1 500, (hi) 1,50,000
INTL_NUMBER = re.compile(
    r"(?:(?P<pre>R\$|[€$₹])\s?)?(?<![0-9.,])(?P<int>" + _GROUPED + r"|[0-9]+)(?:,(?P<frac>[0-9]+))?(?![0-9])"
    r"(?:\s?(?P<post>%|€|R\$|\$|₹))?"
)


def read(m: re.Match[str], lang: str) -> str:
    """Words (or, for Hindi, plain digits) for one ``INTL_NUMBER`` match in ``lang``."""
    whole = re.sub(r"[^0-9]", "", m.group("int"))
    fraction = m.group("frac")
    if lang == "hi":
        number = (whole + (f".{fraction}" if fraction else "")).translate(_DEVANAGARI_DIGITS)
    else:
        number = _words(whole, lang)
        if fraction:  # 3,14 -> tres coma catorce; 3,05 -> tres coma cero cinco
            comma = {"es": "coma", "fr": "virgule", "it": "virgola", "pt": "vírgula"}[lang]
            said = [fraction] if not fraction.startswith("0") and len(fraction) <= 2 else list(fraction)
            number += f" {comma} " + " ".join(_words(part, lang) for part in said)
    sign = m.group("post") or m.group("pre")
    if sign == "%":
        return f"{number} {_PERCENT[lang]}"
    if sign:
        return f"{number} {_CURRENCIES[sign][lang]}"
    return number


def _words(digits: str, lang: str) -> str:
    return num2words(int(digits), lang=NUM2WORDS[lang]).replace(",", "")  # pt_BR writes "mil, duzentos"
