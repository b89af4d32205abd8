"""Prices and kilometres: "menos de 300 mil", "entre 200 y 300 mil", "alrededor de 250 mil",
"presupuesto de 300" (under 1,000 in a money context means thousands), "menos de 50 mil km".
"""

from __future__ import annotations

from nlu.cues import Unit, is_year
from nlu.numbers import Quantity

APPROX_SHARE = 0.10
SMALLEST_THOUSANDS = 20  # "presupuesto de 300" is 300 mil; "tengo 3" is not money
# ("de menos de 400": the longer cue an age limit also uses, a ceiling all the same)
PRICE_CUES = (
    "max_before", "min_before", "budget_before", "approx_before", "money_before",
    "age_limit_before", "max_after", "min_after", "car_price_before", "paid_with_before",
    "own_budget_before",
)  # fmt: skip


def pesos(quantity: Quantity) -> float:
    """An amount in pesos; a bare number under 1,000 is thousands ("300" -> 300,000)."""
    value = quantity.value
    if not quantity.multiplied and value < 1000:
        return value * 1000
    return value


def read_km(unit: Unit) -> dict[str, float] | None:
    if not ("km_after" in unit.after or "km_before" in unit.before):
        return None
    if "km_after" not in unit.after and is_year(unit.last):
        return None  # "el de menos km de los 2018": the year of the cars, not a km figure
    if unit.cue("min_before", "min_after"):
        return {}
    small = not unit.last.multiplied and unit.last.value < 1000
    if small and not unit.cue("max_before", "max_after"):
        return {}  # "maneja 100 km diarios" is a distance, not a limit
    return {"km_max": int(pesos(unit.last))}


LENGTH_METRES = (2.5, 8.0)  # a car, a garage or a parking space, in metres


def read_length(unit: Unit) -> dict[str, float] | None:
    """ "mi cochera es de 4.5 m", "que mida menos de 4.30 metros": the longest car that fits."""
    if "length_after" not in unit.after:
        return None
    low, high = LENGTH_METRES
    value = unit.last.value
    return {"length_max": round(value * 1000)} if low <= value <= high else {}


ENGINE_LITRES = (0.6, 8.5)  # the engines of cars on sale


def read_engine(unit: Unit) -> dict[str, float] | None:
    """ "motor de 3.5 para arriba", "de más de 3 litros", "motor 2.0": litres of engine (a floor,
    a ceiling, or the one size); a range "de 2 a 3 litros" is both."""
    if not unit.cue("engine_before", "engine_after") or unit.last.multiplied:
        return None
    low, high = ENGINE_LITRES
    values = [quantity.value for quantity in unit.quantities]
    if all(is_year(quantity) for quantity in unit.quantities):
        return None  # "y la 2018, ¿qué motor trae?": the year of the car asked about
    if not all(low <= value <= high for value in values):
        return {}
    if unit.is_range:
        return {"engine_min": min(values), "engine_max": max(values)}
    return _litres(unit, values[-1], ("max_before", "max_after", "age_limit_before"))


def read_bare_engine(unit: Unit) -> dict[str, float] | None:
    """ "3.5 para arriba", "¿es 1.5?": a figure with one decimal and no other meaning is a car's
    litres (no price, km, term or year is written that way)."""
    quantity = unit.last
    if quantity.multiplied or quantity.money or not quantity.tenths:
        return None
    low, high = ENGINE_LITRES
    ceilings = ("max_before", "max_after")
    return _litres(unit, quantity.value, ceilings) if low <= quantity.value <= high else None


def _litres(unit: Unit, value: float, ceilings: tuple[str, ...]) -> dict[str, float]:
    """A floor ("para arriba"), a ceiling (one of `ceilings`) or the one size said."""
    if unit.cue("min_before", "min_after"):
        return {"engine_min": value}
    if unit.cue(*ceilings):
        return {"engine_max": value}
    return {"engine_min": value, "engine_max": value}


def is_money(unit: Unit) -> bool:
    quantity = unit.last
    if "from_zero" in unit.before:
        return False  # "de 0 a 100 en cuánto?": an acceleration
    if any(is_year(q) for q in unit.quantities) or "count_after" in unit.after:
        return quantity.multiplied or quantity.money
    if quantity.multiplied or quantity.money or unit.cue("money_after", "money_before"):
        return True
    if quantity.value >= 1000:
        return quantity.plain is False or quantity.value >= 10_000
    if unit.is_range and "range_start" in unit.before:  # "algo de 200 a 250"
        return min(unit.values) >= SMALLEST_THOUSANDS
    return quantity.value >= SMALLEST_THOUSANDS and unit.cue(*PRICE_CUES)


def read_price(unit: Unit) -> dict[str, float] | None:
    if not is_money(unit):
        return None
    if "price_gap_after" in unit.after:
        return {}  # "los 35 mil extra" of the dearer car: a gap between prices, no budget
    if unit.is_range:
        low, high = sorted(pesos(quantity) for quantity in unit.quantities)
        return {"price_min": low, "price_max": high}
    value = pesos(unit.last)
    if unit.cue("max_before", "max_after", "age_limit_before"):  # "unos 400 mil máximo" too
        return {"price_max": value}
    if unit.cue("approx_before", "approx_after") and "own_budget_before" in unit.before:
        return {"price_max": round(value * (1 + APPROX_SHARE))}  # "presupuesto de unos 300"
    if unit.cue("approx_before", "approx_after"):
        return {
            "price_min": round(value * (1 - APPROX_SHARE)),
            "price_max": round(value * (1 + APPROX_SHARE)),
        }
    if "min_before" in unit.before or "min_after" in unit.after:
        return {"price_min": value}
    return {"price_max": value}
