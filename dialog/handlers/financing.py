"""financing.plan: a plan for the car in focus (or the car named in the message), the suggested
options, what a monthly budget affords, and whether it affords the chosen car."""

from __future__ import annotations

from dialog.forms import said
from dialog.handlers.answers import SECOND_REQUEST
from dialog.handlers.common import (
    CAR_PLACEHOLDERS,
    affordability,
    before_closing,
    car_in_focus,
    car_values,
    plan_wished,
    years_text,
)
from dialog.handlers.search import list_outcome, merge_filters
from dialog.handlers.selection import cars_named, each_named
from dialog.registry import handler
from dialog.render import money
from dialog.screen import shown_car
from dialog.turn import Choice, PlanSummary, Reply, TurnContext
from nlu.context import price_pointed
from nlu.pipeline import (
    BARE_DOWN_PAYMENT,
    CAR_PRICE,
    CASH_SAID,
    FOREIGN_MONEY,
    NO_CREDIT,
    PAYMENT_ECHOED,
    SAVINGS,
)
from tools.catalog import Car
from tools.financing import (
    FinancingError,
    Plan,
    budget_fit,
    make_plan,
    suggested_plans,
)
from tools.search import SearchFilters, SearchOutcome, search, trim_as_version

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
AFFORD = {"price_max", "monthly_budget", "assumptions", "listing", "term_years"}
FIT = PLAN | {"monthly_budget", "down_payment_needed"}
QUOTE = {"price", "down_payment", "down_payment_pct", "lines", "rate", "min_pct"}
SAVED = {"saved", "cheapest", "price_max", "min_pct"}
CHEAPEST = "cheapest"  # the order of the cars shown when no car costs the money saved


@handler(
    "financing.plan",
    required={
        "ask_car": {"min_pct", "terms", "rate"},
        "ask_car_from_list": {"count"},
        "pick_for_plan": {"count"},
        "button_term": {"term_years"},
        "options": CAR_PLACEHOLDERS | {"lines", "rate"},
        "option_line": OPTION,
        "option_line_detail": PLAN,
        "plan": PLAN,
        "down_payment_too_low": RANGE,
        "down_payment_too_high": RANGE,
        "term_out_of_range": RANGE,
        "affordable": AFFORD,
        "assumed_down_payment": {"min_pct"},
        "stated_pct": {"down_payment_pct"},
        "stated_down_payment": {"down_payment"},
        "fits": FIT,
        "does_not_fit": FIT,
    },
    optional={
        "fits_longer": FIT | {"longer_years", "longer_payment"},
        "down_needed": FIT,
        "bad_amount": RANGE,
        "minimum_note": RANGE,
        "no_down_note": RANGE,
        "minimum_general": {"min_pct", "terms", "rate"},
        "term_not_offered": {"min_pct", "terms", "rate", "term_months"},
        "bare_as_pct_note": RANGE | {"said", "pct", "number"},
        "bare_as_pct_again": RANGE | {"said", "pct", "number"},
        "compare_header": CAR_PLACEHOLDERS | {"rate"},
        "compare_closing": set(),
        "list_plans_header": {"down_payment", "term_years", "rate"},
        "list_plan_line": CAR_PLACEHOLDERS | {"monthly_payment"},
        "list_plans_total": {"count", "total", "monthly_payment"},
        "affordable_by_down_payment": {"down_payment", "price_max", "min_pct"},
        "no_down_affordable": {"min_pct"},
        "down_payment_reach": {"down_payment", "price_max", "min_pct", "terms"},
        "cash_short": SAVED,
        "savings_as_down": SAVED,
        "cash_difference": CAR_PLACEHOLDERS | {"put_in", "rest"},
        "cash_difference_trade": CAR_PLACEHOLDERS | {"put_in", "rest"},
        "quote": QUOTE,
        "quote_line": {"term_years", "term_months", "monthly_payment", "total_paid"},
        "quote_assumed": QUOTE,
        "income_share": {"income", "share"},
        "income_note": CAR_PLACEHOLDERS
        | {
            "income",
            "low_payment",
            "low_down",
            "low_years",
            "min_payment",
            "min_down",
            "min_years",
        },
        "income_no_car": {"income"},
        "plan_again": PLAN,
        "within_budget": {"monthly_payment", "monthly_budget", "gap"},
        "plan_echoed": PLAN | {"longer_years", "longer_payment"},
        "plan_lower": PLAN | {"higher_down", "higher_pct", "higher_payment"},
        "longest_note": PLAN,
        "over_budget": {"monthly_payment", "monthly_budget"},
        "over_budget_longer": {
            "monthly_payment",
            "monthly_budget",
            "longer_years",
            "longer_payment",
        },
    },
)
def financing_plan(ctx: TurnContext) -> Reply:
    """Compute what was asked; never guess a car the customer did not choose."""
    before = ctx.state.financing
    ctx.pct_before = before.down_payment is None and before.down_payment_pct is not None
    remember_params(ctx)
    budget_asked = ctx.extraction.monthly_budget is not None and said(ctx, "financing:which_cars")
    if budget_asked and not ctx.extraction.model:  # "máximo 4 mil al mes, ¿qué me alcanza?
        return _affordable(ctx)  # pero que sea bmw o audi": those makes within the budget
    named = _named_car(ctx)
    if named is not None:
        return named
    car = car_in_focus(ctx)
    quote = _quote(ctx, car)
    if quote is not None:
        return quote
    income = _income(ctx, car)
    if income is not None:
        return income
    params = ctx.state.financing
    unnamed = not (ctx.extraction.make or ctx.extraction.model)
    if car is not None and params.monthly_budget and unnamed and said(ctx, "financing:which_cars"):
        return _affordable(ctx)  # "¿qué carro me alcanza con 4500 al mes?" with one chosen
    if ctx.extraction.monthly_budget is not None or (car is None and params.monthly_budget):
        return _fit(ctx, car) if car is not None else _affordable(ctx)
    if car is None and len(ctx.state.last_results) == 1:  # one car shown: that one
        car = ctx.services.catalog.get(ctx.state.last_results[0])
        ctx.state.selected = car.stock_id if car is not None else None
    if car is None:
        note = ctx.say("minimum_general", _conditions(ctx)) if _minimum_asked(ctx) else ""
        asked = ctx.extraction.term_months
        if asked and asked / 12 not in ctx.services.financing.terms_years:  # "¿a 12 meses?"
            note = ctx.say("term_not_offered", {**_conditions(ctx), "term_months": asked})
        if ctx.state.last_results:
            ask = ctx.say("ask_car_from_list", {"count": len(ctx.state.last_results)})
            each = plans_for_list(ctx)  # "tienen mazda 3 2018? ¿y con 20% a 5 años?": each one
            return Reply("\n\n".join(part for part in (note, each) if part), ask=ask)
        if ctx.extraction.term_months and note:
            return Reply(note)  # "¿a 12 meses sí o no?": the answer, not the pitch again
        foreign = ctx.speaking_as("search_cars")  # "tengo 10 mil dólares, ¿qué me alcanza?":
        if FOREIGN_MONEY in ctx.extraction.said and not note and foreign.template("foreign_money"):
            return Reply(foreign.say("foreign_money"))  # the amount in pesos is asked first
        in_full = ctx.extraction.price_max is not None and NO_CREDIT in ctx.extraction.said
        if in_full and not note and ctx.template("cash_short"):  # "90 mil, ¿qué carro me
            return savings_reach(ctx, float(ctx.extraction.price_max))  # alcanza de contado?"
        down = ctx.extraction.down_payment
        if ctx.extraction.price_max is not None:  # "tengo unos 70 mil. busco algo como de 220":
            down = None  # the car's price is said; the search answers, the 70 mil is put down
        if down and not note and SAVINGS in ctx.extraction.said and ctx.template("cash_short"):
            return savings_reach(ctx, down)  # "tengo 60 mil ahorrados, ¿me alcanza pa algo?"
        if down and not note and ctx.template("down_payment_reach"):
            return down_payment_reach(ctx, down)  # "tengo 50 mil de enganche, ¿qué saco?"
        return Reply(ctx.say("ask_car", _conditions(ctx)))
    return plan_reply(ctx, car)


def _income(ctx: TurnContext, car: Car | None) -> Reply | None:
    """ "¿me alcanza con 18 mil que gano?": how much of an income a payment may take is the
    credit review's (an advisor's) call; the car's lowest payments are ours to say."""
    extraction = ctx.extraction
    if not extraction.income or plan_wished(ctx) or extraction.monthly_budget is not None:
        return None
    income = money(extraction.income)
    if car is None:
        if not ctx.template("income_no_car"):
            return None
        return Reply(ctx.say("income_no_car", {"income": income}))
    if not ctx.template("income_note"):
        return None
    plans = suggested_plans(car.price, ctx.services.financing)
    low = min(plans, key=lambda plan: plan.monthly_payment)
    least = min(plans, key=lambda plan: (plan.down_payment, plan.monthly_payment))
    values = {
        **car_values(car, words=ctx.words),
        "income": income,
        "low_payment": money(low.monthly_payment),
        "low_down": money(low.down_payment),
        "low_years": years_text(low.term_months),
        "min_payment": money(least.monthly_payment),
        "min_down": money(least.down_payment),
        "min_years": years_text(least.term_months),
    }
    offered = f"plan:{least.term_months}:{least.down_payment_pct:g}"  # "¿te lo paso?" ... "sí"
    return Reply(ctx.say("income_note", values), offered=offered)


def _income_share(ctx: TurnContext, plan: Plan) -> str:
    """ "¿a 5 años? mi sueldo es de 25 mil, ¿me alcanza?": the share of the income the payment
    takes (arithmetic); whether it is approved is the credit review's call."""
    income = ctx.extraction.income
    if not income or not ctx.template("income_share"):
        return ""
    share = f"{plan.monthly_payment / income * 100:.0f}%"
    return ctx.say("income_share", {"income": money(income), "share": share})


def down_payment_reach(ctx: TurnContext, down_payment: float) -> Reply:
    """ "Tengo 50 mil de enganche (o ahorrados), ¿qué carro puedo sacar?": the minimum down
    payment makes the amount the enganche of a car up to down / min_pct; those cars, the ones
    that make the most of it first."""
    config = ctx.services.financing
    params = ctx.state.financing
    params.down_payment, params.down_payment_pct = down_payment, None
    ceiling = down_payment * 100 / config.min_down_payment_pct
    outcome, listing = _cars_up_to(ctx, ceiling)
    values = {**_conditions(ctx), "down_payment": money(down_payment), "price_max": money(ceiling)}
    listing.text = f"{ctx.say('down_payment_reach', values)}\n\n{listing.text}"
    if outcome.cars:
        listing.ask = ctx.say("pick_for_plan", {"count": len(outcome.cars)})
    return listing


def _cars_up_to(
    ctx: TurnContext, ceiling: float | None, order: str | None = None
) -> tuple[SearchOutcome, Reply]:
    """The conversation's search up to `ceiling`, kept as its budget ("¿y con carplay, el mismo
    presupuesto?"), listed in `order` (else the one asked, else the budget's)."""
    wanted = merge_filters(ctx.state.filters, ctx.extraction, ctx.config.reset_on_new_model)
    wanted = wanted.model_copy(update={"price_max": ceiling, "price_min": None})
    ctx.state.filters = wanted
    order = order or wanted.superlative or ctx.config.budget_order
    filters = wanted.model_copy(update={"superlative": order, "price_strict": True})
    outcome = search(ctx.services.catalog, filters, limit=ctx.config.results_limit)
    return outcome, list_outcome(ctx, outcome, filters=filters)


def savings_reach(ctx: TurnContext, saved: float) -> Reply:
    """ "Tengo 60 mil ahorrados, ¿me alcanza pa algo?": money saved, no word of a down payment.
    Paid in cash first: the cars up to that price, or what the cheapest costs when none is;
    then what it buys as a down payment."""
    prices = ctx.services.catalog.columns["price"]
    cheapest = float(prices.min()) if len(prices) else 0.0
    short = saved < cheapest  # no car for that in cash: the cheapest ones, and what it buys down
    config = ctx.services.financing
    reach = saved * 100 / config.min_down_payment_pct
    cash = bool({CASH_SAID, NO_CREDIT} & ctx.extraction.said)  # "tengo 100 mil cash": no plan
    ceiling = saved if not short else None if cash else reach
    _, listing = _cars_up_to(ctx, ceiling, CHEAPEST if short else None)
    if short and not cash:  # no car for it in cash: it is the down payment of the car picked
        ctx.state.financing.down_payment, ctx.state.financing.down_payment_pct = saved, None
    values = {
        "saved": money(saved),
        "cheapest": money(cheapest),
        "price_max": money(reach),
        "min_pct": _pct(config.min_down_payment_pct),
    }
    if short:
        listing.text = f"{ctx.say('cash_short', values)}\n\n{listing.text}"
    listing.text = f"{listing.text}\n\n{ctx.say('savings_as_down', values)}"
    return listing


def _quote(ctx: TurnContext, focus: Car | None) -> Reply | None:
    """ "¿Cuánto pagaría al mes por uno de 200 mil?", "la mensualidad de un carro de 200 mil con
    70 mil de enganche": the plan of a car of that price, every term (or the one said), and the
    cars around that price to choose from. No car of the catalog is assumed."""
    extraction = ctx.extraction
    if (
        CAR_PRICE not in extraction.said
        or extraction.price_max is None
        or not ctx.template("quote")
    ):
        return None
    if extraction.make or extraction.model or extraction.ordinal is not None:
        return None  # a car named or pointed at: its own plan
    low = extraction.price_min
    price = (low + extraction.price_max) / 2 if low is not None else extraction.price_max
    if focus is not None and price_pointed([shown_car(focus)], {"price_max": price}):
        return None  # "¿y el de 236 a 4 años?" of the car chosen at $236,999
    config, params = ctx.services.financing, ctx.state.financing
    offered = params.term_months in config.term_months  # "un año de diferencia" is no term
    terms = [params.term_months] if offered else list(config.term_months)
    key = "quote"
    try:
        plans = [
            make_plan(
                price,
                config,
                down_payment=params.down_payment,
                down_payment_pct=params.down_payment_pct,
                term_months=months,
            )
            for months in terms
        ]
    except FinancingError:  # a down payment the price cannot take: the minimum, said so
        key = "quote_assumed"
        pct = config.min_down_payment_pct
        plans = [make_plan(price, config, down_payment_pct=pct, term_months=m) for m in terms]
    lines = "\n".join(
        ctx.say(
            "quote_line",
            {
                "term_years": years_text(plan.term_months),
                "term_months": plan.term_months,
                "monthly_payment": money(plan.monthly_payment),
                "total_paid": money(plan.total_paid),
            },
        )
        for plan in plans
    )
    values = {
        **_conditions(ctx),
        "price": money(price),
        "down_payment": money(plans[0].down_payment),
        "down_payment_pct": _pct(plans[0].down_payment_pct),
        "lines": lines,
    }
    text = ctx.say(key, values)
    if params.term_months and not offered and ctx.template("term_not_offered"):  # "¿a 1 año?"
        note = ctx.say("term_not_offered", {**_conditions(ctx), "term_months": params.term_months})
        text = f"{note}\n\n{text}"
    wanted = merge_filters(ctx.state.filters, extraction, ctx.config.reset_on_new_model)
    share = ctx.config.quote_band  # the cars shown beside the quote: around the price said
    band = {"price_min": price * (1 - share), "price_max": price * (1 + share)}
    filters = wanted.model_copy(update={**band, "price_strict": True})
    outcome = search(ctx.services.catalog, filters, limit=ctx.config.results_limit)
    if not outcome.cars or outcome.relaxed:
        return Reply(text, rephrasable=False)
    listing = list_outcome(ctx, outcome, filters=filters)
    listing.text = f"{text}\n\n{listing.text}"
    listing.ask = ctx.say("pick_for_plan", {"count": len(outcome.cars)})
    listing.rephrasable = False
    return listing


def plan_reply(ctx: TurnContext, car: Car) -> Reply:
    """The plan with the customer's own terms, or the suggested options when they gave none."""
    paid = _cash_difference(ctx, car)
    if paid is not None:
        return paid
    params = ctx.state.financing
    if (
        params.down_payment is None
        and params.down_payment_pct is None
        and params.term_months is None
    ):
        return _options(ctx, car)
    compared = _compared(ctx, car)
    if compared is not None:
        return compared
    as_pct = _bare_as_pct(ctx, car)
    offered = ctx.services.financing.term_months
    asked = params.term_months
    not_offered = ""
    if asked and asked not in offered and ctx.template("term_not_offered"):
        # "¿y a 24 meses?": said so, and the plan at the nearest term the calculator has
        not_offered = ctx.say("term_not_offered", {**_conditions(ctx), "term_months": asked})
        params.term_months = min(offered, key=lambda months: (abs(months - asked), months))
    others = [
        months for months in ctx.extraction.terms if months != asked and months not in offered
    ]
    if others and not not_offered and ctx.template("term_not_offered"):
        # "a 3 años cuánto? ¿y qué tal si mejor 2 años?": the 2 years said so, not dropped
        not_offered = ctx.say("term_not_offered", {**_conditions(ctx), "term_months": others[0]})
    try:
        plan = make_plan(
            car.price,
            ctx.services.financing,
            down_payment=params.down_payment,
            down_payment_pct=params.down_payment_pct,
            term_months=params.term_months or term_for_budget(ctx, car),
        )
    except FinancingError as error:
        return Reply(ctx.say(error.code, _range_values(ctx, car)), rephrasable=False)
    again = _plan_again(ctx, car, plan)
    if again is not None:
        return again
    text = ctx.say("plan", _plan_values(ctx, car, plan))
    if not_offered:
        text = f"{not_offered}\n\n{text}"
    note = "bare_as_pct_note" if as_pct is not None else _minimum_asked(ctx)
    if as_pct is not None and ctx.pct_before and ctx.template("bare_as_pct_again"):
        note = "bare_as_pct_again"  # "¿y con 30?" after a 20% plan: 30% again, said so
    if note and ctx.template(note):
        said_pct = as_pct or 0.0
        values = {
            **_range_values(ctx, car),
            "said": money(said_pct * 1000),
            "pct": _pct(said_pct),
            "number": f"{said_pct:g}",
        }
        text = f"{ctx.say(note, values)}\n\n{text}"
    longest = plan.term_months == max(ctx.services.financing.term_months)
    longest = longest and said(ctx, "financing:longest_term") and "?" in ctx.text
    if longest and ctx.template("longest_note"):  # "¿y a 6 años? ¿es lo máximo?": yes
        text = before_closing(text, ctx.say("longest_note", _plan_values(ctx, car, plan)))
    text = before_closing(text, _over_budget(ctx, car, plan) or _within_budget(ctx, plan))
    text = before_closing(text, _income_share(ctx, plan))
    body, _, closing = text.rpartition("\n\n")
    if body and closing.rstrip().endswith("?"):  # the closing question is the reply's ask: a
        return Reply(body, ask=closing, plan=_summary(plan))  # form opened beside it asks instead
    return Reply(text, plan=_summary(plan))


PLAN_FIGURES = ("down_payment", "down_payment_pct", "term_months", "monthly_budget")


def _plan_again(ctx: TurnContext, car: Car, plan: Plan) -> Reply | None:
    """The plan just shown, asked for with no new figure ("uff, ta cara la mensualidad", "¿y si
    mi papá firma?"): one line says it is the same instead of the whole card again; at the
    longest term, what a higher down payment would make of it."""
    if ctx.state.last_plan != _summary(plan).model_dump() or not ctx.template("plan_again"):
        return None
    figures = [key for key in PLAN_FIGURES if getattr(ctx.extraction, key) is not None]
    longest_asked = figures == ["term_months"] and said(ctx, "financing:longest_term")
    beside = SECOND_REQUEST in ctx.extraction.said  # "¿es estándar? ¿y la mensualidad con mis
    # 30 mil a 4 años?" of the plan shown: one line beside the other answer
    if (
        figures
        and not beside
        and not (longest_asked and ctx.extraction.term_months == plan.term_months)
    ):
        return None  # "¿y con 20% a 6?" again: the card the customer asked for ("72 meses es el
        # plazo más largo?" of a 72-month plan asks whether it is the longest)
    if _minimum_asked(ctx):
        return None  # "¿sin enganche nada?": the note says why it is the same plan
    values = _plan_values(ctx, car, plan)
    text = ctx.say("plan_again", values)
    financing = ctx.services.financing
    longest = plan.term_months == max(financing.term_months)
    lowering = said(ctx, "financing:longest_term")  # "ta cara la mensualidad", "pa que baje"
    echoed = PAYMENT_ECHOED in ctx.extraction.said  # "ufff casi 6 mil": the payment said back
    if echoed and not longest and ctx.template("plan_echoed"):
        longer, longer_values = _longer_plan(ctx, car, plan)
        values |= longer_values
        offered = f"plan:{longer.term_months}:{longer.down_payment_pct:g}"  # "¿te lo calculo?"
        text = ctx.say("plan_echoed", values)
        return Reply(text, plan=_summary(plan), offered=offered, kind=PLAN_AGAIN)
    lowering = lowering or echoed
    if longest and lowering and ctx.template("plan_lower"):
        higher = plan.down_payment_pct + ctx.config.lower_payment_step * 100
        try:
            lower = make_plan(
                car.price, financing, down_payment_pct=higher, term_months=plan.term_months
            )
        except FinancingError:
            lower = None
        if lower is not None:
            text = ctx.say(
                "plan_lower",
                {
                    **values,
                    "higher_down": money(lower.down_payment),
                    "higher_pct": _pct(lower.down_payment_pct),
                    "higher_payment": money(lower.monthly_payment),
                },
            )
    budget = _within_budget(ctx, plan) or _over_budget(ctx, car, plan)
    if budget:  # "¿y me alcanza o no?" of the plan just shown: against the budget said
        text = f"{budget}\n{text}"
    # "ta cara la mensualidad", "¿72 meses es lo más largo?": the plan's own answer; else the
    # plan said to be the same gives way to another answer beside it
    return Reply(text, plan=_summary(plan), kind="" if lowering else PLAN_AGAIN)


PLAN_AGAIN = "plan_again"  # the plan just shown said to be the same: beside another answer, nothing


def _within_budget(ctx: TurnContext, plan: Plan) -> str:
    """The monthly budget said now, or whether it fits asked ("¿me alcanza?"), and the plan
    inside it: by how much."""
    budget = ctx.state.financing.monthly_budget
    if not budget or plan.monthly_payment > budget or not ctx.template("within_budget"):
        return ""
    if ctx.extraction.monthly_budget is None and not said(ctx, "financing:fit_asked"):
        return ""  # a budget said turns ago (or read wrong) is not pressed on every plan
    values = {
        "monthly_payment": money(plan.monthly_payment),
        "monthly_budget": money(budget),
        "gap": money(budget - plan.monthly_payment),
    }
    return ctx.say("within_budget", values)


def _over_budget(ctx: TurnContext, car: Car, plan: Plan) -> str:
    """ "y si lo dejo en 5 años?" with a monthly budget said: a plan over it says so, and what
    the longest term would give at the same down payment."""
    budget = ctx.state.financing.monthly_budget
    if not budget or plan.monthly_payment <= budget or not ctx.template("over_budget"):
        return ""
    values = {"monthly_payment": money(plan.monthly_payment), "monthly_budget": money(budget)}
    longest = max(ctx.services.financing.term_months)
    if plan.term_months < longest and ctx.template("over_budget_longer"):
        return ctx.say("over_budget_longer", values | _longer_plan(ctx, car, plan)[1])
    return ctx.say("over_budget", values)


def _longer_plan(ctx: TurnContext, car: Car, plan: Plan) -> tuple[Plan, dict[str, object]]:
    """The same down payment at the longest term, and its template values."""
    financing = ctx.services.financing
    longer = make_plan(
        car.price,
        financing,
        down_payment=plan.down_payment,
        term_months=max(financing.term_months),
    )
    values = {
        "longer_years": years_text(longer.term_months),
        "longer_payment": money(longer.monthly_payment),
    }
    return longer, values


MAX_COMPARED = 4


def term_for_budget(ctx: TurnContext, car: Car) -> int | None:
    """With a monthly budget said and no term: the term `budget_fit` finds for it (the shortest
    that fits, else the longest), at the customer's own down payment."""
    params = ctx.state.financing
    if not params.monthly_budget:
        return None
    down = params.down_payment
    if down is None and params.down_payment_pct is not None:
        down = car.price * params.down_payment_pct / 100
    fit = budget_fit(car.price, params.monthly_budget, ctx.services.financing, down)
    return fit.plan.term_months if fit.plan is not None else None


def _compared(ctx: TurnContext, car: Car) -> Reply | None:
    """ "a 3 y a 5 años, pa comparar", "con 60 mil, ¿y con 90 mil?": one line per plan asked;
    "¿y cuánto pago de intereses en cada uno?", "dame el detalle" right after: the same plans with
    what each costs in all."""
    extraction, params = ctx.extraction, ctx.state.financing
    terms = list(extraction.terms) or [params.term_months]
    offered = ctx.services.financing.term_months
    ends = said(ctx, "financing:longest_term") and said(ctx, "financing:shortest_term")
    if said(ctx, "financing:all_terms") and not extraction.terms:
        terms = offered  # "¿a qué plazos hay?": every term, the same down payment
    elif ends and not extraction.terms:
        terms = [min(offered), max(offered)]  # "quiero ver el más largo y el más corto"
    downs: list[tuple[float | None, float | None]] = [
        (amount, None) for amount in extraction.down_payments
    ] + [(None, pct) for pct in extraction.down_payment_pcts]
    downs = downs or [(params.down_payment, params.down_payment_pct)]
    detail = said(ctx, "financing:detail")
    before = ctx.state.profile.get(COMPARED_PLANS, "")
    pairs = [(down, term) for down in downs for term in terms]
    if len(pairs) < 2 and detail and before and ctx.state.last_reply_kind == COMPARED:
        pairs = [_plan_terms(part) for part in before.split(";")]  # the plans just compared
    if len(pairs) < 2 or not ctx.template("compare_header"):
        return None
    plans = []
    for (amount, pct), term in pairs:
        try:
            plans.append(
                make_plan(
                    car.price,
                    ctx.services.financing,
                    down_payment=amount,
                    down_payment_pct=pct if amount is None else None,
                    term_months=term,
                )
            )
        except FinancingError:
            continue
    if len(plans) < 2:
        return None
    plans = plans[:MAX_COMPARED]
    values = {
        **car_values(car, words=ctx.words),
        "rate": _pct(ctx.services.financing.annual_rate * 100),
    }
    line = "option_line_detail" if detail and ctx.template("option_line_detail") else "option_line"
    lines = [ctx.say("compare_header", values)]
    lines += [ctx.say(line, _plan_values(ctx, car, plan)) for plan in plans]
    lines += ["", ctx.say("compare_closing")]
    ctx.state.profile[COMPARED_PLANS] = ";".join(
        f"{plan.down_payment}|{plan.term_months}" for plan in plans
    )
    return Reply("\n".join(lines), plan=_summary(plans[0]), kind=COMPARED)


CASH_FIGURES = "cash_figures"  # a reply's kind: the rest to pay in full, a policy's own figures
OWN_CAR_SAID = "context:own_car"
COMPARED = "plans_compared"  # a reply's kind: plans side by side ("a 3 y a 6 años")
COMPARED_PLANS = "compared_plans"  # profile key: their down payments and terms


def _plan_terms(part: str) -> tuple[tuple[float | None, float | None], int]:
    """A plan compared before, as `_compared` keeps it ("56399.8|36")."""
    amount, term = part.split("|")
    return (float(amount), None), int(term)


def _bare_as_pct(ctx: TurnContext, car: Car) -> float | None:
    """ "con 20 de enganche" for a $254,000 car: $20,000 is below the minimum, 20% is not; the
    percent is used and the note says so. Returns the number said, when read as a percent."""
    params, extraction = ctx.state.financing, ctx.extraction
    if BARE_DOWN_PAYMENT not in extraction.said or extraction.down_payment is None:
        return None
    if params.down_payment != extraction.down_payment or not ctx.template("bare_as_pct_note"):
        return None
    config = ctx.services.financing
    pct = extraction.down_payment / 1000
    enough = extraction.down_payment >= car.price * config.min_down_payment_pct / 100
    if enough and not ctx.pct_before:
        return None  # the amount works as said; after "el 20%", "¿y con 30?" is 30% too
    if not config.min_down_payment_pct <= pct < 100:
        return None
    params.down_payment, params.down_payment_pct = None, pct
    return pct


def _minimum_asked(ctx: TurnContext) -> str | None:
    """ "con el mínimo de enganche", "¿sin enganche?": the note the plan starts with."""
    if ctx.extraction.down_payment is not None or ctx.extraction.down_payment_pct is not None:
        return None
    if said(ctx, "financing:no_down"):
        return "no_down_note"
    return "minimum_note" if said(ctx, "financing:minimum_down") else None


def remember_params(ctx: TurnContext) -> None:
    """This turn's financing wishes over the stored ones ("¿y a 3 años?" keeps the down payment)."""
    extraction, params = ctx.extraction, ctx.state.financing
    if said(ctx, "financing:term_asked") and extraction.term_months is None:
        params.term_months = None  # "¿qué plazo necesito?": the term is the question
    if _minimum_asked(ctx) and extraction.down_payment is None:
        params.down_payment_pct = ctx.services.financing.min_down_payment_pct
        params.down_payment = None
    if extraction.down_payment is not None:
        params.down_payment, params.down_payment_pct = extraction.down_payment, None
    if extraction.down_payment_pct is not None and extraction.down_payment is None:
        # both said ("¿60%? no, 20 por ciento, 54 mil de enganche"): the amount is the exact one
        params.down_payment_pct, params.down_payment = extraction.down_payment_pct, None
    if extraction.term_months is not None:
        params.term_months = extraction.term_months
    terms = ctx.services.financing.terms_years
    if said(ctx, "financing:longest_term") and extraction.term_months is None:
        params.term_months = max(terms) * 12  # "lo más largo posible"
    if said(ctx, "financing:shortest_term") and extraction.term_months is None:
        params.term_months = min(terms) * 12
    if extraction.monthly_budget is not None:
        params.monthly_budget = extraction.monthly_budget


def _named_car(ctx: TurnContext) -> Reply | None:
    """ "Quiero financiar un Jetta 2019": find it; one match gets its plan, several a list."""
    extraction = ctx.extraction
    if not (extraction.make or extraction.model) or extraction.ordinal is not None:
        return None
    priced = priced_named(ctx)
    if priced is not None:  # "plan del kia rio 2019 de 249,999": the Rio at that price
        ctx.state.selected = priced.stock_id
        return plan_reply(ctx, priced)
    focus = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    if focus is not None and (extraction.model or "").casefold() in ("", focus.model.casefold()):
        return None  # the car in focus is the one named
    seen = list(dict.fromkeys([*ctx.state.last_results, *ctx.state.chosen]))
    if extraction.alternatives:  # "¿y el sentra y el versa con 25 mil a 5 años?": each one
        cars = [car for i in seen if (car := ctx.services.catalog.get(i)) is not None]
        each = each_named(extraction, cars)
        if len(each) > 1:
            ctx.state.last_results = [car.stock_id for car in each]
            text = plans_for_list(ctx)
            if text:
                return Reply(text, ask=ctx.say("pick_for_plan", {"count": len(each)}))
    known = [] if extraction.alternatives else cars_named(ctx.services.catalog, extraction, seen)
    if len(known) == 1:  # "el sentra, ¿cuánto al mes?" with one Sentra shown or chosen before
        ctx.state.selected = known[0].stock_id
        return plan_reply(ctx, known[0])
    filters = merge_filters(SearchFilters(), extraction, ctx.config.reset_on_new_model)
    filters = trim_as_version(ctx.services.catalog, filters)  # "¿y el amg al mes?": a version
    outcome = search(ctx.services.catalog, filters, limit=ctx.config.results_limit)
    if outcome.total == 1 and not outcome.relaxed:
        ctx.state.filters, ctx.state.last_results = filters, [outcome.cars[0].stock_id]
        ctx.state.selected = outcome.cars[0].stock_id
        return plan_reply(ctx, outcome.cars[0])
    ctx.state.filters = filters
    listing = list_outcome(ctx, outcome)
    if outcome.cars:
        count = len(outcome.cars)
        each = plans_for_list(ctx)  # "¿tienen mazda 3 2018? ¿y con 20% a 5 años?": each one
        listing.text = "\n\n".join(part for part in (listing.text, each) if part)
        listing.ask = ctx.say("pick_for_plan", {"count": count})
    return listing


def priced_named(ctx: TurnContext) -> Car | None:
    """The one car of the make/model named whose price is the one said after it."""
    extraction = ctx.extraction
    if CAR_PRICE not in extraction.said or extraction.price_max is None:
        return None
    named = merge_filters(SearchFilters(), extraction, ctx.config.reset_on_new_model)
    named = named.model_copy(update={"price_min": None, "price_max": None})
    catalog = ctx.services.catalog
    outcome = search(catalog, named, limit=len(catalog.cars))
    if outcome.relaxed:
        return None
    cars = price_pointed([shown_car(car) for car in outcome.cars], extraction.slots())
    return catalog.get(cars[0].stock_id) if len(cars) == 1 else None


def _options(ctx: TurnContext, car: Car) -> Reply:
    plans = suggested_plans(car.price, ctx.services.financing)
    lines = "\n".join(ctx.say("option_line", _option_values(plan)) for plan in plans)
    values = {
        **car_values(car, words=ctx.words),
        "lines": lines,
        "rate": _pct(ctx.services.financing.annual_rate * 100),
    }
    buttons = [
        Choice(
            id=f"plan:{plan.term_months}",
            title=ctx.say("button_term", {"term_years": years_text(plan.term_months)}),
        )
        for plan in _distinct_terms(plans)[:3]
    ]
    return Reply(ctx.say("options", values), choices=buttons, choices_kind="buttons")


def _assumptions(ctx: TurnContext) -> str:
    """What a budget answer assumed, said out loud: the customer's down payment or the minimum."""
    down_payment = ctx.state.financing.down_payment
    if down_payment:
        return ctx.say("stated_down_payment", {"down_payment": money(down_payment)})
    pct = ctx.state.financing.down_payment_pct
    if pct and pct >= ctx.services.financing.min_down_payment_pct and ctx.template("stated_pct"):
        return ctx.say("stated_pct", {"down_payment_pct": _pct(pct)})  # "con el 20%"
    return ctx.say("assumed_down_payment", _conditions(ctx))


def _affordable(ctx: TurnContext) -> Reply:
    """ "¿Qué me alcanza con 7 mil al mes?": the price ceiling, its assumptions, and the cars."""
    params = ctx.state.financing
    budget = params.monthly_budget or 0.0
    afford = affordability(ctx, budget)
    assert afford is not None
    wanted = merge_filters(ctx.state.filters, ctx.extraction, ctx.config.reset_on_new_model)
    if said(ctx, "financing:which_cars") and not (ctx.extraction.make or ctx.extraction.model):
        unnamed = dict.fromkeys(("make", "model", "version_has", "alternatives"))
        wanted = wanted.model_copy(update=unnamed)  # "¿qué otros carros me alcanzan?": any car
    ctx.state.filters = wanted  # "¿me alcanza con 6 mil al mes? busco suv": SUVs only
    # the ceiling a budget affords is exact: no tolerance for prices ending in 999
    filters = wanted.model_copy(
        update={"price_max": afford.price, "price_min": None, "price_strict": True}
    )
    # the cars that make the most of the budget first, unless the customer chose an order
    order = filters.superlative or ctx.config.budget_order
    filters = filters.model_copy(update={"superlative": order})
    outcome = search(ctx.services.catalog, filters, limit=ctx.config.results_limit)
    listing = list_outcome(ctx, outcome, filters=filters)
    if afford.by_down_payment and ctx.template("affordable_by_down_payment"):
        values = {
            **_conditions(ctx),
            "down_payment": money(afford.down_payment),
            "price_max": money(afford.price),
        }
        note = ctx.say("affordable_by_down_payment", values)
        listing.text = f"{note}\n\n{listing.text}"
    if said(ctx, "financing:no_down") and ctx.template("no_down_affordable"):
        note = ctx.say("no_down_affordable", _conditions(ctx))
        listing.text = f"{note}\n\n{listing.text}"  # "no tengo enganche": said, not assumed away
    listing.text = ctx.say(
        "affordable",
        {
            "price_max": money(afford.price),
            "monthly_budget": money(budget),
            "assumptions": _assumptions(ctx),
            "term_years": years_text(afford.term_months),
            "listing": listing.text,
        },
    )
    return listing


def _fit(ctx: TurnContext, car: Car) -> Reply:
    """ "¿Me alcanza con 7 mil al mes?" with a car chosen: yes with which plan, or what it takes."""
    params = ctx.state.financing
    budget = params.monthly_budget or 0.0
    down = params.down_payment
    if down is None and params.down_payment_pct is not None:  # "quiero dar el 30% y pagar
        down = car.price * params.down_payment_pct / 100  # máximo 8 mil": that 30%
    fit = budget_fit(car.price, budget, ctx.services.financing, down, params.term_months)
    values: dict[str, object] = {
        **car_values(car, words=ctx.words),
        "monthly_budget": money(budget),
    }
    if fit.plan is not None:
        values.update(_plan_values(ctx, car, fit.plan))
    values["down_payment_needed"] = money(fit.down_payment_needed or 0.0)
    template = "fits" if fit.fits else "does_not_fit"
    offered = None
    down_asked = said(ctx, "financing:down_asked") and ctx.extraction.down_payment is None
    if not fit.fits and down_asked and fit.plan is not None and ctx.template("down_needed"):
        # "¿cuánto enganche pa pagar 5 mil al mes a 4 años?": the down payment is the question
        values["term_years"] = years_text(fit.plan.term_months)
        return Reply(ctx.say("down_needed", values))
    if fit.longer is not None and ctx.template("fits_longer"):
        values["longer_years"] = years_text(fit.longer.term_months)
        values["longer_payment"] = money(fit.longer.monthly_payment)
        template = "fits_longer"  # "a 4 años no, a 5 años sí: $3,505.74"
        offered = f"plan:{fit.longer.term_months}"  # "¿te paso el plan a 5 años?" ... "sí"
    plan = _summary(fit.plan) if fit.fits and fit.plan else None
    return Reply(ctx.say(template, values), plan=plan, offered=offered)


def _plan_values(ctx: TurnContext, car: Car, plan: Plan) -> dict[str, object]:
    return {
        **car_values(car, words=ctx.words),
        "price": money(plan.price),
        "down_payment": money(plan.down_payment),
        "down_payment_pct": _pct(plan.down_payment_pct),
        "financed": money(plan.financed),
        "term_months": plan.term_months,
        "term_years": years_text(plan.term_months),
        "monthly_payment": money(plan.monthly_payment),
        "total_paid": money(plan.total_paid),
        "total_interest": money(plan.total_interest),
        "rate": _pct(plan.rate * 100),
    }


LIST_PLANS = 5


TOTAL_ASKED = "compare_cars:total"  # "¿cuánto es el total de los dos?"


def _cash_difference(ctx: TurnContext, car: Car) -> Reply | None:
    """ "yo lo pago de contado; si me dan 90 mil por el aveo, ¿cuánto pongo yo?": the car's
    price less what is put in, paid in full (no plan)."""
    down = ctx.extraction.down_payment
    if NO_CREDIT not in ctx.extraction.said or down is None or not ctx.template("cash_difference"):
        return None
    rest = max(car.price - down, 0.0)
    values = {**car_values(car, words=ctx.words), "put_in": money(down), "rest": money(rest)}
    traded = ctx.extraction.own_car or OWN_CAR_SAID in ctx.extraction.said  # "si me dan 90 por
    # el aveo": their car is put in, its value the inspection's
    template = "cash_difference_trade" if traded else "cash_difference"
    return Reply(ctx.say(template, values), rephrasable=False, kind=CASH_FIGURES)


def plans_for_list(ctx: TurnContext, only: list[int] | None = None) -> str:
    """The monthly payment of each listed car with the down payment and term the customer gave
    ("" when they gave neither, or the list is long); `only`: of these listed cars."""
    params = ctx.state.financing
    shown = ctx.state.last_results
    asked = params.down_payment is not None or params.down_payment_pct is not None
    config = ctx.services.financing
    if said(ctx, "financing:each") and len(shown) <= LIST_PLANS:  # "¿y las mensualidades de
        params = params.model_copy()  # las dos?": each with what they said, else the defaults
        if not asked:
            params.down_payment_pct = config.default_down_payment_pct
        params.term_months = params.term_months or config.default_term_years * 12
        asked = True
    if (
        not (asked and params.term_months)
        or len(shown) > LIST_PLANS
        or not ctx.template("list_plans_header")
    ):
        return ""
    lines, prices, monthly = [], [], []
    for n, stock_id in enumerate(shown, 1):
        car = ctx.services.catalog.get(stock_id)
        if car is None or (only is not None and stock_id not in only):
            continue
        try:
            plan = make_plan(
                car.price,
                ctx.services.financing,
                down_payment=params.down_payment,
                down_payment_pct=params.down_payment_pct,
                term_months=params.term_months,
            )
        except FinancingError:
            continue
        values = car_values(car, n, words=ctx.words)
        values["monthly_payment"] = money(plan.monthly_payment)
        lines.append(ctx.say("list_plan_line", values))
        prices.append(car.price)
        monthly.append(plan.monthly_payment)
    if not lines:
        return ""
    if said(ctx, TOTAL_ASKED) and len(lines) > 1 and ctx.template("list_plans_total"):
        together = {"count": len(lines), "total": money(sum(prices))}  # "los DOS juntos,
        together["monthly_payment"] = money(round(sum(monthly), 2))  # sumados"
        lines += ["", ctx.say("list_plans_total", together)]
    down = money(params.down_payment) if params.down_payment else _pct(params.down_payment_pct)
    header = ctx.say(
        "list_plans_header",
        {
            "down_payment": down,
            "term_years": years_text(params.term_months),
            "rate": _pct(ctx.services.financing.annual_rate * 100),
        },
    )
    return "\n".join([header, *lines])


def _option_values(plan: Plan) -> dict[str, object]:
    return {
        "down_payment_pct": _pct(plan.down_payment_pct),
        "down_payment": money(plan.down_payment),
        "term_years": years_text(plan.term_months),
        "term_months": plan.term_months,
        "monthly_payment": money(plan.monthly_payment),
    }


def _range_values(ctx: TurnContext, car: Car) -> dict[str, object]:
    config = ctx.services.financing
    return {
        **car_values(car, words=ctx.words),
        "min_down_payment": money(car.price * config.min_down_payment_pct / 100),
        "max_down_payment": money(car.price),
        **_conditions(ctx),
    }


def _conditions(ctx: TurnContext) -> dict[str, object]:
    """The financing terms from config/financing.yml, worded for a template."""
    config = ctx.services.financing
    terms = [f"{years}" for years in config.terms_years]
    joiner = ctx.config.templates.get("or_join", "o").strip()
    last = f" {joiner} {terms[-1]}" if len(terms) > 1 else terms[0]
    return {
        "min_pct": _pct(config.min_down_payment_pct),
        "terms": ", ".join(terms[:-1]) + last if len(terms) > 1 else last,
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
