"""Pieces several handlers share: a car's template values, the car in focus, list choices."""

from __future__ import annotations

from dialog.render import km, money
from dialog.turn import Choice, TurnContext
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
    }
)


def car_values(car: Car, n: int | None = None, unknown: str = "sin dato") -> dict[str, object]:
    """Template values of one car; dimensions in metres ('4.80 m')."""

    def metres(value: float | None) -> str:
        return f"{value / 1000:.2f} m" if value else unknown

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
    }


def car_in_focus(ctx: TurnContext) -> Car | None:
    """The selected car, after applying an ordinal said in this very message ("el 2 a 4 años")."""
    ordinal = ctx.extraction.ordinal
    if ordinal is not None and ctx.state.last_results:
        stock_id = pick_by_ordinal(ctx.state.last_results, ordinal)
        if stock_id is not None:
            ctx.state.selected = stock_id
    if ctx.state.selected is None:
        return None
    return ctx.services.catalog.get(ctx.state.selected)


def pick_by_ordinal(stock_ids: list[int], ordinal: int) -> int | None:
    """1-based position, or -1 for the last and -2 for the penultimate; None when out of range."""
    index = ordinal - 1 if ordinal > 0 else len(stock_ids) + ordinal
    return stock_ids[index] if 0 <= index < len(stock_ids) else None


def car_choices(cars: list[Car]) -> list[Choice]:
    """List-message rows for the shown cars; the id carries the stock id."""
    return [
        Choice(
            id=f"car:{car.stock_id}",
            title=f"{n}. {car.title}",
            description=f"{money(car.price)} · {km(car.km)} · {car.version}",
        )
        for n, car in enumerate(cars, start=1)
    ]
