"""The vehicle lexicon (data/vehicles.yml): makes and models sold in Mexico, in stock or not,
with their body type and fuel, and how a catalog version names its transmission.

    lexicon = load_vehicle_lexicon()
    lexicon.traits("Nissan", "Versa", "1.6 ADVANCE AT")  # Traits(body_type='sedan', ...)
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nlu.text import fold
from tools.yamlio import load_model

DEFAULT_VEHICLES = Path(__file__).resolve().parent.parent / "data" / "vehicles.yml"
BodyType = Literal["suv", "sedan", "hatchback", "pickup", "minivan", "coupe"]
Fuel = Literal["hybrid", "electric", "diesel", "gasoline"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Strict):
    body: BodyType
    fuel: Fuel | None = None
    aliases: list[str] = Field(default_factory=list)
    # its size class (`sizes`), for a model no car in stock measures: "algo tipo Camry" is large
    size: Literal["small", "medium", "large"] | None = None


class VersionWords(_Strict):
    transmission: dict[str, list[str]] = Field(default_factory=dict)
    fuel: dict[str, list[str]] = Field(default_factory=dict)
    body_type: dict[str, list[str]] = Field(default_factory=dict)
    drive: dict[str, list[str]] = Field(default_factory=dict)  # "4WD", "XDRIVE": all-wheel
    style: dict[str, list[str]] = Field(default_factory=dict)  # "GT", "AMG": a sporty version
    seats: dict[int, list[str]] = Field(default_factory=dict)


SPORTY = "sporty"
DEFAULT_SEATS = 5
MINIVAN_SEATS = 7


class Traits(BaseModel):
    body_type: str | None = None
    transmission: str | None = None
    fuel: str | None = None
    drive: str | None = None  # "awd" (4x4 / all-wheel) or "2wd", when the version says
    style: str | None = None  # "sporty": a sporty version, or a coupé
    seats: int = DEFAULT_SEATS
    # where the figure comes from: the version text says it, the model usually has it, or
    # nothing says it (the usual figure for its body)
    seats_source: Literal["version", "model", "default"] = "default"


class Size(_Strict):
    """Lengths (mm) a size word means: small up to `max_length_mm`, large from `min_length_mm`."""

    max_length_mm: float | None = Field(None, gt=0)
    min_length_mm: float | None = Field(None, gt=0)
    # the bodies the word is said of, when not all: a short minivan is no "small car"
    bodies: list[BodyType] = Field(default_factory=list)
    # its lengths reach into the other sizes' ("medium" from 4.3 m, "small" up to 4.4 m): a
    # search matches it by the car's length, since a car's one size cannot say it
    spans: bool = False

    def fits(self, length: float | None, body: str | None = None) -> bool:
        if not length or (self.bodies and body not in self.bodies):
            return False
        above = self.min_length_mm is None or length >= self.min_length_mm
        return above and (self.max_length_mm is None or length <= self.max_length_mm)


class Origin(_Strict):
    """Where some makes come from, and the words customers use for it ("alemanes", "german")."""

    words: list[str] = Field(min_length=1)
    makes: list[str] = Field(min_length=1)


class VehicleLexicon(_Strict):
    makes: dict[str, list[str]]
    models: dict[str, dict[str, BodyType | ModelInfo]]
    needs_make: list[str] = Field(default_factory=list)
    seven_seats: list[str] = Field(default_factory=list)  # models with a third row of seats
    premium: list[str] = Field(default_factory=list)  # makes compared with each other
    # makes by where they come from: "autos alemanes" is any of these makes
    origins: dict[str, Origin] = Field(default_factory=dict)
    version_words: VersionWords = Field(default_factory=VersionWords)
    sizes: dict[str, Size] = Field(default_factory=dict)  # "small", "large" by length
    sporty_bodies: list[BodyType] = Field(
        default_factory=list
    )  # a coupé is sporty whatever its version

    def size(self, length: float | None, body: str | None = None) -> str | None:
        """The first size (in file order) a car of that length and body fits: it has one."""
        return next((name for name, size in self.sizes.items() if size.fits(length, body)), None)

    def info(self, make: str, model: str) -> ModelInfo | None:
        return self._index.get((fold(make), fold(model)))

    @cached_property
    def _index(self) -> dict[tuple[str, str], ModelInfo]:
        return {
            (fold(make), fold(model)): _info(value)
            for make, models in self.models.items()
            for model, value in models.items()
        }

    def entries(self):
        """(make, model, ModelInfo) for every model of the lexicon."""
        for make, models in self.models.items():
            for model, value in models.items():
                yield make, model, _info(value)

    @cached_property
    def _version_patterns(self) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
        groups = self.version_words.model_dump()
        return {
            slot: [
                (
                    value,
                    re.compile(
                        r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, words)) + r")(?![a-z0-9])"
                    ),
                )
                for value, words in choices.items()
                if words
            ]
            for slot, choices in groups.items()
            if choices
        }

    def traits(self, make: str, model: str, version: str) -> Traits:
        """Body type, transmission and fuel of a catalog car: the version text, then the lexicon."""
        text = fold(version)
        found: dict[str, str] = {}
        for slot, patterns in self._version_patterns.items():
            for value, pattern in patterns:
                if pattern.search(text):
                    found[slot] = value
                    break
        info = self.info(make, model)
        if info is not None:
            found.setdefault("body_type", info.body)
            if info.fuel:
                found.setdefault("fuel", info.fuel)
        found.setdefault("fuel", "gasoline")
        if found.get("body_type") in self.sporty_bodies:
            found.setdefault("style", SPORTY)  # every coupé is sporty
        if "seats" in found:  # "7 PASAJEROS" in the version, else the model, else the body
            found["seats_source"] = "version"
        else:
            seven = fold(model) in self._seven or found.get("body_type") == "minivan"
            found["seats"] = MINIVAN_SEATS if seven else DEFAULT_SEATS
            found["seats_source"] = "model" if seven else "default"
        return Traits(**found)

    @cached_property
    def _seven(self) -> frozenset[str]:
        return frozenset(fold(model) for model in self.seven_seats)


def _info(value: BodyType | ModelInfo) -> ModelInfo:
    return value if isinstance(value, ModelInfo) else ModelInfo(body=value)


def load_vehicle_lexicon(path: Path | str | None = None) -> VehicleLexicon:
    return load_model(VehicleLexicon, path or DEFAULT_VEHICLES)
