"""handoff.start / handoff.finish: a clean lead for an advisor. Name, phone, e-mail and contact
time come from the NLU (validated, in any order, several in one message); the advisor gets them
with the car, the plan and a summary of the conversation; the customer sees exactly what was
captured."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from dialog.config import DialogConfig
from dialog.forms import BY_CHAT, LEAD_SLOTS, said
from dialog.handlers.common import CAR_PLACEHOLDERS, car_values, pick_by_ordinal, plan_words
from dialog.handlers.search import WISHED_CAR
from dialog.registry import handler
from dialog.render import money
from dialog.state import (
    LEAD_NOTES,
    OWN_CAR_BOUGHT,
    ConversationState,
    FinancingParams,
    append_note,
)
from dialog.store.base import Handoff
from dialog.turn import Reply, TurnContext
from nlu.grammar import GRAMMAR
from nlu.text import normalize
from tools.catalog import Car, car_name
from tools.financing import FinancingError, make_plan
from tools.search import SearchFilters, alternative_parts, search

LEAD_FORM = "lead_capture"
RESERVATION = "reservation"  # the knowledge topic whose rules a reservation request gets first
DONE = {"name", "contact_time", "captured"} | CAR_PLACEHOLDERS
# the templates every reply that lists what the advisor receives may use
CAPTURED_LINE = {"captured_line": {"label", "value"}}
CAPTURED_TEMPLATES = {
    **{f"label_{key}": set() for key in (*LEAD_SLOTS, "car", "also", "plan", "own_car", "note")},
    "label_contact_by": set(),
    "contact_by_chat": set(),
    "label_own_car_plain": set(),
    "plan_line": {"monthly_payment", "term_months", "down_payment"},
    "own_car_owed": {"owed"},
    "own_car_payments": {"payments"},
    "own_car_offer": {"offer"},
}
_PHONE_USER = re.compile(r"^\+?(?:521|52)?(\d{10})$")


@handler(
    "handoff.start",
    required={"already_requested": {"name"}},
    optional={"already_requested_when": {"name", "contact_time"}},
)
def start_handoff(ctx: TurnContext, reason: str | None = None) -> Reply:
    """Ask only for what is missing (the WhatsApp number is the phone), unless a request is open
    (then when the call comes, as the customer asked it)."""
    if ctx.state.handoff:
        lead = ctx.state.lead
        values = {
            "name": lead.name or "",
            "contact_time": _time_words(ctx, lead.contact_time) or "",
        }
        timed = bool(lead.contact_time) and lead.contact_by != BY_CHAT
        if timed and ctx.template("already_requested_when"):
            return Reply(ctx.say("already_requested_when", values))
        return Reply(ctx.say("already_requested", values))
    from dialog.forms import start_form

    lead = ctx.state.lead
    if lead.phone is None and (match := _PHONE_USER.match(ctx.state.user)):
        lead.phone = match.group(1)
    ctx.state.profile["handoff_reason"] = reason or ctx.state.last_label or ctx.intent
    car_described(ctx)
    reply = start_form(ctx, LEAD_FORM)
    told = any(done.startswith(f"{RESERVATION}:") for done in ctx.state.recent_answers)
    if said(ctx, f"{ctx.intent}:reserve") and not told:
        rules = _knowledge_of(ctx, RESERVATION, ctx.extraction.said)
        return rules.followed_by(reply)  # "lo quiero apartar": the 3 days, then the form
    visit = _visit_asked(ctx)
    return visit.followed_by(reply) if visit is not None else reply


def _knowledge_of(ctx: TurnContext, topic: str, said_names: frozenset[str]) -> Reply:
    """The knowledge answer of `topic` for this message (with `said_names` as what it said)."""
    from dialog.handlers.answers import knowledge_answer

    asked = ctx.extraction.model_copy(
        update={"intent": "knowledge", "topic": topic, "said": said_names}
    )
    return knowledge_answer(replace(ctx.speaking_as("knowledge"), extraction=asked))


def _visit_asked(ctx: TurnContext) -> Reply | None:
    """ "vivo en tlalnepantla, ¿puedo ir a verlo el domingo?": the visit asked is answered (the
    hours, the branch of that city) before the advisor's form books it."""
    from dialog.handlers.answers import LOCATIONS

    extraction = ctx.extraction
    asked = "?" in ctx.text or "context:question" in extraction.said
    places = any(name.startswith(f"section:{LOCATIONS}:") for name in extraction.said)
    if not asked or not (places or extraction.city):
        return None
    kept = frozenset(name for name in extraction.said if not name.startswith("knowledge:"))
    answer = _knowledge_of(ctx, LOCATIONS, kept)  # (not its "case" note: the form books it)
    return answer if answer.text.strip() else None


def car_described(ctx: TurnContext) -> None:
    """ "márquenme ... para el rio de 19 mil km": the listed car the message describes by its km
    or price is the one the lead is about; "Fernando Ochoa, 55…, quería la tracker 2021": the
    one car named (among those seen, else in the whole catalog)."""
    from dialog.screen import shown_car
    from nlu.context import km_pointed, price_pointed

    state, catalog = ctx.state, ctx.services.catalog
    cars = [car for i in state.last_results if (car := catalog.get(i))]
    slots = ctx.extraction.slots()
    if ctx.extraction.odometer:  # "el rio de 19 mil km": that car's km, read apart from a ceiling
        slots["km_max"] = ctx.extraction.odometer
    shown = [shown_car(car) for car in cars]
    pointed = km_pointed(shown, slots) or price_pointed(shown, slots)
    extraction = ctx.extraction
    if state.profile.get(OWN_CAR_BOUGHT) and (extraction.make or extraction.model):
        year = extraction.year_min or extraction.year_max  # "compré un carro con ustedes y ya
        state.own_car = car_name(extraction.make, extraction.model, year)  # falló; es un forte"
        return  # their car, bought before: not one of ours to buy
    if not pointed and (extraction.make or extraction.model):
        pointed = cars_named_anywhere(ctx, limit=2)
    if len(pointed) == 1:
        state.selected = pointed[0].stock_id
        for other in _alternatives_named(ctx):  # "quiero el spark y el figo": the Figo too
            if other not in _also(state):
                state.profile[ALSO_KEY] = ALSO_SEP.join([*_also(state), other])


def _alternatives_named(ctx: TurnContext) -> list[str]:
    """The lead's other cars the message names beside the first: each the one seen or in stock
    by that name (its year when each car has its own), else its make and model."""
    extraction = ctx.extraction
    years = list(dict.fromkeys(extraction.years))
    titles = []
    for i, alternative in enumerate(extraction.alternatives, 1):
        make, model, own = alternative_parts(alternative)
        year = own or (years[i] if len(years) > i else extraction.year_min)
        other = extraction.model_copy(
            update={"make": make or None, "model": model or None, "alternatives": [],
                    "year_min": year, "year_max": year}
        )  # fmt: skip
        found = cars_named_anywhere(replace(ctx, extraction=other), limit=2)
        title = _car_title(ctx, found[0].stock_id) if len(found) == 1 else None
        titles.append(title or car_name(make, model, year))
    return [title for title in titles if title]


def cars_named_anywhere(ctx: TurnContext, limit: int) -> list[Car]:
    """The cars the message names: among those seen (shown or chosen), else in the whole catalog
    by the vectorised search (at most `limit`; none when the search had to relax)."""
    from dialog.handlers.selection import cars_named

    state, extraction, catalog = ctx.state, ctx.extraction, ctx.services.catalog
    seen = list(dict.fromkeys([*state.last_results, *state.chosen, *reversed(state.seen)]))
    named = cars_named(catalog, extraction, seen)
    if named:
        return named
    wanted = SearchFilters(
        make=extraction.make,
        model=extraction.model,
        year_min=extraction.year_min,
        year_max=extraction.year_max,
    )
    outcome = search(catalog, wanted, limit=limit)
    return list(outcome.cars) if not outcome.relaxed else []


LEAD_PLAN = "lead_plan"  # profile key: the plan the advisor got, as `plan_key` writes it


def plan_key(plan: dict[str, object]) -> str:
    """A plan's down payment and term: what tells a plan sent from another one."""
    return f"{float(plan['down_payment']):.2f}|{plan['term_months']}"  # type: ignore[arg-type]


@handler(
    "handoff.finish",
    required={"done": DONE, **CAPTURED_LINE},
    optional=CAPTURED_TEMPLATES,
)
def finish_handoff(ctx: TurnContext, template: str = "done", send: bool = True) -> Reply:
    """Store the lead and tell the customer exactly what the advisor will receive; `send=False`
    only says what the advisor has."""
    state, lead = ctx.state, ctx.state.lead
    seller = _is_seller(ctx)
    # a trade-in has both cars: the one chosen and the customer's own; a seller only their own
    car = ctx.services.catalog.get(state.selected) if state.selected else None
    if seller and state.own_car is None:
        car = None
    shown_plan = (
        state.last_plan if car and (state.last_plan or {}).get("price") == car.price else None
    )
    # the plan shown was of this car; else the customer's terms computed for it ("el de la
    # Vento" after a Jetta plan is not the Jetta's payment)
    plan = (shown_plan or _plan_of(ctx, car)) if car else None
    title = _car_title(ctx, car.stock_id) if car else None
    wished = state.profile.get(WISHED_CAR)
    if title is None and wished and not seller:  # "un model 3 2021" we do not have
        title = ctx.say("wished_car", {"car": wished}) or wished
    handoff = Handoff(
        user=state.user,
        name=lead.name,
        phone=lead.phone,
        email=lead.email,
        contact_time=lead.contact_time,
        contact_by=lead.contact_by,
        stock_id=car.stock_id if car else None,
        car=title,
        plan=plan,
        reason=state.profile.get("handoff_reason", ctx.intent),
        summary=summary(ctx),
    )
    if send:
        ctx.handoff = handoff
        state.handoff = True
        if car is not None:
            state.profile["lead_car"] = str(car.stock_id)  # a later "no, es el otro" corrects it
            if ctx.extraction.alternatives:  # "interested in both the CR-V 2016 and the CX-5
                _also_wanted(ctx, None)  # 2019": the other one goes in too
        state.profile["lead_own_car"] = own_car_record(state)
        state.profile[LEAD_CONTACT] = contact_record(lead)
        state.profile[LEAD_PLAN] = plan_key(plan) if plan else ""
    elif state.profile.get("lead_car") is not None:  # what was sent, not the car now in focus
        sent = ctx.services.catalog.get(int(state.profile["lead_car"]))
        title = _car_title(ctx, sent.stock_id) if sent else title
    elif not wished or seller:
        title, plan = None, None
    captured = {
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "contact_time": _time_words(ctx, lead.contact_time),
        "contact_by": ctx.say(f"contact_by_{lead.contact_by}") if lead.contact_by else None,
        "car": title,
        "plan": ctx.say("plan_line", plan_words(plan)) if plan else None,
        "also": state.profile.get(ALSO_KEY, "").replace(ALSO_SEP, "; ") or None,
        "own_car": own_car_said(ctx),  # to sell, or to leave as a down payment
        "note": _lead_note(state, ctx.pack().get("lead_wishes"), ctx.config, bool(plan)),
    }
    bought = bool(state.profile.get(OWN_CAR_BOUGHT))  # "compré un versa ... y ya falló"
    labels = {"own_car": "label_own_car_plain" if bought else "label_own_car"}
    lines = [  # a car they bought and complain about is no car to sell: "Tu auto", plainly
        ctx.say(
            "captured_line",
            {
                "label": ctx.say(labels.get(key, f"label_{key}")) or ctx.say(f"label_{key}") or key,
                "value": value,
            },
        )
        for key, value in captured.items()
        if value
    ]
    values = {
        **(car_values(car) if car else {}),
        "name": lead.name or "",
        "captured": "\n".join(lines),
    }
    return Reply(ctx.say(template, values), rephrasable=False)


LEAD_CONTACT = "lead_contact"  # profile key: the contact data the lead was sent with


def contact_record(lead) -> str:
    """The lead's ways and time of contact, to tell when they change after it was sent."""
    return "|".join(str(value or "") for value in (lead.phone, lead.email, lead.contact_time))


@handler(
    "handoff.update",
    required={"noted": set(), "updated": DONE, **CAPTURED_LINE},
    optional={**CAPTURED_TEMPLATES, "other_person_note": {"who"}},
)
def update_handoff(ctx: TurnContext) -> Reply:
    """Contact data given after the lead was sent corrects it ("el horario está mal, es fin de
    semana"); before any lead, it is just noted for when the customer wants a call."""
    if not ctx.state.handoff:
        given = ctx.extraction.phone or ctx.extraction.email
        if given and not ctx.state.profile.get("lead_declined"):
            return start_handoff(ctx, "inform")  # "mi cel es 55…" unasked: they want a call
        return Reply(ctx.say("noted"))
    return finish_handoff(ctx, "updated")


@handler(
    "handoff.status",
    required={"noted": set(), "updated": DONE, "unchanged": DONE, **CAPTURED_LINE},
    optional=CAPTURED_TEMPLATES,
)
def lead_status(ctx: TurnContext) -> Reply:
    """After the lead was sent: "agrégala a mi solicitud" sends it again with the car the message
    points at; "¿qué datos tienes de mi solicitud?" shows what the advisor got."""
    state = ctx.state
    if not state.handoff:
        return Reply(ctx.say("noted"))
    ruled = _ruled_out_of_lead(ctx)  # "please remove the Mini", "ya no quiero el versa"
    if (said(ctx, "lead_update:no_car") or ruled) and state.profile.get("lead_car"):
        state.selected = None  # "corrige mi solicitud, no me interesa ningún auto"
        state.profile.pop("lead_car")
        also = _also(state)
        if also:  # the next car of interest takes its place
            state.profile[ALSO_KEY] = ALSO_SEP.join(also[1:])
            first = next((c for c in state.chosen if _car_title(ctx, c) == also[0]), None)
            state.selected = first
        return finish_handoff(ctx, "updated")
    if state.own_car and _own_car_ruled_out(ctx):  # "QUITA EL TSURU, no es mío": their car
        state.own_car = None  # (a relative's to sell) is no longer the lead's
        state.profile.pop("lead_own_car", None)
        return finish_handoff(ctx, "updated")
    extraction = ctx.extraction
    if said(ctx, NO_PLAN_KEY) and (state.last_plan or state.profile.get(LEAD_PLAN)):
        state.last_plan = None  # "scratch the plan": the advisor gets the car, no plan
        state.financing = FinancingParams()
        return finish_handoff(ctx, "updated")
    seller = _is_seller(ctx)
    changed = ctx.marks.get(WISH_ADDED, False)  # "you didn't write that I'm paying cash"
    named = extraction.make or extraction.model
    adding = said(ctx, ADD_KEY) and not said(ctx, NOTE_KEY) and state.profile.get("lead_car")
    if adding and _also_wanted(ctx, _pointed_car(ctx)):
        state.selected = int(state.profile["lead_car"])  # "agrégale también el versa": beside
        return finish_handoff(ctx, "updated")  # the one sent, which stays the lead's car
    if said(ctx, ADD_KEY) and not said(ctx, NOTE_KEY) and not named:
        add_note(ctx, ADD_KEY)  # "also add that I'd want to see it at Punto Valle": their words
        ctx.marks[WHOLE_MESSAGE] = True
        return finish_handoff(ctx, "updated")
    listed = named and _pointed_car(ctx) is not None
    if listed:  # "ponme en la solicitud también la trax": a car of ours to buy, not theirs
        seller = False
    if seller and named and not extraction.own_car:  # "anota que es un mazda 3 2019" (not "me
        # interesa ese aveo con mi tsuru a cuenta": the Aveo is wanted, the Tsuru theirs)
        year = extraction.year_min or extraction.year_max
        state.own_car, changed = car_name(extraction.make, extraction.model, year), True
    if said(ctx, NOTE_KEY):  # "anota que debo 80 mil": their words, for the advisor
        add_note(ctx)
        changed = True
        ctx.marks[WHOLE_MESSAGE] = True  # the rest of the message is the note, no other request
    if seller:  # their own car is the lead's: no listed car to add
        return finish_handoff(ctx, "updated" if changed else "unchanged", send=changed)
    noted_only = said(ctx, NOTE_KEY) and not named and extraction.ordinal is None
    several = [] if noted_only or extraction.ordinal is not None else _named_seen(ctx)
    if len(several) > 1:  # "change the request to the Gol" with two Gols listed: which one
        name = extraction.model or extraction.make or ""
        asking = ctx.speaking_as("select_car")
        return Reply(asking.say("ambiguous", {"count": len(several), "name": name}))
    car = None if noted_only else _pointed_car(ctx)  # "agrégale que la quiero 2018": a note on
    # the car sent (a Tacoma we do not have), not the one car on screen
    if car is not None and _car_title(ctx, car) in _also(state):
        car = None  # already beside the lead's car: "¿qué datos tienes?" changes nothing
    contact = any(getattr(ctx.extraction, key) for key in LEAD_SLOTS)
    if (car is not None and str(car) != state.profile.get("lead_car")) or contact:
        state.selected = car if car is not None else state.selected
        return finish_handoff(ctx, "updated")
    if changed:  # a note added: the advisor gets it
        return finish_handoff(ctx, "updated")
    return finish_handoff(ctx, "unchanged", send=False)


def drop_notes(ctx: TurnContext) -> None:
    """Take off the lead's wishes the message names by their words ("no pago de contado"), else
    every note and wish."""
    state, text = ctx.state, f" {normalize(ctx.text)} "
    wishes = [w for w in state.profile.get(WISHES, "").split(WISH_SEP) if w]
    named = [
        wish
        for wish in wishes
        if any(f" {p} " in text for p in _folded(tuple(ctx.config.lead_wishes.get(wish, []))))
        or normalize(wish) in text
    ]
    kept = [wish for wish in wishes if wish not in named] if named else []
    state.profile[WISHES] = WISH_SEP.join(kept)
    if not named:
        state.profile.pop(LEAD_NOTES, None)


def _own_car_ruled_out(ctx: TurnContext) -> bool:
    """ "quita el tsuru de mi solicitud", "es de mi hijo, no mío, quítalo": the own car on the
    lead is ruled out by its name, or said to be someone else's."""
    ruled = (ctx.extraction.exclude_car or "").casefold()
    own = (ctx.state.own_car or "").casefold().split()
    again = ctx.extraction.own_car and NEGATED_CAR in ctx.extraction.said  # (read as theirs)
    return (bool(ruled) and ruled in own) or bool(again) or said(ctx, NOT_MINE_KEY)


def _ruled_out_of_lead(ctx: TurnContext) -> bool:
    """The car the message rules out ("I do NOT want the Mini Cooper") is the lead's car."""
    ruled = (ctx.extraction.exclude_car or "").casefold()
    sent = ctx.services.catalog.get(int(ctx.state.profile.get("lead_car", "0") or 0))
    names = (sent.make.casefold(), sent.model.casefold()) if sent is not None else ()
    return bool(ruled) and ruled in names


def _also_wanted(ctx: TurnContext, car: int | None) -> bool:
    """Add the car named to the lead's other cars of interest: the one pointed at, else the one
    the catalog has by that name, else the make and model said (the advisor shows the ones in
    stock). False when it is the car already sent or already added."""
    state, extraction = ctx.state, ctx.extraction
    if car is None and extraction.alternatives:  # "you only put the CR-V… add the CX-5 2019":
        extraction = _other_than_lead(ctx)  # the car named that is not the lead's
        ctx = replace(ctx, extraction=extraction)
    if car is None:
        named = cars_named_anywhere(ctx, limit=2)
        car = named[0].stock_id if len(named) == 1 else None
    if car is not None:
        if str(car) == state.profile.get("lead_car"):
            return False
        title = _car_title(ctx, car)
    elif extraction.make or extraction.model:  # not in stock by that name: the advisor checks
        year = extraction.year_min or extraction.year_max
        title = car_name(extraction.make, extraction.model, year)
    else:
        return False
    also = _also(state)
    if not title or title in also:
        return False
    state.profile[ALSO_KEY] = ALSO_SEP.join([*also, title])
    return True


def _other_than_lead(ctx: TurnContext):
    """Of the cars a message names, the first that is not the lead's car (its year with it)."""
    extraction = ctx.extraction
    lead = ctx.services.catalog.get(int(ctx.state.profile.get("lead_car", "0") or 0))
    named = [(extraction.make, extraction.model)]
    named += [alternative_parts(other)[:2] for other in extraction.alternatives]
    years = list(dict.fromkeys(extraction.years))
    paired = len(years) == len(named)  # "the CR-V 2016 and the CX-5 2019": a year each
    for i, (make, model) in enumerate(named):
        if lead is not None and (model or "").casefold() == lead.model.casefold():
            continue
        year = years[i] if paired else extraction.year_min if len(years) <= 1 else None
        update = {"make": make or None, "model": model or None}
        return extraction.model_copy(update={**update, "year_min": year, "year_max": year})
    return extraction


def _also(state: ConversationState) -> list[str]:
    """The other cars of interest added to the lead, as the advisor reads them."""
    return [part for part in state.profile.get(ALSO_KEY, "").split(ALSO_SEP) if part]


def _car_title(ctx: TurnContext, stock_id: int) -> str | None:
    car = ctx.services.catalog.get(stock_id)
    return f"{car.title} · {money(car.price)}" if car is not None else None


def own_car_said(ctx: TurnContext) -> str | None:
    """Their car as the advisor reads it: "Jeep Compass 2019 · 70,000 km · estándar · adeudo
    $80,000 · referencia $180,000" with the km, traits, debt and offers they said."""
    state = ctx.state
    if not state.own_car:
        return None
    profile = state.profile
    km = profile.get(OWN_CAR_KM, "")
    parts = [state.own_car]
    if km.isdigit():
        parts.append(f"{int(km):,} km")
    parts += [ctx.words.get(value, value) for key in OWN_CAR_TRAITS if (value := profile.get(key))]
    for key in (OWN_CAR_OWED, OWN_CAR_OFFER):  # "own_car_owed": "adeudo de {owed}"
        amount = profile.get(key, "")
        if amount.isdigit() and ctx.template(key):
            parts.append(ctx.say(key, {key.rsplit("_", 1)[1]: money(float(amount))}))
    payments = profile.get(OWN_CAR_PAYMENTS, "")
    if payments.isdigit() and ctx.template(OWN_CAR_PAYMENTS):  # "le faltan 8 mensualidades"
        parts.append(ctx.say(OWN_CAR_PAYMENTS, {"payments": payments}))
    return " · ".join(parts)


def own_car_record(state) -> str:
    """What the advisor has of their car, to tell whether something was added after the lead."""
    keys = (OWN_CAR_KM, *OWN_CAR_TRAITS, OWN_CAR_OWED, OWN_CAR_PAYMENTS, OWN_CAR_OFFER)
    return "|".join([state.own_car or "", *(state.profile.get(key, "") for key in keys)])


def _is_seller(ctx: TurnContext) -> bool:
    """The lead is about the customer's own car (to sell, or to leave as a down payment): it was
    started from one of config/intents.yml `own_car_labels`, or their car is known."""
    state = ctx.state
    reason = state.profile.get("handoff_reason")
    return reason in ctx.services.extractor.own_car_labels or state.own_car is not None


def _pointed_car(ctx: TurnContext) -> int | None:
    """The car a lead update is about: the one picked or named among those shown or chosen, the
    only one on screen ("ok esa, agrégala"), else the one in focus."""
    state, extraction = ctx.state, ctx.extraction
    shown = state.last_results
    if extraction.ordinal is not None and shown:
        return pick_by_ordinal(shown, extraction.ordinal)
    if extraction.make or extraction.model:
        named = _named_seen(ctx)
        if not named:  # "el auto es la Chevrolet Trax 2020": seen before, else the one in stock
            named = cars_named_anywhere(ctx, limit=2)
        return named[0].stock_id if len(named) == 1 else None
    if len(shown) == 1:
        return shown[0]
    return state.selected


def _named_seen(ctx: TurnContext) -> list[Car]:
    """The cars shown or chosen that the make or model named fits."""
    from dialog.handlers.selection import cars_named

    extraction, state = ctx.extraction, ctx.state
    if not (extraction.make or extraction.model):
        return []
    seen = list(dict.fromkeys([*state.last_results, *state.chosen]))
    return cars_named(ctx.services.catalog, extraction, seen)


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
        how = (
            "comprado, no lo vende"
            if state.profile.get(OWN_CAR_BOUGHT)
            else "vende o deja a cuenta"
        )
        lines.append(f"auto del cliente ({how}): {own_car_said(ctx)}")
    if state.last_label:
        lines.append(f"último tema: {state.last_label}")
    if state.profile.get(ALSO_KEY):  # "agrégale también el versa"
        lines.append(f"también le interesa: {state.profile[ALSO_KEY].replace(ALSO_SEP, '; ')}")
    if note := _lead_note(state):  # "anota que debo 80 mil", "quiere una videollamada"
        lines.append(f"notas del cliente: {note}")
    return lines


def _plan_of(ctx: TurnContext, car: Car) -> dict[str, object] | None:
    """The customer's terms computed for `car`; with a monthly budget and no term, the term
    that fits it, as the plan they were shown ("máximo 5 mil al mes": 72 months, not 48)."""
    from dialog.handlers.financing import term_for_budget

    params = ctx.state.financing
    if (
        params.down_payment is None
        and params.down_payment_pct is None
        and params.term_months is None
    ):
        return None
    try:
        plan = make_plan(
            car.price,
            ctx.services.financing,
            down_payment=params.down_payment,
            down_payment_pct=params.down_payment_pct,
            term_months=params.term_months or term_for_budget(ctx, car),
        )
    except FinancingError:
        return None
    return plan.model_dump()


def _time_words(ctx: TurnContext, said: str | None) -> str | None:
    """The contact time in the customer's language ("por la tarde" -> "in the afternoon"): the
    pack's `contact_time_words`, longest first; the advisor's lead keeps the Spanish."""
    pairs = ctx.pack().get("contact_time_words") or {}
    if not said or not pairs:
        return said
    for spanish in sorted(pairs, key=len, reverse=True):
        said = said.replace(spanish, pairs[spanish])
    return said


NOTE_KEY = "lead_update:note"
NOTE_ROUTE = "lead_update"
OWN_CAR_KM = "own_car_km"  # the km of the customer's own car, as they said it
OWN_CAR_OWED = "own_car_owed"  # what they still owe on it
OWN_CAR_PAYMENTS = "own_car_payments"  # ... or the payments left on it
OWN_CAR_OFFER = "own_car_offer"  # what they were offered for it, or one like it sold for
# its traits as they told them ("es estándar"), in the words of dialog.yml `words`
OWN_CAR_TRAITS = ("own_car_transmission", "own_car_fuel", "own_car_drive")
WHOLE_MESSAGE = "whole_message"  # a mark: the answer took the whole message (no second request)
ADD_KEY = "lead_update:add"  # "agrégale también…": a car beside the one sent, not instead
NOT_MINE_KEY = "lead_update:not_mine"  # "no es mío": their car taken off the lead
NEGATED_CAR = "context:negation:car"  # a car named right after "quita", "no", "sin"
NO_PLAN_KEY = "lead_update:no_plan"  # "scratch the plan": the lead without its plan
DROP_NOTE_KEY = "lead_update:drop_note"  # "quítale esa nota": a note off the lead
ALSO_KEY, ALSO_SEP = "lead_also", "|"


WISHES = "lead_wishes"  # profile key: the wishes said (dialog.yml `lead_wishes`), in order
WISH_SEP = " | "
WISH_ADDED = "wish_added"  # a turn mark: a wish said this turn


def note_wishes(ctx: TurnContext) -> None:
    """ "agéndame una videollamada": what the customer asked to do, kept for the advisor's
    note whenever it was said (before the lead or with it)."""
    text = f" {normalize(ctx.text)} "
    said = [w for w in ctx.state.profile.get(WISHES, "").split(WISH_SEP) if w]
    for wish, phrases in ctx.config.lead_wishes.items():
        found = [p for p in _folded(tuple(phrases)) if f" {p} " in text]
        if found and all(_denied_before(text, phrase) for phrase in found):
            if wish in said:  # "no voy a pagar de contado, es con enganche": taken back
                said.remove(wish)
                ctx.marks[WISH_ADDED] = True
            continue
        if wish not in said and found:
            said.append(wish)
            ctx.marks[WISH_ADDED] = True  # after the lead, the advisor gets it too
    if said or WISHES in ctx.state.profile:
        ctx.state.profile[WISHES] = WISH_SEP.join(said)


DENIAL_REACH = 4  # "no voy a pagar de contado": a denial this many words before the wish


def _denied_before(text: str, phrase: str) -> bool:
    """A "no" (or "not", "never") in the words right before the wish's phrase."""
    before = text[: text.index(f" {phrase} ")].split()[-DENIAL_REACH:]
    return bool(set(before) & GRAMMAR.wish_denials)


@lru_cache(maxsize=64)
def _folded(phrases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normalize(phrase) for phrase in phrases)


def _lead_note(
    state: ConversationState,
    said_as: dict | None = None,
    config: DialogConfig | None = None,
    planned: bool = False,
) -> str | None:
    """The advisor's note ("anota que debo 80 mil"): the customer's words to note, then the
    wishes said ("quiere una videollamada"), each as `said_as` words it in the customer's
    language; `planned`: the lead carries a plan, which drops the wishes it contradicts."""
    wishes = [w for w in state.profile.get(WISHES, "").split(WISH_SEP) if w]
    if planned and config is not None:
        wishes = [w for w in wishes if w not in config.lead_wishes_unless_plan]
    wishes = [(said_as or {}).get(wish, wish) for wish in wishes]
    parts = [state.profile.get(LEAD_NOTES, ""), *wishes]
    return WISH_SEP.join(part for part in parts if part) or None


def add_note(ctx: TurnContext, key: str = "lead_update:note") -> None:
    """The customer's words for the advisor, without the cue that asks to note them ("nota para
    el asesor: pago de contado" -> "pago de contado"), added to the lead's notes; `key` names
    the phrase set of the cue ("also add that…" is an `add` cue)."""
    state = ctx.state
    phrases = ctx.config.route_for(NOTE_ROUTE).phrases
    note = _without_cue(ctx.text, phrases.get(key.rsplit(":", 1)[-1], []))
    empty = {normalize(word) for word in phrases.get("empty_note", [])}
    if all(word.strip(".,;:!?¿¡") in empty for word in normalize(note).split()):
        return  # "please add it": the wish said beside it is the note
    append_note(state.profile, note)


def _without_cue(text: str, cues: list[str]) -> str:
    """The words after the first cue phrase said, the longest of those starting there ("also
    add that" over "also"), and a "que"/":" right after it."""
    words = text.split()
    folded = [normalize(word).strip(".,;:!?¿¡") for word in words]
    folded = ["que" if word == "q" else word for word in folded]  # "agrégale q busco…"
    found: tuple[int, int] | None = None  # (start, -end) of the cue to cut after
    for cue in cues:
        parts = normalize(cue).split()
        for i in range(len(folded) - len(parts) + 1):
            if folded[i : i + len(parts)] == parts:
                here = (i, -(i + len(parts)))
                found = here if found is None or here < found else found
                break
    if found is None:
        return text
    best = -found[1]
    while best < len(words) and folded[best] in ("que", "al", "asesor", ""):
        best += 1
    rest = " ".join(words[best:]).lstrip(":,; ")
    return rest or text
