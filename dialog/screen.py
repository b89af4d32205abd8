"""What the customer has on screen, for the NLU: the last list, the car in focus, the last
request and the form question pending (nlu.context.DialogContext, built from the state)."""

from __future__ import annotations

from dialog.config import DialogConfig
from dialog.state import OWN_CAR_BOUGHT, ConversationState
from nlu.context import DialogContext, ShownCar
from tools.catalog import Car, Catalog


def shown_car(car: Car) -> ShownCar:
    return ShownCar(
        stock_id=car.stock_id,
        make=car.make,
        model=car.model,
        year=car.year,
        price=car.price,
        km=car.km,
        version=car.version,
        body_type=car.body_type,
        transmission=car.transmission,
        fuel=car.fuel,
        seats=car.seats,
    )


def dialog_context(
    state: ConversationState, catalog: Catalog, config: DialogConfig
) -> DialogContext:
    shown = [shown_car(car) for car in _cars(catalog, state.last_results)]
    focus = catalog.get(state.selected) if state.selected is not None else None
    return DialogContext(
        shown=shown,
        focus=shown_car(focus) if focus is not None else None,
        chosen=[shown_car(car) for car in _cars(catalog, state.chosen)],
        last_label=state.last_label,
        asking=_asking(state, config),
        last_money=state.last_money,
        amounts={
            kind: value
            for kind in ("monthly_budget", "down_payment")
            if (value := getattr(state.financing, kind)) is not None
        },
        lead_open=state.handoff,
        own_car=state.own_car,
        offered=bool(state.offered),
        lead_phone=state.lead.phone if state.handoff or state.form else None,
        after_sale=bool(state.profile.get(OWN_CAR_BOUGHT)),
        compared=len(state.compared) > 1 and set(state.compared) <= set(state.last_results),
        plan_payment=_plan_payment(state),
    )


def _plan_payment(state: ConversationState) -> float | None:
    payment = (state.last_plan or {}).get("monthly_payment")
    return float(payment) if isinstance(payment, int | float) else None


def _cars(catalog: Catalog, stock_ids: list[int]) -> list[Car]:
    return [car for stock_id in stock_ids if (car := catalog.get(stock_id)) is not None]


def _asking(state: ConversationState, config: DialogConfig) -> list[str]:
    """The slots the pending form question takes ("name" while asking the name)."""
    progress = state.form
    form = config.forms.get(progress.name) if progress else None
    if progress is None or form is None:
        return []
    question = next((q for q in form.questions if q.id == progress.asking), None)
    return list(question.fills) if question else []
