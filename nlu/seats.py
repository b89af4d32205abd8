"""Seats: "de 7 pasajeros", "para 8 personas", "una camioneta para 7", "tres filas" -> seats_min.

"para 7" alone counts only from SEATS_BARE_MIN up (nobody asks for a car "para 5"; "¿y para 5?"
after a plan is a term); rows of seats count as ROW_SEATS each past the first two (3 rows = 7).
"""

from __future__ import annotations

from nlu.cues import Unit

SEATS_RANGE = (2, 15)
SEATS_BARE_MIN = 6
ROW_SEATS = {3: 7, 4: 9}
UNITS = frozenset(
    {"years_unit", "months_unit", "percent_after", "km_after", "money_after", "monthly_after"}
)


def read(unit: Unit) -> dict[str, int] | None:
    quantity = unit.last
    if unit.is_range or quantity.multiplied or quantity.money or not quantity.value.is_integer():
        return None
    value = int(quantity.value)
    if "rows_after" in unit.after:  # "7 pasajeros 2019": the cue before 2019 is 7's
        return {"seats_min": ROW_SEATS[value]} if value in ROW_SEATS else {}
    low, high = SEATS_RANGE
    if "seats_after" in unit.after:
        return {"seats_min": value} if low <= value <= high else {}
    before = unit.before & {"seats_before", "car_price_before"}  # "para 7", "una camioneta de 7"
    if before and not unit.after & UNITS and SEATS_BARE_MIN <= value <= high:
        return {"seats_min": value}
    return None
