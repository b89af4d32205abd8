"""Catalog search: filters, ranking and step-by-step relaxation when nothing matches."""

from __future__ import annotations

from pydantic import BaseModel


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
