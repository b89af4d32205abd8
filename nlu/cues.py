"""Cue words around numbers ("menos de", "al mes", "de enganche") and number ranges.

The cue phrases are data (data/nlu/cues.yml) matched by the pipeline's PhraseMatcher; this module
only knows how to walk from a number to the cues next to it, over fillers like "de" or "unos".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from nlu.grammar import GRAMMAR
from nlu.numbers import Quantity

MAX_STEPS = 5
BARRIERS = frozenset({"range_join"})  # never walk past "y"/"a": "80 mil de enganche y 7 mil al mes"
# the nearest of these decides: "mensualidades si doy 100 mil" is a down payment
MEANINGS = frozenset(
    {
        "down_payment",
        "monthly_before",
        "monthly_after",
        "fortnight_after",
        "term_before",
        "km_before",
        "car_price_before",
        "paid_with_before",
    }
)
CLOSING_MEANINGS = MEANINGS | {"km_after"}  # after one, another meaning is the next number's
YEAR_RANGE = (1980, 2035)
CLAIMING = frozenset({"de", "del"})  # a cue then "de" and a number belongs to that number


@dataclass
class Unit:
    """One number, or a range of two ("entre 200 y 300 mil"), with the cues around it."""

    quantities: list[Quantity]
    before: set[str] = field(default_factory=set)
    after: set[str] = field(default_factory=set)

    @property
    def first(self) -> Quantity:
        return self.quantities[0]

    @property
    def last(self) -> Quantity:
        return self.quantities[-1]

    @property
    def values(self) -> list[float]:
        return [quantity.value for quantity in self.quantities]

    @property
    def is_range(self) -> bool:
        return len(self.quantities) > 1

    def cue(self, *labels: str) -> bool:
        return any(label in self.before or label in self.after for label in labels)


def is_year(quantity: Quantity) -> bool:
    low, high = YEAR_RANGE
    return quantity.plain and low <= quantity.value <= high and quantity.value.is_integer()


class CueIndex:
    """Where each cue label starts and ends in one message."""

    def __init__(self, tokens: list[str], spans: list[tuple[str, int, int]], fillers: frozenset):
        self.tokens, self.fillers = tokens, fillers
        self.number_starts: frozenset[int] = frozenset()
        self.ending: dict[int, list[tuple[str, int]]] = defaultdict(list)
        self.starting: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for label, start, end in spans:
            self.ending[end].append((label, start))
            self.starting[start].append((label, end))

    def before(self, position: int) -> set[str]:
        """Labels of the cues just before `position`, walking back over fillers."""
        labels: set[str] = set()
        steps = 0
        while position > 0 and steps < MAX_STEPS:
            found = self.ending.get(position)
            if found:
                start = min(start for _, start in found)
                here = {label for label, other in found if other == start}
                if labels & MEANINGS and here & MEANINGS:
                    break
                labels.update(here)
                if _only_barriers(found, start):
                    break
                position = start
            elif self.tokens[position - 1] in self.fillers:
                position -= 1
            else:
                break
            steps += 1
        return labels

    def after(self, position: int) -> set[str]:
        """Labels of the cues just after `position`, walking forward over fillers."""
        labels: set[str] = set()
        steps = 0
        while position < len(self.tokens) and steps < MAX_STEPS:
            found = self.starting.get(position)
            if found:
                end = max(end for _, end in found)
                closing = any(label.endswith("_after") for label, other in found if other == end)
                if end + 1 in self.number_starts and self.tokens[end] in CLAIMING and not closing:
                    break  # "236,999 con enganche de 70 mil": the cue is the 70's (but "2016
                    # para arriba de 180 a 220": "para arriba" closes the 2016)
                leading = all(label.endswith("_before") for label, other in found if other == end)
                if leading and end in self.number_starts:
                    break  # "con 80k over 4 years": "over" opens the 4, it bounds no 80k
                here = {label for label, other in found if other == end}
                if labels & CLOSING_MEANINGS and here & MEANINGS:
                    break  # "esos de 100 mil km me dan miedo": the km are the 100 mil's
                labels.update(here)
                if _only_barriers(found, end):
                    break
                position = end
            elif self.tokens[position] in self.fillers:
                position += 1
            else:
                break
            steps += 1
        return labels

    def group(self, quantities: list[Quantity]) -> list[Unit]:
        """Pair ranges ("entre 200 y 300 mil", "2018-2020") and attach the cues around each unit."""
        units: list[Unit] = []
        self.number_starts = frozenset(quantity.start for quantity in quantities)
        i = 0
        while i < len(quantities):
            if i + 1 < len(quantities) and self._is_range(quantities[i], quantities[i + 1]):
                unit = Unit([quantities[i], quantities[i + 1]])
                _share_multiplier(unit)
                i += 2
            else:
                unit = Unit([quantities[i]])
                i += 1
            unit.before = self.before(unit.first.start)
            if unit.is_range and self.opens_range(unit.first.start):
                unit.before.add("range_start")
            unit.after = self.after(unit.last.end)
            units.append(unit)
        return units

    def _is_range(self, first: Quantity, second: Quantity) -> bool:
        if second.start != first.end + 1:
            return False
        join = self.tokens[first.end]
        scale = 1000 if second.multiplied and not first.multiplied and first.value < 1000 else 1
        guess = join in GRAMMAR.guess_joiners and self._approx(first.start) and not is_year(first)
        if guess and first.value * scale < second.value:
            return True  # "unos 350, 400 mil", "como 5 o 6 mil al mes": between the two
        if not any(label == "range_join" for label, _ in self.starting.get(first.end, [])):
            return False
        both_years = is_year(first) and is_year(second)
        if is_year(first) != is_year(second) or (first.multiplied and not second.multiplied):
            return False
        if self._labels_before(first.start) & {"pick_before"} and not both_years:
            return False  # "el 3 a 48 meses": a pick, then a term
        both_amounts = first.multiplied and second.multiplied and first.value < second.value
        both_amounts = both_amounts and join in GRAMMAR.amount_range_joiners  # "180 mil a 220 mil"
        return join == "-" or both_years or both_amounts or self.opens_range(first.start)

    def _approx(self, position: int) -> bool:
        """An approximation cue ("unos", "como") right before `position`."""
        return any(label == "approx_before" for label, _ in self.ending.get(position, []))

    def _labels_before(self, position: int) -> set[str]:
        return {label for label, _ in self.ending.get(position, [])}

    def opens_range(self, position: int) -> bool:
        """'entre' / 'de' right before the first number of a range, or before an approximation
        that is ("de unos 250 a 300 mil", "entre como 200 y 300")."""
        found = self.ending.get(position, [])
        if any(label == "range_start" for label, _ in found):
            return True
        starts = [start for label, start in found if label == "approx_before"]
        return any(
            label == "range_start" for start in starts for label, _ in self.ending.get(start, [])
        )


def _only_barriers(found: list[tuple[str, int]], edge: int) -> bool:
    """The longest cue here is a join ("y", "a"), not part of "menor a" or "hasta": stop."""
    return all(label in BARRIERS for label, other in found if other == edge)


def _share_multiplier(unit: Unit) -> None:
    """'entre 200 y 300 mil': the unit said once applies to both numbers."""
    first, last = unit.quantities
    if last.multiplied and not first.multiplied and first.value < 1000:
        scale = 1_000_000 if last.value >= 1_000_000 and first.value < 100 else 1000
        first.value *= scale
        first.multiplied = first.plain = False
    first.money = first.money or last.money
