"""The extractor's output: one typed result per message, serialised with only the keys found."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SLOT_KEYS = (
    "make",
    "model",
    "year_min",
    "year_max",
    "price_min",
    "price_max",
    "km_max",
    "ordinal",
    "superlative",
    "down_payment",
    "down_payment_pct",
    "term_months",
    "monthly_budget",
    "bluetooth",
    "car_play",
    "body_type",
    "seats_min",
    "transmission",
    "fuel",
    "drive",
    "style",
    "size",
    "length_max",
    "engine_min",
    "engine_max",
    "city",
    "own_car",
    "exclude_car",
    "name",
    "phone",
    "email",
    "contact_time",
)
Stage = Literal["rule", "examples", "context", "none"]
Superlative = Literal[
    "cheapest",
    "most_expensive",
    "newest",
    "oldest",
    "lowest_km",
    "shortest",
    "longest",
    "tallest",
    "largest_engine",
]


class Extraction(BaseModel):
    """Intent, topic and slots of one message. None means "not said".

    Money is in pesos, term in months, ordinal 1-based (-1 last, -2 penultimate),
    down_payment_pct in percentage points (20 means 20%), phone the 10 national digits.
    `stage` says what decided the intent (a rule, the nearest examples, the conversation's
    context, or nothing: then the intent is `out_of_scope`) and `score` how clearly.
    `second` is another request in the same message ("knowledge/warranty_returns").
    """

    model_config = ConfigDict(extra="forbid")

    intent: str | None = None
    topic: str | None = None
    stage: Stage | None = None
    score: float | None = None
    second: str | None = None
    language: str | None = None  # "en" for a message in English ("es" by default)
    make: str | None = None
    model: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    price_min: float | None = None
    price_max: float | None = None
    km_max: int | None = None
    ordinal: int | None = None
    superlative: Superlative | None = None
    down_payment: float | None = None
    down_payment_pct: float | None = None
    term_months: int | None = None
    monthly_budget: float | None = None
    bluetooth: bool | None = None
    car_play: bool | None = None
    body_type: str | None = None
    seats_min: int | None = None  # "de 7 pasajeros", "tres filas"
    transmission: str | None = None
    fuel: str | None = None
    drive: str | None = None  # "awd": "4x4", "doble tracción", "AWD"
    style: str | None = None  # "sporty": "algo deportivo", "con motor turbo", "versión GT"
    size: str | None = None  # "small" ("chiquito", "fácil de estacionar") / "large" ("grande")
    length_max: int | None = None  # mm: "que quepa en mi cochera de 4.5 m", "de menos de 4.3 m"
    # litres of engine: "motor de 3.5 para arriba" (min), "de menos de 2 litros" (max), "un 2.0"
    engine_min: float | None = None
    engine_max: float | None = None
    city: str | None = None
    own_car: str | None = None  # the customer's car ("Nissan Versa 2016"), to sell or trade in
    exclude_car: str | None = None  # a model ruled out: "olvida el vento", "no quiero la duster"
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    contact_time: str | None = None
    # phrase sets of the dialog configuration found in the message (not serialised)
    said: frozenset[str] = Field(default_factory=frozenset, exclude=True)
    # every ordinal and every single year said, in order ("compárame el 1 con el 3")
    picks: tuple[int, ...] = Field(default=(), exclude=True)
    years: tuple[int, ...] = Field(default=(), exclude=True)
    odometer: int | None = Field(default=None, exclude=True)  # "el rio 2020 con 19 mil km"
    income: float | None = Field(default=None, exclude=True)  # "gano 18 mil al mes": no budget
    # days since something happened, the purchase: "lo compré hace 2 meses" -> 60
    elapsed_days: int | None = Field(default=None, exclude=True)
    driven_km: int | None = Field(default=None, exclude=True)  # "ya le metí 600 km" since then
    # a car named after a comparative ("más grande que la cx-5"): 'Mazda|CX-5', the measure
    reference: str | None = Field(default=None, exclude=True)
    owed: float | None = Field(
        default=None, exclude=True
    )  # "le debo 80 mil al banco": their car's debt
    # ... or the payments left on it: "le faltan 8 mensualidades"
    owed_payments: int | None = Field(default=None, exclude=True)
    # what they were offered for their car, or a car like it sold for ("en otro lado me dan 180")
    own_offer: float | None = Field(default=None, exclude=True)
    own_km: int | None = Field(default=None, exclude=True)  # "mi sentra 2015 con 120 mil km"
    # the amount an approximate budget said ("around 400k"): the cars nearest it come first
    price_target: float | None = Field(default=None, exclude=True)
    # every term and down payment said, to compare plans ("a 3 y a 5 años", "con 60 o con 90 mil")
    cities: tuple[str, ...] = Field(default=(), exclude=True)  # every place named
    terms: tuple[int, ...] = Field(default=(), exclude=True)
    down_payments: tuple[float, ...] = Field(default=(), exclude=True)
    down_payment_pcts: tuple[float, ...] = Field(default=(), exclude=True)
    # other cars offered as alternatives ("un jetta o un vento"): 'make|model' ('BMW|' a make)
    alternatives: tuple[str, ...] = Field(default=(), exclude=True)

    @property
    def engine(self) -> float | None:
        """The one engine size said ("¿es 1.5?"), to answer a car's engine yes or no."""
        low, high = self.engine_min, self.engine_max
        return low if low is not None and low == high else None

    @property
    def label(self) -> str | None:
        """'knowledge/locations' for a topic, else the intent."""
        if self.intent == "knowledge" and self.topic:
            return f"knowledge/{self.topic}"
        return self.intent

    def slots(self) -> dict[str, object]:
        """The slots found (no intent/topic), with whole numbers as ints."""
        return {
            key: _plain(value) for key in SLOT_KEYS if (value := getattr(self, key)) is not None
        }

    def to_json(self) -> dict[str, object]:
        """Only the keys found, as the CLI and /chat print them."""
        found = self.model_dump(exclude_none=True)
        if "score" in found:
            found["score"] = round(found["score"], 3)
        return {key: _plain(value) for key, value in found.items()}


def _plain(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
