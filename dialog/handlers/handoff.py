"""handoff.start / handoff.finish: lead capture for an advisor, with the car and plan in focus."""

from __future__ import annotations

from dialog.handlers.common import CAR_PLACEHOLDERS, car_values
from dialog.registry import handler
from dialog.store.base import Handoff
from dialog.turn import Reply, TurnContext
from tools.financing import FinancingError, make_plan

LEAD_FORM = "lead_capture"
DONE = {"name", "contact_time"} | CAR_PLACEHOLDERS


@handler("handoff.start", required={"already_requested": {"name"}})
def start_handoff(ctx: TurnContext) -> Reply:
    """Ask for name and contact time (the phone is known), unless a request is already open."""
    if ctx.state.handoff:
        return Reply(ctx.say("already_requested", {"name": ctx.state.profile.get("name", "")}))
    from dialog.forms import start_form

    return start_form(ctx, LEAD_FORM)


@handler("handoff.finish", required={"done": DONE, "done_with_car": DONE})
def finish_handoff(ctx: TurnContext) -> Reply:
    """Store the handoff request and tell the customer an advisor will write."""
    answers = ctx.state.profile
    car = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    ctx.handoff = Handoff(
        user=ctx.state.user,
        name=answers.get("name"),
        contact_time=answers.get("contact_time"),
        stock_id=car.stock_id if car else None,
        plan=_plan_of(ctx, car.price) if car else None,
        reason=ctx.state.last_intent or ctx.intent,
    )
    ctx.state.handoff = True
    values = {**(car_values(car) if car else {}), **answers}
    return Reply(ctx.say("done_with_car" if car else "done", values), rephrasable=False)


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
