"""handoff.start / handoff.finish: a clean lead for an advisor. Name, phone, e-mail and contact
time come from the NLU (validated, in any order, several in one message); the advisor gets them
with the car, the plan and a summary of the conversation; the customer sees exactly what was
captured."""

from __future__ import annotations

import re

from dialog.handlers.common import CAR_PLACEHOLDERS, car_values
from dialog.registry import handler
from dialog.render import money
from dialog.store.base import Handoff
from dialog.turn import Reply, TurnContext
from tools.financing import FinancingError, make_plan

LEAD_FORM = "lead_capture"
SELLER_REASONS = ("knowledge/selling_car", "knowledge/trade_in")
DONE = {"name", "contact_time", "captured"} | CAR_PLACEHOLDERS
CAPTURED = {"name", "phone", "email", "contact_time", "car", "plan"}
_PHONE_USER = re.compile(r"^\+?(?:521|52)?(\d{10})$")


@handler("handoff.start", required={"already_requested": {"name"}})
def start_handoff(ctx: TurnContext, reason: str | None = None) -> Reply:
    """Ask only for what is missing (the WhatsApp number is the phone), unless a request is open."""
    if ctx.state.handoff:
        return Reply(ctx.say("already_requested", {"name": ctx.state.lead.name or ""}))
    from dialog.forms import start_form

    lead = ctx.state.lead
    if lead.phone is None and (match := _PHONE_USER.match(ctx.state.user)):
        lead.phone = match.group(1)
    ctx.state.profile["handoff_reason"] = reason or ctx.state.last_label or ctx.intent
    _car_described(ctx)
    return start_form(ctx, LEAD_FORM)


def _car_described(ctx: TurnContext) -> None:
    """ "márquenme ... para el rio de 19 mil km": the listed car the message describes by its km
    or price is the one the lead is about."""
    from dialog.screen import shown_car
    from nlu.context import km_pointed, price_pointed

    cars = [car for i in ctx.state.last_results if (car := ctx.services.catalog.get(i))]
    slots = ctx.extraction.slots()
    shown = [shown_car(car) for car in cars]
    pointed = km_pointed(shown, slots) or price_pointed(shown, slots)
    if len(pointed) == 1:
        ctx.state.selected = pointed[0].stock_id


@handler(
    "handoff.finish",
    required={"done": DONE, "captured_line": {"label", "value"}},
    optional={"label_name": set(), "label_phone": set(), "label_email": set(),
              "label_contact_time": set(), "label_car": set(), "label_plan": set(),
              "label_own_car": set(),
              "plan_line": {"monthly_payment", "term_months", "down_payment"}},
)  # fmt: skip
def finish_handoff(ctx: TurnContext, template: str = "done") -> Reply:
    """Store the lead and tell the customer exactly what the advisor will receive."""
    state, lead = ctx.state, ctx.state.lead
    seller = state.profile.get("handoff_reason") in SELLER_REASONS or state.own_car is not None
    # a trade-in has both cars: the one chosen and the customer's own; a seller only their own
    car = ctx.services.catalog.get(state.selected) if state.selected else None
    if seller and state.own_car is None:
        car = None
    plan = (state.last_plan or _plan_of(ctx, car.price)) if car else None
    title = f"{car.title} · {money(car.price)}" if car else None
    ctx.handoff = Handoff(
        user=state.user,
        name=lead.name,
        phone=lead.phone,
        email=lead.email,
        contact_time=lead.contact_time,
        stock_id=car.stock_id if car else None,
        car=title,
        plan=plan,
        reason=state.profile.get("handoff_reason", ctx.intent),
        summary=summary(ctx),
    )
    state.handoff = True
    if car is not None:
        state.profile["lead_car"] = str(car.stock_id)  # a later "no, es el otro" corrects it
    captured = {
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "contact_time": lead.contact_time,
        "car": title,
        "plan": ctx.say("plan_line", _plan_words(plan)) if plan else None,
        "own_car": state.own_car,  # to sell, or to leave as a down payment
    }
    lines = [
        ctx.say("captured_line", {"label": ctx.say(f"label_{key}") or key, "value": value})
        for key, value in captured.items()
        if value
    ]
    values = {
        **(car_values(car) if car else {}),
        "name": lead.name or "",
        "captured": "\n".join(lines),
    }
    return Reply(ctx.say(template, values), rephrasable=False)


@handler(
    "handoff.update",
    required={"noted": set(), "updated": DONE, "captured_line": {"label", "value"}},
    optional={"label_name": set(), "label_phone": set(), "label_email": set(),
              "label_contact_time": set(), "label_car": set(), "label_plan": set(),
              "label_own_car": set(),
              "plan_line": {"monthly_payment", "term_months", "down_payment"}},
)  # fmt: skip
def update_handoff(ctx: TurnContext) -> Reply:
    """Contact data given after the lead was sent corrects it ("el horario está mal, es fin de
    semana"); before any lead, it is just noted for when the customer wants a call."""
    if not ctx.state.handoff:
        given = ctx.extraction.phone or ctx.extraction.email
        if given and not ctx.state.profile.get("lead_declined"):
            return start_handoff(ctx, "inform")  # "mi cel es 55…" unasked: they want a call
        return Reply(ctx.say("noted"))
    return finish_handoff(ctx, "updated")


def summary(ctx: TurnContext) -> list[str]:
    """What the advisor should know before calling: criteria, car, plan terms, last asks."""
    state = ctx.state
    lines = []
    criteria = {k: v for k, v in state.filters.model_dump().items() if v is not None}
    if criteria:
        lines.append("búsqueda: " + ", ".join(f"{k}={v}" for k, v in criteria.items()))
    financing = {k: v for k, v in state.financing.model_dump().items() if v is not None}
    if financing:
        lines.append("financiamiento: " + ", ".join(f"{k}={v}" for k, v in financing.items()))
    if state.own_car:
        lines.append(f"auto del cliente (vende o deja a cuenta): {state.own_car}")
    if state.last_label:
        lines.append(f"último tema: {state.last_label}")
    return lines


def _plan_words(plan: dict[str, object]) -> dict[str, object]:
    return {
        "monthly_payment": money(float(plan["monthly_payment"])),  # type: ignore[arg-type]
        "term_months": plan["term_months"],
        "down_payment": money(float(plan["down_payment"])),  # type: ignore[arg-type]
    }


def _plan_of(ctx: TurnContext, price: float) -> dict[str, object] | None:
    params = ctx.state.financing
    if (
        params.down_payment is None
        and params.down_payment_pct is None
        and params.term_months is None
    ):
        return None
    try:
        plan = make_plan(
            price,
            ctx.services.financing,
            down_payment=params.down_payment,
            down_payment_pct=params.down_payment_pct,
            term_months=params.term_months,
        )
    except FinancingError:
        return None
    return plan.model_dump()
