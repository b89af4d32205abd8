"""The extractor's output: one typed result per message, serialised with only the keys found."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Intent = Literal[
    "greet",
    "goodbye",
    "thanks",
    "search_cars",
    "select_car",
    "car_details",
    "financing",
    "knowledge",
    "human_agent",
    "out_of_scope",
]
SLOT_KEYS = (
    "make",
    "model",
    "year_min",
    "year_max",
    "price_min",
    "price_max",
    "km_max",
    "ordinal",
    "down_payment",
    "down_payment_pct",
    "term_months",
    "monthly_budget",
    "bluetooth",
    "car_play",
)


class Extraction(BaseModel):
    """Intent, topic and slots of one message. None means "not said".

    Money is in pesos, term in months, ordinal 1-based (-1 last, -2 penultimate),
    down_payment_pct in percentage points (20 means 20%).
    """

    model_config = ConfigDict(extra="forbid")

    intent: str | None = None
    topic: str | None = None
    make: str | None = None
    model: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    price_min: float | None = None
    price_max: float | None = None
    km_max: int | None = None
    ordinal: int | None = None
    down_payment: float | None = None
    down_payment_pct: float | None = None
    term_months: int | None = None
    monthly_budget: float | None = None
    bluetooth: bool | None = None
    car_play: bool | None = None

    def slots(self) -> dict[str, object]:
        """The slots found (no intent/topic), with whole numbers as ints."""
        return {
            key: _plain(value) for key in SLOT_KEYS if (value := getattr(self, key)) is not None
        }

    def to_json(self) -> dict[str, object]:
        """Only the keys found, as the CLI and /chat print them."""
        found = self.model_dump(exclude_none=True)
        return {key: _plain(value) for key, value in found.items()}


def _plain(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
