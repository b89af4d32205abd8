"""The grounding guard: text from the LLM may only contain numbers, amounts, percentages, years,
stock ids, makes and models, phone numbers, web addresses and claim words (tasa, descuento,
gratis...) that appear in its sources: the catalog, the knowledge base, the computed plan or the
rule-based reply it rewords. Never the customer's message: what they write is not evidence."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

from nlu.lexicon import Lexicon
from nlu.numbers import NumberReader
from nlu.text import fold, prepare

_TOKENS = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+|[^\sa-z\d]")
_PERCENT = re.compile(r"(?<![\d.,])(\d+(?:[.,]\d+)?)\s*(?:%|por\s*ciento)")
_PHONE = re.compile(r"(?<![\d.,])\+?\d[\d\s().-]{8,}\d(?![\d.,])")
PHONE_DIGITS = 10  # a Mexican number without its country code
_ADDRESS = re.compile(
    r"(?i)(?:https?://|www\.)[^\s<>\"']+|[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|mx|net|org|io|app|ly|co|info|biz|link|me)\b\S*"
)
_READER: NumberReader | None = None


class GroundingResult(BaseModel):
    ok: bool
    unsupported: list[str] = []


def _reader() -> NumberReader:
    global _READER  # built once: the number words never change at run time
    if _READER is None:
        _READER = NumberReader(Lexicon.load().numbers)
    return _READER


def numbers_in(text: str) -> list[tuple[str, float]]:
    """Every number said in the text, with its written form: '$313,999' -> 313999.0."""
    tokens = _TOKENS.findall(prepare(text))
    found = []
    for quantity in _reader().read(tokens, [False] * len(tokens)):
        written = " ".join(tokens[quantity.start : quantity.end])
        found.append((written, quantity.value))
    return found


def _variants(value: float) -> set[float]:
    """A source number also supports its other usual writings: 10% <-> 0.10, 350 <-> 350 mil."""
    return {value, value * 100, value / 100, value * 1000, round(value), round(value, 2)}


def _supported(value: float, allowed: set[float]) -> bool:
    return any(abs(value - other) <= max(0.51, abs(other) * 0.0005) for other in allowed)


class NameMatcher:
    """Finds catalog makes and models in a text (whole words, no accents or case)."""

    def __init__(self, names: Iterable[str]):
        forms = sorted(
            {fold(name).strip() for name in names if name.strip()}, key=len, reverse=True
        )
        escaped = [
            re.escape(form).replace(r"\-", "[- ]?").replace(r"\ ", "[- ]?") for form in forms
        ]
        self.pattern = (
            re.compile(r"(?<![a-z0-9])(" + "|".join(escaped) + r")(?![a-z0-9])") if forms else None
        )

    def find(self, text: str) -> set[str]:
        if self.pattern is None:
            return set()
        return {re.sub(r"[- ]", "", match) for match in self.pattern.findall(fold(text))}


def percents_in(text: str) -> list[tuple[str, float]]:
    """Every percentage, '0%' included (the number reader skips a bare 0): '10.5 %' -> 10.5."""
    return [(match.group(0), float(match.group(1).replace(",", "."))) for match in
            _PERCENT.finditer(fold(text))]  # fmt: skip


def _unsupported_percents(text: str, source_text: str) -> list[str]:
    """A rate must be one of the sources' rates, as a percentage or a fraction (10% <-> 0.10):
    the tolerance numbers get would let '0%' pass next to any small number."""
    values = [value for _, value in [*numbers_in(source_text), *percents_in(source_text)]]
    allowed = {*values, *(value * 100 for value in values)}
    return [written for written, value in percents_in(text)
            if not any(abs(value - other) < 0.01 for other in allowed)]  # fmt: skip


def phones_in(text: str) -> set[str]:
    """The last 10 digits of each phone-like run of digits: '+52 (55) 1234-5678' -> '5512345678'."""
    found = set()
    for match in _PHONE.findall(text):
        digits = re.sub(r"\D", "", match)
        if len(digits) >= PHONE_DIGITS:
            found.add(digits[-PHONE_DIGITS:])
    return found


def addresses_in(text: str) -> set[str]:
    """Web and e-mail addresses as their host: 'https://www.kavak.com/mx/' -> 'kavak.com'."""
    found = set()
    for match in _ADDRESS.findall(text):
        host = re.sub(r"(?i)^(?:https?://)?(?:www\.)?", "", match).split("@")[-1]
        found.add(re.split(r"[/?#:]", host)[0].lower().rstrip(".,;)!?"))
    return found


def _matcher(words: Iterable[str] | NameMatcher) -> NameMatcher:
    return words if isinstance(words, NameMatcher) else NameMatcher(words)


def check_grounding(
    text: str,
    sources: list[str],
    vocabulary: Iterable[str] | NameMatcher = (),
    claim_words: Iterable[str] | NameMatcher = (),
) -> GroundingResult:
    """What the text says that its sources do not: numbers, cars, phones, addresses, claims."""
    source_text = "\n".join(sources)
    allowed: set[float] = set()
    for _, value in numbers_in(source_text):
        allowed |= _variants(value)
    unsupported = [written for written, value in numbers_in(text) if not _supported(value, allowed)]
    unsupported += _unsupported_percents(text, source_text)
    unsupported += sorted(phones_in(text) - phones_in(source_text))
    unsupported += sorted(addresses_in(text) - addresses_in(source_text))
    for words in (vocabulary, claim_words):
        matcher = _matcher(words)
        unsupported += sorted(matcher.find(text) - matcher.find(source_text))
    return GroundingResult(ok=not unsupported, unsupported=unsupported)
