"""Picking from the last list: "el segundo", "la 3", "opción 3", "#2", "el último" (-1).

Never from model names (claimed before this runs), years, amounts, ages, counts ("3 hijos"),
dates ("el 2 de mayo"), "mi primer coche", "segunda mano" or phone numbers.
"""

from __future__ import annotations

from nlu.lexicon import Ordinals
from nlu.numbers import Quantity
from nlu.text import fold

LOWEST, HIGHEST = 1, 10


class OrdinalReader:
    def __init__(self, ordinals: Ordinals):
        self.words = {fold(word): value for word, value in ordinals.words.items()}
        self.pointers = frozenset(fold(word) for word in ordinals.pointers)
        self.pick_nouns = [fold(phrase).split() for phrase in ordinals.pick_nouns]
        self.not_after = frozenset(fold(word) for word in ordinals.not_after)
        self.not_before = [fold(phrase).split() for phrase in ordinals.not_before]
        self.months = frozenset(fold(word) for word in ordinals.months)
        self.positions: dict[str, list[tuple[list[str], int]]] = {}  # by first word
        for phrase, value in ordinals.positions.items():
            words = fold(phrase).split()
            self.positions.setdefault(words[0], []).append((words, value))
        self.position_pointers = frozenset(fold(word) for word in ordinals.position_pointers)
        self.relative = [(fold(phrase).split(), step) for phrase, step in ordinals.relative.items()]
        self.list_leads = frozenset(
            word for lead in ordinals.list_leads for word in fold(lead).split()
        )

    def relative_step(self, tokens: list[str], taken: list[bool]) -> int:
        """ "¿y el de arriba?" -1, "el siguiente" +1: a step from the car in focus, said after a
        pointer ("el", "la") within two words; 0 when none."""
        for words, step in self.relative:
            for i in range(len(tokens) - len(words) + 1):
                if tokens[i : i + len(words)] != words or any(taken[i : i + len(words)]):
                    continue
                if self.position_pointers & set(tokens[max(0, i - 2) : i]):
                    return step
        return 0

    def read(
        self,
        tokens: list[str],
        taken: list[bool],
        leftovers: list[Quantity],
        counted: set[int],
    ) -> tuple[int, int] | None:
        """(position, value) of the first pick; `counted`: quantities before a count noun."""
        picks = self.read_all(tokens, taken, leftovers, counted)
        return picks[0] if picks else None

    def read_all(
        self, tokens: list[str], taken: list[bool], leftovers: list[Quantity], counted: set[int]
    ) -> list[tuple[int, int]]:
        """Every pick, in order: "compárame el 1 con el 3" -> [(2, 1), (5, 3)]."""
        picks = [
            pick for pick in (self._word(tokens, taken, i) for i in range(len(tokens))) if pick
        ]
        picks += [pick for q in leftovers if (pick := self._number(tokens, q, counted))]
        picks += self._positions(tokens, taken)
        return sorted(picks)

    def _positions(self, tokens: list[str], taken: list[bool]) -> list[tuple[int, int]]:
        """ "el de hasta abajo" (-1), "la que está mero arriba" (1)."""
        found = []
        for i, token in enumerate(tokens):
            for phrase, value in self.positions.get(token, ()):
                if tokens[i : i + len(phrase)] != phrase or any(taken[i : i + len(phrase)]):
                    continue
                if self.position_pointers & set(tokens[max(0, i - 3) : i]):
                    found.append((i, value))
        return found

    def _word(self, tokens: list[str], taken: list[bool], i: int) -> tuple[int, int] | None:
        value = self.words.get(tokens[i])
        if value is None or taken[i]:
            return None
        previous = tokens[i - 1] if i else ""
        if previous in self.not_after or _starts_with(tokens, i + 1, self.not_before):
            return None
        pointed = previous in self.pointers or _starts_with(tokens, i + 1, self.pick_nouns)
        return (i, value) if pointed or _alone(tokens, i) else None

    def _number(
        self, tokens: list[str], quantity: Quantity, counted: set[int]
    ) -> tuple[int, int] | None:
        value = quantity.value
        if quantity.multiplied or quantity.money or not value.is_integer():
            return None
        if any("." in token for token in tokens[quantity.start : quantity.end]):
            return None  # "¿es el 4.0 biturbo?": an engine size, never a pick
        if not LOWEST <= value <= HIGHEST or quantity.start in counted:
            return None
        previous = tokens[quantity.start - 1] if quantity.start else ""
        following = tokens[quantity.end + 1] if quantity.end + 1 < len(tokens) else ""
        if following in self.months:
            return None
        if previous in self.pointers or _alone(tokens, quantity.start, quantity.end):
            return quantity.start, int(value)
        if _alone(tokens, quantity.start, quantity.end, self.list_leads):
            return quantity.start, int(value)  # "compara 2 y 3"
        if _opening(tokens, quantity.start, quantity.end):
            return quantity.start, int(value)  # "1. omg", "3, ese me gusta"
        return None


def _starts_with(tokens: list[str], i: int, phrases: list[list[str]]) -> bool:
    return any(tokens[i : i + len(phrase)] == phrase for phrase in phrases)


def _alone(
    tokens: list[str], start: int, end: int | None = None, leads: frozenset[str] = frozenset()
) -> bool:
    """The pick is the whole message ("2", "segundo", "#3 porfa" is not), or one of a list of
    picks said alone ("2 y 3", "1, 3 y 5"), after `leads` words only ("compara 2 y 3")."""
    end = start + 1 if end is None else end
    rest = tokens[:start] + tokens[end:]
    if all(not token.isalnum() for token in rest):
        return True
    listed = any(token.isdigit() for token in rest)  # "2 y 3"; "y con 5" is no list of picks
    return listed and all(
        not token.isalnum() or token.isdigit() or token in PICK_JOINERS or token in leads
        for token in rest
    )


OPENING_MARKS = frozenset({".", "!", ",", ":"})


def _opening(tokens: list[str], start: int, end: int) -> bool:
    """The number opens the message as its own clause and no other figure follows: a pick."""
    if start != 0 or end >= len(tokens) or tokens[end] not in OPENING_MARKS:
        return False
    return not any(any(ch.isdigit() for ch in token) for token in tokens[end:])


PICK_JOINERS = frozenset({"y", "e", "o", "con", "and", "vs"})  # "2 y 3", "el 1 con el 3"
