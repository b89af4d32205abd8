"""A car's template values ({title}, {price}, {km}...): shared by handlers and config checks."""

from __future__ import annotations

from collections.abc import Mapping

from dialog.render import km, money
from dialog.state import utc_now
from tools.catalog import Car

CAR_PLACEHOLDERS = frozenset(
    {
        "n",
        "title",
        "make",
        "model",
        "year",
        "price",
        "km",
        "version",
        "stock_id",
        "largo",
        "ancho",
        "altura",
        "body_type",
        "transmission",
        "fuel",
        "drive",
        "seats",
        "age",
        "km_year",
        "engine",
    }
)


def car_values(
    car: Car,
    n: int | None = None,
    unknown: str = "sin dato",
    words: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """Template values of one car; dimensions in metres ('4.80 m'); body type, transmission and
    fuel in the customer's words (`words`, the `words:` block of dialog.yml)."""
    words = words or {}
    unknown = words.get("unknown", unknown)  # "n/a" in English

    def said(value: str | None) -> str:
        return words.get(value, value) if value else unknown

    def metres(value: float | None) -> str:
        return f"{value / 1000:.2f} m" if value else unknown

    age = max(1, utc_now().year - car.year)  # a car of this year counts one

    return {
        "n": n if n is not None else "",
        "title": car.title,
        "make": car.make,
        "model": car.model,
        "year": car.year,
        "price": money(car.price),
        "km": km(car.km),
        "version": car.version.title() if car.version.isupper() else car.version,
        "stock_id": car.stock_id,
        "largo": metres(car.largo),
        "ancho": metres(car.ancho),
        "altura": metres(car.altura),
        "body_type": said(car.body_type),
        "transmission": said(car.transmission),
        "fuel": said(car.fuel),
        "drive": said(car.drive),
        "seats": car.seats,
        "engine": f"{car.engine:.1f} L" if car.engine else unknown,
        "age": age,
        "km_year": km(int(round(car.km / age, -2))),
    }
