"""Numbers as people write them: "300 mil", "300k", "$300,000", "300 000", "1.2 millones",
"medio millón", "trescientos mil", "cuatro". Every number becomes a Quantity over its tokens.

What a quantity means (a price, a year, a term...) is decided later by the words around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.grammar import GRAMMAR
from nlu.lexicon import NumberWords
from nlu.text import fold

_GROUPED_COMMA = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_GROUPED_DOT = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_DECIMAL = re.compile(r"^\d+[.,]\d{1,2}$")
_TENTHS = re.compile(r"^\d[.]\d$")
PRONOUN_ONES = frozenset({"uno", "una"})  # "uno de 200 mil", "una de 300": a car
PRONOUN_ONE_BEFORE = GRAMMAR.pronoun_one_before  # "uno con menos km": a car (grammar.yml)
NUMBER_ARTICLES = GRAMMAR.number_articles  # "el uno con…": a pick
_DIGITS = re.compile(r"^\d+$")
_THREE_DIGITS = re.compile(r"^\d{3}$")
MAX_PLAIN_DIGITS = 8  # longer bare digit runs are phone numbers or ids, not amounts


@dataclass(slots=True)
class Quantity:
    """A number found in the message, over tokens [start, end)."""

    start: int
    end: int
    value: float
    multiplied: bool = False  # "mil", "k", "millones" was said: an amount, not a year or a pick
    money: bool = False  # "$" before it
    plain: bool = False  # one bare digit token, like "2019" or "2"
    words: bool = False  # written in words ("cuatro", "trescientos mil")
    tenths: bool = False  # one digit after a point ("1.5", "2.0"): an engine's litres, a length


def digit_value(token: str) -> float | None:
    """'300,000' -> 300000, '300.000' -> 300000, '1.2' -> 1.2, '48' -> 48; else None."""
    if _DIGITS.match(token):
        return float(token) if len(token) <= MAX_PLAIN_DIGITS else None
    if _GROUPED_COMMA.match(token):
        return float(token.replace(",", ""))
    if _GROUPED_DOT.match(token):
        return float(token.replace(".", ""))
    if _DECIMAL.match(token):
        return float(token.replace(",", "."))
    return None


class NumberReader:
    """Reads quantities from folded tokens; built once from data/nlu/numbers.yml."""

    def __init__(self, words: NumberWords):
        self.units = {fold(word): value for word, value in words.units.items()}
        self.needs_multiplier = frozenset(fold(word) for word in words.needs_multiplier)
        self.time_units = frozenset(fold(word) for word in words.time_units)
        self.half = frozenset(fold(word) for word in words.half_words)
        self.fractions = {fold(word): value for word, value in words.fractions.items()}
        self.thousands = frozenset(fold(word) for word in words.thousands)
        self.millions = frozenset(fold(word) for word in words.millions)
        self.multipliers = self.thousands | self.millions
        self.joiner = fold(words.joiner)

    def read(self, tokens: list[str], blocked: list[bool]) -> list[Quantity]:
        """All quantities, left to right, skipping tokens already claimed (car names)."""
        found: list[Quantity] = []
        i = 0
        while i < len(tokens):
            quantity = None if blocked[i] else self._read_at(tokens, blocked, i)
            if quantity is None:
                i += 1
                continue
            found.append(quantity)
            i = quantity.end
        return found

    def _read_at(self, tokens: list[str], blocked: list[bool], start: int) -> Quantity | None:
        money = tokens[start] == "$"
        i = start + 1 if money else start
        if i >= len(tokens) or blocked[i]:
            return None
        first = tokens[i]
        value = digit_value(first)
        if value is not None:
            quantity = Quantity(
                start,
                i + 1,
                value,
                money=money,
                plain=bool(_DIGITS.match(first)),
                tenths=bool(_TENTHS.match(first)),
            )
            if quantity.plain and len(first) <= 3:
                self._join_groups(tokens, blocked, quantity)
        elif self._starts_words(tokens, i):
            quantity = Quantity(start, i, 0.0, money=money, words=True)
        else:
            return None
        self._extend(tokens, blocked, quantity)
        return quantity if quantity.end > quantity.start and quantity.value > 0 else None

    def _starts_words(self, tokens: list[str], i: int) -> bool:
        word = tokens[i]
        if word in self.half:
            return i + 1 < len(tokens) and tokens[i + 1] in self.millions
        if word in self.fractions:
            return self._of_millions(tokens, i) > 0
        if word not in self.units:
            return False
        if (
            word in PRONOUN_ONES
            and tokens[i + 1 : i + 2] == ["de"]
            and self._number_at(tokens, i + 2)
        ):
            return False  # "uno de 200 mil": a car of that price, not the number one
        if (
            word in PRONOUN_ONES
            and tokens[i + 1 : i + 2]
            and tokens[i + 1] in PRONOUN_ONE_BEFORE
            and (i == 0 or tokens[i - 1] not in NUMBER_ARTICLES)
        ):
            return False  # "prefiero uno con menos km", "uno que sea automático": a car
        if word in self.needs_multiplier:
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            return following in self.multipliers or (
                following in self.time_units and word not in self.half
            )
        return True

    def _number_at(self, tokens: list[str], i: int) -> bool:
        return i < len(tokens) and (digit_value(tokens[i]) is not None or tokens[i] in self.units)

    @staticmethod
    def _join_groups(tokens: list[str], blocked: list[bool], quantity: Quantity) -> None:
        """'300 000' is one number (thousands written with a space)."""
        end = quantity.end
        while end < len(tokens) and not blocked[end] and _THREE_DIGITS.match(tokens[end]):
            quantity.value = quantity.value * 1000 + float(tokens[end])
            quantity.plain, end = False, end + 1
        quantity.end = end

    def _extend(self, tokens: list[str], blocked: list[bool], quantity: Quantity) -> None:
        """Consume number words and multipliers after the start: 'trescientos cincuenta mil'."""
        total, current = 0.0, None if quantity.words else quantity.value
        last_word = current if current is not None else float("inf")
        last_scale = float("inf")
        i = quantity.end
        while i < len(tokens) and not blocked[i]:
            word = tokens[i]
            if word in self.thousands and (current is not None or total) and last_scale > 1000:
                if word == "k" and (quantity.words or i != quantity.start + 1 + quantity.money):
                    break
                total += (current if current is not None else 1.0) * 1000
                current, last_scale, last_word = None, 1000, float("inf")
            elif word in self.millions and (current is not None or total):
                total = (total + (current if current is not None else 1.0)) * 1_000_000
                current, last_scale, last_word = None, 1_000_000, float("inf")
                if self._half_follows(tokens, i):
                    total, i = total + 500_000, i + 2
            elif word in self.half and i + 1 < len(tokens) and tokens[i + 1] in self.millions:
                current = 0.5
            elif (
                word in self.fractions
                and current is None
                and (skip := self._of_millions(tokens, i))
            ):
                current, i = self.fractions[word], i + skip - 1  # "un cuarto de millón"
            elif word == self.joiner and self._joins_units(tokens, i, current):
                pass
            elif (value := self._word_value(tokens, i, current, last_word)) is not None:
                current, last_word = (current or 0.0) + value, value
            elif current is None and total and (digits := digit_value(word)) is not None:
                if digits >= last_scale or not _DIGITS.match(word):
                    break
                current = digits
            else:
                break
            i += 1
        if total:
            quantity.multiplied, quantity.plain = True, False
        quantity.value = total + (current or 0.0)
        quantity.end = i

    def _word_value(
        self, tokens: list[str], i: int, current: float | None, last: float
    ) -> float | None:
        """A unit word that adds to the number being read ('doscientos' + 'cincuenta')."""
        value = self.units.get(tokens[i])
        if value is None or (tokens[i] in self.needs_multiplier and current is None):
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if value is not None and (
                following in self.multipliers or following in self.time_units
            ):
                return value
            return None
        if current is None:
            return value
        if value < last and len(str(int(value))) < len(str(int(last))):
            return value
        return None

    def _joins_units(self, tokens: list[str], i: int, current: float | None) -> bool:
        """'cuarenta y cinco': a 'y' between tens and units."""
        if current is None or current < 20 or current % 10 or i + 1 >= len(tokens):
            return False
        following = self.units.get(tokens[i + 1])
        return following is not None and following < 10

    def _of_millions(self, tokens: list[str], i: int) -> int:
        """After a fraction ("cuarto"), how far the million word is: 1, 2 past "de", else 0."""
        after = tokens[i + 1 : i + 3]
        if after[:1] and after[0] in self.millions:
            return 1
        return 2 if len(after) == 2 and after[0] == "de" and after[1] in self.millions else 0

    def _half_follows(self, tokens: list[str], i: int) -> bool:
        return i + 2 < len(tokens) and tokens[i + 1] == self.joiner and tokens[i + 2] in self.half
