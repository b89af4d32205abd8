"""Catalog search: filters, ranking and step-by-step relaxation when nothing matches."""

from __future__ import annotations

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


def brand_in_stock(catalog: Catalog, make: str) -> bool:
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
    steps = [step for step in _RELAX_STEPS if step(original) is not None]
    applied: list = []
    current, found = original, _matching(catalog, original)
    for step in steps:
        if len(found):
            break
        applied.append(step)
        current = _apply(original, applied)
        found = _matching(catalog, current)
    if len(found) and len(applied) > 1:  # undo loosenings the result did not need
        for step in list(applied[:-1]):
            trial = [kept for kept in applied if kept is not step]
            tighter = _apply(original, trial)
            if len(tighter_found := _matching(catalog, tighter)):
                applied, current, found = trial, tighter, tighter_found
    relaxed = [_describe(step, original) for step in applied]
    ranked = _rank(catalog, found, current)
    return SearchOutcome(
        cars=[catalog.cars[i] for i in ranked[:limit]],
        total=len(found),
        relaxed=relaxed,
        filters_used=current,
    )


def _with_cap(filters: SearchFilters, max_price: float | None) -> SearchFilters:
    if max_price is None:
        return filters
    cap = max_price if filters.price_max is None else min(filters.price_max, max_price)
    return filters.model_copy(update={"price_max": cap})


def _matching(catalog: Catalog, filters: SearchFilters) -> np.ndarray:
    columns = catalog.columns
    mask = np.ones(len(catalog.cars), dtype=bool)
    if filters.make:
        mask &= columns["make"] == filters.make.casefold()
    if filters.model:
        mask &= columns["model"] == filters.model.casefold()
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


def _rank(catalog: Catalog, found: np.ndarray, filters: SearchFilters) -> list[int]:
    """Cheapest first, then newest, then stock id (stable for the same question)."""
    columns = catalog.columns
    order = np.lexsort(
        (columns["stock_id"][found], -columns["year"][found], columns["price"][found])
    )
    return found[order].tolist()


def _relax_year(filters: SearchFilters):
    if filters.year_min is None and filters.year_max is None:
        return None
    return filters.model_copy(update={"year_min": None, "year_max": None}), Relaxation(kind="year")


def _relax_price(filters: SearchFilters):
    if filters.price_max is None:
        return None
    raised = round(filters.price_max * PRICE_STEP, -3)
    update = {"price_max": raised}
    return filters.model_copy(update=update), Relaxation(kind="price", detail=f"{raised:.0f}")


def _relax_model(filters: SearchFilters):
    if filters.model is None:
        return None
    return filters.model_copy(update={"model": None}), Relaxation(kind="model")


def _relax_make(filters: SearchFilters):
    if filters.make is None:
        return None
    return filters.model_copy(update={"make": None, "model": None}), Relaxation(kind="make")


def _relax_km(filters: SearchFilters):
    if filters.km_max is None:
        return None
    return filters.model_copy(update={"km_max": None}), Relaxation(kind="km")


def _relax_features(filters: SearchFilters):
    if not (filters.bluetooth or filters.car_play):
        return None
    update = {"bluetooth": None, "car_play": None}
    return filters.model_copy(update=update), Relaxation(kind="features")


def _apply(filters: SearchFilters, steps: list) -> SearchFilters:
    for step in steps:
        loosened = step(filters)
        if loosened is not None:
            filters = loosened[0]
    return filters


def _describe(step, original: SearchFilters) -> Relaxation:
    return step(original)[1]


_RELAX_STEPS = (_relax_year, _relax_price, _relax_model, _relax_make, _relax_km, _relax_features)
