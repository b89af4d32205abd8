"""The dialog engine: read the message in context, run its handler (and the handler of a second
request in the same message), save the state. Every intent decision is the NLU's."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from functools import lru_cache

from dialog.cars import car_values
from dialog.config import FALLBACK_ROUTE
from dialog.forms import LEAD_SLOTS, chat_after_lead, continue_form, declined_unasked
from dialog.handlers.answers import QUOTED, REPEATED, SECOND_REQUEST
from dialog.handlers.common import car_in_focus
from dialog.handlers.financing import CASH_FIGURES, PLAN_AGAIN, PLAN_FIGURES
from dialog.handlers.handoff import (
    DROP_NOTE_KEY,
    LEAD_CONTACT,
    LEAD_PLAN,
    OWN_CAR_KM,
    OWN_CAR_OFFER,
    OWN_CAR_OWED,
    OWN_CAR_PAYMENTS,
    OWN_CAR_TRAITS,
    WHOLE_MESSAGE,
    WISH_ADDED,
    contact_record,
    drop_notes,
    finish_handoff,
    note_wishes,
    own_car_record,
    plan_key,
)
from dialog.handlers.selection import AVAILABLE, CARD_SHOWN
from dialog.open_questions import answer_open_questions, name_the_question, told_not_asked
from dialog.registry import HANDLERS
from dialog.render import clip, fill
from dialog.runtime import Bundle, Runtime
from dialog.screen import dialog_context
from dialog.state import OWN_CAR_BOUGHT, ConversationState, append_note, utc_now
from dialog.store.base import Handoff, Store, Turn
from dialog.turn import Reply, TurnContext, TurnResult
from nlu.pipeline import (
    CAR_FIRST,
    INSISTING,
    NO_OWN_CAR,
    OTHER_PERSON,
    WANTED_NAMED,
    Extractor,
)
from nlu.schema import Extraction
from nlu.text import normalize, sentences, valid_unicode
from tools.catalog import car_name
from tools.knowledge import new_facts_only

log = logging.getLogger("dialog")
MAX_TEXT_CHARS = 5000
CAR_REPLY = "car:"
PLAN_REPLY = "plan:"
AFFIRM = "affirm"


class Engine:
    """Answers one message of one user; safe to call from many threads."""

    def __init__(self, runtime: Runtime, store: Store, rephrase: bool = False):
        self.runtime, self.store, self.rephrase = runtime, store, rephrase
        self.handoff_listeners: list[Callable[[Handoff], None]] = []  # told of each stored lead

    def handle(
        self,
        user: str,
        text: str,
        *,
        message_id: str | None = None,
        reply_id: str | None = None,
        picked: int | None = None,
    ) -> TurnResult:
        """Process one message under the user's lock; never raises for any text.

        `reply_id` is the id of a tapped reply button or list row ("car:123", "financing",
        "plan:48"); `picked` (a stock id) is the older form of "car:<id>".
        """
        started = time.perf_counter()
        text = valid_unicode(" ".join(text.split())[:MAX_TEXT_CHARS])
        if picked is not None and reply_id is None:
            reply_id = f"{CAR_REPLY}{picked}"
        self.runtime.reload_if_changed()
        with self.store.user_lock(user):
            state = self.store.state_for(user)
            result = self._turn(state, text, reply_id)
            state.turns += 1
            state.updated_at = utc_now()
            self.store.save_turn(
                state,
                Turn(
                    user=user,
                    text_in=text,
                    text_out=result.reply,
                    intent=result.intent,
                    topic=result.topic,
                    stage=result.stage,
                    score=result.score,
                    slots=result.slots,
                    results=result.results,
                    plan=result.plan.model_dump() if result.plan else None,
                    message_id=message_id,
                    llm_used=result.llm_used,
                    latency_ms=round((time.perf_counter() - started) * 1000, 3),
                ),
            )
        return result

    def _turn(self, state: ConversationState, text: str, reply_id: str | None) -> TurnResult:
        bundle = self.runtime.current
        started = time.perf_counter()
        try:
            extraction = self._read(state, text, reply_id, bundle)
        except Exception:  # an NLU bug: the customer gets the fallback, never a 500
            log.exception("understanding failed")
            extraction = Extraction()
        intent = extraction.intent or FALLBACK_ROUTE
        ctx = TurnContext(
            text=text,
            extraction=extraction,
            state=state,
            route=bundle.config.route_for(intent),
            config=bundle.config,
            services=bundle.services,
            intent=intent,
        )
        if extraction.language:
            state.language = extraction.language
        bought_before = state.profile.get(OWN_CAR_BOUGHT)
        _remember(state, extraction, bundle.services.extractor)
        if state.handoff and state.own_car and bought_before != state.profile.get(OWN_CAR_BOUGHT):
            ctx.marks[WISH_ADDED] = True  # "no lo quiero vender, corrígelo": sent again, plainly
        note_wishes(ctx)  # "agéndame una videollamada": for the advisor's note
        if DROP_NOTE_KEY in extraction.said:  # "no pago de contado… quítale esa nota"
            drop_notes(ctx)
            ctx.marks[WISH_ADDED] = bool(state.handoff)  # the lead is re-sent without it
        listed_before = list(state.last_results)
        _car_named_first(ctx)
        _note_other_person(ctx)
        reply = self._dispatch(ctx)
        reply = _guarded(self._second_request, ctx, reply)
        reply = _guarded(self._open_questions, ctx, reply)
        reply = _guarded(self._contact_given, ctx, reply)
        reply = _guarded(_still_available, ctx, reply)
        _remember_chosen(state)
        _remember_seen(state, listed_before)
        reply = _guarded(_other_person, ctx, reply)
        reply = _guarded(_lead_car_corrected, ctx, reply)
        if ctx.notes:
            reply.text = "\n\n".join(part for part in [*ctx.notes, reply.text] if part)
        if state.language != "es" and not ctx.translated and ctx.pack():
            note = (ctx.pack().get("templates") or {}).get("spanish_only", "")
            reply.text = "\n\n".join(part for part in (note, reply.text) if part)
        if ctx.handoff is not None:
            self.store.add_handoff(ctx.handoff)
            for listener in self.handoff_listeners:
                listener(ctx.handoff)
        reply = self._maybe_rephrase(ctx, reply)
        reply = _not_twice(ctx, reply)
        reply = _guarded(_correction_heard, ctx, reply)
        reply.text = _advisor_once(ctx.config.advisor_once, reply.text)
        if state.handoff and state.language == "es":
            reply.text = _after_lead(ctx.config.lead_sent_says, reply.text)
        state.last_intent, state.last_topic = ctx.answered_last or (ctx.intent, extraction.topic)
        state.last_money = _money(extraction) or state.last_money
        if reply.plan is not None:
            state.last_plan = reply.plan.model_dump()
        state.last_reply_kind = reply.kind
        state.offered = reply.offered
        log.debug("turn %.2f ms intent=%s", (time.perf_counter() - started) * 1000, ctx.intent)
        return TurnResult(
            reply=clip(reply.full_text),
            intent=ctx.intent,
            topic=extraction.topic,
            stage=extraction.stage,
            score=extraction.score,
            slots=extraction.slots(),
            results=list(reply.results or []),
            selected=state.selected,
            plan=reply.plan,
            llm_used=reply.llm_used,
            choices=reply.choices,
            choices_kind=reply.choices_kind,
        )

    def _read(
        self, state: ConversationState, text: str, reply_id: str | None, bundle: Bundle
    ) -> Extraction:
        """The NLU's reading of the message in context; a tapped button is read by its id."""
        tapped = _tapped(state, reply_id, bundle)
        if tapped is not None:
            return tapped
        context = dialog_context(state, bundle.services.catalog, bundle.config)
        extraction = bundle.services.extractor.extract(text, context)
        if extraction.intent == AFFIRM and not extraction.slots() and state.offered:
            # "¿te paso el plan a 5 años?" ... "sí": the one thing offered
            return _tapped(state, state.offered, bundle) or extraction
        return extraction

    def _dispatch(self, ctx: TurnContext, forms: bool = True) -> Reply:
        """`forms=False` for a second request: the open form neither reads it nor asks again."""
        try:
            form = ctx.state.form if forms else None
            declined = (declined_unasked(ctx) or chat_after_lead(ctx)) if forms else None
            if declined is not None:
                return declined
            if form is not None:
                reply = continue_form(ctx)
                if reply is not None:
                    return reply
            spec = HANDLERS.get(ctx.route.handler)
            assert spec is not None  # routes are validated at load
            reply = spec.func(ctx)
            if form is not None and ctx.state.form is form:  # answered an aside; form still open
                reply = _remind(ctx, reply)
            return reply
        except Exception:  # a handler bug must not reach the customer as silence or a traceback
            log.exception("handler %s failed for intent %s", ctx.route.handler, ctx.intent)
            ctx.state.form = None
            return Reply(ctx.config.templates.get("internal_error", ""), rephrasable=False)

    def _second_request(self, ctx: TurnContext, first: Reply) -> Reply:
        """ "¿Tienen garantía? ¿y aceptan tarjeta?": both answered, in the order asked."""
        second = ctx.extraction.second
        if not second or second not in ctx.config.second_requests:
            return first
        if ctx.marks.get(WHOLE_MESSAGE):  # "que el asesor sepa que mi city tiene 60 mil km":
            return first  # a note for the advisor, no search
        if second in ctx.config.asked_only and told_not_asked(ctx, second):
            return first  # "raro q el más caro tenga más km. bueno el 1": a remark, no question
        if second in ctx.config.cars_only and not ctx.extraction.alternatives:
            return first  # "a 3 y a 5 años, pa comparar": plans compared, no cars
        intent, _, topic = second.partition("/")
        extraction = ctx.extraction.model_copy(
            update={
                "intent": intent,
                "topic": topic or None,
                "said": ctx.extraction.said | {SECOND_REQUEST},
            }
        )
        other = TurnContext(
            text=ctx.text,
            extraction=extraction,
            state=ctx.state,
            route=ctx.config.route_for(intent),
            config=ctx.config,
            services=ctx.services,
            intent=intent,
        )
        if ctx.marks.get(CARD_SHOWN):  # the car's card is shown: its km are not said again
            other.marks[CARD_SHOWN] = True
        taken = ctx.handoff is not None and other.route.handler == HANDOFF_HANDLER
        if taken:  # "lo quiero. Efraín Zamudio, 618…": the lead this message completed is the
            return first  # answer, no "ya está registrada" after it
        last_plan = ctx.state.last_plan
        if first.plan is not None:  # "a 6. pásame un asesor": the lead gets the plan just made
            ctx.state.last_plan = first.plan.model_dump()
        reply = self._dispatch(other, forms=False)  # answered, not taken as a form answer
        if other.notes:  # "no tenemos Audi A3": said with the second answer, before it
            reply.text = "\n\n".join(part for part in [*other.notes, reply.text] if part)
        if len(sentences(ctx.text)) > 1:
            reply = name_the_question(ctx, other, reply)
        if reply.text:  # a follow-up ("¿y con 30 mil?") continues the last answer
            ctx.answered_last = (intent, topic or None)
        if other.handoff is not None:
            ctx.handoff = other.handoff
        if ctx.state.form is not None and reply.ask and first.ask:  # the advisor's form asks, the
            if other.route.handler == HANDOFF_HANDLER:  # other answer's question gives way:
                first.ask = ""  # "¿quieres apartarlo?" after "y apártenmela"
            else:  # "¿quieres ver el financiamiento?" after an apology that opens the form
                reply.ask = ""
        said_lines = {line.strip() for line in first.text.splitlines() if line.strip()}
        kept = [line for line in reply.text.splitlines() if line.strip() not in said_lines]
        if reply.text.strip() and len(kept) < len(reply.text.splitlines()):
            # "¿cuánto rinde? ¿y es automático?": the datum the first answer gave is not said
            reply.text = "\n".join(kept).strip()  # twice, the one it did not give is
            if not reply.text:
                return first
        figures = any(getattr(ctx.extraction, key) is not None for key in PLAN_FIGURES)
        if _says_nothing_new(first, reply, last_plan, figures):
            return first  # the hours again after a branch's hours, the plan shown a turn ago
        compared = ctx.intent in COMPARING and set(ctx.state.compared or ())
        if compared and reply.results and set(reply.results) <= compared:
            ctx.answered_last = None  # the comparison is the answer the next turn follows
            return first  # "entre un versa y un vento, ¿cuál? algo del 2019 o 2020": the two
            # compared are the search's cars, not listed again
        if reply.kind == REPEATED and first.text.strip():
            return first  # "ya te lo compartí arriba" beside a real answer says nothing
        if first.kind == PLAN_AGAIN and reply.text.strip():
            # "y si adelanto pagos, ¿me penalizan?" of the plan shown: the question is answered,
            # "tu plan sigue igual" says nothing
            first = Reply("", results=first.results, ask=first.ask)
        if reply.kind == CASH_FIGURES and ctx.route.handler == KNOWLEDGE_HANDLER:
            # "mejor de contado, ahorré 140 mil, ¿me alcanza pal spark?": the figures answer
            # it; "puedes comprar de contado…" said before them says nothing more
            first = Reply("", results=first.results, ask=first.ask)
        if first.kind == REPEATED and reply.text.strip():
            # "si lo dejo a cuenta del vento, ¿cuánto pagaría al mes?": the plan answers it
            first = Reply("", results=first.results, ask=first.ask)
        generic = ctx.say("no_answer") if ctx.template("no_answer") else None
        unknown = generic and first.text.strip() == generic.strip()
        if (
            unknown
            and ctx.route.handler == CAR_QUESTION_HANDLER
            and other.route.handler == KNOWLEDGE_HANDLER
            and reply.text.strip()
        ):
            # "¿cómo sé que no tiene fallas escondidas? ¿quién lo revisa?": what the listing
            # cannot say of the car, a company fact (the certification) answers
            first = Reply("", results=first.results, ask=first.ask)
        if reply.plan is not None and first.results is not None and len(first.results) == 1:
            # "el sentra 2019 con 50 mil a 4 años": the plan says which car; no list of one
            first = Reply("", results=first.results, ask=first.ask)
        elif reply.plan is not None and ctx.intent == "select_car" and first.choices:
            first = _short_selection(ctx, first)  # the plan follows: no "¿quieres ver planes?"
        if KNOWLEDGE_HANDLER == ctx.route.handler == other.route.handler and reply.text:
            reply.text = new_facts_only(reply.text, first.text)  # no fact said twice
        return first.followed_by(reply)  # a form's question, from either, goes last

    def _open_questions(self, ctx: TurnContext, first: Reply) -> Reply:
        """Questions in further sentences neither answer took: answered or named back."""
        if ctx.marks.get(WHOLE_MESSAGE):  # a note for the advisor, an opinion of a make
            return first
        return answer_open_questions(ctx, first, lambda other: self._dispatch(other, forms=False))

    def _contact_given(self, ctx: TurnContext, first: Reply) -> Reply:
        """A phone number beside other requests ("el 1, ¿cómo lo aparto? Sofía Herrera 33 1234
        5678, tardes"): they want a call, whatever else was answered."""
        state = ctx.state
        if not ctx.extraction.phone or state.handoff or state.form is not None:
            return first
        if ctx.handoff is not None or state.profile.get("lead_declined"):
            return first
        calling = ctx.speaking_as(HANDOFF_INTENT)
        if first.plan is not None:  # "me quedo con 5 años. Sofía, 55…": the lead gets that plan
            state.last_plan = first.plan.model_dump()
        reply = self._dispatch(calling, forms=False)
        if calling.handoff is not None:
            ctx.handoff = calling.handoff
        first.ask = ""  # "¿quieres que un asesor te llame?" is answered by the lead itself
        return first.followed_by(reply)

    def _maybe_rephrase(self, ctx: TurnContext, reply: Reply) -> Reply:
        llm = ctx.services.llm
        wanted = self.rephrase or ctx.config.llm.rephrase
        if not (wanted and reply.rephrasable and llm is not None and llm.enabled):
            return reply
        result = llm.rephrase(reply.text, [], user=ctx.state.user)
        if result.used and result.text:
            reply.text, reply.llm_used = result.text, True
        return reply


def _short_selection(ctx: TurnContext, first: Reply) -> Reply:
    car = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    short = ctx.template("selected_short")
    if car is None or not short:
        return first
    return Reply(fill(short, car_values(car, words=ctx.words)), ask=first.ask)


KNOWLEDGE_HANDLER = "knowledge.answer"  # two of its answers in one reply share no fact
CAR_QUESTION_HANDLER = "llm.answer"  # a car question the listing cannot answer
NEW_WORDS = 0.25  # a second answer with less than this share of new words repeats the first


COMPARING = frozenset({"compare_cars", "advice"})  # the routes whose answer may compare two cars


def _says_nothing_new(
    first: Reply, second: Reply, last_plan: dict | None, figures: bool = False
) -> bool:
    """A second answer that repeats what the message already says, or the plan of the last
    turn with nothing changed in it."""
    shown_before = second.plan is not None and second.plan.model_dump() == last_plan
    if second.kind == PLAN_AGAIN and first.plan is not None and first.plan == second.plan:
        return True  # "the first Rio, 10% down 6 years": the card above is that plan
    if shown_before and first.plan is None:
        return not (figures and second.kind == PLAN_AGAIN)  # "¿es estándar? ¿y la mensualidad
        # con mis 30 mil a 4 años?" asked again: its one line ("¿el seguro va en la
        # mensualidad?" names no figure: nothing)
    words = _content_words(second.text)
    if not words:
        return False
    new = words - _content_words(first.text)
    return len(new) / len(words) < NEW_WORDS


def _content_words(text: str) -> set[str]:
    return {word for word in normalize(text).split() if len(word) > 3 or word.isdigit()}


def _tapped(state: ConversationState, reply_id: str | None, bundle: Bundle) -> Extraction | None:
    """Reply buttons and list rows carry ids: "car:<stock id>", "plan:<months>", or an intent
    listed under `reply_ids` in dialog.yml ("financing", "purchase")."""
    if not reply_id:
        return None
    tapped = {"stage": "rule", "score": 1.0}
    if reply_id.startswith(CAR_REPLY):
        stock_id = _number(reply_id[len(CAR_REPLY) :])
        if stock_id is None or bundle.services.catalog.get(stock_id) is None:
            return None
        if stock_id not in state.last_results:
            state.last_results = [stock_id]  # a row of an older list: a list of one
        return Extraction(
            intent="select_car", ordinal=state.last_results.index(stock_id) + 1, **tapped
        )
    if reply_id.startswith(PLAN_REPLY):  # "plan:72", or "plan:72:10" with its down payment %
        term, _, pct = reply_id[len(PLAN_REPLY) :].partition(":")
        months, down_pct = _number(term), _number(pct) if pct else None
        if not months:
            return None
        return Extraction(
            intent="financing", term_months=months, down_payment_pct=down_pct, **tapped
        )
    intent = bundle.config.reply_ids.get(reply_id)
    return Extraction(intent=intent, **tapped) if intent else None


def _remember(state: ConversationState, extraction: Extraction, extractor: Extractor) -> None:
    """Contact data is kept whenever it is given; so is the car a seller describes."""
    seller_labels = extractor.own_car_labels
    if OTHER_PERSON in extraction.said:
        return  # "mi hermano quiere vender su aveo, se llama Héctor 55…": theirs, not the lead's
    for slot in LEAD_SLOTS:
        value = getattr(extraction, slot)
        if value is not None:
            current = getattr(state.lead, slot)
            new = extractor.contact.lead_value(current, slot, value, extraction.said)
            setattr(state.lead, slot, new)
    call = any(name.endswith(":call") for name in extraction.said)  # dialog.yml `call_phrases`
    if extraction.phone and call and not any(name.endswith(":chat") for name in extraction.said):
        state.lead.contact_by = None  # "mejor llámenme al 55…": a call, not this chat
    if extraction.owed:  # "todavía lo estoy pagando, le debo como 80 mil": for the advisor
        state.profile[OWN_CAR_OWED] = str(round(extraction.owed))
        state.profile.pop(OWN_CAR_PAYMENTS, None)
    if extraction.owed_payments:  # "le faltan 8 mensualidades", "no son 8 mil, son 8
        state.profile[OWN_CAR_PAYMENTS] = str(extraction.owed_payments)  # mensualidades"
        state.profile.pop(OWN_CAR_OWED, None)
    if "context:bought_car" in extraction.said:  # "compré un carro con ustedes y ya falló"
        state.profile[OWN_CAR_BOUGHT] = "1"  # the car they name next is theirs, not to buy
    if NO_OWN_CAR in extraction.said and not extraction.own_car and state.own_car:
        state.own_car = None  # "yo no tengo ningún chrysler", "no tengo auto para dar a cuenta"
        for key in (OWN_CAR_KM, *OWN_CAR_TRAITS, OWN_CAR_OWED, OWN_CAR_PAYMENTS, OWN_CAR_OFFER):
            state.profile.pop(key, None)
        if state.profile.get("handoff_reason") in seller_labels:  # the lead is about the car
            state.profile["handoff_reason"] = HANDOFF_INTENT  # they buy, not one they hand over
    if extraction.own_car:  # "tengo un versa 2016", "por mi lobo me dan 180 mil"
        known = state.own_car or ""
        if not known.startswith(extraction.own_car):  # "mi lobo" keeps "Ford Lobo 2015"
            state.own_car = extraction.own_car
        year = extraction.year_min if extraction.year_min == extraction.year_max else None
        if extraction.year_min is None and extraction.year_max is None and extraction.years:
            year = extraction.years[-1]  # "sigue diciendo 2015, mi sentra es modelo 2016": the
            # year it is, said last (read as their car's, no search)
        wished = extraction.make or extraction.model  # "…a cuenta de una captiva 2016": its year
        if year and not wished and state.own_car:  # "perdón, el sentra es 2016 no 2015"
            state.own_car = f"{_without_year(state.own_car)} {year}"
        if extraction.km_max or extraction.own_km:  # "el compass es latitude 2019 con 70 mil
            km = extraction.own_km or extraction.km_max  # km": its km, for the advisor
            state.profile[OWN_CAR_KM] = str(km)
        other_car = extraction.make or extraction.model  # "el jetta es estándar… mi tsuru":
        for key in () if other_car else OWN_CAR_TRAITS:  # the Jetta's, not the Tsuru's
            value = getattr(extraction, key.removeprefix("own_car_"))
            if value:  # "tiene 80 mil km y es estándar"
                state.profile[key] = value
        if extraction.own_offer:  # "en otro lado me ofrecieron 180 mil"
            state.profile[OWN_CAR_OFFER] = str(round(extraction.own_offer))
    elif extraction.label in seller_labels and (extraction.model or extraction.make):
        if state.own_car or WANTED_NAMED in extraction.said:
            return  # "mi mazda 3 ... dar a cuenta de la cx5 2019": the CX-5 is the one wanted
        year = extraction.year_min or extraction.year_max
        state.own_car = car_name(extraction.make, extraction.model, year)
        if extraction.km_max:  # "es un jetta 2017 con 90 mil km, ¿cuánto me dan?"
            state.profile[OWN_CAR_KM] = str(extraction.km_max)


CHOSEN_KEPT = 5  # "me quedo con el sentra" finds the Sentra chosen a few turns ago


SEEN_KEPT = 30  # "el hatch 2018" finds the hatchback of a list shown a few turns ago


def _remember_seen(state: ConversationState, listed_before: list[int]) -> None:
    """The cars of the list a new list replaced, kept to be named later."""
    if not listed_before or listed_before == state.last_results:
        return
    kept = [car for car in state.seen if car not in listed_before]
    state.seen = [*kept, *listed_before][-SEEN_KEPT:]


def _remember_chosen(state: ConversationState) -> None:
    if state.selected is None or state.chosen[-1:] == [state.selected]:
        return
    state.chosen = [car for car in state.chosen if car != state.selected][-CHOSEN_KEPT + 1 :]
    state.chosen.append(state.selected)


LEAD_FIXES = frozenset({"context:correction", "context:negation"})
LEAD_UPDATE_INTENT = "inform"  # its route sends the lead again with what changed
HANDOFF_INTENT = "human_agent"  # its route takes the lead
HANDOFF_HANDLER = "handoff.start"


def _after_lead(says: dict[str, str], text: str) -> str:
    """ "…escribe *asesor*." once the advisor has the request: "…el asesor que te va a contactar te
    lo confirma." (dialog.yml `lead_sent_says`, longest phrase first)."""
    for phrase in sorted(says, key=len, reverse=True):
        if phrase in text:
            text = text.replace(phrase, says[phrase])
    return text


def _advisor_once(short: dict[str, str], text: str) -> str:
    """ "escribe *asesor*" said once: the last call to an advisor stays, the earlier ones take
    their short form (dialog.yml `advisor_once`)."""
    if not short:
        return text
    found = list(_phrases_pattern(tuple(short)).finditer(text))
    for match in reversed(found[:-1]):
        text = text[: match.start()] + short[match.group()] + text[match.end() :]
    return text


@lru_cache(maxsize=8)
def _phrases_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)))


CORRECTED = "correction_heard"


def _correction_heard(ctx: TurnContext, reply: Reply) -> Reply:
    """ "yo no dije 100 mil de enganche", "ya me desesperaste. SEDÁN 2016": the corrected answer
    opens with a short apology, unless the reply (or the one before) apologises already."""
    if INSISTING not in ctx.extraction.said or not reply.text.strip():
        return reply
    state = ctx.state
    if state.profile.get(CORRECTED) == str(state.turns - 1) or not ctx.template(CORRECTED):
        return reply  # said last turn: not again
    said = " ".join([*ctx.notes, reply.text]).casefold()
    if any(mark.casefold() in said for mark in ctx.config.apology_marks):
        return reply
    state.profile[CORRECTED] = str(state.turns)
    reply.text = f"{ctx.say(CORRECTED)}\n\n{reply.text.lstrip()}"
    return reply


def _guarded(step, ctx: TurnContext, reply: Reply) -> Reply:
    """A step after the answer (a second request, contact data given, a lead's car corrected)
    that fails leaves the answer as it was: logged, never a 500 or a lost reply."""
    try:
        return step(ctx, reply)
    except Exception:
        log.exception("%s failed for intent %s", getattr(step, "__name__", step), ctx.intent)
        return reply


def _note_other_person(ctx: TurnContext) -> None:
    """The other person's data as a note on the lead, before the answer (which may send it)."""
    extraction = ctx.extraction
    if OTHER_PERSON not in extraction.said or not ctx.state.handoff:
        return
    parts = [extraction.name, extraction.phone, extraction.email, extraction.own_car]
    fixing = ctx.speaking_as(LEAD_UPDATE_INTENT)
    note = fixing.say("other_person_note", {"who": " · ".join(p for p in parts if p)})
    if note:
        append_note(ctx.state.profile, note)
        ctx.marks[OTHER_PERSON] = True


def _other_person(ctx: TurnContext, reply: Reply) -> Reply:
    """Someone else to reach as well, after the lead ("mi hermano quiere vender su aveo 2015,
    ¿le hablan a él también? se llama Héctor 5544001122"): a note on the lead, which keeps the
    customer's own data and car, and is sent again."""
    if not ctx.marks.get(OTHER_PERSON) or ctx.handoff is not None:
        return reply  # (the answer itself may have sent the lead again, with the note)
    fixing = ctx.speaking_as(LEAD_UPDATE_INTENT)
    updated = finish_handoff(fixing, "updated")
    ctx.handoff = fixing.handoff or ctx.handoff
    reply.text = "\n\n".join(part for part in (reply.text, updated.text) if part)
    return reply


def _lead_car_corrected(ctx: TurnContext, reply: Reply) -> Reply:
    """A lead was sent with one car and the customer says it is another ("no, es el SENTRA
    2019 el que quiero"): the lead is sent again with the car now in focus, and said so."""
    state = ctx.state
    if not state.handoff or ctx.handoff is not None:
        return reply
    sent = state.profile.get("lead_car")
    car_fixed = sent is not None and state.selected is not None and sent != str(state.selected)
    car_fixed = car_fixed and bool(LEAD_FIXES & ctx.extraction.said)
    # "mi auto es un mazda 3 2016, no la cx5": their own car, said again after the lead
    sent_own = state.profile.get("lead_own_car")
    denied = NO_OWN_CAR in ctx.extraction.said  # "yo no tengo ningún chrysler": none to add
    extraction = ctx.extraction  # ... or its km or debt said anew ("son 10 mensualidades")
    own_told = extraction.own_car or extraction.owed or extraction.owed_payments
    own_told = own_told or extraction.own_km
    own_fixed = (bool(own_told) or denied) and sent_own is not None
    own_fixed = own_fixed and sent_own != own_car_record(state)  # its traits told after too
    # "no, dije a 6 años no a 4": the plan of the lead's car corrected after it was sent
    sent_plan, plan = state.profile.get(LEAD_PLAN), reply.plan
    plan_fixed = plan is not None and sent_plan and bool(LEAD_FIXES & ctx.extraction.said)
    plan_fixed = plan_fixed and state.profile.get("lead_car") == str(state.selected)
    if plan_fixed and plan is not None and plan_key(plan.model_dump()) != sent_plan:
        state.last_plan = plan.model_dump()
        fixing = ctx.speaking_as(LEAD_UPDATE_INTENT)
        updated = finish_handoff(fixing, "updated")
        ctx.handoff = fixing.handoff or ctx.handoff  # the lead sent again is stored
        reply.text = "\n\n".join(part for part in (reply.text, updated.text) if part)
        return reply
    wished = ctx.marks.get(WISH_ADDED, False)  # "please note I'm paying cash" after the lead
    # "5519283746. y en la tarde. ¿me reciben mi camioneta?": the number and time given beside a
    # question, after the lead went without them
    given = extraction.phone or extraction.email or extraction.contact_time
    sent_contact = state.profile.get(LEAD_CONTACT)
    contact_fixed = bool(given) and sent_contact is not None
    contact_fixed = contact_fixed and sent_contact != contact_record(state.lead)
    contact_fixed = contact_fixed and ctx.intent not in (LEAD_UPDATE_INTENT, "lead_update")
    if not (car_fixed or own_fixed or wished or contact_fixed):
        return reply
    fixing = ctx.speaking_as(LEAD_UPDATE_INTENT)
    spec = HANDLERS.get(fixing.route.handler)
    if spec is None:
        return reply
    updated = spec.func(fixing)
    ctx.handoff = fixing.handoff or ctx.handoff  # the lead sent again is stored, not only said
    fallback = ctx.route.handler.startswith("fallback.")
    asked = "?" in ctx.text and bool(reply.text.strip()) and not fallback
    # "…un tsuru que quisiera dar a
    if own_fixed and not car_fixed and not asked:  # cuenta, ¿se puede?": both
        return updated  # the message was the correction: what the advisor now gets
    reply.text = "\n\n".join(part for part in (reply.text, updated.text) if part)
    return reply


AVAILABLE_ROUTE, AVAILABLE_TEMPLATE = AVAILABLE.split(":")[0], "still_available"


def _still_available(ctx: TurnContext, reply: Reply) -> Reply:
    """ "¿sigue disponible? ¿cuánto sale con el 10%?": whatever else was answered of the one car
    the turn is about, whether it is still for sale is said first."""
    state = ctx.state
    if AVAILABLE not in ctx.extraction.said or state.selected is None:
        return reply
    car = ctx.services.catalog.get(state.selected)
    told = ctx.speaking_as(AVAILABLE_ROUTE)
    template = told.template(AVAILABLE_TEMPLATE)
    if car is None or not template or len(reply.results or []) > 1:
        return reply
    line = told.say(AVAILABLE_TEMPLATE, car_values(car, words=ctx.words))
    if line in reply.text:
        return reply
    reply.text = "\n\n".join(part for part in (line, reply.text) if part)
    return reply


def _money(extraction: Extraction) -> tuple[str, float] | None:
    for slot in ("monthly_budget", "down_payment", "price_max", "price_min", "down_payment_pct"):
        value = getattr(extraction, slot)
        if value is not None:
            return slot, float(value)
    return None


def _number(text: str) -> int | None:
    """A plain run of ASCII digits ("²" passes str.isdigit but is no number)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else None


def _remind(ctx: TurnContext, reply: Reply) -> Reply:
    """After answering a question asked mid-form, ask the form's pending question again."""
    progress = ctx.state.form
    form = ctx.config.forms.get(progress.name) if progress else None
    question = next((q for q in form.questions if q.id == progress.asking), None) if form else None
    if question is not None and progress.misses <= 1:  # asked again once, not after every aside
        from dialog.forms import question_text

        reply.ask = "\n\n".join(
            part for part in (reply.ask, fill(question_text(ctx, question, "remind"), {})) if part
        )
    return reply


PICKING = ("select_car", "car_details", "compare_cars", "search_cars", "financing")


def _car_named_first(ctx: TurnContext) -> None:
    """ "el altima. lo quiero de contado pero antes…, ¿se puede?": the one listed car named in
    a sentence of its own is the car chosen (the lead carries it), though the rest asks a policy;
    the routes that pick or search cars do it themselves."""
    if CAR_FIRST in ctx.extraction.said and ctx.intent not in PICKING:
        car_in_focus(ctx)  # it selects the one listed car the message names


def _not_twice(ctx: TurnContext, reply: Reply) -> Reply:
    """The same answer to an insistent customer says so and offers a person, instead of
    repeating itself word for word ("no me salgas con rollos, dame un precio")."""
    digest = hashlib.sha1(reply.full_text.encode("utf-8")).hexdigest()[:16]
    again = digest == ctx.state.last_reply_digest
    ctx.state.last_reply_digest = digest
    fresh = reply.llm_used  # written anew for this question: not a repeat of a fixed text
    fresh = fresh or reply.kind == QUOTED  # the lines that hold the detail asked again
    if not again or fresh or ctx.intent not in ctx.config.not_twice or reply.plan is not None:
        return reply
    if ctx.extraction.city:  # "¿y abren en domingo? ¿la dirección de la de San Pedro?": a
        return reply  # place asked by name gets its answer again, not "es todo lo que tengo"
    said_again = ctx.say("said_again")
    return Reply(said_again, rephrasable=False) if said_again else reply


def _without_year(car: str) -> str:
    """ "Nissan Sentra 2015" -> "Nissan Sentra": the name, its year said again apart."""
    words = car.split()
    return " ".join(words[:-1]) if words and words[-1].isdigit() and len(words[-1]) == 4 else car
