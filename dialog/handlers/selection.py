"""catalog.select and catalog.details: pick a car from the last list, answer questions about it.

A car is picked by position ("el 2", "el último"), by superlative ("el más barato", "la de menos
km") or by what the customer saw ("el jetta", "la del 2018", "la camioneta", "el automático").
"""

from __future__ import annotations

import math
from dataclasses import replace

from dialog.forms import said
from dialog.handlers.common import (
    ASKED_TRAITS,
    CAR_PLACEHOLDERS,
    NAMING,
    affordability,
    car_choices,
    car_in_focus,
    car_values,
    joined,
    named_cars,
    ordinal_pick,
    pick_by_ordinal,
    plan_wished,
    plan_words,
)
from dialog.handlers.handoff import WHOLE_MESSAGE
from dialog.registry import HANDLERS, handler
from dialog.render import fill, km, money
from dialog.screen import shown_car
from dialog.turn import Choice, Reply, TurnContext
from nlu.context import JUDGED, USE_SAID, car_matches, km_pointed, price_pointed
from nlu.grammar import GRAMMAR
from nlu.pipeline import CAR_PRICE, PRICE_SEEN, UNLISTED_ASKED
from nlu.schema import Extraction
from nlu.text import normalize
from nlu.values import NEGATED
from tools.catalog import Car, Catalog
from tools.search import (
    ORDER,
    SearchFilters,
    alternative_parts,
    in_versions,
    model_in_stock,
    search,
    trim_as_version,
    version_says,
)

FOCUS = CAR_PLACEHOLDERS
USE_PICKS = ("cheapest", "lowest_km", "newest", "shortest", "longest", "tallest", "smallest_engine",
             "largest_engine")  # fmt: skip
AVAILABLE = "select_car:available"  # "¿sigue disponible?": a phrase set of the select route
WISHED = ("seats_min", "body_type", "transmission", "fuel", "drive")  # wishes of a search


@handler(
    "catalog.select",
    required={
        "selected": FOCUS,
        "out_of_range": {"count"},
        "nothing_shown": set(),
        "ambiguous": {"count", "name"},
    },
    optional={
        "not_in_list": {"name"},
        "selected_short": FOCUS,
        "selected_plan_shown": FOCUS | {"down_payment", "term_years", "monthly_payment"},
        "colour": {"count"},
        "which_one": {"count"},
        "beyond_list": {"total"},
        "out_of_range_one": set(),
        "size_note_shortest": FOCUS,
        "size_note_longest": FOCUS,
        "size_note_tallest": FOCUS,
        "size_note_largest_engine": FOCUS,
        "also_best": FOCUS | {"which"},
        "still_available": FOCUS,
        "pointed": FOCUS,
    },
)
def select_car(ctx: TurnContext) -> Reply:
    """Put a shown car in focus; with a details question in the same message, answer it too."""
    shown = ctx.state.last_results
    extraction = ctx.extraction
    earlier = cars_named(ctx.services.catalog, extraction, ctx.state.chosen)
    named_earlier = len(earlier) == 1 and extraction.ordinal is None
    if named_earlier and not cars_named(ctx.services.catalog, extraction, shown):
        return focus_reply(ctx, earlier[0].stock_id)  # "me quedo con el sentra" chosen before
    if not shown:
        return Reply(ctx.say("nothing_shown"))
    if extraction.ordinal is not None:
        stock_id = ordinal_pick(ctx, extraction.ordinal)
        if stock_id is None:
            stock_id = _next_page_pick(ctx, shown, extraction.ordinal)
        if stock_id is None and len(shown) == 1 and ctx.template("out_of_range_one"):
            return Reply(ctx.say("out_of_range_one"))  # not "del 1 al 1"
        if stock_id is None:
            return Reply(ctx.say("out_of_range", {"count": len(shown)}))
        return focus_reply(ctx, stock_id)
    cars = [car for stock_id in shown if (car := ctx.services.catalog.get(stock_id)) is not None]
    other = _the_other(ctx, cars)
    if other is not None:  # "¿y la otra?" after one of the two Odysseys
        return focus_reply(ctx, other.stock_id)
    if _sorted_the_other_way(ctx, shown):  # "el más barato que tienen" ... "¿y el más caro?"
        from dialog.handlers.search import search_cars

        return search_cars(ctx.speaking_as("search_cars"))
    pointed = pointed_car(ctx)  # "la odyssey más nueva", "la más nueva de esas"
    if pointed is not None:
        asked = "context:question" in extraction.said or "?" in ctx.text  # "¿cuál tiene menos km?"
        reply = focus_reply(ctx, pointed.stock_id, "pointed" if asked else "selected")
        note = f"size_note_{extraction.superlative}"  # "¿cuál es la más chica?": its length
        measured = (pointed.largo or pointed.altura or pointed.engine) is not None
        if measured and ctx.template(note):
            values = car_values(pointed, words=ctx.words)
            reply.text = f"{ctx.say(note, values)}\n\n{reply.text}"
        also = _also_best(ctx, cars)
        if also:  # "¿cuál es la más barata y cuál la de menos km?": the second one named too
            reply.text = f"{reply.text}\n\n{also}"
        return reply
    bound = "price:bound" in extraction.said  # "de menos de 200 mil" is a ceiling
    priced = [] if bound else price_pointed([shown_car(car) for car in cars], extraction.slots())
    if len(priced) == 1:  # "la de 238 mil"
        return focus_reply(ctx, priced[0].stock_id)
    matches = cars_named(ctx.services.catalog, extraction, shown)
    if len(matches) == 1:
        return focus_reply(ctx, matches[0].stock_id)
    focused = [car for car in matches if car.stock_id == ctx.state.selected]
    if focused:  # "nos quedamos con la odyssey" of two listed, one of them chosen: that one
        return focus_reply(ctx, focused[0].stock_id)
    name = _said_name(extraction, ctx.words)
    if len(shown) == 1 and not name:  # "ese carro" with one car on screen: that one
        return focus_reply(ctx, shown[0])
    if not matches and "context:colour" in extraction.said and ctx.template("colour"):
        return Reply(ctx.say("colour", {"count": len(shown)}))  # "el rojo": no colours on file
    if not name and any(getattr(extraction, key) for key in WISHED):
        from dialog.handlers.search import search_cars  # "necesito que sea de 7 pasajeros":

        return search_cars(ctx.speaking_as("search_cars"))  # the search refined, not a pick
    if not name and ctx.template("which_one"):  # nothing named to say back: ask the number
        return Reply(ctx.say("which_one", {"count": len(shown)}))
    if not matches:
        return Reply(
            ctx.say("not_in_list", {"name": name})
            or ctx.say("ambiguous", {"count": len(shown), "name": name})
        )
    ctx.state.last_results = [car.stock_id for car in matches]
    return Reply(ctx.say("ambiguous", {"count": len(matches), "name": name}))


def _sorted_the_other_way(ctx: TurnContext, shown: list[int]) -> bool:
    """The list is the whole stock in one order ("el más barato que tienen") and the message
    asks for the opposite end with nothing named ("¿y el más caro?"): the stock in that order,
    not the dearest of five cheap cars ("algo barato" ... "el de menos km" picks among them)."""
    filters, extraction = ctx.state.filters, ctx.extraction
    wished = extraction.superlative
    if not filters.superlative or wished not in ORDER or filters.superlative not in ORDER:
        return False
    (column, descending), (was, was_descending) = ORDER[wished], ORDER[filters.superlative]
    if column != was or descending == was_descending:
        return False
    if extraction.make or extraction.model or cars_named(ctx.services.catalog, extraction, shown):
        return False
    if set(normalize(ctx.text).split()) & GRAMMAR.demonstratives:
        return False  # "el más nuevo de esos": of the cars on screen
    only_sorted = filters.model_copy(update={"superlative": None}).is_empty()
    return only_sorted and len(ctx.services.catalog.cars) > len(shown)


def _also_best(ctx: TurnContext, cars: list[Car]) -> str:
    """The listed car each other superlative of the message points at, one line each."""
    lines = []
    for name in sorted(ctx.extraction.said):
        if not name.startswith("also_best:") or not cars or not ctx.template("also_best"):
            continue
        superlative = name.removeprefix("also_best:")
        best = best_of(cars, superlative)
        values = car_values(best, n=cars.index(best) + 1, words=ctx.words)
        which = ctx.words.get(f"best_{superlative}", superlative)
        lines.append(ctx.say("also_best", {**values, "which": which}))
    return "\n".join(lines)


def _the_other(ctx: TurnContext, cars: list[Car]) -> Car | None:
    """The one car besides the car in focus: of its model when the list has one more, else of
    a list of two; None when "la otra" could be several."""
    focus = ctx.state.selected
    if "context:other_one" not in ctx.extraction.said or focus is None:
        return None
    current = ctx.services.catalog.get(focus)
    rest = [car for car in cars if car.stock_id != focus]
    if current is None or not rest:
        return None
    same = [car for car in rest if (car.make, car.model) == (current.make, current.model)]
    candidates = same if len(same) == 1 else rest
    return candidates[0] if len(candidates) == 1 else None


def _best_of_search(ctx: TurnContext, shown: list[int], superlative: str) -> Car | None:
    """ "la más nueva de esas" when the list shown is the first page of a longer search: the
    newest of every car that search found, not only of the five on screen."""
    every = _whole_search(ctx, shown)
    if every is None:
        return None
    best = best_of(every[1], superlative)
    if best.stock_id not in shown and ctx.template("beyond_list"):
        ctx.notes.append(ctx.say("beyond_list", {"total": every[0]}))
    return best


def _next_page_pick(ctx: TurnContext, shown: list[int], ordinal: int) -> int | None:
    """ "¿y el sexto?" after the first five of a longer search: the sixth car it found, in the
    order the list was numbered (the list on screen stays the one "el último" points into)."""
    every = _whole_search(ctx, shown) if ordinal > len(shown) else None
    if every is None or ordinal > len(every[1]):
        return None
    ordered = [car.stock_id for car in every[1]]
    if ordered[: len(shown)] != shown:  # numbered in another order: no sixth to speak of
        return None
    if ctx.template("beyond_list"):
        ctx.notes.append(ctx.say("beyond_list", {"total": every[0]}))
    return ordered[ordinal - 1]


def _whole_search(ctx: TurnContext, shown: list[int]) -> tuple[int, list[Car]] | None:
    """Every car of the search whose first cars are on screen (total, cars in the order shown);
    None when the list is not a search's (a comparison, similar cars) or all of it is shown."""
    if shown == ctx.state.compared:
        return None  # the cars compared, not a page of the search
    filters, afford = ctx.state.filters, affordability(ctx)
    criteria = filters.model_copy(update={"superlative": None})  # "algo barato": only a sort
    if criteria.is_empty() and afford is None:
        return None
    catalog = ctx.services.catalog
    every = search(catalog, filters, len(catalog.cars), afford.price if afford else None)
    if every.relaxed or every.total <= len(shown):
        return None
    page = [car.stock_id for car in every.cars[ctx.state.page : ctx.state.page + len(shown)]]
    if set(page) != set(shown):  # similar cars of another search: not a page of this one
        return None
    return every.total, list(every.cars)


def best_of(cars: list[Car], superlative: str) -> Car:
    """The cheapest / dearest / newest / oldest / least driven of the cars shown."""
    column, descending = ORDER.get(superlative, ORDER["cheapest"])
    tie = "price" if column == "km" else "km"  # four 2017s: the one driven least

    def value(car: Car) -> float:  # a length not on file goes last
        found = getattr(car, column)
        return math.inf if found is None else (-found if descending else found)

    return sorted(
        cars,
        key=lambda car: (
            value(car),
            getattr(car, tie),
            car.stock_id,
        ),
    )[0]


def cars_named(catalog: Catalog, extraction: Extraction, stock_ids: list[int]) -> list[Car]:
    """Shown cars that are the one named (make, model, year, body type, transmission, fuel)."""
    slots = {
        key: getattr(extraction, key) for key in NAMING if getattr(extraction, key) is not None
    }
    if not slots:
        return []
    cars = [catalog.get(stock_id) for stock_id in stock_ids]
    return [car for car in cars if car is not None and car_matches(shown_car(car), slots)]


def _said_name(extraction: Extraction, words: dict[str, str] | None = None) -> str:
    """How the customer named the car: "Jetta 2018", or its body type ("hatchbacks")."""
    year = extraction.year_min or extraction.year_max
    body = (words or {}).get(extraction.body_type or "", extraction.body_type or "")
    parts = [extraction.model or extraction.make or body, str(year) if year else ""]
    return " ".join(part for part in parts if part)


CARD_SHOWN = "card_shown"  # turn mark: a car's card (price, km, version) is in the reply
RECOMMENDED = "recommended"  # turn mark: the comparison says which car suits the use said


def focus_reply(ctx: TurnContext, stock_id: int, template: str = "selected") -> Reply:
    """The car put in focus, as its card; `template`: "pointed" when it was asked which one
    ("¿cuál tiene menos km?"), not chosen."""
    ctx.state.selected = stock_id
    car = ctx.services.catalog.get(stock_id)
    if car is None:  # the catalog was reloaded without this car
        ctx.state.selected = None
        return Reply(ctx.say("nothing_shown"))
    values = car_values(car, words=ctx.words)
    if said(ctx, AVAILABLE) and ctx.template("still_available"):  # "¿sigue disponible la 2?"
        reply = Reply(ctx.say("still_available", values))
        reply.offered = "purchase"
        return reply
    params = ctx.state.financing
    if plan_wished(ctx):  # "el 2020 y a 5 años": that term now
        from dialog.handlers.financing import remember_params

        remember_params(ctx)
    if params.down_payment or params.down_payment_pct or params.term_months:
        from dialog.handlers.financing import plan_reply

        plan = plan_reply(ctx.speaking_as("financing"), car)  # their own terms win
        shown = plan.plan is not None and plan.plan.model_dump() == ctx.state.last_plan
        if shown and ctx.template("selected_plan_shown"):  # "me quedo con la trax" after its plan
            recalled = plan_words(plan.plan.model_dump())
            return Reply(ctx.say("selected_plan_shown", {**values, **recalled}))
        return Reply(f"{ctx.say('selected_short', values)}\n\n{plan.text}", plan=plan.plan)
    ctx.marks[CARD_SHOWN] = True
    chosen = template if ctx.template(template) else "selected"
    return Reply(
        ctx.say(chosen, values),
        choices=[
            Choice(id="financing", title=ctx.say("button_financing")),
            Choice(id="purchase", title=ctx.say("button_purchase")),
        ],
        choices_kind="buttons",
    )


@handler(
    "catalog.details",
    required={"card": FOCUS, "no_car": set(), "several_named": {"count", "lines"}},
    optional={
        "fits": FOCUS | {"space", "gap"},
        "does_not_fit": FOCUS | {"space", "gap"},
        "seen_elsewhere": set(),
        "no_car_unlisted": set(),
        "unlisted": FOCUS,
        "best_is": FOCUS | {"which"},
        "best_is_not": FOCUS | {"which", "best_n", "best_title", "best_price"},
    },
)
def car_details(ctx: TurnContext) -> Reply:
    """Answer about the car in focus (or the one pointed at in this message): the YAML's detail
    topics by keyword, a trait asked ("¿es automático?"), else its full card."""
    chosen_before = ctx.state.selected
    several = _details_per_sentence(ctx)
    if several is not None:  # "¿la murano cuántos km tiene? ¿y la rav4 trae carplay?"
        return several
    car = pointed_car(ctx) or car_in_focus(ctx)
    car = _listed_of_year(ctx, car) or car  # "y la 2018 ¿qué motor trae?" after the 2019
    car = _listed_of_odometer(ctx, car) or car  # "the Clase A. It has 93k km, a lot?"
    listed = ctx.state.last_results
    each = said(ctx, "car_details:each") and not (ctx.extraction.model or ctx.extraction.make)
    if each and 1 < len(listed) <= LISTED_DETAILS:
        car = None  # "¿cuánto mide de largo cada una?": each car on screen
    if _names_another_car(ctx, car):  # "la x trail, ¿qué año es?" with no list, or another car
        found = _named_in_catalog(ctx)
        if found is None:  # not in stock, or not only that car: the search says what there is
            from dialog.handlers.search import SEARCH_ROUTE, search_cars

            return search_cars(ctx.speaking_as(SEARCH_ROUTE))
        if len(found) > 1:
            return _details_of_several(ctx, found)
        car = found[0]
    if car is None:
        listed = [c for i in ctx.state.last_results if (c := ctx.services.catalog.get(i))]
        answers = [detail_answers(ctx, c) for c in listed[:LISTED_DETAILS]]
        if listed and all(answers):  # "¿son automáticos?" over the list: one line per car
            lines = [f"*{n}.* " + " ".join(found) for n, found in enumerate(answers, 1)]
            return Reply("\n".join(lines))
        unlisted = not listed and ctx.template("no_car_unlisted")  # "hola, quiero informes"
        return Reply(ctx.say("no_car_unlisted" if unlisted else "no_car"))
    ruled_out = _trait_ruled_out(ctx, car)  # "el jetta es estándar? no me gusta estándar":
    ctx.state.selected = chosen_before if ruled_out else car.stock_id  # asked of, not chosen
    carded = ctx.marks.get(CARD_SHOWN, False)  # its card is already in the reply: no km twice
    answers = detail_answers(ctx, car, listed=carded)
    if carded and not answers:
        return Reply("")
    fit = _fit_note(ctx, car)
    best = _best_checked(ctx, car)
    if best:  # "la duster se ve bien, ¿es la más barata?": of the list, yes or which is
        answers = [best, *answers] if answers or carded else [best]
    if PRICE_SEEN in ctx.extraction.said and ctx.template("seen_elsewhere"):
        fit = "\n\n".join(part for part in (fit, ctx.say("seen_elsewhere")) if part)
    if not answers and UNLISTED_ASKED in ctx.extraction.said and ctx.template("unlisted"):
        return Reply(ctx.say("unlisted", car_values(car, words=ctx.words)))  # "¿tiene adeudos?"
    if not answers:
        unknown = ctx.template("unknown_value") or "sin dato"
        card = ctx.say("card", car_values(car, unknown=unknown, words=ctx.words))
        return Reply("\n".join(part for part in (card, fit) if part))
    return Reply("\n".join([*answers, *([fit] if fit else [])]))


def _best_checked(ctx: TurnContext, car: Car) -> str:
    """A superlative asked of the car named ("¿es la más barata?"): whether it is that of the
    list shown, else which one is."""
    superlative = ctx.extraction.superlative
    listed = [c for i in ctx.state.last_results if (c := ctx.services.catalog.get(i))]
    words = set(normalize(ctx.text).split())
    asked = "?" in ctx.text or "context:question" in ctx.extraction.said
    asked = asked and bool(words & GRAMMAR.copulas) and not words & GRAMMAR.which  # "¿es la más
    # barata?" of it; "which of these is the cheapest" picks among them
    if not superlative or superlative not in ORDER or car not in listed or len(listed) < 2:
        return ""
    if not asked or not ctx.template("best_is"):
        return ""
    best = best_of(listed, superlative)
    which = ctx.words.get(f"best_{superlative}", superlative)
    values = car_values(car, words=ctx.words) | {"which": which}
    if best.stock_id == car.stock_id:
        return ctx.say("best_is", values)
    return ctx.say(
        "best_is_not",
        values
        | {
            "best_n": listed.index(best) + 1,
            "best_title": best.title,
            "best_price": money(best.price),
        },
    )


def _listed_of_year(ctx: TurnContext, car: Car | None) -> Car | None:
    """The one car seen of the year said, when the car in focus is of another year ("y la
    2018 ¿qué motor trae?" with the CX-5 2019 in focus and the 2018 listed beside it)."""
    extraction = ctx.extraction
    year = extraction.year_min
    if car is None or year is None or year != extraction.year_max or car.year == year:
        return None
    seen = list(dict.fromkeys([*ctx.state.last_results, *ctx.state.chosen]))
    named = {key: getattr(extraction, key) for key in ("make", "model") if getattr(extraction, key)}
    found = [
        other
        for i in seen
        if (other := ctx.services.catalog.get(i)) is not None
        and other.year == year
        and car_matches(shown_car(other), named or {"model": car.model})
    ]
    return found[0] if len(found) == 1 else None


def _trait_ruled_out(ctx: TurnContext, car: Car) -> bool:
    """The car has a trait the message rules out ("no me gusta estándar")."""
    for name in ctx.extraction.said:
        if name.startswith(NEGATED):
            slot, _, value = name.removeprefix(NEGATED).partition(":")
            if getattr(car, slot, None) == value:
                return True
    return False


def _details_per_sentence(ctx: TurnContext) -> Reply | None:
    """Each sentence of the message that names its own car and asks its own detail is answered
    of that car ("el m2 tiene carplay? y el serie 7 cuantos km"); None when the message names
    fewer than two cars that way."""
    from nlu.text import sentences

    if len(sentences(ctx.text)) < 2 or not (ctx.extraction.make or ctx.extraction.model):
        return None
    seen = list(dict.fromkeys([*ctx.state.last_results, *ctx.state.chosen]))
    answered: list[tuple[Car, list[str]]] = []
    for _, reading in ctx.sentence_readings():
        if not (reading.make or reading.model):
            continue
        cars = (
            cars_named(ctx.services.catalog, reading, seen)
            or _named_in_catalog(replace(ctx, extraction=reading))
            or []
        )
        found = detail_answers(replace(ctx, extraction=reading), cars[0]) if len(cars) == 1 else []
        if found:
            answered.append((cars[0], found))
    if len({car.stock_id for car, _ in answered}) < 2:
        return None
    ctx.state.selected = answered[-1][0].stock_id
    return Reply("\n".join(line for _, found in answered for line in found))


def _fit_note(ctx: TurnContext, car: Car) -> str:
    """ "¿Cabe en mi cochera de 4.5 m?": its length against the space said."""
    space = ctx.extraction.length_max
    if not space or car.largo is None:
        return ""
    gap = abs(space - car.largo) / 10  # cm
    key = "fits" if car.largo <= space else "does_not_fit"
    values = {
        **car_values(car, words=ctx.words),
        "space": f"{space / 1000:.2f} m",
        "gap": f"{gap:.0f} cm",
    }
    return ctx.say(key, values) if ctx.template(key) else ""


LISTED_DETAILS = 5


def _names_another_car(ctx: TurnContext, car: Car | None) -> bool:
    """The message names a make or model that is not the car about to be described."""
    extraction = ctx.extraction
    if not (extraction.make or extraction.model):
        return False
    named = {key: getattr(extraction, key) for key in ("make", "model") if getattr(extraction, key)}
    return car is None or not car_matches(shown_car(car), named)


def _listed_of_odometer(ctx: TurnContext, car: Car | None) -> Car | None:
    """The one listed car whose km the message said back, when it is not `car`."""
    km = ctx.extraction.odometer
    if not km or (car is not None and km_pointed([car], {"km_max": km})):
        return None
    listed = [c for i in ctx.state.last_results if (c := ctx.services.catalog.get(i))]
    found = [c for c in listed if km_pointed([c], {"km_max": km})]
    return found[0] if len(found) == 1 else None


def _named_in_catalog(ctx: TurnContext) -> list[Car] | None:
    """The cars of the make/model (and year) named, from the whole catalog, whatever the
    conversation's search said; None when the catalog has none of them."""
    extraction = ctx.extraction
    filters = SearchFilters(
        make=extraction.make,
        model=extraction.model,
        year_min=extraction.year_min,
        year_max=extraction.year_max,
    )
    filters = trim_as_version(ctx.services.catalog, filters)  # "el M2": a Serie 2's version
    outcome = search(ctx.services.catalog, filters, LISTED_DETAILS)
    if outcome.relaxed or not outcome.cars:
        return None
    if extraction.odometer:  # "el rio 2020 con 19 mil km": that one of the two
        read = [car for car in outcome.cars if km_pointed([car], {"km_max": extraction.odometer})]
        return read or list(outcome.cars)
    return list(outcome.cars)


def _details_of_several(ctx: TurnContext, cars: list[Car]) -> Reply:
    """ "¿qué año es la cx-5?" with two CX-5s in stock: the answer for each, numbered to pick."""
    from dialog.handlers.search import SEARCH_ROUTE

    ctx.state.last_results = [car.stock_id for car in cars]
    ctx.state.selected = None
    named = {"make": ctx.extraction.make, "model": ctx.extraction.model}
    if named["model"] or named["make"]:  # "¿cuánto cuesta el mazda 3?" … "¿uno más nuevo?": of
        ctx.state.filters = SearchFilters(**named)  # those, the next search narrows
    listing = ctx.speaking_as(SEARCH_ROUTE)  # the list looks as the search shows it
    lines = []
    for n, car in enumerate(cars, 1):
        line = listing.say("result_line", car_values(car, n, words=ctx.words))
        found = detail_answers(ctx, car, listed=True)
        lines.append(f"{line}\n    " + " ".join(found) if found else line)
    return Reply(
        ctx.say("several_named", {"count": len(cars), "lines": "\n".join(lines)}),
        results=[car.stock_id for car in cars],
        choices=car_choices(cars),
        choices_kind="cars",
    )


def detail_answers(
    ctx: TurnContext,
    car: Car,
    listed: bool = False,
    opinions: bool = False,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """The YAML detail topics the message asks about, answered for `car`; `listed`: beside its
    line in a list, which already says what `in_list_line` details ask; `opinions`: only the
    details also asked as opinions (`in_questions`); `skip`: details answered otherwise."""
    unknown = ctx.template("unknown_value") or "sin dato"
    values = car_values(car, unknown=unknown, words=ctx.words)
    asked_details = [
        name
        for name, topic in ctx.config.details.items()
        if _asked(ctx, topic, name) and (topic.in_questions or not opinions) and name not in skip
    ]
    if asked_details:
        ctx.state.profile[LAST_DETAILS] = ",".join(asked_details)
    elif ctx.state.last_intent == "car_details" and not opinions and not said(ctx, UNLISTED_ASKED):
        # "¿y el x3?" after "¿tiene carplay el x1?": the same (a thing no listing has is new)
        last = ctx.state.profile.get(LAST_DETAILS, "")
        asked_details = [name for name in last.split(",") if name in ctx.config.details]
    replaced = {other for name in asked_details for other in ctx.config.details[name].instead_of}
    answers = []
    for name in asked_details:
        topic = ctx.config.details[name]
        if name in replaced or (listed and topic.in_list_line):
            continue
        has_it = _has(car, topic.flag, ctx.extraction)
        field = "template" if has_it or not topic.template_no else "template_no"
        kind = getattr(car, topic.flag) if topic.flag else None
        said_none = topic.flag and getattr(ctx.extraction, topic.flag) is None
        if said_none and isinstance(kind, str | float) and topic.template_no:
            field = "template_no"  # "¿es estándar o automático?": what it is, no "sí"
        if topic.flag and getattr(car, topic.flag) is None and topic.template_unknown:
            field = "template_unknown"  # the catalog does not say: an advisor confirms
        source = getattr(car, f"{topic.guessed}_source") if topic.guessed else "version"
        if source == "model" and topic.template_usual:
            field = "template_usual"  # "suele ser de 7 pasajeros"
        elif source == "default" and topic.template_unknown:
            field = "template_unknown"
        answer = fill(ctx.detail(name, field, getattr(topic, field)), values)
        notes = _version_notes(ctx, name, topic.notes, car)
        answers.append(" ".join([answer, *notes]))
    return list(dict.fromkeys(answers))


def _version_notes(ctx: TurnContext, name: str, notes: dict[str, str], car: Car) -> list[str]:
    """What a word of the car's version means, for a detail that has `notes` ("Asg")."""
    if not notes:
        return []
    translated = ctx.detail(name, "notes", "") or {}
    return [
        translated.get(word, note) if isinstance(translated, dict) else note
        for word, note in notes.items()
        if version_says(car.version, word)
    ]


LAST_DETAILS = "last_details"  # profile key: the detail topics the last details answer took


def _asked(ctx: TurnContext, topic, name: str) -> bool:
    """The message asks detail `name`: by its keywords, its flag's value, or its context words."""
    said = ctx.extraction.said
    return (
        f"details:{name}" in said
        or (topic.flag is not None and getattr(ctx.extraction, topic.flag) is not None)
        or any(f"context:{words.removesuffix('_words')}" in said for words in topic.context_words)
        or any(name in said for name in topic.said)
    )


def pointed_car(ctx: TurnContext) -> Car | None:
    """The car a superlative points at: of the cars named in the list, else of the whole search
    the list shows the start of, else of the list ("la más barata de esas a 5 años")."""
    shown = ctx.state.last_results
    superlative = ctx.extraction.superlative
    cars = [car for i in shown if (car := ctx.services.catalog.get(i)) is not None]
    if not superlative or not cars:
        return None
    extraction = ctx.extraction  # "el de menos km, ¿es automático?": the trait is asked, not named
    asked = [trait for trait in ASKED_TRAITS if f"details:{trait}" in extraction.said]
    extraction = extraction.model_copy(update=dict.fromkeys(asked)) if asked else extraction
    named = cars_named(ctx.services.catalog, extraction, shown)
    if len(named) == len(cars):  # "el de menos km de los 2018" of a list of 2018s: of them all
        named = []
    best = None if named else _best_of_search(ctx, shown, superlative)
    return best or best_of(named or cars, superlative)


def _has(car: Car, flag: str | None, extraction: Extraction) -> bool:
    """A yes/no detail: equipment (bluetooth, CarPlay) or the trait asked about (automatic?)."""
    if flag is None:
        return True
    if flag in ("bluetooth", "car_play"):
        return bool(getattr(car, flag))
    asked = getattr(extraction, flag)
    return getattr(car, flag) == asked if asked else True


COMPARE_MAX = 3
LENGTH_GAP = 50  # mm: a shorter car is worth saying ("¿cuál es más chico?") from 5 cm


@handler(
    "catalog.compare",
    required={
        "header": set(),
        "line": FOCUS | {"bluetooth", "car_play"},
        "price_gap": {"dearer", "gap"},
        "km_gap": {"fewer", "gap"},
        "same_version": {"version"},
        "closing": set(),
        "which": set(),
        "has": set(),
        "lacks": set(),
    },
    optional={
        "length_gap": {"shorter", "gap"},
        "why_note": set(),
        "total": {"count", "total"},
        "total_only": {"cars", "total"},
        "best_buy": {"title", "reasons"},
        "trade_off": {"cheap", "dear", "gap", "reasons", "cheap_plus"},
        "cheap_plus": {"reasons"},
        "no_premium": {"cheap", "dear", "gap"},
        "reason_newer": {"years"},
        "reason_year": set(),
        "reason_years": {"n"},
        "reason_km": {"km"},
        "reason_engine": {"engine", "other"},
        "reason_car_play": set(),
        "reason_bluetooth": set(),
        "ask_use": set(),
    },
)
def compare_cars(ctx: TurnContext) -> Reply:
    """Listed cars side by side ("¿qué diferencia hay entre las dos?"): what the catalog says of
    each, then the price and km gaps. Which cars: the numbers said, the years or the model said,
    the car in focus, or the whole list when it is short."""
    shown = [car for i in ctx.state.last_results if (car := ctx.services.catalog.get(i))]
    pair = _comparing_sentence(ctx)
    listed = list(shown)
    cars = _to_compare(replace(ctx, extraction=pair) if pair else ctx, shown)
    if len(cars) < 2:
        lacking = _named_not_in_stock(ctx)
        if lacking is not None:  # "¿y el audi a4? quiero comparar": there is none to compare;
            from dialog.handlers.search import SEARCH_ROUTE, search_cars  # said, and the like

            make, model = lacking
            one = ctx.extraction.model_copy(
                update={"make": make, "model": model, "alternatives": ()}
            )
            return search_cars(replace(ctx.speaking_as(SEARCH_ROUTE), extraction=one))
        return Reply(ctx.say("which"))
    if not (pair or ctx.extraction).picks:  # "compara el vento con la clase c": in that order
        cars = sorted(cars, key=lambda car: _named_at(pair or ctx.extraction, car))
        ids = {car.stock_id for car in shown}
        if ids == {car.stock_id for car in listed}:
            shown[:] = listed  # the same list: the numbers it had ("la 2 con la 1")
        elif len(shown) == len(cars):  # a list of these cars only, made now: numbered in the
            shown[:] = cars  # order named too
    if any(car not in shown for car in cars):  # cars from beyond the list: they are it now
        shown[:] = cars
        ctx.state.last_results = [car.stock_id for car in cars]
    total_only = _total_only(ctx, cars)
    if total_only is not None:
        return total_only
    use = any(name.startswith(USE_SAID) for name in ctx.extraction.said)
    again = {car.stock_id for car in cars} == set(ctx.state.compared)
    if use and again and not (ctx.extraction.make or ctx.extraction.model or pair):
        used = use_advice(ctx.speaking_as("advice"), cars)  # "lo uso pa uber" after the two
        if used is not None:  # side by side: which one for that use, not the table again
            return used
    planned = _plans_compared(ctx, cars, shown)
    if planned is not None:
        return planned
    words = ctx.words
    yes, no = ctx.say("has"), ctx.say("lacks")
    lines = [ctx.say("header")]
    for car in cars:
        values = car_values(car, n=shown.index(car) + 1, words=words)
        values |= {
            "bluetooth": yes if car.bluetooth else no,
            "car_play": yes if car.car_play else no,
        }
        lines.append(ctx.say("line", values))
    lines.append("")
    lines.extend(_gaps(ctx, cars, shown))
    if said(ctx, "compare_cars:total") and ctx.template("total"):  # "¿cuánto por los dos juntos?"
        total = money(sum(car.price for car in cars))
        lines += [ctx.say("total", {"count": len(cars), "total": total})]
    if said(ctx, "compare_cars:why") and ctx.template("why_note"):
        lines += ["", ctx.say("why_note")]  # "¿por qué uno cuesta más?": the listing's part
    if (said(ctx, "compare_cars:recommend") or use) and ctx.template("trade_off"):
        lines += ["", *_recommendation(ctx, cars, shown)]  # "¿cuál me recomiendas?", "pa
        # carretera, ¿cuál de las dos?"
    lines += ["", ctx.say("closing")]
    ctx.state.selected = None  # the next "ese" is one of these, not the car seen before
    ctx.state.compared = [car.stock_id for car in cars]  # "¿y por qué la diferencia?" again
    # the list keeps the numbers the comparison showed: "me quedo el 3" after "compara el 2 y el 3"
    ctx.state.last_results = [car.stock_id for car in shown]
    return Reply("\n".join(lines))


def _named_not_in_stock(ctx: TurnContext) -> tuple[str | None, str] | None:
    """The first model the message names that the catalog has none of."""
    catalog = ctx.services.catalog
    for make, model in named_cars(ctx.extraction):
        if model and not (model_in_stock(catalog, model) or in_versions(catalog, make, model)):
            return make, model
    return None


def _plans_compared(ctx: TurnContext, cars: list[Car], shown: list[Car]) -> Reply | None:
    """ "la segunda, ¿cuánto quedaría con 20% a 6 años? ¿y la primera igual?": each car's
    monthly payment with the terms said, not their listings side by side."""
    from dialog.handlers.financing import plans_for_list, remember_params

    extraction = ctx.extraction
    figures = extraction.down_payment or extraction.down_payment_pct
    if not (figures and extraction.term_months) or said(ctx, "compare_cars:side_by_side"):
        return None
    financing = ctx.speaking_as("financing")  # its templates say the plans
    remember_params(financing)
    ctx.state.last_results = [car.stock_id for car in shown]
    text = plans_for_list(financing, only=[car.stock_id for car in cars])
    if not text:
        return None
    ctx.state.compared = [car.stock_id for car in cars]
    ctx.state.selected = None
    return Reply(text, ask=financing.say("pick_for_plan", {"count": len(cars)}))


def _total_only(ctx: TurnContext, cars: list[Car]) -> Reply | None:
    """ "el spark más el figo, ¿cuánto es en total?": the sum alone, when nothing else about the
    cars is asked (no difference, no recommendation, no why)."""
    if not said(ctx, "compare_cars:total") or not ctx.template("total_only"):
        return None
    asked = ("side_by_side", "why", "recommend")
    if any(said(ctx, f"compare_cars:{name}") for name in asked):
        return None
    titles = [f"{car.title} ({money(car.price)})" for car in cars]
    total = money(sum(car.price for car in cars))
    ctx.state.compared = [car.stock_id for car in cars]
    return Reply(ctx.say("total_only", {"cars": " + ".join(titles), "total": total}))


def _recommendation(ctx: TurnContext, cars: list[Car], shown: list[Car]) -> list[str]:
    """Which one, from the listings only: the cheapest against the dearest, and what the dearer
    adds for the money (a newer year, fewer km, a bigger engine, CarPlay); the cheaper one when
    it adds nothing, or the best buy when the cheaper is also newer and less driven."""
    by_price = sorted(cars, key=lambda car: car.price)
    cheap, dear = by_price[0], by_price[-1]
    if dear.price == cheap.price:
        return [ctx.say("ask_use")]
    twins = cheap.title == dear.title  # two "Mazda 3 2018": each by its number on the list

    def title(car: Car) -> str:
        return f"{shown.index(car) + 1}. {car.title}" if twins and car in shown else car.title

    gap = money(dear.price - cheap.price)
    plus, better = _advantages(ctx, dear, cheap), _advantages(ctx, cheap, dear)
    used = use_advice(ctx.speaking_as("advice"), cars)  # "uso mucha carretera": that use decides
    if used is not None:
        ctx.marks[RECOMMENDED] = True  # it offers the plan and an advisor itself
    if not plus and better:
        lines = [ctx.say("best_buy", {"title": title(cheap), "reasons": joined(ctx, better)})]
    elif not plus:
        lines = [ctx.say("no_premium", {"cheap": title(cheap), "dear": title(dear), "gap": gap})]
    else:
        also = ctx.say("cheap_plus", {"reasons": joined(ctx, better)}) if better else ""
        values = {"cheap": title(cheap), "dear": title(dear), "gap": gap, "cheap_plus": also}
        lines = [ctx.say("trade_off", values | {"reasons": joined(ctx, plus)})]
        lines.append(used.text if used is not None else ctx.say("ask_use"))
        return lines
    return [*lines, *([used.text] if used is not None else [])]


def _advantages(ctx: TurnContext, car: Car, other: Car) -> list[str]:
    """What `car` has over `other` in its listing, in the customer's words."""
    found = []
    if car.year > other.year:
        years = car.year - other.year
        said = ctx.say("reason_year") if years == 1 else ctx.say("reason_years", {"n": years})
        found.append(ctx.say("reason_newer", {"years": said}))
    if car.km < other.km:
        found.append(ctx.say("reason_km", {"km": km(other.km - car.km)}))
    if car.engine and other.engine and car.engine > other.engine:
        found.append(ctx.say("reason_engine", {"engine": car.engine, "other": other.engine}))
    if car.car_play and not other.car_play:
        found.append(ctx.say("reason_car_play"))
    if car.bluetooth and not other.bluetooth:
        found.append(ctx.say("reason_bluetooth"))
    return found


def _comparing_sentence(ctx: TurnContext) -> Extraction | None:
    """The sentence that names the cars to compare, when another names a car in passing: "la x3
    tiene muchos km. la x1 vs x5, ¿cuál es mejor?" compares the X1 and the X5."""
    from nlu.text import sentences

    if len(sentences(ctx.text)) < 2:
        return None
    whole = ctx.extraction
    named = {whole.model or whole.make, *whole.alternatives}
    for _, reading in reversed(ctx.sentence_readings()):
        if not ((reading.make or reading.model) and reading.alternatives):
            continue
        if {reading.model or reading.make, *reading.alternatives} == named:
            return None  # the same cars: the whole message says more of them (a budget)
        cars = ("make", "model", "alternatives", "year_min", "year_max", "picks", "years")
        return whole.model_copy(update={key: getattr(reading, key) for key in cars})
    return None


def _named_at(extraction: Extraction, car: Car) -> int:
    """Where the message names the car among the cars it names (after all of them if not)."""
    names = named_cars(extraction)
    for at, (make, model) in enumerate(names):
        wanted = {key: value for key, value in (("make", make), ("model", model)) if value}
        if wanted and car_matches(shown_car(car), wanted):
            return at
    return len(names)


def _to_compare(ctx: TurnContext, shown: list[Car]) -> list[Car]:
    extraction = ctx.extraction
    picked = [pick_by_ordinal(ctx.state.last_results, n) for n in extraction.picks]
    cars = [car for i in picked if i is not None and (car := ctx.services.catalog.get(i))]
    if extraction.years and not (extraction.model or extraction.make):  # "la del 2020": a year
        body = extraction.body_type  # "el hatch 2018": of that body too
        cars += [
            car
            for car in shown
            if car.year in extraction.years
            and car not in cars
            and (body is None or car.body_type == body)
        ]
    model = (extraction.model or "").casefold()
    one_model = all(
        alternative_parts(other)[1].casefold() in ("", model) for other in extraction.alternatives
    )
    if not cars and extraction.model and len(set(extraction.years)) > 1 and one_model:
        cars = _of_years(ctx, shown)  # "¿la odyssey 2016 o la 2015?": one of each year (not
        # "Lincoln Nautilus 2019 vs BMW X5 2016": each car its own year)
    if not cars and CAR_PRICE in extraction.said:  # "los de 265,999, ¿cuántos km tienen?"
        slots = extraction.slots()
        cars = [car for car in shown if price_pointed([shown_car(car)], slots)]
    elif CAR_PRICE in extraction.said and extraction.price_max:  # "el de 268 vs el 2018"
        price = {"price_max": extraction.price_max}
        cars = [car for car in shown if price_pointed([shown_car(car)], price)] + cars
    named = (
        [
            car
            for car in cars_named(ctx.services.catalog, extraction, ctx.state.last_results)
            if car not in cars
        ]
        if (extraction.model or extraction.make or extraction.body_type)
        else []
    )
    each = each_named(extraction, shown) if extraction.alternatives else []
    if len(each) > 1 and all(car in each for car in cars):  # "el 208 con el ibiza 2018": each
        # car named, its own year (a price said of one of them points at the same car)
        shown[:] = each[:COMPARE_MAX]  # the list is now these: "¿y cuál de los dos…?"
        ctx.state.last_results = [car.stock_id for car in shown]
        return list(shown)
    cars += named
    focus = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    if focus is None and len(shown) == 1:
        focus = shown[0]  # the one car on screen is "esa"
    if len(cars) == 1 and focus is not None and focus not in cars:
        cars.insert(0, focus)
    names = extraction.model or extraction.make or extraction.alternatives
    if not cars and len(shown) <= COMPARE_MAX and not names:  # "compara el swift y el 208":
        cars = shown  # those two, not the whole short list
    cars = [car for car in cars if car in shown]
    naming = extraction.model or extraction.make or extraction.body_type
    if naming and not named and len(cars) == 1:  # "el primero vs el hatch 2018": the hatch of
        earlier = cars_named(ctx.services.catalog, extraction, ctx.state.seen)  # a list before
        if len(earlier) == 1:
            cars.append(earlier[0])
            shown.append(earlier[0])  # numbered after the list on screen
            ctx.state.last_results = [car.stock_id for car in shown]
            return cars
    unlisted = _named_unlisted(ctx, cars, focus)
    if unlisted:  # "compárame la sportage con la compass" with neither listed: from the catalog
        if not cars and len(unlisted) == 1 and focus is not None:
            cars = [focus]  # "¿qué diferencia hay con la trax 2020?": with the car in focus
        cars = [*cars, *unlisted][:COMPARE_MAX]
        shown[:] = cars
        ctx.state.last_results = [car.stock_id for car in cars]
    if len(cars) < 2 and len(shown) == 2 and not unlisted:
        cars = list(shown)  # "¿cuál de las dos me conviene? la 2015 es más cara": both shown
    again = [car for i in ctx.state.compared if (car := ctx.services.catalog.get(i))]
    if len(cars) < 2 and not extraction.picks and not names and len(again) > 1:
        cars = again[:COMPARE_MAX]  # "si pero ¿por qué la diferencia?" after a comparison
        if any(car not in shown for car in cars):  # a list shown since: the compared are it now
            shown[:] = cars
            ctx.state.last_results = [car.stock_id for car in cars]
        return cars
    if len(cars) < 2 and not extraction.picks and (seen := _last_two_seen(ctx)):
        shown[:] = cars = seen  # "compárame esos dos": the last two cars looked at
        ctx.state.last_results = [car.stock_id for car in cars]
    return cars[:COMPARE_MAX]


def _of_years(ctx: TurnContext, shown: list[Car]) -> list[Car]:
    """The car of the model named for each year said, from the list first, else the catalog."""
    extraction, cars = ctx.extraction, []
    model = (extraction.model or "").casefold()
    for year in dict.fromkeys(extraction.years):
        listed = [c for c in shown if c.model.casefold() == model and c.year == year]
        wanted = SearchFilters(make=extraction.make, model=extraction.model, year_min=year,
                               year_max=year)  # fmt: skip
        if listed:
            cars.append(listed[0])
            continue
        outcome = search(ctx.services.catalog, wanted, limit=1)
        if outcome.cars and not outcome.relaxed:  # that year in stock, not a nearby one
            cars.append(outcome.cars[0])
    if len(cars) > 1 and any(car not in shown for car in cars):
        shown[:] = cars
    return cars


def _last_two_seen(ctx: TurnContext) -> list[Car]:
    """The last two different cars the customer had in focus, most recent last."""
    ids = [*ctx.state.chosen, *([ctx.state.selected] if ctx.state.selected else [])]
    unique = list(dict.fromkeys(reversed(ids)))[:2]
    cars = [car for i in reversed(unique) if (car := ctx.services.catalog.get(i))]
    if len(cars) == 2:
        return cars
    focus = ctx.state.selected
    earlier = ctx.state.seen[-COMPARE_MAX:]  # the list before: "el m2 o el amg" … "y el amg?"
    if focus is None or focus not in earlier:  # … "¿cuál de los dos tiene menos km?"
        return []
    others = [i for i in reversed(earlier) if i != focus]
    pair = [ctx.services.catalog.get(i) for i in [*others[:1], focus]]
    return [car for car in pair if car is not None] if len(others) == 1 else []


def each_named(extraction: Extraction, shown: list[Car]) -> list[Car]:
    """The listed car of each make/model named: the one of the year said when it has one, else
    the only one of that name."""
    names = named_cars(extraction)
    years = set(extraction.years) | {extraction.year_min, extraction.year_max} - {None}
    own = [alternative_parts(other)[2] for other in extraction.alternatives]
    if any(other.count("|") > 1 for other in extraction.alternatives):  # "el mazda 2018 con el
        first = extraction.year_min if extraction.year_min == extraction.year_max else None
        per_car = [{first} - {None}, *({year} - {None} for year in own)]  # sentra 2019": each
    else:  # car its own year
        per_car = [years] * len(names)
    found: list[Car] = []
    for (make, model), its_years in zip(names, per_car, strict=True):
        wanted = {key: value for key, value in (("make", make), ("model", model)) if value}
        of_name = [car for car in shown if wanted and car_matches(shown_car(car), wanted)]
        of_year = [car for car in of_name if car.year in its_years]
        pick = of_year or (of_name if len(of_name) == 1 else [])
        if pick and pick[0] not in found:
            found.append(pick[0])
    return found


UNLISTED_LOOKED_AT = 50  # cars of a model looked at for the year said


def _looked_at(ctx: TurnContext, make: str | None, model: str, years: set[int]) -> Car | None:
    """The car of `model` the conversation already showed ("entre el vento y la clase c" after a
    list with the Clase C 2014): of the year said, else the one shown last."""
    state, catalog = ctx.state, ctx.services.catalog
    recent = [*state.last_results, *reversed(state.chosen), *reversed(state.seen)]
    wanted = {key: value for key, value in (("make", make), ("model", model)) if value}
    cars = [car for i in dict.fromkeys(recent) if (car := catalog.get(i)) is not None]
    of_model = [car for car in cars if car_matches(shown_car(car), wanted)]
    of_year = [car for car in of_model if car.year in years]
    if years and not of_year:
        return None  # "la clase c 2017": the catalog's, not the 2014 seen
    return (of_year or of_model or [None])[0]


def _named_unlisted(ctx: TurnContext, cars: list[Car], focus: Car | None = None) -> list[Car]:
    """One car of each model named in the message that the cars to compare lack (the newest in
    stock, of the year said), when two or more models were named, or one besides the car in
    focus."""
    extraction = ctx.extraction
    names = named_cars(extraction)  # "el peugeot o el swift": a make names a listed car too
    models = [(make, model) for make, model in names if model]
    other_than_focus = len(models) == 1 and focus is not None and not cars
    if len(names) == 1 and models and not other_than_focus and not extraction.picks:
        return _all_of_model(ctx, models[0], cars)  # "los dos kia rio 2019 que tienen"
    if len(names) < 2 and not other_than_focus:
        return []
    # a year said belongs to whichever model has it ("el civic y el sentra 2018")
    years = set(extraction.years) | {extraction.year_min, extraction.year_max} - {None}
    found: list[Car] = []
    for make, model in models:
        if any(car.model.casefold() == model.casefold() for car in [*cars, *found]):
            continue
        looked_at = _looked_at(ctx, make, model, years)  # "la clase c" of a list before
        if looked_at is not None:
            found.append(looked_at)
            continue
        ceiling = extraction.price_max  # "tengo hasta 300 mil": the newest within it
        wanted = SearchFilters(make=make, model=model, superlative="newest", price_max=ceiling)
        wanted = trim_as_version(ctx.services.catalog, wanted)  # "el c63 amg vs el bmw m2"
        outcome = search(ctx.services.catalog, wanted, limit=UNLISTED_LOOKED_AT)
        if ceiling is not None and (outcome.relaxed or not outcome.cars):  # none within: the
            wanted = wanted.model_copy(update={"price_max": None})  # one there is, its price shown
            outcome = search(ctx.services.catalog, wanted, limit=UNLISTED_LOOKED_AT)
        if outcome.cars and not outcome.relaxed:
            found.append(next((c for c in outcome.cars if c.year in years), outcome.cars[0]))
    return found


def _all_of_model(ctx: TurnContext, name: tuple[str | None, str], cars: list[Car]) -> list[Car]:
    """Every car in stock of the one model (and year) named, when there are a few to compare
    ("los dos kia rio 2019 que tienen", "vi otro rio 2019 más caro, ¿qué diferencia hay?")."""
    extraction = ctx.extraction
    make, model = name
    wanted = SearchFilters(
        make=make, model=model, year_min=extraction.year_min, year_max=extraction.year_max
    )
    outcome = search(ctx.services.catalog, wanted, limit=COMPARE_MAX + 1)
    if outcome.relaxed or not 2 <= outcome.total <= COMPARE_MAX:
        return []
    return [car for car in outcome.cars if car not in cars]


def _gaps(ctx: TurnContext, cars: list[Car], shown: list[Car]) -> list[str]:
    titles = [car.title for car in cars]
    twins = len(set(titles)) < len(titles)  # two "KIA Rio 2020": say which by its number

    def name(car: Car) -> str:
        return f"{shown.index(car) + 1}. {car.title}" if twins and car in shown else car.title

    by_price = sorted(cars, key=lambda car: car.price)
    cheap, dear = by_price[0], by_price[-1]
    found = []
    if dear.price > cheap.price:
        gap = money(dear.price - cheap.price)
        found.append(ctx.say("price_gap", {"dearer": name(dear), "gap": gap}))
    by_km = sorted(cars, key=lambda car: car.km)
    if by_km[-1].km > by_km[0].km:
        gap = km(by_km[-1].km - by_km[0].km)
        found.append(ctx.say("km_gap", {"fewer": name(by_km[0]), "gap": gap}))
    sized = sorted((car for car in cars if car.largo), key=lambda car: car.largo or 0)
    if len(sized) == len(cars) and (sized[-1].largo or 0) - (sized[0].largo or 0) >= LENGTH_GAP:
        gap = f"{((sized[-1].largo or 0) - (sized[0].largo or 0)) / 10:.0f} cm"
        found.append(ctx.say("length_gap", {"shorter": name(sized[0]), "gap": gap}))
        found = [line for line in found if line]  # an optional template left out
    versions = {car.version.casefold() for car in cars}
    if len(versions) == 1:
        found.append(ctx.say("same_version", {"version": cars[0].version}))
    return found


@handler(
    "catalog.advice",
    required={"no_answer": set()},
    optional={
        "compare_note": set(),
        "km_judged": CAR_PLACEHOLDERS | {"km_year", "age"},
        "make_opinion": CAR_PLACEHOLDERS,
        "list_advice": {"lines"},
        "list_advice_line": CAR_PLACEHOLDERS | {"which"},
        "criteria_note": set(),
        "criteria_note_use": set(),
        "use_advice": CAR_PLACEHOLDERS | {"use", "reason"},
        **{f"use_reason_{pick}": CAR_PLACEHOLDERS for pick in USE_PICKS},
    },
)
def advice(ctx: TurnContext) -> Reply:
    """ "Entre un corolla y un civic, ¿cuál me recomiendas?": the two side by side from the
    catalog (the facts a choice rests on), then a word on what decides; without two cars named,
    the general advice answer."""
    extraction = ctx.extraction
    if JUDGED in extraction.said and ctx.template("km_judged"):
        judged = _km_judged(ctx)
        shown = [car for i in ctx.state.last_results if (car := ctx.services.catalog.get(i))]
        if judged is not None and said(ctx, "compare_cars:recommend") and len(shown) > 2:
            judged.text = f"{judged.text}\n\n{_list_advice(ctx, shown).text}"  # "... y ¿cuál
        if judged is not None:  # me recomiendas de esas 4?": what the listing says of each
            return judged
    first = extraction.model or extraction.make  # "el peugeot o el swift": a make names one too
    models = [first] if first else []
    models += [model or make for make, model, _ in map(alternative_parts, extraction.alternatives)]
    shown = [car for i in ctx.state.last_results if (car := ctx.services.catalog.get(i))]
    named = {key: getattr(extraction, key) for key in ("make", "model") if getattr(extraction, key)}
    same = [car for car in shown if named and car_matches(shown_car(car), named)]
    focus = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    against = (
        len(models) == 1
        and focus is not None
        and len(same) <= 1  # "compárala con la journey", the Journey listed too: the two
        and not car_matches(shown_car(focus), named)
    )
    if len(models) >= 2 or len(same) >= 2 or against:  # "los 2 rio, ¿qué diferencia tienen?":
        # those two; "¿cuál está mejor, esa o la cx5?": the one in focus and the one named
        compare = ctx.speaking_as("compare_cars")
        reply = compare_cars(compare)
        if reply.text != compare.say("which"):
            # the comparison's own advice, when it gave one, is the advice asked
            note = "" if compare.marks.get(RECOMMENDED) else ctx.say("compare_note")
            reply.text = "\n\n".join(part for part in (reply.text, note) if part)
            return reply
    wanted = any(getattr(extraction, key) is not None for key in FIGURES_WANTED)
    kind = extraction.body_type or extraction.fuel or extraction.transmission
    wanted = wanted or bool(extraction.superlative and kind)  # "¿cuál automático me recomienda
    if not models and wanted:  # que sea barato?": the cheapest automatics
        # "tengo 250 mil, ¿qué sedán me recomiendan?": the cars that fit what they said, of any
        # make (a recommendation is no more of the model seen before)
        unnamed = {"make": None, "model": None, "alternatives": None}
        ctx.state.filters = ctx.state.filters.model_copy(update=unnamed)
        spec = HANDLERS.get("catalog.search")
        assert spec is not None
        reply = spec.func(ctx.speaking_as("search_cars"))
        use_said = any(name.startswith(USE_SAID) for name in ctx.extraction.said)
        note = (
            "criteria_note_use"
            if use_said and ctx.template("criteria_note_use")
            else "criteria_note"
        )
        if ctx.state.last_results and ctx.template(note):  # the use said is not asked again
            reply.text = "\n\n".join((reply.text, ctx.say(note)))
        return reply
    of_make = [car for car in [*([focus] if focus else []), *shown] if car.make == extraction.make]
    only_make = extraction.make and not extraction.model and not extraction.alternatives
    if only_make and of_make and ctx.template("make_opinion"):  # "¿MG es buena?": its car here
        ctx.marks[WHOLE_MESSAGE] = True  # the opinion asked is this answer, no other request
        return Reply(ctx.say("make_opinion", car_values(of_make[0], words=ctx.words)))
    kinds = extraction.body_type or extraction.fuel or extraction.transmission  # "¿sedán o SUV?"
    # "¿cuál me recomiendas pa que no gaste? el spark se ve bonito": a car on screen liked,
    # the use still picks among those on screen
    liked = len(models) == 1 and len(same) == 1
    used = None if (models and not liked) or kinds else use_advice(ctx, shown)
    if used is not None:  # "¿cuál me recomiendas para ciudad? me estaciono en la calle"
        return used
    if not models and (ctx.extraction.second or "").startswith("knowledge/"):
        return Reply("")  # "¿qué diferencia hay entre ustedes y un particular?": the topic answers
    compared = [car for i in ctx.state.compared if (car := ctx.services.catalog.get(i))]
    pair = compared if len(compared) > 1 and all(car in shown for car in compared) else []
    pair = pair or (shown if len(shown) == 2 else [])
    compare = ctx.speaking_as("compare_cars")
    if pair and not models and not kinds and compare.template("trade_off"):
        return Reply("\n".join(_recommendation(compare, pair, shown)))  # "¿tú cuál comprarías?" of
        # the two compared or shown: what the dearer adds for its price
    if len(shown) >= 2 and not models and not kinds and ctx.template("list_advice"):
        return _list_advice(ctx, shown)  # "¿de esas cuál me recomiendas?"
    spec = HANDLERS.get("knowledge.answer")
    assert spec is not None  # registered by dialog.handlers.answers
    return spec.func(ctx)


# what a customer asking for advice may already have said the car must meet (then a search)
FIGURES_WANTED = ("price_max", "price_min", "monthly_budget", "seats_min", "drive", "year_min",
                  "year_max", "km_max")  # fmt: skip
LIST_ADVICE = ("cheapest", "lowest_km", "newest")  # what the listing can say in a choice's favour


def use_advice(ctx: TurnContext, shown: list[Car]) -> Reply | None:
    """The car on screen (the two compared, if that was the last answer) that the listing favours
    for the use said, and why: "para ciudad, el más corto"."""
    uses = [name[len(USE_SAID) :] for name in ctx.extraction.said if name.startswith(USE_SAID)]
    picks = [(use, pick) for use, pick in ctx.config.use_picks.items() if use in uses]
    compared = [car for car in shown if car.stock_id in ctx.state.compared]
    compared_last = ctx.state.last_intent in ("compare_cars", "advice")  # "¿y cuál para ciudad?"
    cars = compared if len(compared) >= 2 and compared_last else shown
    if not picks or len(cars) < 2 or not ctx.template("use_advice"):
        return None
    use, wanted = picks[0]
    decided = [
        (pick, best)
        for pick in ([wanted] if isinstance(wanted, str) else wanted)
        if (best := _only_best(cars, pick, ctx.config.use_ties.get(pick, 0.0))) is not None
    ]
    if not decided:
        return None  # the cars tie on every figure that use looks at
    pick, best = decided[0]
    values = car_values(best, n=shown.index(best) + 1, words=ctx.words)
    reason = ctx.say(f"use_reason_{pick}", values)
    ctx.state.selected = best.stock_id
    return Reply(ctx.say("use_advice", {**values, "use": use, "reason": reason}))


def _only_best(cars: list[Car], pick: str, tie: float = 0.0) -> Car | None:
    """The car `pick` favours, unless every other car's figure is within `tie` of it (two CX-5
    of 4.55 m: neither is "the longest"; 4.27 m against 4.25 m neither, with a 50 mm tie)."""
    best = best_of(cars, pick)
    column = ORDER[pick][0]
    value = getattr(best, column)
    if value is None:
        return None
    others = [getattr(car, column) for car in cars if car is not best]
    tied = all(other is not None and abs(other - value) <= tie + 1e-9 for other in others)
    return None if tied else best


def _list_advice(ctx: TurnContext, shown: list[Car]) -> Reply:
    """The listed cars that stand out by what the listing says (price, km, year), no opinion."""
    lines = []
    for superlative in LIST_ADVICE:
        best = best_of(shown, superlative)
        which = ctx.words.get(f"best_{superlative}", superlative)
        values = car_values(best, n=shown.index(best) + 1, words=ctx.words)
        lines.append(ctx.say("list_advice_line", {**values, "which": which}))
    return Reply(ctx.say("list_advice", {"lines": "\n".join(lines)}))


def _km_judged(ctx: TurnContext) -> Reply | None:
    """ "ya trae casi 100 mil km, ¿es mucho?": its km per year of age and what Kavak's facts
    promise of every car (the inspection, the trial); no opinion of our own."""
    car = _one_named(ctx) or _pointed_listed(ctx) or car_in_focus(ctx)
    if car is None and len(ctx.state.last_results) == 1:
        car = ctx.services.catalog.get(ctx.state.last_results[0])
    if car is None:
        return None
    ctx.state.selected = car.stock_id  # "y la mensualidad?" next is of this one
    reply = Reply(ctx.say("km_judged", car_values(car, words=ctx.words)))  # its {km_year}
    if plan_wished(ctx):  # "... ¿está bien eso? ¿y a 5 años con 20?"
        from dialog.handlers.financing import plan_reply, remember_params

        remember_params(ctx)
        plan = plan_reply(ctx.speaking_as("financing"), car)
        reply = Reply(f"{reply.text}\n\n{plan.text}", plan=plan.plan)
    return reply


def _pointed_listed(ctx: TurnContext) -> Car | None:
    """The listed car the message points at by its number or a superlative ("la más barata")."""
    extraction, catalog = ctx.extraction, ctx.services.catalog
    shown = [car for i in ctx.state.last_results if (car := catalog.get(i))]
    if not shown:
        return None
    if extraction.ordinal is not None:
        stock_id = pick_by_ordinal(ctx.state.last_results, extraction.ordinal)
        return catalog.get(stock_id) if stock_id is not None else None
    if extraction.superlative is not None:
        return best_of(shown, extraction.superlative)
    return None


def _one_named(ctx: TurnContext) -> Car | None:
    """The one car the message names ("¿y el X5? 119 mil km, ¿no es mucho?"): of those on screen
    or chosen before, else of the whole stock when only one car there is that one."""
    catalog, extraction = ctx.services.catalog, ctx.extraction
    if not (extraction.model or extraction.make):
        return None
    for stock_ids in (ctx.state.last_results, ctx.state.chosen):
        named = cars_named(catalog, extraction, stock_ids)
        if named:
            return named[0] if len(named) == 1 else None
    named = _named_in_catalog(ctx) or []  # the search, not a walk over every car
    return named[0] if len(named) == 1 else None
