"""Catalog search: filters, ranking and step-by-step relaxation when nothing matches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.catalog import Car, Catalog


class SearchFilters(BaseModel):
    """Accumulated search criteria of a conversation. None means "any"."""

    make: str | None = None
    model: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    price_min: float | None = None
    price_max: float | None = None
    km_max: int | None = None
    bluetooth: bool | None = None
    car_play: bool | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in self.model_dump().values())


RelaxKind = Literal["year", "price", "model", "make", "km", "features"]
PRICE_STEP = 1.15  # "price +15%" when nothing matches


class Relaxation(BaseModel):
    """One constraint loosened because nothing matched ("de otros años", "hasta 402 mil")."""

    kind: RelaxKind
    detail: str = ""


class SearchOutcome(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    cars: list[Car]
    total: int
    relaxed: list[Relaxation] = Field(default_factory=list)
    filters_used: SearchFilters


Loosened = tuple[SearchFilters, Relaxation]
RelaxStep = Callable[[SearchFilters], "Loosened | None"]


def brand_in_stock(catalog: Catalog, make: str) -> bool:
    """Whether any car of `make` is in stock (case-insensitive), to say "no tenemos esa marca"."""
    wanted = make.casefold()
    return any(name.casefold() == wanted for name in catalog.makes)


def search(
    catalog: Catalog,
    filters: SearchFilters,
    limit: int = 5,
    max_price: float | None = None,
) -> SearchOutcome:
    """AND of every filter; if nothing matches, relax one constraint at a time, cumulatively,
    in this order: year range, price +15%, model (keep the make), make, km, features."""
    original = _with_cap(filters, max_price)
    text_masks: dict[tuple[str, str], np.ndarray] = {}  # make/model compares, reused by relaxation
    applied, current, found = _relax(original, lambda f: _matching(catalog, f, text_masks))
    return SearchOutcome(
        cars=[catalog.cars[i] for i in _rank(catalog, found, limit)],
        total=len(found),
        relaxed=[_describe(step, original) for step in applied],
        filters_used=current,
    )


def _relax(
    original: SearchFilters, matching: Callable[[SearchFilters], np.ndarray]
) -> tuple[list[RelaxStep], SearchFilters, np.ndarray]:
    """Loosen step by step until something matches, then undo loosenings the result did not need."""
    applied: list[RelaxStep] = []
    current, found = original, matching(original)
    for step in (step for step in _RELAX_STEPS if step(original) is not None):
        if len(found):
            break
        applied.append(step)
        current = _apply(original, applied)
        found = matching(current)
    if len(found) and len(applied) > 1:
        for step in list(applied[:-1]):
            trial = [kept for kept in applied if kept is not step]
            tighter = _apply(original, trial)
            if len(tighter_found := matching(tighter)):
                applied, current, found = trial, tighter, tighter_found
    return applied, current, found


def _with_cap(filters: SearchFilters, max_price: float | None) -> SearchFilters:
    """price_max and the monthly-budget cap combined: the lower of the two."""
    if max_price is None:
        return filters
    cap = max_price if filters.price_max is None else min(filters.price_max, max_price)
    return filters.model_copy(update={"price_max": cap})


def _matching(
    catalog: Catalog, filters: SearchFilters, text_masks: dict[tuple[str, str], np.ndarray]
) -> np.ndarray:
    """Positions of the cars that pass every filter (one vectorised mask)."""
    columns = catalog.columns
    mask = np.ones(len(catalog.cars), dtype=bool)
    for column in ("make", "model"):
        value = getattr(filters, column)
        if value:
            key = (column, value.casefold())
            if key not in text_masks:
                text_masks[key] = columns[column] == key[1]
            mask &= text_masks[key]
    bounds = (
        ("year", filters.year_min, filters.year_max),
        ("price", filters.price_min, filters.price_max),
        ("km", None, filters.km_max),
    )
    for column, low, high in bounds:
        if low is not None:
            mask &= columns[column] >= low
        if high is not None:
            mask &= columns[column] <= high
    for feature in ("bluetooth", "car_play"):
        if getattr(filters, feature):
            mask &= columns[feature]
    return np.flatnonzero(mask)


def _rank(catalog: Catalog, found: np.ndarray, limit: int) -> list[int]:
    """The `limit` cheapest, then by stock id (stable for the same question).

    Only cars priced up to the limit-th cheapest are sorted, so a 50,000-car match stays fast.
    """
    if limit <= 0:
        return []
    prices = catalog.columns["price"][found]
    if len(found) > limit:
        cutoff = np.partition(prices, limit - 1)[limit - 1]
        cheap = prices <= cutoff
        found, prices = found[cheap], prices[cheap]
    order = np.lexsort((catalog.columns["stock_id"][found], prices))
    return found[order[:limit]].tolist()


def _relax_year(filters: SearchFilters) -> Loosened | None:
    if filters.year_min is None and filters.year_max is None:
        return None
    return filters.model_copy(update={"year_min": None, "year_max": None}), Relaxation(kind="year")


def _relax_price(filters: SearchFilters) -> Loosened | None:
    if filters.price_max is None:
        return None
    raised = round(filters.price_max * PRICE_STEP, -3)
    update = {"price_max": raised}
    return filters.model_copy(update=update), Relaxation(kind="price", detail=f"{raised:.0f}")


def _relax_model(filters: SearchFilters) -> Loosened | None:
    if filters.model is None:
        return None
    return filters.model_copy(update={"model": None}), Relaxation(kind="model")


def _relax_make(filters: SearchFilters) -> Loosened | None:
    if filters.make is None:
        return None
    return filters.model_copy(update={"make": None, "model": None}), Relaxation(kind="make")


def _relax_km(filters: SearchFilters) -> Loosened | None:
    if filters.km_max is None:
        return None
    return filters.model_copy(update={"km_max": None}), Relaxation(kind="km")


def _relax_features(filters: SearchFilters) -> Loosened | None:
    if not (filters.bluetooth or filters.car_play):
        return None
    update = {"bluetooth": None, "car_play": None}
    return filters.model_copy(update=update), Relaxation(kind="features")


def _apply(filters: SearchFilters, steps: list[RelaxStep]) -> SearchFilters:
    for step in steps:
        loosened = step(filters)
        if loosened is not None:
            filters = loosened[0]
    return filters


def _describe(step: RelaxStep, original: SearchFilters) -> Relaxation:
    loosened = step(original)
    assert loosened is not None  # only steps that apply to `original` are tried
    return loosened[1]


_RELAX_STEPS = (_relax_year, _relax_price, _relax_model, _relax_make, _relax_km, _relax_features)
