"""Fixed answers, knowledge answers, complaints and what nothing understood (the only places
the LLM may answer: a question about cars or buying that no rule and no example covers)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from dialog.cars import car_values
from dialog.forms import said
from dialog.registry import handler
from dialog.render import fill, money
from dialog.state import append_note
from dialog.turn import Reply, TurnContext
from nlu.pipeline import DAYS_PER_UNIT, OWN_CAR_TOLD
from nlu.schema import Extraction
from nlu.text import normalize
from tools.knowledge import without_repeated_facts

log = logging.getLogger("dialog")
LOCATIONS = "locations"
RECENT_ANSWERS = 3  # a knowledge answer given this recently is not pasted again
RECENT_PARTS = 6  # the sections of the knowledge answers given lately
# the topics whose answer an income said is about: whether they approve it, not a budget
CREDIT_TOPICS = frozenset({"credit_application", "payment_plans"})


@handler("reply", required={"default": set()}, optional={"again": set(), "after_lead": set()})
def fixed_reply(ctx: TurnContext) -> Reply:
    """greet, thanks, goodbye and any intent staff add with a plain answer; `again` is said
    instead when the same answer was the last one ("hola" twice), `after_lead` once an advisor
    has the customer's request ("gracias, ojalá sí me resuelvan": no more cars offered)."""
    repeated = ctx.state.last_intent == ctx.intent and ctx.say("again")
    if repeated:
        return Reply(ctx.say("again"), kind=ctx.intent)
    if ctx.state.handoff and ctx.template("after_lead"):
        return Reply(ctx.say("after_lead"), kind=ctx.intent)
    return Reply(ctx.say("default"), kind=ctx.intent)


SECOND_REQUEST = "turn:second_request"  # said by the engine on the copy a second request reads
REPEATED = "repeated"  # the kind of the "ya te lo compartí arriba" reply
INSISTING = "context:insisting"  # "no me entendió", "te pregunté": the answer missed
QUOTED = "quoted"  # the lines of an answer given before that hold what is asked again
BARE_ASK_WORDS = 4  # a topic asked again in this few words gets its answer again
# the time units an elapsed time is said in, longest first, with their days
AGO_UNITS = tuple(DAYS_PER_UNIT.items())  # the units the NLU read the time in


def _parts_of_its_sentence(ctx: TurnContext, extraction) -> frozenset[str]:
    """A second request's parts are those asked in its own sentence: "¿esa extensión cuánto
    cuesta? ¿o hay algún seguro que cubra reparaciones?" asks what Kavak Total is, not its
    cost (the price words are the warranty's)."""
    said = frozenset(extraction.said)
    if SECOND_REQUEST not in said:
        return said
    label = f"knowledge/{extraction.topic}"
    own = [reading for _, reading in ctx.sentence_readings() if reading.label == label]
    if not own:
        return said
    prefix = f"section:{extraction.topic}:"
    parts = {name for reading in own for name in reading.said if name.startswith(prefix)}
    return frozenset(name for name in said if not name.startswith(prefix)) | parts


ASKED_WORD_CHARS = 5  # shorter words ("los", "mis", "como") tell no line of an answer apart
ASKED_WORDS_SHARED = 2  # "estados de cuenta": a line with two of the words asked answers it


def _lines_asked(asked: str, answer: str) -> list[str]:
    """The lines of an answer given before that share the most words of the question (at least
    two of five letters or more): "¿sirven mis estados de cuenta?" -> "• Comprobante de
    ingresos: recibos de nómina, estados de cuenta o declaraciones"."""
    words = {word for word in re.findall(r"\w+", normalize(asked)) if len(word) >= ASKED_WORD_CHARS}
    scored = [
        (len(words & set(re.findall(r"\w+", normalize(line)))), line)
        for line in answer.splitlines()
        if line.strip()
    ]
    best = max((score for score, _ in scored), default=0)
    return [line for score, line in scored if score == best] if best >= ASKED_WORDS_SHARED else []


def _without_parts_told(topic: str, said: frozenset[str], told: list[str]) -> frozenset[str]:
    """ "¿tienen garantía?" … "¿la garantía cubre el motor?": the part just answered (the
    warranty) is not said again beside the one asked now (what it covers)."""
    parts = {name for name in said if name.startswith(f"section:{topic}:")}
    again = {name for name in parts if name.removeprefix("section:") in told}
    return frozenset(said - again) if again and again != parts else said


@handler(
    "knowledge.answer",
    required={"no_answer": set()},
    optional={
        "nearest": {"place", "areas"},
        "repeated": {"title", "answer"},
        "repeated_lines": {"title", "lines"},
        "nearest_branch": {"place", "line"},
        "named_branch": {"line"},
        "branch_no_address": {"branch", "area"},
        "case_note": set(),
        "insurance": set(),
        "cash": set(),
        "card": set(),
        "direct_debit": set(),
        "prepayment": set(),
        "own_bank": set(),
        "test_drive": set(),
        "delivery": set(),
        "negotiation": set(),
        "income_note": {"income"},
        "currency": set(),
        "mixed": set(),
        "far_city": {"place", "areas"},
        "own_car_noted": {"own_car"},
        "own_car_offer_noted": {"own_car", "offer"},
        **{f"ago_{unit}": set() for unit, _ in AGO_UNITS},
        **{f"ago_{unit}s": {"n"} for unit, _ in AGO_UNITS},
    },
)
def knowledge_answer(ctx: TurnContext) -> Reply:
    """The topic's answer, narrowed to the place or section asked about; else the LLM (only for
    routes that allow it); else say so honestly."""
    knowledge, extraction = ctx.services.knowledge, ctx.extraction
    places = ctx.services.extractor.places
    _focus_named(ctx)  # "el bmw, ¿cuánto le puedes bajar?" after the two compared: that one
    if extraction.topic == LOCATIONS:
        extraction = _place_carried(ctx)  # "y la dirección?" after the branch of Cuernavaca
    if extraction.topic == LOCATIONS and len(extraction.cities) > 1:
        return _several_places(ctx)
    area = places.area_of(extraction.city)
    if extraction.topic == LOCATIONS and extraction.city and area is None:
        nearest = _nearest(ctx, extraction.city)
        if nearest is not None:  # "¿en Toluca? ¿me pasas el teléfono?": the part asked too
            asked = knowledge.answer(extraction.topic, extraction.said)
            if asked is not None and asked.section:
                nearest.text = f"{nearest.text}\n\n{_in_language(ctx, asked) or asked.text}"
            return nearest
    told = _own_car_told(ctx) if OWN_CAR_TOLD in extraction.said else None
    part = knowledge.answer(extraction.topic, extraction.said) if told else None
    if told is not None and (part is None or not part.section):
        return told  # "tiene 80 mil km y es estándar": noted; with a part of selling asked
        # ("es trendline estándar, ¿más o menos cuánto?"), noted before that part's answer
    recent = ctx.state.recent_answers
    first = not any(done.startswith(f"{extraction.topic}:") for done in recent)
    first = first and SECOND_REQUEST not in extraction.said  # beside another answer: the part
    elapsed = _elapsed(ctx)  # "lo compré hace 2 meses": within the return's 7 days?
    said_parts = _parts_of_its_sentence(ctx, extraction) if not first else extraction.said
    said_parts = _without_parts_told(extraction.topic or "", said_parts, ctx.state.recent_parts)
    answer = knowledge.answer(
        extraction.topic, said_parts, area, first, elapsed, extraction.driven_km
    )
    if answer is not None:
        entry = knowledge.entries[answer.topic]
        key = f"{answer.topic}:{answer.section or ''}:{area or ''}"
        # "¿y dónde está la de Qro?" again: a city narrows the branches, no other topic's answer
        pointed = bool((extraction.city and answer.topic == LOCATIONS) or answer.section)
        # the same block again: said so once, briefly led; asked a second time in a row, the
        # block itself again ("what documents do I need to buy a car" after "passport ok?")
        again = ctx.state.last_reply_kind == REPEATED
        again = again or INSISTING in extraction.said  # "no me entendió, le pregunto si…"
        income = _income_note(ctx, entry.topic)
        if key in recent and income:  # "te pregunté si con 18 mil de sueldo me aprueban"
            return Reply(income)
        bare = len(ctx.text.split()) <= BARE_ASK_WORDS  # "¿y la garantía?": asked again, plainly
        if key in recent and not again and not bare and ctx.template("repeated"):
            title = ctx.knowledge(entry.topic, "title") or entry.title
            text = _in_language(ctx, answer) or answer.text
            lines = _lines_asked(ctx.text, text)
            if lines and ctx.template("repeated_lines"):  # "¿sirven mis estados de cuenta?",
                # or the part named asked again ("¿se puede extender la garantía?")
                said_lines = {"title": title, "lines": "\n".join(lines)}
                reply = ctx.say("repeated_lines", said_lines)
                return Reply(reply, rephrasable=False, kind=QUOTED)  # an answer, each time
            if not pointed:
                return Reply(
                    ctx.say("repeated", {"title": title, "answer": text}),
                    rephrasable=False,
                    kind=REPEATED,
                )
        offered = not first  # the offer is made once
        ctx.state.recent_answers = [*recent, key][-RECENT_ANSWERS:]
        parts = [f"{answer.topic}:{name}" for name in (answer.section or "").split(", ") if name]
        kept = [part for part in ctx.state.recent_parts if part not in parts]
        ctx.state.recent_parts = [*kept, *parts][-RECENT_PARTS:]
        text = _in_language(ctx, answer) or answer.text
        offer = ctx.knowledge(entry.topic, "offer") or entry.offer
        chosen = ctx.state.selected is not None and bool(entry.with_car)  # the car is chosen
        # "ok the vento, can I test drive it?": no "¿te ayudo a buscar uno?" with a car at hand
        at_hand = ctx.state.selected is not None or bool(extraction.model or ctx.state.last_results)
        chosen = chosen or (entry.offer_asks_car and at_hand)
        busy = ctx.state.form is not None or ctx.state.handoff  # the advisor's form is on it
        if offer and not busy and not offered and not chosen:
            text = f"{text}\n\n{offer}"
        if answer.topic == LOCATIONS and area is not None:
            text = _one_branch(ctx, text, entry, area)
        timed = any(":" in name for name in answer.said_sections)  # a window settled their case
        if "{ago}" in text:
            text = text.replace("{ago}", _ago(ctx, elapsed or 0))
        if "{driven}" in text:  # "ya le metí 600 km": the km of the return's rule
            text = text.replace("{driven}", f"{extraction.driven_km or 0:,}")
        case = said(ctx, f"{ctx.intent}:case") and not timed
        if income:  # "¿cuánto tengo que ganar para que me den crédito? gano 18 mil"
            text = f"{text}\n\n{income}"
        elif case and ctx.template("case_note") and ctx.words.get("advisor", "asesor") not in text:
            text = f"{text}\n\n{ctx.say('case_note')}"  # "¿si no tengo historial me aprueban?"
        far = extraction.city and area is None and answer.topic != LOCATIONS
        names = _nearest_names(ctx, extraction.city) if far else ""
        if names and ctx.template("far_city"):  # "¿me la mandan a Fresnillo?": not confirmed
            text = f"{text}\n\n{ctx.say('far_city', {'place': extraction.city, 'areas': names})}"
        car = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
        with_car = (ctx.knowledge(entry.topic, "with_car") or entry.with_car) if car else ""
        if car is not None and with_car:  # "va, ¿y dónde la puedo ver?" of the car chosen
            text = f"{text}\n\n{fill(with_car, car_values(car, words=ctx.words))}"
        if told is not None:
            text = f"{told.text}\n\n{text}"
        return Reply(text)
    mixed = said(ctx, f"{ctx.intent}:mixed")  # "una parte de contado y otra con crédito"
    known = [  # "¿el seguro va incluido?": what the facts say of it; each part asked, in order
        ctx.say(key)
        for key in ctx.route.phrases
        if said(ctx, f"{ctx.intent}:{key}") and ctx.template(key) and not (mixed and key == "cash")
    ]
    if known:
        return Reply("\n\n".join(known))
    return ask_llm(ctx, "no_answer")


LAST_PLACE = "last_place"  # the place of the last answer about branches


def _place_carried(ctx: TurnContext) -> Extraction:
    """A question about branches that names no place, right after one that did ("¿abren los
    domingos? ¿tienen algo en Cuernavaca?" ... "¿y la dirección?"), is about that place."""
    state, extraction = ctx.state, ctx.extraction
    if extraction.city:
        state.profile[LAST_PLACE] = extraction.city
        return extraction
    place = state.profile.get(LAST_PLACE)
    if not place or state.last_label != f"knowledge/{LOCATIONS}":
        return extraction
    if any(name.startswith(f"section:{LOCATIONS}:") for name in extraction.said):
        return extraction  # "¿y a qué hora abren?": the hours, the same at every branch
    ctx.extraction = extraction.model_copy(update={"city": place, "cities": (place,)})
    return ctx.extraction


def _income_note(ctx: TurnContext, topic: str) -> str:
    """An income said in a question about credit: who decides whether it is enough."""
    income = ctx.extraction.income
    if not income or topic not in CREDIT_TOPICS or not ctx.template("income_note"):
        return ""
    return ctx.say("income_note", {"income": money(income)})


def _own_car_told(ctx: TurnContext) -> Reply | None:
    """What the seller told of their car (its km, gearbox, an offer they got), noted for the
    advisor and said back; the offer is no promise."""
    from dialog.handlers.handoff import own_car_said

    own_car, offer = own_car_said(ctx), ctx.extraction.own_offer
    if own_car is None:
        return None
    if offer and ctx.template("own_car_offer_noted"):
        values = {"own_car": ctx.state.own_car, "offer": money(offer)}
        return Reply(ctx.say("own_car_offer_noted", values))
    if ctx.template("own_car_noted"):
        return Reply(ctx.say("own_car_noted", {"own_car": own_car}))
    return None


def _one_branch(ctx: TurnContext, text: str, entry, area: str) -> str:
    """A branch named ("¿la de Santa Fe abre temprano?") or near the place said ("vivo en
    Coacalco"): that branch's line (and the hours), not every branch of its area."""
    places, city = ctx.services.extractor.places, ctx.extraction.city
    own = places.is_branch(city)
    branch = city if own else places.branch_near(city)
    section = next((part for part in entry.sections if part.name == area), None)
    named = {place for place in ctx.extraction.cities if places.is_branch(place)} - {branch}
    named = named or ctx.marks.get("branches_named", False)  # "¿en punto valle o en nuevo sur?"
    if not branch or section is None:
        return text
    block = ctx.knowledge(LOCATIONS, section=area) or section.answer
    line = _branch_line(block, branch)
    addressed = line is not None and normalize(line).startswith(normalize(branch))
    if own and not addressed and ctx.template("branch_no_address"):
        said = ctx.say("branch_no_address", {"branch": branch, "area": area})
    elif addressed and own and ctx.template("named_branch"):
        said = ctx.say("named_branch", {"line": line})
    elif addressed and ctx.template("nearest_branch"):
        said = ctx.say("nearest_branch", {"place": city, "line": line})
    else:
        return text
    hours = [row for row in block.splitlines() if row.startswith("🕘")]
    body = "\n".join(row for row in block.splitlines() if not row.startswith("🕘")).strip()
    if named or body not in text:  # several branches weighed: the nearest first, then all
        return f"{said}\n\n{text}"
    rest = "\n".join(row for row in text.replace(body, "").splitlines() if row not in hours)
    rest = "\n\n".join(part.strip() for part in rest.split("\n\n") if part.strip())
    hours_said = any(row.startswith("🕘") for row in rest.splitlines())
    kept = "" if hours_said else "\n".join(hours)
    return "\n\n".join(part for part in (f"{said}\n{kept}".strip(), rest) if part)


def _branch_line(text: str, branch: str) -> str | None:
    """The answer's line about a branch ("• Cosmopol: Av. José López Portillo 1, Coacalco")."""
    wanted = normalize(branch)
    for line in text.splitlines():
        if wanted in normalize(line):
            return line.lstrip("•· ").strip()
    return None


def _several_places(ctx: TurnContext) -> Reply:
    """ "¿hay sucursal en Cuernavaca? ¿y en Mérida?": each place answered, in the order named."""
    parts: list[str] = []
    places = ctx.services.extractor.places
    by_area: dict[str | None, str] = {}  # "¿en punto valle o en nuevo sur, si vivo en cumbres?":
    if any(places.is_branch(city) for city in ctx.extraction.cities):
        ctx.marks["branches_named"] = True  # the branches named are weighed: the area's list
    for city in ctx.extraction.cities:  # one answer per area, by the neighbourhood if one is said
        area = places.area_of(city)
        if area is None or area not in by_area or places.branch_near(city):
            by_area[area if area is not None else city] = city
    for city in dict.fromkeys(by_area.values()):
        one = ctx.extraction.model_copy(update={"city": city, "cities": (city,)})
        reply = knowledge_answer(replace(ctx, extraction=one))
        if reply.text and reply.text not in parts:
            parts.append(reply.text)
    return Reply("\n\n".join(parts))


def _focus_named(ctx: TurnContext) -> None:
    """A question about the company that names one car on screen puts that car in focus: the
    advisor's lead and the next "¿y a 4 años?" are of it."""
    from dialog.handlers.selection import cars_named

    extraction = ctx.extraction
    named = extraction.make or extraction.model
    if not named or extraction.alternatives or ctx.state.selected is not None:
        return  # (a car already chosen stays: "el jetta es estándar? … ¿doy mi tsuru a cuenta?")
    if SECOND_REQUEST in extraction.said:
        return
    matching = cars_named(ctx.services.catalog, extraction, ctx.state.last_results)
    if len(matching) == 1:
        ctx.state.selected = matching[0].stock_id


ELAPSED_KEY = "elapsed_days"  # the profile's time since the purchase or reservation told


def _elapsed(ctx: TurnContext) -> int | None:
    """How long ago they bought or reserved: said now (and kept), else said before in this
    conversation ("compré hace 2 semanas y ya falló" ... "¿y la garantía me cubre?")."""
    days = ctx.extraction.elapsed_days
    if days is not None:
        entry = ctx.services.knowledge.entries.get(ctx.extraction.topic or "")
        windowed = entry is not None and any(part.window for part in entry.sections)
        if windowed or said(ctx, "context:bought_car"):  # "dejé de pagar una tarjeta hace 3
            ctx.state.profile[ELAPSED_KEY] = str(days)  # años" is no time since a purchase
        return days
    kept = ctx.state.profile.get(ELAPSED_KEY, "")
    return int(kept) if kept.isdigit() else None


def _ago(ctx: TurnContext, days: int) -> str:
    """60 -> "2 meses", 7 -> "una semana": the longest unit that counts the days exactly."""
    unit, per = next((unit, per) for unit, per in AGO_UNITS if days % per == 0)
    count = days // per
    return ctx.say(f"ago_{unit}" if count == 1 else f"ago_{unit}s", {"n": count})


def _in_language(ctx: TurnContext, answer) -> str:
    """The answer in the customer's language (config/i18n `knowledge`), "" if not there."""
    if not ctx.pack():
        return ""
    if answer.section:
        names = answer.said_sections
        texts = [ctx.knowledge(answer.topic, section=name) for name in names]
        general = [ctx.knowledge(answer.topic)] if answer.general else []
        if all(texts) and all(general):
            return without_repeated_facts("\n\n".join([*general, *texts]))
    return ctx.knowledge(answer.topic)


def _nearest(ctx: TurnContext, place: str) -> Reply | None:
    """ "¿Tienen en Mérida?": no branch there; the nearest areas, by distance."""
    entry = ctx.services.knowledge.entries.get(LOCATIONS)
    names = _nearest_names(ctx, place)
    if entry is None or not entry.nearest or not names:
        return None
    template = ctx.knowledge(LOCATIONS, "nearest") or entry.nearest
    return Reply(template.format(place=place, areas=names))


def _nearest_names(ctx: TurnContext, place: str) -> str:
    """The areas with branches nearest a place, by distance ("Puebla y CDMX"); "" if none."""
    areas = ctx.services.extractor.places.nearest_areas(place)
    joiner = f" {ctx.template('and_join').strip() or 'y'} "
    return joiner.join(name for name, _ in areas)


QUALITY = "car_question:quality"  # "¿el mg es buena marca?": an opinion of a make or model


@handler("llm.answer", required={"no_answer": set()}, optional={"quality": set()})
def llm_answer(ctx: TurnContext) -> Reply:
    """Questions about a car the catalog cannot answer (fuel, reliability): the LLM or say so;
    of two cars named ("entre la x5 y la touareg, ¿cuál aguanta más?"), what the catalog does
    say of both first."""
    from dialog.handlers.common import car_in_focus, named_cars
    from dialog.handlers.selection import use_advice

    shown = [car for i in ctx.state.last_results if (car := ctx.services.catalog.get(i))]
    used = use_advice(ctx.speaking_as("advice"), shown) if len(shown) > 1 else None
    if used is not None:  # "dime tú cuál, quiero que gaste poca gasolina": the listing's pick
        return _with_other_details(ctx, used)
    reply = ask_llm(ctx, "no_answer")

    named = [model for _, model in named_cars(ctx.extraction) if model]
    car = car_in_focus(ctx)
    if not reply.llm_used and len(named) < 2 and car is not None:
        from dialog.handlers.selection import detail_answers

        found = detail_answers(ctx, car, opinions=True)
        if found:
            return Reply("\n".join(found))
    if not reply.llm_used and len(named) < 2 and said(ctx, QUALITY) and ctx.template("quality"):
        quality = Reply(ctx.say("quality"))  # no opinion made up: what every car of ours has
        if len(named) == 1 and car is None:  # "q tal el mg5, es buen carro?": the MG5s we have
            from dialog.handlers.search import SEARCH_ROUTE, search_cars

            listed = search_cars(ctx.speaking_as(SEARCH_ROUTE))
            if listed.results:
                return quality.followed_by(listed)
        return quality
    if len(named) < 2 or reply.llm_used:
        return reply
    from dialog.handlers.selection import compare_cars

    compare = ctx.speaking_as("compare_cars")
    compared = compare_cars(compare)
    if compared.text == compare.say("which"):
        return reply
    return Reply(f"{compared.text}\n\n{reply.text}", rephrasable=False)


USE_ANSWERED = frozenset({"economy"})  # the use's pick says what a listing can of these


def _with_other_details(ctx: TurnContext, used: Reply) -> Reply:
    """The listing's pick for the use, and the other data asked of the car named ("el onix
    gasta poco, ¿verdad? ¿y tiene bolsas de aire?": the equipment the listing lacks, said)."""
    from dialog.handlers.common import car_in_focus
    from dialog.handlers.selection import detail_answers

    car = car_in_focus(ctx)  # the listed car named, or the one chosen
    if car is None:
        return used
    others = detail_answers(ctx, car, skip=USE_ANSWERED)
    return Reply("\n\n".join([used.text, *others])) if others else used


@handler(
    "complaint.answer",
    required={"apology": set(), "apology_known": {"name"}},
    optional={"already_requested": {"name"}, "apology_again": {"missing"}},
)
def complaint_answer(ctx: TurnContext) -> Reply:
    """An apology and the fastest way to a person: the lead form, or its confirmation if the
    customer already asked for an advisor."""
    if ctx.state.handoff:
        from dialog.handlers.handoff import NOTE_KEY, add_note

        if said(ctx, NOTE_KEY):  # "qué mal servicio. ponle en la nota que exijo…"
            add_note(ctx)
        return Reply(
            ctx.say("apology_known", {"name": ctx.state.lead.name or ""}), rephrasable=False
        )
    from dialog.handlers.handoff import start_handoff

    missing = _missing_contact(ctx)
    if ctx.state.last_reply_kind == "complaint" and missing and ctx.template("apology_again"):
        return Reply(  # "y ahora q hago? nadie me contesta" right after the apology
            ctx.say("apology_again", {"missing": missing}), rephrasable=False, kind="complaint"
        )
    apology = ctx.say("apology")
    _elapsed(ctx)  # "compré hace 2 semanas y ya falló": kept for the warranty asked next
    complaint_note(ctx)
    follow = start_handoff(ctx, reason="complaint")
    return Reply(apology, ask=follow.full_text, rephrasable=False, kind="complaint")


NOTE_CHARS = 200  # a complaint's words kept for the advisor


def complaint_note(ctx: TurnContext) -> None:
    """The complaint in the customer's words goes to the lead's notes: the advisor knows what it
    is about ("se le salió una falla a la transmisión") before calling."""
    words = " ".join(ctx.text.split())
    if len(words) > NOTE_CHARS:
        words = words[: NOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    append_note(ctx.state.profile, words)


def _missing_contact(ctx: TurnContext) -> str:
    """What the advisor's form still waits for, in the customer's words ("nombre")."""
    lead = ctx.state.lead
    words = ctx.words
    if not lead.name:
        return words.get("contact_name", "nombre")
    if not lead.phone:
        return words.get("contact_phone", "número de teléfono")
    return ""


@handler(
    "fallback.answer",
    required={"help": set(), "no_answer": set()},
    optional={"redirect": set(), "help_short": set(), "own_car_said": {"own_car"}},
)
def fallback_answer(ctx: TurnContext) -> Reply:
    """Not understood. Off-topic on purpose ("cuéntame un chiste"): a friendly redirect. A
    question about cars or buying: the LLM if configured, else an honest "no tengo ese dato".
    Anything else: the menu (shorter when it was the last reply)."""
    extraction = ctx.extraction
    if extraction.stage == "rule" and ctx.say("redirect"):
        return Reply(ctx.say("redirect"), kind="redirect")
    if _about_the_business(ctx):
        return ask_llm(ctx, "no_answer")
    if extraction.own_car and ctx.template("own_car_said"):  # "tengo un vento 2015": to sell it
        return Reply(ctx.say("own_car_said", {"own_car": extraction.own_car}))  # or trade it in?
    if ctx.state.last_reply_kind == "help" and ctx.say("help_short"):
        return Reply(ctx.say("help_short"), kind="help")
    return Reply(ctx.say("help"), kind="help")


def _about_the_business(ctx: TurnContext) -> bool:
    """A question (a "?" or a question word, enough words) whose words the examples know."""
    words = ctx.text.split()
    if len(words) < ctx.config.llm.min_words:
        return False
    asks = "?" in ctx.text or "llm:question" in ctx.extraction.said
    return asks and (ctx.extraction.score or 0.0) >= ctx.config.llm.min_relevance


def ask_llm(ctx: TurnContext, fallback_template: str) -> Reply:
    """Ask the LLM with verified context only; its answer is grounded or not used at all."""
    llm = ctx.services.llm
    if llm is None or not llm.enabled or not ctx.route.use_llm:
        return Reply(ctx.say(fallback_template))
    from tools.llm import LLMContext

    topics = ctx.services.extractor.nearest_topics(ctx.text, k=3)
    knowledge = ctx.services.knowledge.texts(topics)
    car = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    context = LLMContext(knowledge=knowledge, car=car.model_dump() if car else None)
    result = llm.answer_question(ctx.text, context, user=ctx.state.user)
    if result.used and result.text:
        return Reply(result.text, llm_used=True, rephrasable=False)
    if result.reason == "budget_spent":
        return Reply(ctx.config.llm.budget_reply, rephrasable=False)
    log.info("llm answer not used", extra={"reason": result.reason, "user_turn": ctx.state.turns})
    return Reply(ctx.say(fallback_template), rephrasable=False)
