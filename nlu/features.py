"""Equipment: bluetooth and CarPlay, said in any of the spellings in data/nlu/features.yml.

Always extracted when mentioned ("¿tiene carplay?" -> car_play true); "sin bluetooth" -> false.
"""

from __future__ import annotations

from collections.abc import Iterable

from nlu.lexicon import Features
from nlu.text import fold


class FeatureReader:
    def __init__(self, features: Features):
        self.negations = [fold(phrase).split() for phrase in features.negations]

    def read(self, tokens: list[str], spans: Iterable[tuple[str, int, int]]) -> dict[str, bool]:
        found: dict[str, bool] = {}
        for feature, start, _ in sorted(spans, key=lambda span: span[1]):
            found.setdefault(feature, not self._negated(tokens, start))
        return found

    def _negated(self, tokens: list[str], start: int) -> bool:
        before = tokens[max(0, start - 3) : start]
        return any(
            len(before) >= len(phrase) and before[len(before) - len(phrase) :] == phrase
            for phrase in self.negations
        )
