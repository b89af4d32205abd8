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
    if "year_judged" in before:
        return {}  # "cara pa ser 2017": what the car is judged by, no year wanted
    if "before_year" in before:
        return {"year_max": year - 1}
    if "after_year" in before:
        return {"year_min": year + 1}
    if "year_min_before" in before or "min_before" in before or "min_after" in after:
        return {"year_min": year}
    if "year_max_before" in before or "max_before" in before or "max_after" in after:
        return {"year_max": year}
    return {"year_min": year, "year_max": year}


# what an amount of money is said with: then "dos mil quinientos" stays pesos
MONEY_CUES = frozenset(
    {"money_before", "money_after", "down_payment", "monthly_after", "monthly_before",
     "fortnight_after", "budget_before", "max_before", "max_after", "min_before", "min_after",
     "income_before", "income_after", "savings", "paid_with_before", "car_price_before",
     "km_after", "km_before"}
)  # fmt: skip


def _worded_year(quantity: Quantity, unit: Unit) -> bool:
    """ "del dos mil dieciocho", "modelo dos mil veinte": a year in words after a year word; or
    with no money word at all, "DOS MIL DIECIOCHO el ibiza" (no car costs 2,018 pesos)."""
    low, high = YEAR_RANGE
    in_range = low <= quantity.value <= high and quantity.value.is_integer()
    if not (quantity.words and in_range):
        return False
    if "year_marker" in unit.before:
        return True
    tail = int(quantity.value) % 1000 != 0  # "dos mil" alone may be pesos a month
    return tail and not (MONEY_CUES & (set(unit.before) | set(unit.after)))
