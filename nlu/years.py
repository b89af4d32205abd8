"""Model years: "del 2020", "2018 en adelante", "hasta 2016", "antes del 2017", "2016-2019"."""

from __future__ import annotations

from nlu.cues import YEAR_RANGE, Unit, is_year
from nlu.numbers import Quantity


def read(unit: Unit) -> dict[str, int] | None:
    if not all(is_year(q) or _worded_year(q, unit) for q in unit.quantities):
        return None
    years = sorted(int(value) for value in unit.values)
    if unit.is_range:
        return {"year_min": years[0], "year_max": years[-1]}
    year = years[0]
    before, after = unit.before, unit.after
    if "before_year" in before:
        return {"year_max": year - 1}
    if "after_year" in before:
        return {"year_min": year + 1}
    if "year_min_before" in before or "min_before" in before or "min_after" in after:
        return {"year_min": year}
    if "year_max_before" in before or "max_before" in before or "max_after" in after:
        return {"year_max": year}
    return {"year_min": year, "year_max": year}


def _worded_year(quantity: Quantity, unit: Unit) -> bool:
    """ "del dos mil dieciocho", "modelo dos mil veinte": a year in words after a year word."""
    low, high = YEAR_RANGE
    in_range = low <= quantity.value <= high and quantity.value.is_integer()
    return quantity.words and in_range and "year_marker" in unit.before
