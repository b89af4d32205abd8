"""catalog.search: merge criteria into the conversation's, search, list, explain relaxations."""

from __future__ import annotations

from dialog.handlers.common import CAR_PLACEHOLDERS, car_choices, car_values
from dialog.registry import handler
from dialog.render import money, thousands
from dialog.turn import Reply, TurnContext
from nlu.schema import Extraction
from tools.catalog import Car
from tools.financing import max_affordable_price
from tools.search import SearchFilters, SearchOutcome, brand_in_stock, search

FILTER_KEYS = tuple(SearchFilters.model_fields)
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
}
RELAX_TEMPLATES = {
    "relaxed_year": set(),
    "relaxed_price": {"price_max"},
    "relaxed_model": {"make"},
    "relaxed_make": set(),
    "relaxed_km": set(),
    "relaxed_features": set(),
}
RESULTS = {"criteria", "total", "shown", "lines", "budget_note"}


@handler(
    "catalog.search",
    required={
        "results": RESULTS,
        "result_line": CAR_PLACEHOLDERS,
        "relaxed": RESULTS | {"relaxed_what"},
        "no_results": {"criteria"},
        "brand_not_in_stock": {"make"},
        "single_result": RESULTS,
    },
    optional={
        "budget_note": {"monthly_budget", "down_payment", "price_max", "term_months"},
        "relax_join": set(),
        "criteria_cars": set(),
        **CRITERIA_TEMPLATES,
        **RELAX_TEMPLATES,
    },
)
def search_cars(ctx: TurnContext) -> Reply:
    """List the best matches for the accumulated criteria (or start the guided form if none)."""
    filters = merge_filters(ctx.state.filters, ctx.extraction, ctx.config.reset_on_new_model)
    budget = _monthly_budget(ctx)
    if (
        filters.is_empty()
        and budget is None
        and not ctx.from_form
        and "guided_search" in ctx.config.forms
    ):
        from dialog.forms import start_form

        return start_form(ctx, "guided_search")
    ctx.state.filters = filters
    catalog = ctx.services.catalog
    if filters.make and not brand_in_stock(catalog, filters.make):
        return _brand_not_in_stock(ctx, filters)
    max_price, budget_note = _budget_cap(ctx, budget)
    outcome = search(catalog, filters, limit=ctx.config.results_limit, max_price=max_price)
    return list_outcome(ctx, outcome, budget_note)


def merge_filters(
    current: SearchFilters, extraction: Extraction, resets: list[str]
) -> SearchFilters:
    """This turn's criteria over the conversation's; a new make/model resets model-specific ones."""
    merged = current.model_dump()
    new_make = (
        extraction.make and (extraction.make or "").casefold() != (current.make or "").casefold()
    )
    new_model = extraction.model and extraction.model != current.model
    if new_make or new_model:
        for key in resets:
            merged[key] = None
        if new_make and not extraction.model:
            merged["model"] = None
    for key in FILTER_KEYS:
        value = getattr(extraction, key, None)
        if value is not None:
            merged[key] = value
    if extraction.year_min is not None and extraction.year_max is None and merged["year_max"]:
        merged["year_max"] = (
            None if merged["year_max"] < extraction.year_min else merged["year_max"]
        )
    return SearchFilters(**merged)


def list_outcome(ctx: TurnContext, outcome: SearchOutcome, budget_note: str = "") -> Reply:
    """Render a search outcome as a numbered list and remember the order shown."""
    cars = list(outcome.cars)
    if not cars:
        ctx.state.last_results = []
        return Reply(
            ctx.say("no_results", {"criteria": describe(ctx, ctx.state.filters)}), results=[]
        )
    ctx.state.last_results = [car.stock_id for car in cars]
    if len(cars) == 1 and outcome.total == 1:
        ctx.state.selected = cars[0].stock_id
    values = {
        "criteria": describe(ctx, ctx.state.filters),
        "total": outcome.total,
        "shown": len(cars),
        "lines": _lines(ctx, cars),
        "budget_note": budget_note,
    }
    if outcome.relaxed:
        values["relaxed_what"] = _relaxed_what(ctx, outcome)
        template = "relaxed"
    else:
        template = "single_result" if outcome.total == 1 else "results"
        if template == "results" and not _name(ctx.state.filters):  # "46 autos de menos de…"
            noun = ctx.say("criteria_cars") or "autos"
            values["criteria"] = f"{noun} {values['criteria']}".strip()
    return Reply(
        ctx.say(template, values),
        results=list(ctx.state.last_results),
        choices=car_choices(cars),
        choices_kind="cars",
    )


def describe(ctx: TurnContext, filters: SearchFilters) -> str:
    """'Mazda CX-5 2021 de menos de 350 mil con CarPlay' from the filters and the YAML fragments."""
    parts = [_name(filters)]
    if filters.year_min and filters.year_min == filters.year_max:
        parts.append(ctx.say("criteria_year_exact", {"year": filters.year_min}))
    elif filters.year_min and filters.year_max:
        parts.append(ctx.say("criteria_year_range", filters.model_dump()))
    elif filters.year_min or filters.year_max:
        key = "criteria_year_min" if filters.year_min else "criteria_year_max"
        parts.append(ctx.say(key, filters.model_dump()))
    prices = {"price_min": _amount(filters.price_min), "price_max": _amount(filters.price_max)}
    if filters.price_min and filters.price_max:
        parts.append(ctx.say("criteria_price_range", prices))
    elif filters.price_min or filters.price_max:
        key = "criteria_price_min" if filters.price_min else "criteria_price_max"
        parts.append(ctx.say(key, prices))
    if filters.km_max:
        parts.append(ctx.say("criteria_km_max", {"km_max": _amount(filters.km_max) + " km"}))
    for feature in ("bluetooth", "car_play"):
        if getattr(filters, feature):
            parts.append(ctx.say(f"criteria_{feature}"))
    return " ".join(part for part in parts if part).strip()


def _name(filters: SearchFilters) -> str:
    if filters.model:
        model = filters.model
        if filters.make and not model.casefold().startswith(filters.make.casefold()):
            return f"{filters.make} {model}"
        return model
    return filters.make or ""


def _amount(value: float | None) -> str:
    return thousands(value) if value else ""


def _lines(ctx: TurnContext, cars: list[Car]) -> str:
    return "\n".join(ctx.say("result_line", car_values(car, n)) for n, car in enumerate(cars, 1))


def _relaxed_what(ctx: TurnContext, outcome: SearchOutcome) -> str:
    used = outcome.filters_used
    texts = [
        ctx.say(
            f"relaxed_{step.kind}", {"make": used.make or "", "price_max": _amount(used.price_max)}
        )
        for step in outcome.relaxed
    ]
    joiner = ctx.say("relax_join") or ", "
    return joiner.join(text for text in texts if text)


def _brand_not_in_stock(ctx: TurnContext, filters: SearchFilters) -> Reply:
    make = filters.make or ""
    ctx.state.filters = filters.model_copy(update={"make": None, "model": None})
    outcome = search(ctx.services.catalog, ctx.state.filters, limit=ctx.config.results_limit)
    listing = list_outcome(ctx, outcome)
    listing.text = ctx.say("brand_not_in_stock", {"make": make}) + "\n\n" + listing.text
    return listing


def _monthly_budget(ctx: TurnContext) -> float | None:
    if ctx.extraction.monthly_budget is not None:
        ctx.state.financing.monthly_budget = ctx.extraction.monthly_budget
    if ctx.extraction.down_payment is not None:
        ctx.state.financing.down_payment = ctx.extraction.down_payment
    return ctx.state.financing.monthly_budget


def _budget_cap(ctx: TurnContext, budget: float | None) -> tuple[float | None, str]:
    """The highest price a monthly budget (and down payment) allows, and a note saying so."""
    if budget is None:
        return None, ""
    down_payment = ctx.state.financing.down_payment
    afford = max_affordable_price(down_payment, budget, ctx.services.financing)
    note = ctx.say(
        "budget_note",
        {
            "monthly_budget": money(budget),
            "down_payment": money(down_payment) if down_payment else "",
            "price_max": money(afford.price),
            "term_months": afford.term_months,
        },
    )
    return afford.price, note
