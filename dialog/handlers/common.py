"""Pieces several handlers share: a car's template values, the car in focus, list choices."""

from __future__ import annotations

from dialog.cars import CAR_PLACEHOLDERS, car_values  # noqa: F401 - handlers import them here
from dialog.render import km, money
from dialog.turn import Choice, TurnContext
from tools.catalog import Car
from tools.financing import Affordability, max_affordable_price
from tools.search import alternative_parts


def plan_wished(ctx: TurnContext) -> bool:
    """A down payment or a term said in this message ("el 2020 y a 5 años")."""
    extraction = ctx.extraction
    wished = (extraction.term_months, extraction.down_payment, extraction.down_payment_pct)
    return any(value is not None for value in wished)


def car_in_focus(ctx: TurnContext) -> Car | None:
    """The selected car, after applying an ordinal or a superlative said in this very message
    ("el 2 a 4 años", "la más barata de esas a 5 años")."""
    ordinal = ctx.extraction.ordinal
    if ctx.extraction.superlative and ordinal is None and ctx.state.last_results:
        from dialog.handlers.selection import pointed_car

        pointed = pointed_car(ctx)
        if pointed is not None:
            ctx.state.selected = pointed.stock_id
    elif ordinal is not None and ctx.state.last_results:
        stock_id = ordinal_pick(ctx, ordinal)
        if stock_id is not None:
            ctx.state.selected = stock_id
    elif ctx.state.last_results:  # "la del 2021, ¿cuánto mide?": the listed car named
        named = _named_in_list(ctx)
        if named is not None:
            ctx.state.selected = named
    if ctx.state.selected is None:
        return None
    return ctx.services.catalog.get(ctx.state.selected)


NAMING = ("make", "model", "year_min", "year_max", "body_type", "transmission", "fuel")
ASKED_TRAITS = ("transmission", "fuel")  # often asked of a car named, not naming it


def _named_in_list(ctx: TurnContext) -> int | None:
    """The one listed car the message names (make, model, year, body...), unless it is the
    car in focus already."""
    from dialog.screen import shown_car
    from nlu.context import car_matches

    extraction = ctx.extraction
    slots = {key: getattr(extraction, key) for key in NAMING if getattr(extraction, key)}
    asked = {trait for trait in ASKED_TRAITS if f"details:{trait}" in extraction.said}
    if not slots.keys() - asked:
        return None  # "pero ¿es automático?" with a car in focus: asked of it, naming no other
    focus = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    if focus is not None and car_matches(shown_car(focus), slots):
        return focus.stock_id
    for naming in (slots, {k: v for k, v in slots.items() if k not in ASKED_TRAITS}):
        # "el figo, ¿es estándar o automático?": the trait is asked, the Figo listed is meant
        matches = [
            stock_id
            for stock_id in ctx.state.last_results
            if (car := ctx.services.catalog.get(stock_id)) is not None
            and car_matches(shown_car(car), naming)
        ]
        if matches or not naming:
            return matches[0] if len(matches) == 1 else None
    return None


def ordinal_pick(ctx: TurnContext, ordinal: int) -> int | None:
    """The listed car at `ordinal`; with a car named, the ordinal counts the listed cars of that
    name ("the first Rio" when a Seat is first on the list, "el último Aveo")."""
    from dialog.handlers.selection import cars_named

    shown = ctx.state.last_results
    stock_id = pick_by_ordinal(shown, ordinal)
    named = [car.stock_id for car in cars_named(ctx.services.catalog, ctx.extraction, shown)]
    if not named or stock_id in named:
        return stock_id  # "el 3, el rio": the third is the Rio
    return pick_by_ordinal(named, ordinal) or stock_id


def pick_by_ordinal(stock_ids: list[int], ordinal: int) -> int | None:
    """1-based position, or -1 for the last and -2 for the penultimate; None when out of range."""
    index = ordinal - 1 if ordinal > 0 else len(stock_ids) + ordinal
    return stock_ids[index] if 0 <= index < len(stock_ids) else None


def car_choices(cars: list[Car], first: int = 1) -> list[Choice]:
    """List-message rows for the shown cars; the id carries the stock id."""
    return [
        Choice(
            id=f"car:{car.stock_id}",
            title=f"{n}. {car.title}",
            description=f"{money(car.price)} · {km(car.km)} · {car.version}",
        )
        for n, car in enumerate(cars, start=first)
    ]


def affordability(ctx: TurnContext, budget: float | None = None) -> Affordability | None:
    """What a monthly budget (the conversation's, unless given) affords with the customer's own
    down payment and term; None without a budget."""
    params = ctx.state.financing
    budget = params.monthly_budget if budget is None else budget
    if budget is None:
        return None
    config = ctx.services.financing
    return max_affordable_price(
        params.down_payment, budget, config, params.term_months, params.down_payment_pct
    )


def named_cars(extraction) -> list[tuple[str | None, str | None]]:
    """(make, model) of every car the message names: the first, then its alternatives."""
    return [(extraction.make, extraction.model)] + [
        (make, model or None) for make, model, _ in map(alternative_parts, extraction.alternatives)
    ]


def years_text(months: int) -> str:
    """A term in years as said in a reply: 48 -> "4", 30 -> "2.5"."""
    return f"{months // 12}" if months % 12 == 0 else f"{months / 12:.1f}"


def plan_words(plan: dict[str, object]) -> dict[str, object]:
    """A stored plan's figures as a reply says them (the lead's plan line, a plan recalled)."""
    months = int(plan["term_months"])  # type: ignore[call-overload]
    return {
        "monthly_payment": money(float(plan["monthly_payment"])),  # type: ignore[arg-type]
        "term_months": months,
        "term_years": years_text(months),
        "down_payment": money(float(plan["down_payment"])),  # type: ignore[arg-type]
    }


def joined(ctx: TurnContext, parts: list[str], joiner: str = "and_join") -> str:
    """ "A, B y C" with the YAML's joining word (`and_join` or `or_join`)."""
    if len(parts) < 2:
        return "".join(parts)
    word = ctx.template(joiner).strip() or ("o" if joiner == "or_join" else "y")
    return f"{', '.join(parts[:-1])} {word} {parts[-1]}"


def before_closing(text: str, part: str) -> str:
    """`part` as the paragraph before a reply's closing line (nothing when empty)."""
    if not part:
        return text
    body, _, closing = text.rpartition("\n\n")
    return "\n\n".join(piece for piece in (body, part, closing) if piece)
