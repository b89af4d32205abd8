"""Financing slots: down payment (amount or %), term and monthly budget.

"con 50 mil de enganche" -> down_payment 50000; "enganche del 20%" -> down_payment_pct 20;
"a 4 años" / "48 meses" -> term_months 48; "puedo pagar 8 mil al mes" -> monthly_budget 8000.
"tengo 30 años" is an age, not a term; "de máximo 5 años de antigüedad" is the car's age
(year_min = this year - 5); "dos años y medio" is 30 months.
"""

from __future__ import annotations

from datetime import date

from nlu.cues import Unit
from nlu.money import pesos

MAX_TERM_YEARS = 10
MAX_TERM_MONTHS = 120
MIN_TERM_MONTHS = 6  # "ya van 2 meses" is a wait, not a payment plan
MIN_PCT, MAX_PCT = 1, 99
FORTNIGHTS = 2  # fortnightly payments in a month
# cues after a number that say what it is even after "uno de" ("uno de 5 años", "el de 20%")
PLAN_AFTER = frozenset(
    {
        "percent_after",
        "years_unit",
        "years_and_half",
        "months_unit",
        "down_payment",
        "monthly_after",
        "fortnight_after",
    }
)


def read(unit: Unit) -> dict[str, float] | None:
    """The financing meaning of a number, {} if it is one but unusable, None if not financing."""
    value = max(unit.values)
    if unit.cue("person_age_after", "person_age_before"):
        return {}  # "ella tiene 18 y no trabaja": a person's age, no term nor year
    if "car_price_before" in unit.before and not unit.after & PLAN_AFTER:
        return None  # "la mensualidad de un carro de 200 mil": the car's price
    if "percent_after" in unit.after:  # "10% enganche 6 años": the % is the 10's, not the 6's
        if unit.cue("rate_words") or not MIN_PCT <= value <= MAX_PCT:
            return {}  # "la tasa de 10%", "100%"
        return {"down_payment_pct": value}  # in this business a percent is the down payment
    if "years_and_half" in unit.after:
        return _term(value * 12 + 6, unit) if value <= MAX_TERM_YEARS else {}
    if "years_unit" in unit.after:
        if "gap_after" in unit.after:
            return {}  # "es solo un año de diferencia": years between two cars
        if unit.cue("age_after") or "age_limit_before" in unit.before:
            return {"year_min": date.today().year - int(value)}  # "de máximo 5 años de uso"
        return _term(value * 12, unit) if value <= MAX_TERM_YEARS else {}
    if "months_unit" in unit.after and unit.cue("owed_before", "remaining_after"):
        return {}  # "le faltan 8 mensualidades": payments left on their loan, no term
    if "months_unit" in unit.after and not unit.last.multiplied:
        return _term(value, unit)
    if "term_before" in unit.before and not unit.last.multiplied:
        months = value * 12 if value <= MAX_TERM_YEARS else value
        return _term(months, unit)
    if "down_payment" in unit.after:  # "al mes con 60 mil de enganche": the nearer cue wins
        if "pick_before" in unit.before and not unit.last.multiplied and value <= MAX_PCT:
            return {"down_payment_pct": value}  # "con el 20 de enganche": the 20 percent
        return {"down_payment": pesos(unit.last)}
    if unit.cue("fortnight_after"):  # "4 mil quincenales": 8 mil a month
        return {"monthly_budget": pesos(unit.last) * FORTNIGHTS}
    if unit.cue("monthly_after", "monthly_before"):
        return {"monthly_budget": pesos(unit.last)}
    if down_payment_percent(unit):
        return {"down_payment_pct": value}
    if unit.cue("down_payment"):
        return {"down_payment": pesos(unit.last)}
    return None


PERCENT_AFTER_ARTICLE = 5  # "enganche del 10" is 10 percent; "el enganche del 3" the 3rd car's


def down_payment_percent(unit: Unit) -> bool:
    """ "enganche del 10", "con un enganche del 25": a down payment, then an article and a bare
    number too big for a position in a list, is that percent (no one puts down 10 pesos)."""
    quantity = unit.last
    return (
        "down_payment" in unit.before
        and "pick_before" in unit.before
        and not unit.is_range
        and quantity.plain
        and not quantity.multiplied
        and PERCENT_AFTER_ARTICLE <= quantity.value <= MAX_PCT
    )


def _term(months: float, unit: Unit) -> dict[str, float]:
    if "age_before" in unit.before or not MIN_TERM_MONTHS <= months <= MAX_TERM_MONTHS:
        return {}
    return {"term_months": round(months)}
