"""Catalog search: filters, ranking and step-by-step relaxation when nothing matches."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
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
    body_type: str | None = None
    seats_min: int | None = None
    transmission: str | None = None
    fuel: str | None = None
    drive: str | None = None  # "awd": 4x4 / all-wheel drive, as the version text says
    style: str | None = None  # "sporty": a sporty version or a coupé
    size: str | None = None  # "small" / "medium" / "large": by the car's length
    # how to order: cheapest (default), most_expensive, newest, oldest, lowest_km
    superlative: str | None = None
    exclude: list[str] | None = None  # models or makes ruled out ("olvida el vento", "no nissan")
    version_has: str | None = None  # a word of the version ("M2": the BMW Serie 2 3.0 M2)
    alternatives: list[str] | None = None  # more cars that also do: 'Volkswagen|Vento', 'BMW|'
    # "menos de 180 mil" is a ceiling: no $1,000 of slack for prices that end in 999
    price_strict: bool | None = None
    length_max: float | None = None  # mm: the longest car that fits ("mi cochera es de 4.5 m")
    length_min: float | None = None  # mm: longer than a car named ("más grande que la cx-5")
    # litres of engine, the version's first figure: "motor de 3.5 para arriba", "un 2.0"
    engine_min: float | None = None
    engine_max: float | None = None
    # "alrededor de 400 mil", "around 400k": with no order asked, the cars nearest it first
    price_target: float | None = None
    # the body type was asked after the ceiling ("no espera, yo quiero pick up"): with none of
    # that body within it, the dearer ones of that body come before other bodies
    body_first: bool | None = None
    # other values wished as well: "sedán o hatchback" -> sedan, either ["body_type:hatchback"]
    either: list[str] | None = None

    def is_empty(self) -> bool:
        skip = (
            "exclude",
            "price_strict",
            "body_first",
            "price_target",
        )  # how a price is read is no criterion by itself
        return all(value is None for key, value in self.model_dump().items() if key not in skip)


RelaxKind = Literal[
    "year",
    "price",
    "model",
    "make",
    "km",
    "features",
    "fuel",
    "transmission",
    "body_type",
    "drive",
    "style",
    "size",
    "length",
    "engine",
]
TRAITS = ("body_type", "transmission", "fuel", "drive", "style", "size")
SEATS = 5  # asking for more seats than this, a minivan is a "camioneta" too
PRICE_STEP = 1.15  # "price +15%" when nothing matches


class Relaxation(BaseModel):
    """One constraint loosened because nothing matched ("de otros años", "hasta 402 mil")."""

    kind: RelaxKind


class SearchOutcome(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    cars: list[Car]
    total: int
    relaxed: list[Relaxation] = Field(default_factory=list)
    filters_used: SearchFilters


Loosened = tuple[SearchFilters, Relaxation]
RelaxStep = Callable[[SearchFilters], "Loosened | None"]


def alternative_parts(alternative: str) -> tuple[str, str, int | None]:
    """'Chevrolet|Spark|2021' -> ('Chevrolet', 'Spark', 2021); 'BMW|' -> ('BMW', '', None).
    A third part (even empty) says the years are each car's own ("el uno y el spark 2021")."""
    make, _, rest = alternative.partition("|")
    model, _, year = rest.partition("|")
    return make, model, int(year) if year.isdigit() else None


def years_per_car(filters: SearchFilters) -> bool:
    """The year said belongs to one of the cars named, not to all of them."""
    return any(alternative.count("|") > 1 for alternative in filters.alternatives or ())


def brand_in_stock(catalog: Catalog, make: str) -> bool:
    """Whether any car of `make` is in stock (case-insensitive), to say "no tenemos esa marca"."""
    wanted = make.casefold()
    return any(name.casefold() == wanted for name in catalog.makes)


def search(
    catalog: Catalog,
    filters: SearchFilters,
    limit: int = 5,
    max_price: float | None = None,
    offset: int = 0,
) -> SearchOutcome:
    """AND of every filter; if nothing matches, relax one constraint at a time, cumulatively,
    in this order: year range, price +15%, fuel, transmission, model (keep the make), make, km,
    features, any price for the body type asked, and last the body type to its nearest one (a
    pickup to an SUV, never a sedan).
    `offset` skips the cars already shown ("enséñame las demás")."""
    original = _with_cap(filters, max_price)
    text_masks: dict[tuple[str, str], np.ndarray] = {}  # make/model compares, reused by relaxation
    applied, current, found = _relax(original, lambda f: _matching(catalog, f, text_masks))
    target = filters.price_target if filters.superlative is None else None
    order = filters.superlative
    firsts = _best_of_each(catalog, found, current, target)
    if firsts:  # each named car's best on the first page, the page in the order asked
        rest = _rank(catalog, found[~np.isin(found, firsts)], offset + limit, order, target)
        page = firsts + rest[: max(limit - len(firsts), 0)]
        page = _rank(catalog, np.array(page), len(page), order, target)
        ranked = (page + [i for i in rest if i not in page])[offset : offset + limit]
    else:
        ranked = _rank(catalog, found, offset + limit, order, target)[offset:]
    return SearchOutcome(
        cars=[catalog.cars[i] for i in ranked],
        total=len(found),
        relaxed=[_describe(step, original) for step in applied],
        filters_used=current,
    )


EACH_NAMED_MAX = 3  # cars named one by one; an origin's many makes are one wish


def _best_of_each(
    catalog: Catalog, found: np.ndarray, filters: SearchFilters, target: float | None
) -> list[int]:
    """Several cars named ("el bmw más barato y el audi más barato", "un golf o un civic"): the
    best of each by the order asked, so none is pushed off the first page by the other."""
    if not filters.alternatives or len(filters.alternatives) >= EACH_NAMED_MAX or not len(found):
        return []  # ("autos alemanes": a make's group, the cheapest of them all first)
    columns = catalog.columns
    names = [(filters.make, filters.model)] + [
        alternative_parts(other)[:2] for other in filters.alternatives
    ]
    firsts: list[int] = []
    for make, model in names:
        group = np.ones(len(found), dtype=bool)
        if make:
            group &= columns["make"][found] == make.casefold()
        if model:
            group &= columns["model"][found] == model.casefold()
        if group.all() or not group.any():
            continue
        best = _rank(catalog, found[group], 1, filters.superlative, target)
        if best and best[0] not in firsts:
            firsts.append(best[0])
    if len(firsts) < 2:
        return []
    return _rank(catalog, np.array(firsts), len(firsts), filters.superlative, target)


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
    named = np.ones(len(catalog.cars), dtype=bool)
    for column in ("make", "model"):
        value = getattr(filters, column)
        if value:
            key = (column, value.casefold())
            if key not in text_masks:
                text_masks[key] = columns[column] == key[1]
            named &= text_masks[key]
    own_years = years_per_car(filters)
    if own_years:  # "el fiat uno y el spark 2021": the year is the Spark's only
        named &= _between(columns["year"], filters.year_min, filters.year_max)
    if filters.version_has:  # "el M2": the versions that say it, of the car named first
        named &= _version_mask(catalog, filters.version_has, text_masks)
    for alternative in filters.alternatives or ():  # "un jetta o un vento": either
        make, model, year = alternative_parts(alternative)
        other = columns["make"] == make.casefold()
        if model and not model_in_stock(catalog, model) and in_versions(catalog, make, model):
            other = other & _version_mask(catalog, model, text_masks)  # "o el mercedes amg"
        elif model:
            other = other & (columns["model"] == model.casefold())
        if year is not None:
            other = other & (columns["year"] == year)
        named = named | other
    mask &= named
    bounds = (
        ("year", None, None) if own_years else ("year", filters.year_min, filters.year_max),
        ("price", filters.price_min, _ceiling(filters)),
        ("km", None, filters.km_max),
        ("largo", filters.length_min, filters.length_max),  # a length not on file: no (NaN)
        ("engine", *_litres(filters)),  # a version with no figure first: no (NaN)
    )
    for column, low, high in bounds:
        mask &= _between(columns[column], low, high)
    for feature in ("bluetooth", "car_play"):
        if getattr(filters, feature):
            mask &= columns[feature]
    for trait in TRAITS:
        value = getattr(filters, trait)
        if value:
            key = (trait, value)
            if key not in text_masks and trait == "size" and value in catalog.size_ranges:
                text_masks[key] = _between(columns["largo"], *catalog.size_ranges[value])
            if key not in text_masks:
                text_masks[key] = columns[trait] == value
            trait_mask = text_masks[key]
            if trait == "body_type" and value == "suv" and (filters.seats_min or 0) > SEATS:
                trait_mask = trait_mask | (columns[trait] == "minivan")  # "camioneta para 7"
            for other in filters.either or ():  # "sedán o hatchback": either one
                name, _, wished = other.partition(":")
                if name == trait:
                    trait_mask = trait_mask | (columns[trait] == wished)
            mask &= trait_mask
    if filters.seats_min:
        mask &= columns["seats"] >= filters.seats_min
    for name in filters.exclude or ():  # a model or a whole make ruled out
        mask &= (columns["model"] != name.casefold()) & (columns["make"] != name.casefold())
    return np.flatnonzero(mask)


def _version_mask(
    catalog: Catalog, word: str, text_masks: dict[tuple[str, str], np.ndarray]
) -> np.ndarray:
    key = ("version", word.casefold())
    if key not in text_masks:
        text_masks[key] = np.array([version_says(car.version, word) for car in catalog.cars])
    return text_masks[key]


ENGINE_SLACK = 0.05  # litres: "un 2.0" is the 1.95-2.05 the versions round to one decimal


def _litres(filters: SearchFilters) -> tuple[float | None, float | None]:
    low, high = filters.engine_min, filters.engine_max
    return (
        None if low is None else low - ENGINE_SLACK,
        None if high is None else high + ENGINE_SLACK,
    )


def _between(column: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    inside = np.ones(len(column), dtype=bool)
    if low is not None:
        inside &= column >= low
    if high is not None:
        inside &= column <= high
    return inside


def version_says(version: str, name: str) -> bool:
    """The version text names it, as whole words: "4.0 MERCEDES-AMG C 63 S AT" says "AMG" and
    "C63" and "c 63"; "3.0 M2 DCT" says "M2" (not "M")."""
    words = [word for word in re.split(r"[^0-9a-z]+", version.casefold()) if word]
    said = set(words) | {a + b for a, b in pairwise(words)}  # "c 63": "c63"
    wanted = [word for word in re.split(r"[^0-9a-z]+", name.casefold()) if word]
    joined = "".join(wanted)
    return bool(wanted) and (joined in said or all(word in said for word in wanted))


ORDER = {  # column, descending?
    "cheapest": ("price", False),
    "most_expensive": ("price", True),
    "newest": ("year", True),
    "oldest": ("year", False),
    "lowest_km": ("km", False),
    "shortest": ("largo", False),  # a car of unknown length goes last either way
    "longest": ("largo", True),
    "tallest": ("altura", True),  # "¿cuál es la más alta?": easier to get in and out of
    "smallest_engine": ("engine", False),  # "que gaste poca gasolina": the smallest engine
    "largest_engine": ("engine", True),  # for the highway, when the lengths tie
}


PRICE_TOLERANCE = 1000.0  # "la de 211 mil" is the one at $211,999: prices end in 999


def _ceiling(filters: SearchFilters) -> float | None:
    return filters.price_max if filters.price_strict else _tolerant(filters.price_max)


def _tolerant(price_max: float | None) -> float | None:
    return None if price_max is None else price_max + PRICE_TOLERANCE


def _rank(
    catalog: Catalog,
    found: np.ndarray,
    limit: int,
    order: str | None = None,
    target: float | None = None,
) -> list[int]:
    """The first `limit` by the order asked (cheapest by default; with a `target` price and no
    order, the nearest to it), then by stock id.

    Only cars up to the limit-th value are sorted, so a 50,000-car match stays fast.
    """
    if limit <= 0:
        return []
    column, descending = ORDER.get(order or "cheapest", ORDER["cheapest"])
    values = catalog.columns[column][found].astype(np.float64)
    keys = -values if descending else values
    if target is not None and order is None:
        keys = np.abs(values - target)  # "around 400k": $396,999 before $211,999
    if len(found) > limit:
        cutoff = np.partition(keys, limit - 1)[limit - 1]
        keep = keys <= cutoff
        found, keys = found[keep], keys[keep]
    order_index = np.lexsort((catalog.columns["stock_id"][found], keys))
    return found[order_index[:limit]].tolist()


def _relax_year(filters: SearchFilters) -> Loosened | None:
    alternatives = [  # each car's own year goes too
        "|".join(alternative_parts(alternative)[:2]) for alternative in filters.alternatives or ()
    ]
    if (
        filters.year_min is None
        and filters.year_max is None
        and alternatives == (filters.alternatives or [])
    ):
        return None
    update = {"year_min": None, "year_max": None, "alternatives": alternatives or None}
    return filters.model_copy(update=update), Relaxation(kind="year")


def _relax_price(filters: SearchFilters) -> Loosened | None:
    if filters.price_max is None:
        return None
    raised = round(filters.price_max * PRICE_STEP, -3)
    return filters.model_copy(update={"price_max": raised}), Relaxation(kind="price")


def _relax_price_away(filters: SearchFilters) -> Loosened | None:
    """The ceiling lifted before the body type changes: a plumber who needs a pickup sees the
    one pickup there is, dearer, rather than SUVs inside the budget."""
    if filters.price_max is None or not filters.body_type or not filters.body_first:
        return None
    return filters.model_copy(update={"price_max": None}), Relaxation(kind="price")


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


def _relax_fuel(filters: SearchFilters) -> Loosened | None:
    if not filters.fuel:
        return None
    update = {"fuel": None, "either": _without(filters, "fuel")}  # "eléctrico o híbrido": both
    return filters.model_copy(update=update), Relaxation(kind="fuel")


def _without(filters: SearchFilters, slot: str) -> list[str] | None:
    """The values wished as well, but none of `slot`'s (loosened with it)."""
    return [e for e in filters.either or () if not e.startswith(f"{slot}:")] or None


def _relax_transmission(filters: SearchFilters) -> Loosened | None:
    if not filters.transmission:
        return None
    return filters.model_copy(update={"transmission": None}), Relaxation(kind="transmission")


def _relax_style(filters: SearchFilters) -> Loosened | None:
    if not filters.style:
        return None
    return filters.model_copy(update={"style": None}), Relaxation(kind="style")


def _relax_drive(filters: SearchFilters) -> Loosened | None:
    if not filters.drive:
        return None
    return filters.model_copy(update={"drive": None}), Relaxation(kind="drive")


def _relax_size(filters: SearchFilters) -> Loosened | None:
    if not filters.size:
        return None
    return filters.model_copy(update={"size": None}), Relaxation(kind="size")


def _relax_length(filters: SearchFilters) -> Loosened | None:
    if not (filters.length_max or filters.length_min):
        return None
    update = {"length_max": None, "length_min": None}
    return filters.model_copy(update=update), Relaxation(kind="length")


def _relax_engine(filters: SearchFilters) -> Loosened | None:
    if filters.engine_min is None and filters.engine_max is None:
        return None
    update = {"engine_min": None, "engine_max": None}
    return filters.model_copy(update=update), Relaxation(kind="engine")


def _relax_body(filters: SearchFilters) -> Loosened | None:
    if not filters.body_type or not (filters.make or filters.model):
        return None  # "los BMW coupé": other BMW before other makes
    update = {"body_type": None, "either": _without(filters, "body_type")}
    return filters.model_copy(update=update), Relaxation(kind="body_type")


# the body type nearest to each, when none of the one asked is left: a family that asked for a
# pickup under 450 mil sees SUVs, never sedans
BODY_NEIGHBOURS = {
    "pickup": "suv",
    "suv": "minivan",
    "minivan": "suv",
    "hatchback": "sedan",
    "sedan": "hatchback",
    "coupe": "sedan",
}


def _relax_body_to_neighbour(filters: SearchFilters) -> Loosened | None:
    neighbour = BODY_NEIGHBOURS.get(filters.body_type or "")
    if neighbour is None or filters.make or filters.model:
        return None
    update = {"body_type": neighbour, "either": _without(filters, "body_type")}
    return filters.model_copy(update=update), Relaxation(kind="body_type")


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


_RELAX_STEPS = (
    _relax_year,
    _relax_price,
    _relax_fuel,
    _relax_transmission,
    _relax_drive,
    _relax_style,
    _relax_size,
    _relax_length,
    _relax_engine,
    _relax_body,
    _relax_model,
    _relax_make,
    _relax_km,
    _relax_features,
    _relax_price_away,
    _relax_body_to_neighbour,
)


def in_versions(catalog: Catalog, make: str | None, word: str) -> bool:
    """ "BMW M2": a model name that is a word of a stocked version of that make."""
    brand = (make or "").casefold()
    return any(
        version_says(car.version, word) and (not brand or car.make.casefold() == brand)
        for car in catalog.cars
    )


def trim_as_version(catalog: Catalog, filters: SearchFilters) -> SearchFilters:
    """A model not in stock whose name is a trim of a stocked version ("BMW M2", "C63 AMG")
    searches the versions that say it."""
    model = filters.model
    if not model or model_in_stock(catalog, model) or not in_versions(catalog, filters.make, model):
        return filters
    return filters.model_copy(update={"model": None, "version_has": model})


def model_in_stock(catalog: Catalog, model: str) -> bool:
    wanted = model.casefold()
    return any(name.casefold() == wanted for name in catalog.models)


def _prices(catalog: Catalog, wanted: Callable[[Car], bool]) -> list[float]:
    return [car.price for car in catalog.cars if wanted(car)]


SIMILAR_BAND = 0.25  # "tipo Jetta": the same body type, priced within ±25% of the Jettas we have


def _meets_years_km(car: Car, filters: SearchFilters) -> bool:
    return (
        (filters.year_min is None or car.year >= filters.year_min)
        and (filters.year_max is None or car.year <= filters.year_max)
        and (filters.km_max is None or car.km <= filters.km_max)
    )


def _size_of(cars: list[Car]) -> str | None:
    """The size class every one of `cars` has (None when they differ, are between the classes
    or are not measured)."""
    sizes = {car.size for car in cars}
    return sizes.pop() if len(sizes) == 1 else None


def similar_to(
    catalog: Catalog,
    filters: SearchFilters,
    body_type: str | None,
    model: str | None,
    peers: frozenset[str] = frozenset(),
    size: str | None = None,
    by_size: bool = False,
) -> SearchFilters:
    """Filters for cars like `model`: same body type, and the price band of that model in
    stock, else of its make, else of its `peers` (premium makes for a Mercedes GLA or a Tesla),
    unless the customer gave their own prices; make, model and fuel dropped."""
    update: dict[str, object] = {
        "make": None, "model": None, "body_type": body_type, "fuel": None,
    }  # fmt: skip
    of_model = [car for car in catalog.cars if model and car.model.casefold() == model.casefold()]
    if not filters.size:  # "tipo Camry": the size the lexicon gives a model none in stock
        # measures; "del tamaño de una CR-V" (`by_size`): the size of those in stock
        update["size"] = (_size_of(of_model) if by_size else None) if of_model else size
    # the model's price band from its cars that meet the customer's years and km: a Civic 2013
    # sets no band for "2018 o más nuevo" (none then: the Corollas 2020 must not be hidden)
    wanted = filters.model_copy(update={"make": None, "model": None})
    prices = [car.price for car in of_model if _meets_years_km(car, wanted)]
    any_km = wanted.model_copy(update={"km_max": None})  # "¿otras con menos km que esta?":
    prices = prices or [car.price for car in of_model if _meets_years_km(car, any_km)]  # its price
    if of_model and not prices:
        return filters.model_copy(update=update)
    make = (filters.make or "").casefold()
    if not prices and make:
        prices = _prices(catalog, lambda car: car.make.casefold() == make)
    if not prices and make in peers:
        prices = _prices(catalog, lambda car: car.make.casefold() in peers)
    if make in peers and not of_model:  # "no tenemos Audi A4": premium cars like it, not any
        # sedan of its price ("tipo Mini Cooper" of one in stock: any make)
        stocked = sorted({car.make for car in catalog.cars if car.make.casefold() in peers})
        if stocked:
            update["make"] = stocked[0]
            update["alternatives"] = [f"{other}|" for other in stocked[1:]] or None
    if prices and filters.price_min is None and filters.price_max is None:
        middle = float(np.median(prices))
        update["price_min"] = round(middle * (1 - SIMILAR_BAND), -3)
        update["price_max"] = round(middle * (1 + SIMILAR_BAND), -3)
    return filters.model_copy(update=update)
