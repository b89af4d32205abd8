"""catalog.select and catalog.details: pick a car from the last list, answer questions about it."""

from __future__ import annotations

from dialog.handlers.common import CAR_PLACEHOLDERS, car_in_focus, car_values, pick_by_ordinal
from dialog.registry import handler
from dialog.render import fill
from dialog.text import find_phrase
from dialog.turn import Choice, Reply, TurnContext
from nlu.schema import Extraction
from tools.catalog import Car, Catalog

FOCUS = CAR_PLACEHOLDERS


@handler(
    "catalog.select",
    required={
        "selected": FOCUS,
        "out_of_range": {"count"},
        "nothing_shown": set(),
        "ambiguous": {"count", "name"},
    },
    optional={"not_in_list": {"name"}},
)
def select_car(ctx: TurnContext) -> Reply:
    """Put a shown car in focus, by position ("el 2", "el último") or by name ("el corolla")."""
    shown = ctx.state.last_results
    if not shown:
        return Reply(ctx.say("nothing_shown"))
    ordinal = ctx.extraction.ordinal
    if ordinal is not None:
        stock_id = pick_by_ordinal(shown, ordinal)
        if stock_id is None:
            return Reply(ctx.say("out_of_range", {"count": len(shown)}))
        return focus_reply(ctx, stock_id)
    matches = cars_named(ctx.services.catalog, ctx.extraction, shown)
    if len(matches) == 1:
        return focus_reply(ctx, matches[0].stock_id)
    name = ctx.extraction.model or ctx.extraction.make or ""
    if not matches:
        return Reply(
            ctx.say("not_in_list", {"name": name})
            or ctx.say("ambiguous", {"count": len(shown), "name": name})
        )
    ctx.state.last_results = [car.stock_id for car in matches]
    return Reply(ctx.say("ambiguous", {"count": len(matches), "name": name}))


def cars_named(catalog: Catalog, extraction: Extraction, stock_ids: list[int]) -> list[Car]:
    """Shown cars whose make/model is the one named in this message."""
    result = []
    for stock_id in stock_ids:
        car = catalog.get(stock_id)
        if car is None:
            continue
        if extraction.model and car.model.casefold() != extraction.model.casefold():
            continue
        if extraction.make and car.make.casefold() != extraction.make.casefold():
            continue
        if extraction.model or extraction.make:
            result.append(car)
    return result


def focus_reply(ctx: TurnContext, stock_id: int) -> Reply:
    ctx.state.selected = stock_id
    car = ctx.services.catalog.get(stock_id)
    if car is None:  # the catalog was reloaded without this car
        ctx.state.selected = None
        return Reply(ctx.say("nothing_shown"))
    return Reply(
        ctx.say("selected", car_values(car)),
        choices=[
            Choice(id="financing", title=ctx.say("button_financing") or "Financiamiento"),
            Choice(id="purchase", title=ctx.say("button_purchase") or "Lo quiero"),
        ],
        choices_kind="buttons",
    )


@handler(
    "catalog.details",
    required={"card": FOCUS, "no_car": set()},
)
def car_details(ctx: TurnContext) -> Reply:
    """Answer about the car in focus: the YAML's detail topics by keyword, else its full card."""
    car = car_in_focus(ctx)
    if car is None:
        return Reply(ctx.say("no_car"))
    values = car_values(car, unknown=ctx.config.templates.get("unknown_value", "sin dato"))
    answers = []
    for topic in ctx.config.details.values():
        asked = find_phrase(ctx.text, topic.keywords) is not None
        asked = asked or (
            topic.flag is not None and getattr(ctx.extraction, topic.flag) is not None
        )
        if not asked:
            continue
        has_it = topic.flag is None or getattr(car, topic.flag)
        template = topic.template if has_it else (topic.template_no or topic.template)
        answers.append(fill(template, values))
    if not answers:
        return Reply(ctx.say("card", values))
    return Reply("\n".join(answers))
