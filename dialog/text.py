"""Text normalisation for matching phrases from the YAML (accents, case, punctuation)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lowercase, no accents, no punctuation, single spaces: 'Sí, ¡LO QUIERO!' -> 'si lo quiero'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", plain)).strip()


@lru_cache(maxsize=256)
def _compiled(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    words = sorted(
        {normalize(phrase) for phrase in phrases if normalize(phrase)}, key=len, reverse=True
    )
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(word) for word in words) + r")(?!\w)")


def find_phrase(text: str, phrases: Iterable[str]) -> str | None:
    """The first phrase (normalised) found as whole words in the text, or None."""
    pattern = _compiled(tuple(phrases))
    if pattern is None:
        return None
    match = pattern.search(normalize(text))
    return match.group(0) if match else None


def is_phrase(text: str, phrases: Iterable[str]) -> bool:
    """True when the whole message is one of the phrases (ignoring case, accents, punctuation)."""
    normalized = normalize(text)
    return any(normalized == normalize(phrase) for phrase in phrases)
