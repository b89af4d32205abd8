"""financing.plan: a plan for the car in focus, the suggested options, or what a budget affords."""

from __future__ import annotations

from dialog.handlers.common import CAR_PLACEHOLDERS, car_in_focus, car_values
from dialog.handlers.search import list_outcome
from dialog.registry import handler
from dialog.render import money
from dialog.turn import Choice, PlanSummary, Reply, TurnContext
from tools.catalog import Car
from tools.financing import FinancingError, Plan, make_plan, max_affordable_price, suggested_plans
from tools.search import search

PLAN = CAR_PLACEHOLDERS | {
    "down_payment",
    "down_payment_pct",
    "financed",
    "term_months",
    "term_years",
    "monthly_payment",
    "total_paid",
    "total_interest",
    "rate",
}
OPTION = {"down_payment_pct", "down_payment", "term_years", "term_months", "monthly_payment"}
RANGE = CAR_PLACEHOLDERS | {"min_down_payment", "max_down_payment", "min_pct", "terms", "rate"}


@handler(
    "financing.plan",
    required={
        "ask_car": {"min_pct", "terms", "rate"},
        "ask_car_from_list": {"count"},
        "options": CAR_PLACEHOLDERS | {"lines", "rate"},
        "option_line": OPTION,
        "plan": PLAN,
        "down_payment_too_low": RANGE,
        "down_payment_too_high": RANGE,
        "term_out_of_range": RANGE,
        "affordable": {"price_max", "monthly_budget", "down_payment", "term_months", "listing"},
    },
    optional={"bad_amount": RANGE},
)
def financing_plan(ctx: TurnContext) -> Reply:
    """Compute what was asked; never guess a car the customer did not choose."""
    _remember_params(ctx)
    car = car_in_focus(ctx)
    params = ctx.state.financing
    if ctx.extraction.monthly_budget is not None:  # "¿qué me alcanza con 7 mil al mes?"
        return _affordable(ctx)
    if car is None:
        if params.monthly_budget is not None:
            return _affordable(ctx)
        if ctx.state.last_results:
            return Reply(ctx.say("ask_car_from_list", {"count": len(ctx.state.last_results)}))
        return Reply(ctx.say("ask_car", _conditions(ctx)))
    if (
        params.down_payment is None
        and params.down_payment_pct is None
        and params.term_months is None
    ):
        return _options(ctx, car)
    try:
        plan = make_plan(
            car.price,
            ctx.services.financing,
            down_payment=params.down_payment,
            down_payment_pct=params.down_payment_pct,
            term_months=params.term_months,
        )
    except FinancingError as error:
        return Reply(ctx.say(error.code, _range_values(ctx, car)), rephrasable=False)
    return Reply(ctx.say("plan", _plan_values(ctx, car, plan)), plan=_summary(plan))


def _remember_params(ctx: TurnContext) -> None:
    """This turn's financing wishes over the stored ones ("¿y a 3 años?" keeps the down payment)."""
    extraction, params = ctx.extraction, ctx.state.financing
    if extraction.down_payment is not None:
        params.down_payment, params.down_payment_pct = extraction.down_payment, None
    if extraction.down_payment_pct is not None:
        params.down_payment_pct, params.down_payment = extraction.down_payment_pct, None
    if extraction.term_months is not None:
        params.term_months = extraction.term_months
    if extraction.monthly_budget is not None:
        params.monthly_budget = extraction.monthly_budget


def _options(ctx: TurnContext, car: Car) -> Reply:
    plans = suggested_plans(car.price, ctx.services.financing)
    lines = "\n".join(ctx.say("option_line", _option_values(plan)) for plan in plans)
    values = {
        **car_values(car),
        "lines": lines,
        "rate": _pct(ctx.services.financing.annual_rate * 100),
    }
    buttons = [
        Choice(id=f"plan:{plan.term_months}", title=f"{plan.term_months // 12} años")
        for plan in _distinct_terms(plans)[:3]
    ]
    return Reply(ctx.say("options", values), choices=buttons, choices_kind="buttons")


def _affordable(ctx: TurnContext) -> Reply:
    params = ctx.state.financing
    budget = params.monthly_budget or 0.0
    afford = max_affordable_price(params.down_payment, budget, ctx.services.financing)
    filters = ctx.state.filters.model_copy(update={"price_max": None})
    outcome = search(
        ctx.services.catalog, filters, limit=ctx.config.results_limit, max_price=afford.price
    )
    listing = list_outcome(ctx, outcome)
    text = ctx.say(
        "affordable",
        {
            "price_max": money(afford.price),
            "monthly_budget": money(budget),
            "down_payment": money(params.down_payment) if params.down_payment else "",
            "term_months": afford.term_months,
            "listing": listing.text,
        },
    )
    listing.text = text
    return listing


def _plan_values(ctx: TurnContext, car: Car, plan: Plan) -> dict[str, object]:
    return {
        **car_values(car),
        "price": money(plan.price),
        "down_payment": money(plan.down_payment),
        "down_payment_pct": _pct(plan.down_payment_pct),
        "financed": money(plan.financed),
        "term_months": plan.term_months,
        "term_years": _years(plan.term_months),
        "monthly_payment": money(plan.monthly_payment),
        "total_paid": money(plan.total_paid),
        "total_interest": money(plan.total_interest),
        "rate": _pct(plan.rate * 100),
    }


def _option_values(plan: Plan) -> dict[str, object]:
    return {
        "down_payment_pct": _pct(plan.down_payment_pct),
        "down_payment": money(plan.down_payment),
        "term_years": _years(plan.term_months),
        "term_months": plan.term_months,
        "monthly_payment": money(plan.monthly_payment),
    }


def _range_values(ctx: TurnContext, car: Car) -> dict[str, object]:
    config = ctx.services.financing
    return {
        **car_values(car),
        "min_down_payment": money(car.price * config.min_down_payment_pct / 100),
        "max_down_payment": money(car.price),
        **_conditions(ctx),
    }


def _conditions(ctx: TurnContext) -> dict[str, object]:
    """The financing terms from config/financing.yml, worded for a template."""
    config = ctx.services.financing
    terms = [f"{years}" for years in config.terms_years]
    return {
        "min_pct": _pct(config.min_down_payment_pct),
        "terms": ", ".join(terms[:-1]) + f" o {terms[-1]}" if len(terms) > 1 else terms[0],
        "rate": _pct(config.annual_rate * 100),
    }


def _summary(plan: Plan) -> PlanSummary:
    return PlanSummary(
        price=round(plan.price, 2),
        down_payment=round(plan.down_payment, 2),
        term_months=plan.term_months,
        monthly_payment=round(plan.monthly_payment, 2),
        rate=plan.rate,
    )


def _distinct_terms(plans: list[Plan]) -> list[Plan]:
    seen: dict[int, Plan] = {}
    for plan in plans:
        seen.setdefault(plan.term_months, plan)
    return list(seen.values())


def _pct(value: float) -> str:
    return f"{value:.0f}%" if float(value).is_integer() else f"{value:.1f}%"


def _years(months: int) -> str:
    return f"{months // 12}" if months % 12 == 0 else f"{months / 12:.1f}"
