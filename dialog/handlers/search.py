"""catalog.search: merge criteria into the conversation's, search, list, explain relaxations;
say honestly when a make or model is not in stock and show the nearest alternatives."""

from __future__ import annotations

from dataclasses import replace

from dialog.forms import said as phrase_said
from dialog.handlers.answers import SECOND_REQUEST
from dialog.handlers.common import (
    CAR_PLACEHOLDERS,
    affordability,
    before_closing,
    car_choices,
    car_values,
    joined,
)
from dialog.registry import handler
from dialog.render import money, thousands
from dialog.turn import Reply, TurnContext
from nlu.pipeline import (
    FOREIGN_MONEY,
    MONEY_TAKEN_BACK,
    PAGE_ONLY,
    PRICE_SEEN,
    SAVINGS,
    STRETCH_PRICE,
    THAN_BIGGER,
    THAN_CAR,
    TRAIT_PREFERRED,
    YEAR_FLOOR,
)
from nlu.schema import Extraction
from nlu.text import words as message_words
from nlu.values import EITHER
from tools.catalog import Car, car_name
from tools.search import (
    PRICE_TOLERANCE,
    TRAITS,
    Relaxation,
    SearchFilters,
    SearchOutcome,
    alternative_parts,
    brand_in_stock,
    model_in_stock,
    search,
    similar_to,
    trim_as_version,
    years_per_car,
)
from tools.vehicles import SPORTY

SORTED = "context:sort"  # "algo con menos km": the cars so ordered (after one car: fewer than it)
FILTER_KEYS = tuple(SearchFilters.model_fields)
SIMILAR = "context:similar"
SAME_SIZE = "context:same_size"  # "del tamaño de una crv"
SIMILAR_TO = "similar_to"  # profile key: the model the last "tipo <modelo>" search was like
SIMILAR_KEEPS = ("year_min", "year_max", "seats_min")  # kept when a model is named as a measure
CRITERIA_TEMPLATES = {
    "criteria_year_exact": {"year"},
    "criteria_year_range": {"year_min", "year_max"},
    "criteria_year_min": {"year_min"},
    "criteria_year_max": {"year_max"},
    "criteria_price_range": {"price_min", "price_max"},
    "criteria_price_min": {"price_min"},
    "criteria_price_max": {"price_max"},
    "criteria_km_max": {"km_max"},
    "criteria_bluetooth": set(),
    "criteria_car_play": set(),
    "criteria_body_type": {"body_type"},
    "criteria_seats": {"seats"},
    "criteria_transmission": {"transmission"},
    "criteria_fuel": {"fuel"},
    "criteria_drive": set(),
    "criteria_style": set(),
    "criteria_size": {"size"},
    "criteria_length_max": {"length"},
    "criteria_length_min": {"length"},
    "criteria_engine_range": {"engine_min", "engine_max"},
    "criteria_engine_exact": {"engine"},
    "criteria_engine_min": {"engine_min"},
    "criteria_engine_max": {"engine_max"},
    "criteria_superlative": {"superlative"},
    "criteria_near_price": {"price"},
}
RELAX_TEMPLATES = {
    "relaxed_year": set(),
    "relaxed_price": {"price_max"},
    "relaxed_price_any": set(),
    "relaxed_model": {"make"},
    "relaxed_make": set(),
    "relaxed_km": set(),
    "relaxed_features": set(),
    "relaxed_fuel": set(),
    "relaxed_transmission": set(),
    "relaxed_body_type": set(),
    "relaxed_drive": set(),
    "relaxed_style": set(),
    "relaxed_size": set(),
    "relaxed_length": set(),
    "relaxed_engine": set(),
}
WISHED_CAR = "wished_car"  # profile key: a car asked for that is not in stock
RESULTS = {"criteria", "total", "shown", "lines", "budget_note", "first", "last"}


@handler(
    "catalog.search",
    required={
        "results": RESULTS,
        "results_more": RESULTS,
        "result_line": CAR_PLACEHOLDERS,
        "relaxed": RESULTS | {"relaxed_what"},
        "no_results": {"criteria"},
        "no_results_year": {"criteria", "year", "oldest", "newest"},
        "brand_not_in_stock": {"make"},
        "model_not_in_stock": {"model"},
        "similar_to": {"model"},
        "others_like": {"model"},
        "missing_alternative": {"models"},
        "named_over_budget": CAR_PLACEHOLDERS | {"budget"},
        "single_result": RESULTS,
        "inventory": {"total", "min_price", "max_price", "makes", "oldest", "newest"},
        "no_more": {"total"},
    },
    optional={
        "budget_note": {"monthly_budget", "down_payment", "price_max", "term_months"},
        "budget_note_down": {"monthly_budget", "down_payment", "price_max", "term_months"},
        "over_budget_only": RESULTS,
        "relaxed_unknown_transmission": RESULTS,
        "colour_note": set(),
        "foreign_money": set(),
        "named_lacking": {"cars", "features"},
        "relax_join": set(),
        "criteria_cars": set(),
        "only_this_one": CAR_PLACEHOLDERS | {"kind"},
        "model_not_in_stock_alone": {"model"},
        "also_best_found": CAR_PLACEHOLDERS | {"which"},
        **CRITERIA_TEMPLATES,
        **RELAX_TEMPLATES,
    },
)
def search_cars(ctx: TurnContext) -> Reply:
    """List the best matches for the accumulated criteria; with none, a question gets what is
    in stock and a statement starts the guided form."""
    said = ctx.extraction.said
    if TRAIT_PREFERRED in said and SECOND_REQUEST in said:  # "el spark es estándar? … mejor
        unnamed = {"make": None, "model": None, "alternatives": ()}  # automático": the cars
        ctx = replace(ctx, extraction=ctx.extraction.model_copy(update=unnamed))  # with it,
        said = said | {"context:any_make"}  # not that one car
    available = _availability_of_focus(ctx)
    if ctx.extraction.model and available is None:  # "el kia rio de 249,999": that one car
        from dialog.handlers.financing import priced_named

        available = priced_named(ctx) or _seen_before(ctx)
    if available is not None:  # "¿sigue disponible la tracker?" of the one chosen
        from dialog.handlers.selection import focus_reply

        return focus_reply(ctx.speaking_as("select_car"), available.stock_id)
    if ctx.extraction.make or ctx.extraction.model:
        ctx.state.profile.pop(WISHED_CAR, None)  # another car named: said again if not in stock
    before = ctx.state.filters
    _drop_focus_if_ruled_out(ctx)
    dropping = any(name.startswith("dropped:") for name in said)  # "olvida el carplay"
    reset = "context:reset" in said and not dropping
    current = SearchFilters() if reset else ctx.state.filters
    # "cualquier marca", "todos los automáticos", "hatchback automático de menos de 200 mil" after
    # the Figo or the March: any make, and what was said of the models named goes too
    if "context:whole_stock" in said and ctx.extraction.superlative:  # "el más caro que tienen"
        current = SearchFilters()
    if "context:any_make" in said or _category_asked(ctx.extraction):
        named = ["make", "model", "alternatives", "version_has", *ctx.config.reset_on_new_model]
        if "context:any_make" in said:  # "any brand, not just Honda or Toyota": none ruled out
            named.append("exclude")
        current = current.model_copy(update=dict.fromkeys(named))
    if "context:other_makes" in said and not (current.model or current.version_has):
        ruled = [*(current.exclude or []), *([current.make] if current.make else [])]
        ruled += [alternative_parts(other)[0] for other in current.alternatives or ()]
        update = {"make": None, "alternatives": None, "exclude": ruled or None}
        current = current.model_copy(update=update)  # "7 seat SUV, Honda or Toyota… other
        # brands?": those makes out, the rest of the search stays
    if "context:other_model" in said and (current.model or current.version_has):
        # "¿algún otro Toyota?" after the Corolla, "¿otro mercedes?" after the C63 AMG
        ruled = [*(current.exclude or []), *([current.model] if current.model else [])]
        update = {"model": None, "version_has": None, "exclude": ruled or None}
        current = current.model_copy(update=update)
    if "context:any_year" in said:  # "del año que sea"
        current = current.model_copy(update={"year_min": None, "year_max": None})
    if "context:any_price" in said:  # "el precio que sea"
        current = current.model_copy(update={"price_min": None, "price_max": None})
    stretched = STRETCH_PRICE in said and current.price_max and not ctx.extraction.price_max
    if stretched:  # "no importa si se pasa tantito": a little over the ceiling said before
        top = current.price_max * (1 + ctx.config.price_stretch)
        current = current.model_copy(update={"price_max": top, "price_strict": None})
    monthly = ctx.state.financing.monthly_budget
    if STRETCH_PRICE in said and monthly and not ctx.extraction.monthly_budget:
        # "aunque pague un poco más" with a monthly budget: a little more a month
        ctx.state.financing.monthly_budget = round(monthly * (1 + ctx.config.price_stretch))
    resets = ctx.config.reset_on_new_model
    if SIMILAR in said:  # "2019 o más nueva" then "del tamaño de una crv": the model measures,
        resets = [key for key in resets if key not in SIMILAR_KEEPS]  # the years still hold
    filters = merge_filters(current, ctx.extraction, resets, _body_of(ctx))
    if "context:any_year" in said:  # "¿por qué 2018? quita el año": the year quoted goes too
        filters = filters.model_copy(update={"year_min": None, "year_max": None})
    if "context:any_transmission" in said:  # "quita lo de automático"
        filters = filters.model_copy(update={"transmission": None})
    if "context:any_km" in said:  # "sin importar el kilometraje, aunque tengan 150 mil km"
        filters = filters.model_copy(update={"km_max": None})
    if "context:any_size" in said:  # "no importa el tamaño"
        filters = filters.model_copy(update={"size": None})
    if ctx.extraction.seats_min and not ctx.extraction.size and filters.size == "large":
        # "algo espaciosa" ... "de 7 lugares": the seats say how big, in the customer's terms
        filters = filters.model_copy(update={"size": None})
    filters = _beyond_shown(ctx, filters)
    filters = _beyond_reference(ctx, filters)
    named = ctx.extraction.make or ctx.extraction.model
    if "context:another_kind" in said and not named and filters.model:
        kinds = {
            key: getattr(ctx.extraction, key) for key in TRAITS if getattr(ctx.extraction, key)
        }
        probe = SearchFilters(make=filters.make, model=filters.model, **kinds)
        found = search(ctx.services.catalog, probe, 1)
        if found.relaxed or not found.total:  # "¿y automáticos baratos?" after the manual
            # Spark: that kind of car, any model (what else was inherited stays)
            update = {"make": None, "model": None, "version_has": None}
            filters = filters.model_copy(update=update)
    if PAGE_ONLY in said:  # "¿cuáles son los otros 2? y el serie 3 es sedán": the car named is
        filters = ctx.state.filters  # the datum's, the page is of the list shown
    filters = _raised_first(ctx, filters)
    other = "context:other" in said and not named
    same = filters == ctx.state.filters and bool(ctx.state.last_results)
    # "dijiste 6, ¿cuál es la otra?" with nothing chosen: the one not listed yet
    unlisted = "context:other_one" in said and ctx.state.selected is None
    more = ("context:more" in said or other or unlisted) and same
    paged = same and _more_pages(ctx, filters)
    wider = (other and (filters.model or filters.make)) or (more and filters.model)
    if wider and not paged:
        # "¿qué otras opciones hay?", "¿qué otros hay?" after the only Vento: other models
        if filters.model and filters.model_copy(update={"make": None, "model": None}).is_empty():
            ruled = [*(filters.exclude or []), filters.model]  # nothing else said: cars like it
            return _alternatives(ctx, filters.model_copy(update={"exclude": ruled}), "others_like")
        filters = filters.model_copy(update={"make": None, "model": None})
        more = False
    budget = _monthly_budget(ctx)
    saved = ctx.extraction.price_max if SAVINGS in said and budget is None else None
    prices = ctx.services.catalog.columns["price"]
    if saved and (not len(prices) or saved < prices.min()):
        from dialog.handlers.financing import savings_reach

        # "tengo 50 mil ahorrados, ¿qué carro saco?": no car costs that in cash; the cheapest
        # ones, and what it buys as the enganche
        return savings_reach(ctx.speaking_as("financing"), saved)
    foreign = FOREIGN_MONEY in said and budget is None and filters.price_max is None
    if foreign and ctx.template("foreign_money"):  # "tengo 10 mil dólares, ¿qué me alcanza?":
        if filters.is_empty():  # prices are in pesos, no exchange rate is ours to say
            return Reply(ctx.say("foreign_money"))
        ctx.notes.append(ctx.say("foreign_money"))
    if filters.is_empty() and budget is None and not ctx.from_form:
        ctx.state.filters = filters  # "olvida el mini y el precio": nothing of them is kept
        use_said = any(name.startswith("form:guided_search:use:") for name in said)
        if (_is_question(ctx) and not use_said) or "guided_search" not in ctx.config.forms:
            return _inventory(ctx)  # "¿qué tienen?"; "quiero uno que no gaste" starts the form
        from dialog.forms import start_form

        return start_form(ctx, "guided_search")
    ctx.state.filters = filters
    if "context:colour" in said and ctx.template("colour_note"):
        ctx.notes.append(ctx.say("colour_note"))  # "un jetta rojo": no colours on file
    details = ctx.speaking_as(DETAILS_ROUTE)
    if PRICE_SEEN in said and details.template("seen_elsewhere"):  # "yo la vi en 330 en otro
        ctx.notes.append(details.say("seen_elsewhere"))  # lado": what comes with Kavak's price
    catalog = ctx.services.catalog
    like = ctx.state.profile.get(SIMILAR_TO, "")
    focus = catalog.get(ctx.state.selected) if ctx.state.selected is not None else None
    if focus is None and len(ctx.state.last_results) == 1:  # the one car found is the one
        focus = catalog.get(ctx.state.last_results[0])  # "otro parecido" is like
    named_now = ctx.extraction.model or ctx.extraction.make
    kept = not (filters.model or filters.make) or filters.model == (focus.model if focus else None)
    if SIMILAR in ctx.extraction.said and focus and kept and not named_now:
        # "¿algo parecido pero más barato?": like the chosen one, other models
        ruled = [*(filters.exclude or []), focus.model]
        like_focus = {"make": focus.make, "model": focus.model, "exclude": ruled}
        its_year = filters.year_min == filters.year_max == focus.year
        if its_year and ctx.extraction.year_min is None and ctx.extraction.year_max is None:
            like_focus.update(year_min=None, year_max=None)  # the Mini 2018 searched, not a must
        return _alternatives(ctx, filters.model_copy(update=like_focus), "similar_to")
    if SIMILAR in ctx.extraction.said and not filters.model and like and not filters.make:
        make, _, model = like.partition("|")  # "¿qué similares hay?" after "tipo compass"
        filters = filters.model_copy(update={"make": make or None, "model": model or None})
    if SIMILAR in ctx.extraction.said and filters.model:  # "algo tipo Jetta"
        ctx.state.profile[SIMILAR_TO] = f"{filters.make or ''}|{filters.model}"
        return _alternatives(ctx, filters, "similar_to")
    either = bool(filters.alternatives) and any(  # "un tahoe o una durango": whichever is
        model_in_stock(catalog, model) if model else brand_in_stock(catalog, make)
        for make, model, _ in map(alternative_parts, filters.alternatives or ())
    )
    named_in_stock = filters.model and model_in_stock(catalog, filters.model)
    if filters.alternatives and (either or named_in_stock):  # "la odyssey o la sienna": the one
        _missing_alternatives(ctx, filters)  # not in stock is said, not left out silently
    if filters.make and not either and not brand_in_stock(catalog, filters.make):
        return _alternatives(ctx, filters, "brand_not_in_stock")
    if filters.model and not either and not model_in_stock(catalog, filters.model):
        filters = trim_as_version(catalog, filters)  # "BMW M2": a Serie 2 version
        if filters.model:
            return _alternatives(ctx, filters, "model_not_in_stock")
        ctx.state.filters = filters
    max_price, budget_note = _budget_cap(ctx, budget)
    offset = ctx.state.page + ctx.config.results_limit if more else 0
    limit = ctx.config.results_limit
    whole = more and phrase_said(ctx, "search_cars:all_results")  # "enséñame los 8": all at once
    last = more and phrase_said(ctx, "search_cars:last_page")
    if whole or last:  # "y los últimos 3"
        total = search(catalog, filters, 1, max_price).total
        limit = min(max(total, limit), ctx.config.results_all_limit) if whole else limit
        offset = 0 if whole else max(total - limit, 0)
    elif more and (counts := _numbers_said(ctx)):  # "enséñame las otras 6" of 11 after 5:
        rest = search(catalog, filters, 1, max_price).total - offset  # the 6, not a page of 5
        if limit < rest <= ctx.config.results_all_limit and rest in counts:
            limit = rest
    ordered = filters  # a monthly budget lists the cars that make the most of it first
    later_body = ctx.extraction.body_type and ctx.extraction.price_max is None
    if later_body:  # "no espera, yo quiero pick up": that body, dearer, before other bodies
        ordered = filters.model_copy(update={"body_first": True})
    if budget is not None and filters.superlative is None:
        ordered = ordered.model_copy(update={"superlative": ctx.config.budget_order})
    if filters.style == SPORTY and not filters.superlative:  # "algo deportivo (tengo 800 mil)":
        # the most car (the money buys) first
        ordered = ordered.model_copy(update={"superlative": ctx.config.budget_order})
    paged, current = ctx.state.paged, ctx.state.last_results
    continued = bool(current) and paged[-len(current) :] == current  # the same search's pages
    shown = (paged if continued else current) if more and offset and not last else []
    if shown:  # the next page is the cars not shown yet, whatever order the first page had
        outcome = search(catalog, ordered, offset + limit + len(shown), max_price)
        rest = [car for car in outcome.cars if car.stock_id not in shown]
        outcome = outcome.model_copy(update={"cars": rest[:limit]})
    else:
        outcome = search(catalog, ordered, limit, max_price, offset)
    outcome = _named_over_inherited(ctx, ordered, outcome, max_price)
    outcome = _said_over_inherited(ctx, ordered, outcome, max_price)
    if not outcome.cars and max_price is not None and not more:
        over = _over_budget_only(ctx, filters, budget_note)
        if over is not None:  # "enséñame los kia rio" and no Rio fits the 4 mil al mes
            return over
    if more and not outcome.cars:
        return Reply(ctx.say("no_more", {"total": outcome.total}))
    ctx.state.page = offset
    if outcome.cars and not outcome.relaxed and not more:
        _named_over_budget(ctx, filters, max_price)  # "jetta, vento o corolla, hasta 300 mil"
    reply = list_outcome(ctx, outcome, budget_note, first=offset + 1)
    also = _also_best_found(ctx, filters, max_price, reply.results or [])
    # "¿cuál es el más caro? ¿y el más barato?": the other end named after the list
    reply.text = before_closing(reply.text, also)
    ctx.state.paged = [*shown, *(reply.results or [])]
    if len(reply.results or ()) > 1 and ctx.state.selected not in (reply.results or ()):
        ctx.state.selected = None  # a new list: "¿cuánto mide?" is of one of these, not the old car
    if reply.results == [] and not more:
        ctx.state.filters = before  # "¿tienen híbridos?" with none: the next search forgets it
    missed = {step.kind for step in outcome.relaxed} & set(ctx.config.not_carried)
    # only a wish no car of any make has with the rest: "una jeep 4x4" with no 4x4 Jeep keeps 4x4
    # for the other makes; "¿eléctricas?" among 2020 SUVs goes
    missed = {kind for kind in missed if not _any_make_has(catalog, filters)}
    if missed and ctx.state.filters is filters:  # "¿eléctricas?": said once, not in every list
        ctx.state.filters = filters.model_copy(update=dict.fromkeys(missed))
    return reply


def _also_best_found(
    ctx: TurnContext, filters: SearchFilters, max_price: float | None, listed: list[int]
) -> str:
    """A list sorted one way and another superlative asked beside it: the car at that end of
    the same search, one line each (the one listed already is not named twice)."""
    if not filters.superlative or not listed or not ctx.template("also_best_found"):
        return ""
    lines = []
    for name in sorted(ctx.extraction.said):
        superlative = name.removeprefix("also_best:")
        if superlative == name or superlative == filters.superlative:
            continue
        ordered = filters.model_copy(update={"superlative": superlative})
        found = search(ctx.services.catalog, ordered, 1, max_price).cars
        if found and found[0].stock_id not in listed:
            which = ctx.words.get(f"best_{superlative}", superlative)
            values = car_values(found[0], words=ctx.words)
            lines.append(ctx.say("also_best_found", {**values, "which": which}))
    return "\n".join(lines)


def _model_has_body(ctx: TurnContext, filters: SearchFilters) -> bool:
    """Some car in stock of the model named has the body type asked."""
    model, body = (filters.model or "").casefold(), filters.body_type
    cars = ctx.services.catalog.cars
    return any(car.model.casefold() == model and car.body_type == body for car in cars)


def _over_budget_only(ctx: TurnContext, filters: SearchFilters, budget_note: str) -> Reply | None:
    """The cars asked for exist but none fits the monthly budget: said, cheapest first."""
    if not ctx.template("over_budget_only"):
        return None
    cheapest = filters.model_copy(update={"superlative": "cheapest"})
    outcome = search(ctx.services.catalog, cheapest, ctx.config.results_limit)
    if not outcome.cars or outcome.relaxed:
        return None
    cars = list(outcome.cars)
    ctx.state.last_results = [car.stock_id for car in cars]
    ctx.state.paged = list(ctx.state.last_results)
    ctx.state.page = 0
    values = {
        "criteria": describe(ctx, filters),
        "total": outcome.total,
        "shown": len(cars),
        "lines": _lines(ctx, cars, 1),
        "budget_note": budget_note,
        "first": 1,
        "last": len(cars),
    }
    return Reply(
        ctx.say("over_budget_only", values),
        results=ctx.state.last_results,
        choices=car_choices(cars, 1),
        choices_kind="cars",
    )


CATEGORY_WITH = (
    *("price_max", "price_min", "transmission", "year_min", "year_max", "fuel", "drive"),
    *("length_max", "seats_min", "size"),  # "suv de menos de 4.5 m": SUVs of any make
)


def _category_asked(extraction) -> bool:
    """A body type with another criterion, or an electric or hybrid drive ("¿tienen eléctricos o
    híbridos?"), no car named and not "of those": a new category, whatever was named before."""
    if extraction.make or extraction.model or "context:of_those" in extraction.said:
        return False  # "de esos, ¿cuáles son sedán y automáticos?"
    if extraction.fuel in RARE_FUELS:
        return True
    if not extraction.body_type:
        return False
    return any(getattr(extraction, key) is not None for key in CATEGORY_WITH)


RARE_FUELS = ("electric", "hybrid")


def _any_make_has(catalog, filters: SearchFilters) -> bool:
    """Some car of another make or model meets every criterion ("4x4" beyond the Jeeps)."""
    named = filters.make or filters.model or filters.alternatives
    anyone = filters.model_copy(update={"make": None, "model": None, "alternatives": None})
    return bool(named) and search(catalog, anyone, 1).total > 0


# criteria a later message may have inherited, and the relaxation that names each
INHERITED = {
    "price_min": "price",
    "price_max": "price",
    "year_min": "year",
    "year_max": "year",
    "km_max": "km",
    "bluetooth": "features",
    "car_play": "features",
    "transmission": "transmission",
    "fuel": "fuel",
    "drive": "drive",
    "style": "style",
    "size": "size",
    "length_max": "length",
    "length_min": "length",
    "engine_min": "engine",
    "engine_max": "engine",
}


def _named_over_inherited(
    ctx: TurnContext, filters: SearchFilters, outcome: SearchOutcome, max_price: float | None
) -> SearchOutcome:
    """ "¿y el serie 1 tiene carplay?" after a search under 500 mil: the Serie 1 named now, with
    the earlier criteria it misses said as loosened, before other makes that meet them."""
    model = ctx.extraction.model
    said = {key for key in INHERITED if getattr(ctx.extraction, key, None) is not None}
    # what was named or said now and got loosened ("¿y la cx5 del 2019?" under an older ceiling
    # loosened the 2019): the earlier criteria give way first
    now = {"model", "make"} | {INHERITED[key] for key in said}
    lost = {step.kind for step in outcome.relaxed} & now
    if not model or not lost:
        return outcome
    inherited = [key for key in INHERITED if key not in said and getattr(filters, key) is not None]
    if not inherited:
        return outcome
    looser = filters.model_copy(update=dict.fromkeys(inherited))
    found = search(ctx.services.catalog, looser, ctx.config.results_limit, max_price)
    if not found.cars or {step.kind for step in found.relaxed} & {"model", "make"}:
        return outcome
    shown = {car.stock_id for car in found.cars}
    # only what the cars shown do not meet: the automatic Corolla is no "other transmission"
    # when the price was what it lacked
    missed = [
        key for key in inherited if not _all_meet(ctx, looser, key, filters, shown, max_price)
    ]
    kinds = dict.fromkeys(INHERITED[key] for key in missed)
    relaxed = [Relaxation(kind=kind) for kind in kinds] + list(found.relaxed)
    return found.model_copy(update={"relaxed": relaxed})


def _said_over_inherited(
    ctx: TurnContext, filters: SearchFilters, outcome: SearchOutcome, max_price: float | None
) -> SearchOutcome:
    """ "¿hay algo abajo de 140 mil? aunque sea estándar" after the Sparks: what is said now
    holds and the model carried from before gives way (other makes and models, said so), not
    the one Spark that misses the price."""
    extraction = ctx.extraction
    said = {key for key in INHERITED if getattr(extraction, key, None) is not None}
    lost = {step.kind for step in outcome.relaxed} & {INHERITED[key] for key in said}
    named = extraction.make or extraction.model or extraction.alternatives
    # (a year said again keeps the models: "quise decir mínimo 2019" of the Versa or Sentra)
    if "price" not in lost or named or not (filters.make or filters.model):
        return outcome
    looser = filters.model_copy(update={"make": None, "model": None, "alternatives": None})
    found = search(ctx.services.catalog, looser, ctx.config.results_limit, max_price)
    if not found.cars or found.relaxed:
        return outcome
    kind = "model" if filters.model else "make"
    return found.model_copy(update={"relaxed": [Relaxation(kind=kind)]})


def _all_meet(ctx, looser, key, filters, shown: set[int], max_price) -> bool:
    """Every car shown meets the earlier criterion `key`."""
    catalog = ctx.services.catalog
    kept = search(catalog, looser.model_copy(update={key: getattr(filters, key)}),
                  len(catalog.cars), max_price)  # fmt: skip
    return not kept.relaxed and shown <= {car.stock_id for car in kept.cars}


def _beyond_reference(ctx: TurnContext, filters: SearchFilters) -> SearchFilters:
    """ "Algo más grande que la cx-5", "something bigger than the CX-5": other models of its kind,
    longer than the longest of that model in stock (and, said with it, "más grande y más barata",
    cheaper than its cheapest or newer than its newest)."""
    extraction = ctx.extraction
    if THAN_CAR not in extraction.said or not extraction.reference:
        return filters
    make, _, model = extraction.reference.partition("|")
    catalog = ctx.services.catalog
    found = search(catalog, SearchFilters(make=make, model=model or None), len(catalog.cars))
    refs = [] if found.relaxed else list(found.cars)
    ruled = [*(filters.exclude or []), model or make]
    update: dict[str, object] = {"make": None, "model": None, "version_has": None}
    update["exclude"] = list(dict.fromkeys(ruled))
    lengths = [car.largo for car in refs if car.largo]
    if THAN_BIGGER in extraction.said and lengths:
        update |= {"length_min": max(lengths) + 1, "size": None}
    bodies = {car.body_type for car in refs}
    if len(bodies) == 1 and not extraction.body_type:  # a bigger one of the same kind
        update["body_type"] = bodies.pop()
    if refs and "context:cheaper" in extraction.said and extraction.price_max is None:
        update |= {"price_max": min(car.price for car in refs) - PRICE_TOLERANCE - 1}
    if refs and "context:newer" in extraction.said and extraction.year_min is None:
        update |= {"year_min": max(car.year for car in refs) + 1, "year_max": None}
    return filters.model_copy(update=update)


def _beyond_shown(ctx: TurnContext, filters: SearchFilters) -> SearchFilters:
    """ "algo más barato" / "una más nueva" after a list: below the cheapest car shown (or the
    one in focus), newer than the newest; an amount or year said in the message wins."""
    said, extraction = ctx.extraction.said, ctx.extraction
    focus = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    shown = (
        [focus]
        if focus
        else [car for i in ctx.state.last_results if (car := ctx.services.catalog.get(i))]
    )
    fewer = extraction.superlative == "lowest_km" and SORTED in said and len(shown) == 1
    if fewer and extraction.km_max is None:  # "¿hay otra con menos km?" after one car: fewer km
        bounded = filters.model_copy(update={"km_max": shown[0].km - 1})  # than it has
        return _other_models_if_none(ctx, bounded, shown)
    if extraction.superlative is not None:
        return filters  # "el más barato" points at a listed car
    if not shown:  # "algo barato", "lo más nuevo que tengan" with nothing shown: sorted so
        if {"context:cheaper", "context:cheap"} & said and filters.superlative is None:
            return filters.model_copy(update={"superlative": "cheapest"})
        if "context:newer" in said and filters.superlative is None:
            return filters.model_copy(update={"superlative": "newest"})
        return filters
    if "context:cheap" in said and "context:cheaper" not in said and filters.superlative:
        return filters.model_copy(update={"superlative": "cheapest"})  # "algo barato" after the
        # dearest ones: the same search, cheapest first
    update: dict[str, object] = {}
    if "context:cheaper" in said and extraction.price_max is None:
        cheapest = min(car.price for car in shown) - PRICE_TOLERANCE - 1  # prices end in 999
        update |= {"price_max": cheapest // 1000 * 1000, "price_min": None}
        cheaper = filters.model_copy(update=update)
        found = search(ctx.services.catalog, cheaper, 1)
        if extraction.model and (found.relaxed or not found.cars):  # "¿hay otros forte más
            any_year = {"year_min": None, "year_max": None}  # baratos?": that model, any year
            found = search(ctx.services.catalog, cheaper.model_copy(update=any_year), 1)
            update |= any_year if found.cars and not found.relaxed else {}
        if filters.model and (found.relaxed or not found.cars):
            update |= _other_models(ctx, filters, shown)  # no cheaper Sentra: cheaper sedans
    if "context:newer" in said and extraction.year_min is None:
        update |= {"year_min": max(car.year for car in shown) + 1, "year_max": None}
    if "context:fewer_km" in said and extraction.km_max is None:  # "¿otras con menos km?"
        update |= {"km_max": min(car.km for car in shown) - 1}
        if filters.superlative is None:
            update["superlative"] = "lowest_km"
    return filters.model_copy(update=update) if update else filters


def _other_models(ctx: TurnContext, filters: SearchFilters, shown: list[Car]) -> dict[str, object]:
    """The same kind of car as the ones shown, any model ("algo de vw más barato": any
    Volkswagen)."""
    extraction = ctx.extraction
    bodies = {car.body_type for car in shown}
    body = bodies.pop() if len(bodies) == 1 else None
    make = filters.make if extraction.make and not extraction.model else None
    body = None if make else (extraction.body_type or body)
    return {"make": make, "model": None, "version_has": None, "body_type": body}


def _other_models_if_none(
    ctx: TurnContext, filters: SearchFilters, shown: list[Car]
) -> SearchFilters:
    """`filters`, or other models of the same kind when that model has no such car."""
    found = search(ctx.services.catalog, filters, 1)
    if filters.model and (found.relaxed or not found.cars):
        return filters.model_copy(update=_other_models(ctx, filters, shown))
    return filters


def _drop_focus_if_ruled_out(ctx: TurnContext) -> None:
    """ "no la frontier, la hilux": the chosen car is no longer the one (nor the lead's car);
    "mejor algo más nuevecito, 2020 o 2021" with the March 2018 chosen: nor is it (a budget
    said next is about the new search, not the March)."""
    ruled = (ctx.extraction.exclude_car or "").casefold()
    car = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    if car is None:
        return
    low, high = ctx.extraction.year_min, ctx.extraction.year_max
    older = (low and car.year < low) or (high and car.year > high)
    if older or (ruled and ruled in (car.model.casefold(), car.make.casefold())):
        ctx.state.selected = None


def _numbers_said(ctx: TurnContext) -> set[int]:
    """The numbers of the message ("las otras 6", "las otras seis")."""
    tokens = message_words(ctx.text)
    reader = ctx.services.extractor.numbers
    found = reader.read(tokens, [False] * len(tokens))
    return {int(quantity.value) for quantity in found if quantity.value.is_integer()}


def _more_pages(ctx: TurnContext, filters: SearchFilters) -> bool:
    outcome = search(ctx.services.catalog, filters, 1, offset=len(ctx.state.last_results))
    return bool(outcome.cars) and not outcome.relaxed


def _is_question(ctx: TurnContext) -> bool:
    return "?" in ctx.text or "llm:question" in ctx.extraction.said


def _inventory(ctx: TurnContext) -> Reply:
    """ "¿Qué autos tienen?": how many, the price range and the makes, then a question."""
    cars = ctx.services.catalog.cars
    makes = sorted({car.make for car in cars})
    shown = ", ".join(makes[:8]) + ("…" if len(makes) > 8 else "")
    prices = [car.price for car in cars]
    values = {
        "total": len(cars),
        "min_price": money(min(prices)) if prices else "",
        "max_price": money(max(prices)) if prices else "",
        "makes": shown,
        "oldest": min((car.year for car in cars), default=""),  # "¿de qué años son?"
        "newest": max((car.year for car in cars), default=""),
    }
    return Reply(ctx.say("inventory", values))


def _body_of(ctx: TurnContext):
    """The body types of a model (data/vehicles.yml, and those of its cars in stock: a Mazda 3
    is also a hatchback), to notice "mejor una troca" after an Aveo; empty when unknown."""
    vehicles, catalog = ctx.services.extractor.vocabulary.vehicles, ctx.services.catalog

    def bodies(make: str | None, model: str | None) -> frozenset[str]:
        if not model:
            return frozenset()
        info = vehicles.info(make or "", model)
        columns = catalog.columns  # the catalog's column arrays: no loop over its cars
        stocked = set(columns["body_type"][columns["model"] == model.casefold()])
        return frozenset(body for body in {info.body if info else None, *stocked} if body)

    return bodies


def merge_filters(
    current: SearchFilters, extraction: Extraction, resets: list[str], body_of=None
) -> SearchFilters:
    """This turn's criteria over the conversation's; a new make/model resets model-specific ones,
    and a body type the current model is not drops that model ("un aveo" -> "mejor una troca")."""
    merged = current.model_dump()
    if (
        extraction.body_type
        and current.model
        and not extraction.model
        and body_of is not None
        and (bodies := body_of(current.make, current.model))
        and extraction.body_type not in bodies
    ):
        merged["make"] = merged["model"] = None
    ruled_body = {  # "algo 4x4 aunque no sea pickup" after the Frontier: no Frontier either
        name.rpartition(":")[2] for name in extraction.said if name.startswith("negated:body_type:")
    }
    if (
        ruled_body
        and current.model
        and not extraction.model
        and body_of is not None
        and (bodies := body_of(current.make, current.model))
        and set(bodies) <= ruled_body
    ):
        merged["make"] = merged["model"] = None
    new_make = (
        extraction.make and (extraction.make or "").casefold() != (current.make or "").casefold()
    )
    new_model = extraction.model and extraction.model != current.model
    if extraction.make or extraction.model:  # the cars named now, with their alternatives
        merged["alternatives"] = list(extraction.alternatives) or None
    if new_make or new_model:
        merged["version_has"] = None
        # what came with another car goes; said with no car, and the makes asked as a follow-up
        # ("suv 2020 o 2021" … "¿y de kia, mazda?"), it is the customer's own wish and stays
        kept = not (current.make or current.model or extraction.model)
        kept = kept and bool({"context:follow_up", "context:other_makes"} & extraction.said)
        for key in ("model",) if kept else resets:
            merged[key] = None
        if new_make and not extraction.model:
            merged["model"] = None
    if extraction.make and not extraction.model and extraction.alternatives:
        merged["model"] = None  # "bmw o mercedes" after the X1: the makes, any model
    named = extraction.make or extraction.model
    if named and extraction.bluetooth is None and extraction.car_play is None:
        merged["bluetooth"] = merged["car_play"] = None  # "precio del audi a1": that car, any
    for key in FILTER_KEYS:
        value = getattr(extraction, key, None)
        if value is not None and key not in ("exclude", "alternatives"):
            merged[key] = value
    if extraction.price_max is not None:  # "de menos de 300" after "around 400k": no target
        merged["price_target"] = extraction.price_target
    if (  # "¿no tienen mini cooper?" after coupés: the model named, whatever body came before
        extraction.model
        and not extraction.body_type
        and merged.get("body_type")
        and body_of is not None
        and (bodies := body_of(extraction.make or current.make, extraction.model))
        and merged["body_type"] not in bodies
    ):
        merged["body_type"] = None
    excluded = extraction.exclude_car
    also = [name.partition(":")[2] for name in extraction.said if name.startswith("exclude_car:")]
    if excluded:  # "olvida el vento": no Vento, and no longer a Vento search
        merged["exclude"] = sorted({*(merged.get("exclude") or []), excluded, *also})
        if (merged.get("model") or "").casefold() == excluded.casefold():
            merged["model"] = None
            # "NO el jetta no, cualquier sedán automático": what came with the Jetta goes too
            for key in resets:
                if getattr(extraction, key, None) is None:
                    merged[key] = None
            if not extraction.make:
                merged["make"] = None
        if (merged.get("make") or "").casefold() == excluded.casefold():
            merged["make"] = None
        if (merged.get("version_has") or "").casefold() == excluded.casefold():
            merged["version_has"] = None  # "cualquier mercedes, no el amg"
    if extraction.model and merged.get("exclude"):  # naming it again brings it back
        merged["exclude"] = [
            m for m in merged["exclude"] if m.casefold() != extraction.model.casefold()
        ] or None
    for name in extraction.said:  # "olvida el carplay": any car again
        dropped = name.removeprefix("dropped:")
        if dropped != name and dropped in merged and getattr(extraction, dropped, None) is None:
            merged[dropped] = None  # ("olvida las vans!! sedanes": the sedans said stay)
        if name.startswith("negated:"):  # "aunque no sea pickup" after pickups: not that one
            slot, _, value = name[8:].partition(":")
            if merged.get(slot) == value:
                merged[slot] = None
    for slot in ("body_type", "fuel"):  # "sedán o hatchback": both; a kind said alone: only it
        if getattr(extraction, slot) is not None:
            kept = [e for e in merged.get("either") or [] if not e.startswith(f"{slot}:")]
            wished = [n[len(EITHER) :] for n in extraction.said if n.startswith(f"{EITHER}{slot}:")]
            merged["either"] = [*kept, *wished] or None
    if "context:also" in extraction.said:  # "enséñame también los automáticos": either kind
        broaden = "context:broaden" in extraction.said  # "¿y camionetas de 3 filas también? no
        for slot in ("transmission", "fuel", "body_type", "size"):  # solo minivan": any body
            wished, held = getattr(extraction, slot), getattr(current, slot)
            if wished is not None and held is not None and wished != held:
                merged[slot] = None
            if broaden and slot == "body_type":  # the body "no solo" names is widened
                merged[slot] = None
    if "context:broaden:car" in extraction.said:  # "no nomás vento": any model
        merged["make"] = merged["model"] = None
        if extraction.make or extraction.model:  # "no nomás bmw: lincoln, audi, volvo…": those
            merged["make"], merged["model"] = extraction.make, extraction.model
            merged["alternatives"] = list(extraction.alternatives) or None
    if YEAR_FLOOR in extraction.said and extraction.year_max is None:
        merged["year_max"] = None  # "2019 pa arriba" after "2019 o 2020": any newer year too
    if extraction.year_min is not None and extraction.year_max is None and merged["year_max"]:
        merged["year_max"] = (
            None if merged["year_max"] < extraction.year_min else merged["year_max"]
        )
    raised = current.price_max is not None and (extraction.price_max or 0) > current.price_max
    if extraction.price_max is not None:  # "menos de 180 mil" excludes $180,999; "de 211 mil" not
        merged["price_strict"] = True if "price:bound" in extraction.said else None
    cheaper_ok = "context:cheaper_ok" in extraction.said  # "it's fine if it's cheaper, under 500k"
    ceiling_only = extraction.price_max is not None and not raised
    if extraction.price_min is None and (ceiling_only or cheaper_ok):
        merged["price_min"] = None  # "máximo 300 mil" after "alrededor de 400": a ceiling only
    # "de 300 a 400 mil", then "sube el presupuesto a medio millón": still from 300
    if raised and current.price_target is not None and extraction.price_min is None:
        merged["price_min"] = None  # "como de 200 mil" ... "¿y si subo a 250?": the band's floor
        # was never said, the new ceiling is
    floor, ceiling = extraction.price_min, merged.get("price_max")
    if floor is not None and extraction.price_max is None and ceiling and ceiling <= floor:
        merged["price_max"] = merged["price_target"] = None  # "¿y arriba de 400?" after "hasta
        # 400": the old ceiling goes, not "entre 400 mil y 400 mil"
    return SearchFilters(**merged)


SEARCH_ROUTE = "search_cars"
DETAILS_ROUTE = "car_details"  # its `seen_elsewhere` says what a Kavak price includes


def _nearest_years(ctx: TurnContext, filters: SearchFilters) -> Reply:
    """A year outside the stock and nothing else asked: the years there are, the nearest first."""
    years = [car.year for car in ctx.services.catalog.cars]
    newer = (filters.year_min or 0) > max(years)
    order = "newest" if newer else "oldest"
    nearest = SearchFilters(superlative=order)
    outcome = search(ctx.services.catalog, nearest, limit=ctx.config.results_limit)
    listing = list_outcome(ctx, outcome, filters=nearest)
    values = {
        "criteria": describe(ctx, filters),
        "year": max(years) if newer else min(years),
        "oldest": min(years),
        "newest": max(years),
    }
    listing.text = f"{ctx.say('no_results_year', values)}\n\n{listing.text}"
    return listing


def list_outcome(
    ctx: TurnContext,
    outcome: SearchOutcome,
    budget_note: str = "",
    filters: SearchFilters | None = None,
    first: int = 1,
) -> Reply:
    """Render a search outcome as a numbered list (with the search route's templates, whoever
    asks) and remember the order shown; `filters` describe it (default: the conversation's).
    With nothing found, the last list stays on screen ("el 1" still picks from it)."""
    if ctx.intent != SEARCH_ROUTE:
        return list_outcome(ctx.speaking_as(SEARCH_ROUTE), outcome, budget_note, filters, first)
    filters = filters or ctx.state.filters
    cars = list(outcome.cars)
    loosened = outcome.filters_used.model_copy(update={"superlative": None})
    rare = {step.kind for step in outcome.relaxed} & set(ctx.config.not_carried)
    only_price = loosened.model_copy(update={"price_max": None, "price_min": None}).is_empty()
    years_only = outcome.relaxed and {step.kind for step in outcome.relaxed} == {"year"}
    if years_only and loosened.is_empty() and ctx.template("no_results_year"):
        return _nearest_years(ctx, filters)  # "¿tienen algo del 2024?": the newest there is
    if outcome.relaxed and (loosened.is_empty() or (rare and only_price)):
        cars = []  # "¿un eléctrico?", "¿híbridos de 400 mil?": no list of random cars
    if not cars:
        return Reply(ctx.say("no_results", {"criteria": describe(ctx, filters)}), results=[])
    only = _only_the_focus(ctx, outcome, cars, filters)
    if only is not None:
        return only
    earlier = ctx.state.last_results[: first - 1] if first > 1 else []
    ctx.state.last_results = earlier + [car.stock_id for car in cars]  # "el 6" on page two
    if len(cars) == 1 and outcome.total == 1:
        ctx.state.selected = cars[0].stock_id
    values = {
        "criteria": describe(ctx, filters),
        "total": outcome.total,
        "shown": len(cars),
        "lines": _lines(ctx, cars, first),
        "budget_note": budget_note,
        "first": first,
        "last": first + len(cars) - 1,
    }
    unknown = [step.kind for step in outcome.relaxed] == ["transmission"] and all(
        car.transmission is None for car in cars
    )
    if unknown and ctx.template("relaxed_unknown_transmission"):
        # "¿el gol 2017 es estándar?" and its listing does not say: not "de otra transmisión"
        values["criteria"] = describe(ctx, filters.model_copy(update={"transmission": None}))
        template = "relaxed_unknown_transmission"
    elif outcome.relaxed:
        values["relaxed_what"] = _relaxed_what(ctx, outcome)
        template = "relaxed"
    else:
        template = "single_result" if outcome.total == 1 else "results"
        template = "results_more" if first > 1 else template
    if template == "single_result" and filters.price_target:  # one car: no order to tell
        values["criteria"] = describe(ctx, filters.model_copy(update={"price_target": None}))
    unnamed = not (_name(filters) and not _origin_word(ctx, filters)) and not filters.body_type
    if template in ("results", "relaxed") and unnamed:  # "46 autos…", "no tengo autos de…"
        noun = ctx.say("criteria_cars") or "autos"
        values["criteria"] = f"{noun} {values['criteria']}".strip()
    return Reply(
        ctx.say(template, values),
        results=[car.stock_id for car in cars],
        choices=car_choices(cars, first),
        choices_kind="cars",
    )


def describe(ctx: TurnContext, filters: SearchFilters) -> str:
    """'Mazda CX-5 2021 de menos de 350 mil con CarPlay' from the filters and the YAML fragments."""
    words = ctx.words
    parts = [_origin_word(ctx, filters) or _name(filters, words.get("or", "o"))]
    if filters.body_type and not filters.model:
        bodies = [filters.body_type, *_either(filters, "body_type")]  # "sedanes o hatchbacks"
        said = f" {words.get('or', 'o')} ".join(words.get(body, body) for body in bodies)
        parts.insert(0, ctx.say("criteria_body_type", {"body_type": said}))
    elif filters.body_type and not _model_has_body(ctx, filters):  # "¿y el kia rio hatchback?"
        one = f"one_{filters.body_type}"  # with no Rio hatchback in stock
        parts.append(words.get(one, filters.body_type))
    if filters.size:  # "sedanes grandes", "autos compactos": right after what they are
        size = ctx.say("criteria_size", {"size": words.get(filters.size, filters.size)})
        parts.insert(len(parts) if parts[0] else 1, size)
    if filters.seats_min:
        parts.append(ctx.say("criteria_seats", {"seats": filters.seats_min}))
    if years_per_car(filters):
        pass  # said with each car's name
    elif filters.year_min and filters.year_min == filters.year_max:
        parts.append(ctx.say("criteria_year_exact", {"year": filters.year_min}))
    elif filters.year_min and filters.year_max:
        parts.append(ctx.say("criteria_year_range", filters.model_dump()))
    elif filters.year_min or filters.year_max:
        key = "criteria_year_min" if filters.year_min else "criteria_year_max"
        parts.append(ctx.say(key, filters.model_dump()))
    thousand = words.get("thousand", "mil")
    prices = {
        "price_min": _amount(filters.price_min, thousand),
        "price_max": _amount(filters.price_max, thousand),
    }
    if filters.price_min and filters.price_max:
        parts.append(ctx.say("criteria_price_range", prices))
    elif filters.price_min or filters.price_max:
        key = "criteria_price_min" if filters.price_min else "criteria_price_max"
        parts.append(ctx.say(key, prices))
    if filters.km_max:
        parts.append(
            ctx.say("criteria_km_max", {"km_max": _amount(filters.km_max, thousand) + " km"})
        )
    if filters.length_max and ctx.template("criteria_length_max"):
        parts.append(
            ctx.say("criteria_length_max", {"length": f"{filters.length_max / 1000:.2f} m"})
        )
    if filters.length_min and ctx.template("criteria_length_min"):
        parts.append(
            ctx.say("criteria_length_min", {"length": f"{filters.length_min / 1000:.2f} m"})
        )
    parts.extend(_engine_criteria(ctx, filters))

    for trait in ("transmission", "fuel"):
        value = getattr(filters, trait)
        if value:
            values = [value, *_either(filters, trait)]  # "eléctrico o híbrido"
            said = f" {words.get('or', 'o')} ".join(words.get(v, v) for v in values)
            parts.append(ctx.say(f"criteria_{trait}", {trait: said}))
    if filters.drive == "awd":
        parts.append(ctx.say("criteria_drive"))
    if filters.style == SPORTY and ctx.template("criteria_style"):
        parts.append(ctx.say("criteria_style"))
    for feature in ("bluetooth", "car_play"):
        if getattr(filters, feature):
            parts.append(ctx.say(f"criteria_{feature}"))
    if filters.superlative:
        parts.append(
            ctx.say("criteria_superlative", {"superlative": words.get(filters.superlative, "")})
        )
    elif filters.price_target and ctx.template("criteria_near_price"):  # "around 400k"
        near = _amount(filters.price_target, words.get("thousand", "mil"))
        parts.append(ctx.say("criteria_near_price", {"price": near}))
    return " ".join(part for part in parts if part).strip()


def _either(filters: SearchFilters, slot: str) -> list[str]:
    """The other values of `slot` wished as well ("sedán o hatchback": ['hatchback'])."""
    return [e.partition(":")[2] for e in filters.either or () if e.startswith(f"{slot}:")]


def _origin_word(ctx: TurnContext, filters: SearchFilters) -> str:
    """ "de marcas de lujo" for the makes of one origin searched together (every one of them in
    stock, no model), when dialog.yml `words` names that origin; else ''."""
    if filters.model or not filters.make or not filters.alternatives:
        return ""
    parts = [alternative_parts(other) for other in filters.alternatives]
    if any(model or year for _, model, year in parts):
        return ""
    makes = {filters.make.casefold(), *(make.casefold() for make, _, _ in parts)}
    origins = ctx.services.extractor.vocabulary.origins
    for name, members in origins.items():
        if makes == {make.casefold() for make in members}:
            return ctx.words.get(f"origin_{name}", "")
    return ""


def _name(filters: SearchFilters, joiner: str = "o") -> str:
    first = _one_name(filters)
    own_years = years_per_car(filters)  # "Fiat Uno o Chevrolet Spark 2021": each its own
    if own_years and first and filters.year_min and filters.year_min == filters.year_max:
        first = f"{first} {filters.year_min}"
    others = [
        " ".join(
            str(part)
            for part in (_one_name(SearchFilters(make=make, model=model or None)), year)
            if part
        )
        for make, model, year in map(alternative_parts, filters.alternatives or ())
    ]
    return f" {joiner} ".join([first, *others]) if others and first else first


def _one_name(filters: SearchFilters) -> str:
    if filters.version_has and not filters.model:  # "BMW M2"
        return " ".join(part for part in (filters.make, filters.version_has.upper()) if part)
    if filters.model:
        model = filters.model
        if filters.make and not model.casefold().startswith(filters.make.casefold()):
            return f"{filters.make} {model}"
        return model
    return filters.make or ""


def _amount(value: float | None, suffix: str = "mil") -> str:
    return thousands(value, suffix) if value else ""


def _lines(ctx: TurnContext, cars: list[Car], first: int = 1) -> str:
    words = ctx.words
    return "\n".join(
        ctx.say("result_line", car_values(car, n, words=words)) for n, car in enumerate(cars, first)
    )


def _only_the_focus(
    ctx: TurnContext, outcome: SearchOutcome, cars: list[Car], filters: SearchFilters
) -> Reply | None:
    """ "¿no hay otra pickup más barata?" when the car in focus is the only one of its kind: say
    so, not "no tengo pickups de menos de 636 mil; lo más cercano: la misma Frontier"."""
    priced = any(step.kind == "price" for step in outcome.relaxed)
    focus = ctx.state.selected
    if not priced or [car.stock_id for car in cars] != [focus] or not ctx.template("only_this_one"):
        return None
    kind = describe(ctx, filters.model_copy(update={"price_max": None, "price_min": None}))
    values = {**car_values(cars[0], words=ctx.words), "kind": kind or ctx.say("criteria_cars")}
    return Reply(ctx.say("only_this_one", values), results=[cars[0].stock_id])


def _relaxed_what(ctx: TurnContext, outcome: SearchOutcome) -> str:
    used = outcome.filters_used
    texts = [
        ctx.say(
            "relaxed_price_any"
            if step.kind == "price" and used.price_max is None
            else f"relaxed_{step.kind}",
            {
                "make": used.make or "",
                "price_max": _amount(used.price_max, ctx.words.get("thousand", "mil")),
            },
        )
        for step in outcome.relaxed
    ]
    joiner = ctx.template("relax_join") or ", "  # raw: say() strips its space
    return joiner.join(text for text in texts if text)


def _missing_alternatives(ctx: TurnContext, filters: SearchFilters) -> None:
    """ "entre la odyssey y la sienna": a note naming the models asked that are not in stock."""
    catalog = ctx.services.catalog
    named = [(filters.make or "", filters.model or "")]
    named += [alternative_parts(name)[:2] for name in filters.alternatives or ()]
    missing = [
        car_name(make, model)
        for make, model in named
        if model and not model_in_stock(catalog, model)
    ]
    if missing and ctx.template("missing_alternative"):
        joiner = f" {(ctx.template('or_join') or 'o').strip()} "  # "or" in English
        ctx.notes.append(ctx.say("missing_alternative", {"models": joiner.join(missing)}))


def _named_over_budget(ctx: TurnContext, filters: SearchFilters, max_price: float | None) -> None:
    """ "estaba viendo jetta, vento o corolla, tengo hasta 300 mil": a model named that the list
    leaves out because its cheapest one costs more is said so, with that price."""
    caps = [cap for cap in (max_price, filters.price_max) if cap]
    named = [filters.model] + [alternative_parts(name)[1] for name in filters.alternatives or ()]
    named = [model for model in named if model]
    if not caps or len(named) < 2 or not ctx.template("named_over_budget"):
        return
    catalog = ctx.services.catalog
    everyone = search(catalog, filters, len(catalog), max_price)
    listed = {car.model.casefold() for car in everyone.cars}
    for model in named:
        if model.casefold() in listed:
            continue
        same = [car for car in catalog.cars if car.model.casefold() == model.casefold()]
        cheapest = min(same, key=lambda car: car.price, default=None)
        if cheapest is None or cheapest.price <= min(caps):
            continue
        budget = _amount(min(caps), ctx.words.get("thousand", "mil"))
        values = {**car_values(cheapest, words=ctx.words), "budget": budget}
        ctx.notes.append(ctx.say("named_over_budget", values))


def _availability_of_focus(ctx: TurnContext) -> Car | None:
    """The car in focus when the message asks whether it is still for sale and names no other."""
    from dialog.handlers.selection import AVAILABLE

    if not phrase_said(ctx, AVAILABLE) or ctx.state.selected is None:
        return None
    car = ctx.services.catalog.get(ctx.state.selected)
    extraction = ctx.extraction
    if car is None or extraction.price_max or extraction.price_min or extraction.body_type:
        return None
    named = (extraction.make, car.make), (extraction.model, car.model)
    if any(said_name and said_name.casefold() != name.casefold() for said_name, name in named):
        return None
    years = {extraction.year_min, extraction.year_max} - {None}
    return car if years <= {car.year} else None


def _raised_first(ctx: TurnContext, filters: SearchFilters) -> SearchFilters:
    """ "¿y si me estiro a 190?" over a ceiling of 170 with the rest unchanged: what the extra
    money reaches comes first (the dearest first), not the cars already shown."""
    old, new = ctx.state.filters.price_max, filters.price_max
    if not old or not new or new <= old or filters.superlative or ctx.extraction.superlative:
        return filters
    rest = {"price_max", "price_min", "price_strict", "superlative"}
    if filters.model_dump(exclude=rest) != ctx.state.filters.model_dump(exclude=rest):
        return filters  # another search, not the same one with more money
    return filters.model_copy(update={"superlative": "most_expensive"})


def _seen_before(ctx: TurnContext) -> Car | None:
    """ "el rio 2019 que me salió antes": the one car of that model and year the conversation
    showed, whatever the criteria said since (a monthly budget now hides it)."""
    from dialog.handlers.selection import cars_named

    extraction, state = ctx.extraction, ctx.state
    year = extraction.year_min
    if year is None or year != extraction.year_max or "context:search" in extraction.said:
        return None  # "busco otro rio 2019": another one
    seen = list(dict.fromkeys([*state.last_results, *state.chosen, *state.seen]))
    named = cars_named(ctx.services.catalog, extraction, seen)
    return named[0] if len(named) == 1 else None


def _alternatives(ctx: TurnContext, filters: SearchFilters, template: str) -> Reply:
    """ "No tenemos Tacoma; te muestro pickups parecidas": same body type, the customer's prices."""
    vehicles = ctx.services.extractor.vocabulary.vehicles
    info = vehicles.info(filters.make or "", filters.model or "") if filters.model else None
    # the body asked in this message ("tipo hatchback, como el mazda 3 hatch"), else the model's
    body = ctx.extraction.body_type or (info.body if info else None) or filters.body_type
    peers = frozenset(make.casefold() for make in vehicles.premium)
    size = info.size if info else None  # "tipo Camry": large, though none is in stock
    by_size = SAME_SIZE in ctx.extraction.said  # "del tamaño de una crv": its length in stock
    alternative = similar_to(
        ctx.services.catalog, filters, body, filters.model, peers, size, by_size
    )
    if ctx.extraction.fuel:  # "¿tienen tesla? o algún eléctrico o híbrido": that fuel is wished,
        update: dict[str, object] = {"fuel": ctx.extraction.fuel}  # of any body unless one is said
        if not ctx.extraction.body_type:  # ("un híbrido como un prius": no hatchbacks only)
            update["body_type"] = None
        alternative = alternative.model_copy(update=update)
    # the customer's own criteria stay; the price band was ours, not theirs
    ctx.state.filters = filters.model_copy(update={"make": None, "model": None})
    outcome = search(ctx.services.catalog, alternative, limit=ctx.config.results_limit)
    ours = filters.price_min is None and filters.price_max is None
    if ours and (not outcome.cars or outcome.relaxed):  # our price band found nothing: any price
        alternative = alternative.model_copy(update={"price_min": None, "price_max": None})
        outcome = search(ctx.services.catalog, alternative, limit=ctx.config.results_limit)
    lacking: list[Car] = []
    if template == "similar_to":  # "tipo CR-V o RAV4": the CR-Vs and RAV4s that fit come first
        outcome, lacking = _named_first(ctx, filters, outcome)
    listing = list_outcome(ctx, outcome, filters=alternative)
    ctx.state.page, ctx.state.paged = 0, list(listing.results or [])  # a first page
    if lacking and ctx.template("named_lacking"):  # "tipo mini cooper y que tenga carplay"
        listing.text = f"{_lacking_note(ctx, filters, lacking)}\n\n{listing.text}"
    name = _name(filters, ctx.words.get("or", "o"))  # "Hilux or Tacoma" in English
    if template not in ("similar_to", "others_like"):  # "un model 3 2021": the car they want
        year = filters.year_min if filters.year_min == filters.year_max else None
        ctx.state.profile[WISHED_CAR] = " ".join(str(part) for part in (name, year) if part)
        ctx.state.selected = None  # the one similar car listed is not the one they chose
    if template == "similar_to" and not _any_named_in_stock(ctx, filters):
        template = "model_not_in_stock"  # "tipo urvan, hiace o partner": none here, said so
    alone = f"{template}_alone"  # nothing like it listed either: no "te muestro…" before it
    if not listing.results and ctx.template(alone):
        template = alone
    intro = ctx.say(template, {"make": filters.make or "", "model": name})
    listing.text = f"{intro}\n\n{listing.text}"
    return listing


def _any_named_in_stock(ctx: TurnContext, filters: SearchFilters) -> bool:
    catalog = ctx.services.catalog
    models = [filters.model] + [alternative_parts(other)[1] for other in filters.alternatives or ()]
    return any(model_in_stock(catalog, model) for model in models if model)


EQUIPMENT = ("car_play", "bluetooth")  # what a listing may leave blank: "not said", not "no"


def _named_first(
    ctx: TurnContext, filters: SearchFilters, similar: SearchOutcome
) -> tuple[SearchOutcome, list[Car]]:
    """The cars of the models named that meet the other criteria, then the similar ones; and
    the cars named that only miss equipment their listing does not mention (told apart)."""
    limit = ctx.config.results_limit
    named = search(ctx.services.catalog, filters, limit=limit)
    if not named.cars or named.relaxed:
        wished = {key: None for key in EQUIPMENT if getattr(filters, key)}
        if not wished:
            return similar, []
        bare = search(ctx.services.catalog, filters.model_copy(update=wished), limit=limit)
        if not bare.cars or bare.relaxed:
            return similar, []
        return similar, list(bare.cars)
    ids = {car.stock_id for car in named.cars}
    cars = [*named.cars, *(car for car in similar.cars if car.stock_id not in ids)][:limit]
    total = named.total + sum(car.stock_id not in ids for car in similar.cars)
    return similar.model_copy(update={"cars": cars, "total": max(total, similar.total)}), []


def _lacking_note(ctx: TurnContext, filters: SearchFilters, cars: list[Car]) -> str:
    """ "El Mini Cooper 2018 sí lo tenemos ($366,999), pero su ficha no menciona CarPlay"."""
    features = [ctx.words.get(key, key) for key in EQUIPMENT if getattr(filters, key)]
    titles = [f"*{car.title}* ({money(car.price)})" for car in cars]
    values = {"cars": joined(ctx, titles), "features": joined(ctx, features, "or_join")}
    return ctx.say("named_lacking", values)


def _monthly_budget(ctx: TurnContext) -> float | None:
    """The monthly budget the list keeps to: the one said now or before; a price limit lifted
    ("sin límite de precio", "puedo pagar más") or a price ceiling said instead ("mazda 3 hasta
    400 mil") lifts the one said before too, as does the amount taken back ("olvida lo de los 5
    mil")."""
    extraction = ctx.extraction
    lifted = bool({"context:any_price", MONEY_TAKEN_BACK} & extraction.said) or (
        extraction.price_max is not None and SAVINGS not in extraction.said
    )
    if lifted and extraction.monthly_budget is None:
        ctx.state.financing.monthly_budget = None
    if ctx.extraction.monthly_budget is not None:
        ctx.state.financing.monthly_budget = ctx.extraction.monthly_budget
    if ctx.extraction.down_payment is not None:
        ctx.state.financing.down_payment = ctx.extraction.down_payment
    if ctx.extraction.term_months is not None:  # "que no pase de 4500 al mes a 4 años"
        ctx.state.financing.term_months = ctx.extraction.term_months
    return ctx.state.financing.monthly_budget


def _budget_cap(ctx: TurnContext, budget: float | None) -> tuple[float | None, str]:
    """The highest price a monthly budget (and down payment) allows, and a note saying so."""
    if budget is None:
        return None, ""
    down_payment = ctx.state.financing.down_payment
    afford = affordability(ctx, budget)
    assert afford is not None
    own_down = down_payment and ctx.template("budget_note_down")
    note = ctx.say(
        "budget_note_down" if own_down else "budget_note",
        {
            "monthly_budget": money(budget),
            "down_payment": money(down_payment) if down_payment else "",
            "price_max": money(afford.price),
            "term_months": afford.term_months,
        },
    )
    return afford.price, note


def _engine_criteria(ctx: TurnContext, filters: SearchFilters) -> list[str]:
    """ "con motor de 3.5 L o más", "con motor de 2.0 L": the engine size asked, in litres."""
    low, high = filters.engine_min, filters.engine_max
    values = {
        "engine": f"{low or high or 0:.1f} L",
        "engine_min": f"{low or 0:.1f} L",
        "engine_max": f"{high or 0:.1f} L",
    }
    if low is not None and high is not None:
        key = "criteria_engine_exact" if low == high else "criteria_engine_range"
    elif low is not None or high is not None:
        key = "criteria_engine_min" if low is not None else "criteria_engine_max"
    else:
        return []
    return [ctx.say(key, values)] if ctx.template(key) else []
