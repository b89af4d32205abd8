"""The grounding guard: text from the LLM may only contain numbers, amounts, percentages, years,
stock ids, makes and models that appear in what it was given (the rule-based reply or context)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

from nlu.lexicon import Lexicon
from nlu.numbers import NumberReader
from nlu.text import fold, prepare

_TOKENS = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+|[^\sa-z\d]")
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


def check_grounding(
    text: str, sources: list[str], vocabulary: Iterable[str] | NameMatcher = ()
) -> GroundingResult:
    source_text = "\n".join(sources)
    allowed: set[float] = set()
    for _, value in numbers_in(source_text):
        allowed |= _variants(value)
    unsupported = [written for written, value in numbers_in(text) if not _supported(value, allowed)]
    names = vocabulary if isinstance(vocabulary, NameMatcher) else NameMatcher(vocabulary)
    unsupported += sorted(names.find(text) - names.find(source_text))
    return GroundingResult(ok=not unsupported, unsupported=unsupported)
