"""YAML-defined forms: one question at a time, answers in any order, several at once, skippable.

Answers are what the NLU read (slots, or a phrase set of an option), never raw text: a question,
a complaint or "YA TE DIJE MI NOMBRE" is not taken as a name.
"""

from __future__ import annotations

import re

from dialog.config import Form, FormQuestion, Route
from dialog.registry import HANDLERS
from dialog.render import fill
from dialog.state import FormProgress, append_note
from dialog.turn import Reply, TurnContext
from nlu.contact import PHONE_DIGITS
from nlu.text import normalize

ANSWERED_ANY = "*"
PASS = "pass!"  # a pass phrase ("me da igual") that is the whole message
CANCEL_WORDS = 4
COMPLAINT = "complaint"  # an answer said with a complaint (the NLU's second request)
# a refusal with only these left in the message is answered with the refusal alone
NOTHING_ELSE = frozenset(
    {"out_of_scope", "greet", "human_agent", "purchase", "complaint", "inform"}
)
LEAD_SLOTS = ("name", "phone", "email", "contact_time")
CHAT_ASIDE = frozenset({"out_of_scope", "greet", "human_agent", "inform"})  # said with the chat
BY_CHAT = "chat"  # the lead's contact_by: reached in this same conversation


CHAT_REACH = 3  # words before a chat phrase where a denial takes it back
CHAT_AFTER = 2  # ... and after it ("por whats no")


def chat_wanted(ctx: TurnContext, name: str) -> bool:
    """A chat phrase of the form `name` said and not taken back: "escríbanme por aquí", not "no me
    escriban por whats", "por whats no, llámenme", "no es este número, es el 55…" (dialog.yml
    `chat_denials`, `chat_denials_after`, `call_refusal_phrases`)."""
    form = ctx.config.forms.get(name)
    if form is None or not said(ctx, f"form:{name}:chat"):
        return False
    text = " ".join(normalize(ctx.text).split())
    calls = [normalize(phrase) for phrase in form.call_refusal_phrases]
    calls_only = any(phrase in text for phrase in calls)
    for phrase in calls:  # "NO me llamen, por whats": its "no" refuses the calls
        text = text.replace(phrase, " , ")
    text = " ".join(text.split())
    before_words = {normalize(word) for word in form.chat_denials}
    after_words = {normalize(word) for word in form.chat_denials_after}
    free = False
    for phrase in form.chat_phrases:
        folded = normalize(phrase)
        at = f" {text} ".find(f" {folded} ")
        if at < 0:
            continue
        before = set(text[:at].split()[-CHAT_REACH:])
        after = set(text[at + len(folded) :].split()[:CHAT_AFTER])
        free = free or not (before & before_words or after & after_words)
    return free and (calls_only or not said(ctx, f"form:{name}:refuse"))


def refused(ctx: TurnContext, name: str) -> bool:
    """A refusal of the form `name`; "no me llamen, escríbanme por aquí" refuses calls only."""
    return said(ctx, f"form:{name}:refuse") and not chat_wanted(ctx, name)


def said(ctx: TurnContext, key: str) -> bool:
    """Whether a phrase of the dialog.yml phrase set `key` was in the message."""
    return key in ctx.extraction.said


def start_form(ctx: TurnContext, name: str) -> Reply:
    """Begin a form, taking whatever this very message already answers."""
    ctx.state.form = FormProgress(name=name)
    return _advance(ctx, ctx.config.forms[name], first_turn=True)


def declined_unasked(ctx: TurnContext) -> Reply | None:
    """ "no te voy a dar mi teléfono, nomás quería saber" with no form open and nothing else
    asked: the same answer as a refusal inside the form, not the menu."""
    if ctx.state.form is not None or ctx.intent not in NOTHING_ELSE:
        return None
    if not any(refused(ctx, name) for name in ctx.config.forms):
        return None
    ctx.state.profile["lead_declined"] = "1"
    return Reply(ctx.say("lead_declined_only"))


def chat_after_lead(ctx: TurnContext) -> Reply | None:
    """ "que no, por aquí, ya tienes mi whats" once the lead was sent, with nothing else asked:
    the lead is reached in this chat, said so (and sent again if that is new)."""
    state = ctx.state
    if state.form is not None or not state.handoff:
        return None
    if not any(chat_wanted(ctx, name) for name in ctx.config.forms):
        return None
    unasked = ctx.intent == "search_cars" and not ctx.extraction.slots()
    if ctx.intent not in CHAT_ASIDE and not unasked:
        return None  # ("this chat is useless": a complaint, no contact asked)
    if state.lead.contact_by == BY_CHAT:
        return Reply(ctx.say("chat_noted"))
    state.lead.contact_by = BY_CHAT
    from dialog.handlers.handoff import finish_handoff

    updating = ctx.speaking_as("inform")
    reply = finish_handoff(updating, "updated")
    ctx.handoff = updating.handoff
    return reply


def continue_form(ctx: TurnContext) -> Reply | None:
    """Consume this message as form answers; None when it is another request (handled normally,
    then the pending question is asked again once)."""
    progress = ctx.state.form
    form = ctx.config.forms.get(progress.name) if progress else None
    if progress is None or form is None:
        ctx.state.form = None
        return None
    if _cancelled(ctx, progress.name) and not _answers_pending(ctx, form):
        ctx.state.form = None  # "después de las 5" answers the time; "después" alone cancels
        return Reply(ctx.say("form_cancelled"))
    if refused(ctx, progress.name):  # "no quiero asesor, solo preguntaba"
        ctx.state.form = None
        given = said(ctx, f"form:{progress.name}:given_before")  # "ya se los di la semana pasada"
        if given and ctx.template("lead_given_before"):
            return Reply(ctx.say("lead_given_before"))
        unasked = ctx.intent == "search_cars" and not ctx.extraction.slots()  # "¿q no tienen
        if ctx.intent in NOTHING_ELSE or unasked:  # registro?": no stock asked
            return Reply(ctx.say("lead_declined_only"))
        ctx.notes.append(ctx.say("lead_declined"))
        return None
    answers = _answers_pending(ctx, form) or said(ctx, PASS)  # "cualquiera" answers it
    answers = answers or chat_wanted(ctx, progress.name)  # "por aquí": the phone
    if ctx.intent in form.end_intents and not answers:
        ctx.state.form = None  # "gracias, adiós": answer that, and stop asking
        return None
    extraction = ctx.extraction
    decided = extraction.stage in ("rule", "context") or (  # a weak guess never interrupts
        extraction.stage in ("examples", "weak")
        and (extraction.score or 0) >= form.interrupt_min_score
    )
    if ctx.intent in form.interrupt_intents and not answers and decided:
        _missed(ctx, form)
        return None
    if said(ctx, f"form:{progress.name}:skip"):
        return _complete(ctx, form)
    return _advance(ctx, form, first_turn=False)


TEST_DRIVE = "policy_question:test_drive"  # the policy route's phrases and answer


def test_drive_note(ctx: TurnContext) -> str:
    """ "¿podemos hacer prueba de manejo?" beside a request for an advisor: the facts' answer
    (it is included), which the advisor then books."""
    if ctx.intent not in ("purchase", "inform", "human_agent") or not said(ctx, TEST_DRIVE):
        return ""
    policy = ctx.speaking_as("policy_question")
    return policy.say("test_drive") if policy.template("test_drive") else ""


def _cancelled(ctx: TurnContext, name: str) -> bool:
    """A cancel phrase that is (nearly) the whole message: "ya no", "cancelar", "no gracias"."""
    key = f"form:{name}:cancel"
    return said(ctx, f"{key}!") or (said(ctx, key) and len(ctx.text.split()) <= CANCEL_WORDS)


def _missed(ctx: TurnContext, form: Form) -> None:
    """One more message that answered nothing; after `max_misses` the form stops asking."""
    progress = ctx.state.form
    assert progress is not None
    progress.misses += 1
    if progress.misses >= form.max_misses:
        ctx.state.form = None


def _advance(ctx: TurnContext, form: Form, first_turn: bool) -> Reply:
    progress = ctx.state.form
    assert progress is not None
    aside = test_drive_note(ctx)
    if aside and aside not in ctx.notes:  # "Mariana Torres. pero contéstame lo de la prueba de
        ctx.notes.append(aside)  # manejo": answered here, the advisor books it
    from dialog.handlers.answers import complaint_note

    heard = not first_turn and ctx.extraction.second == COMPLAINT
    if heard and ctx.template("answered_with_complaint"):  # "Daniela Fuentes. ya se los di
        ctx.notes.append(ctx.say("answered_with_complaint"))  # en la página…": heard, sorry
        complaint_note(ctx)
    question = _open_question(ctx) if not first_turn and not aside else None
    if question and ctx.template("question_noted"):  # asked beside the answers: to the advisor
        append_note(ctx.state.profile, question)
        ctx.notes.append(ctx.say("question_noted", {"question": question}))
    asked = progress.asking
    before = dict(progress.answers)
    _record_answers(ctx, form, progress)
    pending = [q for q in form.questions if q.id not in progress.answers]
    if not pending or (not first_turn and _moved_on(ctx, form, asked, pending)):
        return _complete(ctx, form)
    question = pending[0]
    unanswered = not first_turn and question.id == asked and progress.answers == before
    done = ctx.intent in form.optional_done_intents or progress.misses >= 1
    if unanswered and question.optional and done:  # "ok gracias" to "¿en qué horario?"
        return _complete(ctx, form)
    if unanswered:
        _missed(ctx, form)
        if ctx.state.form is None:  # asked enough: answer the message as it is
            return _gave_up(ctx)
    else:
        progress.misses = 0
    progress.asking = question.id
    # "222 98 76 54 32 cuando sea": the time is taken, the number tried and not read
    tried = not first_turn and question.id == asked and _number_tried(ctx, question)
    field = "retry" if (unanswered or tried) and question.retry else "ask"
    return Reply("", ask=fill(question_text(ctx, question, field), _values(ctx)), rephrasable=False)


DIGITS_IN_ANSWER = 7  # a phone number is an answer, not a question


def _number_tried(ctx: TurnContext, question) -> bool:
    """A phone question answered with digits that did not make a number."""
    return "phone" in question.fills and sum(ch.isdigit() for ch in ctx.text) >= DIGITS_IN_ANSWER


QUESTION_WORDS = 3  # a question clause this long, beside the form's answers, is a question


def _open_question(ctx: TurnContext) -> str | None:
    """ "55 4120 9983. ¿y el diagnóstico me lo deben cobrar o no?": a question the message asks
    besides its answers, that nothing else in this turn answers."""
    if ctx.intent != "inform" or ctx.extraction.second:
        return None
    for clause in re.findall(r"[^.!?¿]*\?", ctx.text):
        words = clause.split()
        digits = sum(ch.isdigit() for ch in clause)
        if len(words) >= QUESTION_WORDS and digits < DIGITS_IN_ANSWER:
            return " ".join(words)
    return None


def _gave_up(ctx: TurnContext) -> Reply:
    spec = HANDLERS.get(ctx.route.handler)
    assert spec is not None
    return spec.func(ctx)


def question_text(ctx: TurnContext, question: FormQuestion, field: str) -> str:
    """A question's ask/remind/retry text, in the customer's language when config/i18n has it."""
    progress = ctx.state.form
    if field != "retry" and "phone" in question.fills and _phone_missed(ctx):
        field = "retry"  # "que mal servicio. mi cel es 81 12 34 56": why it is asked again
    forms = ctx.pack().get("forms") or {}
    translated = ((forms.get(progress.name) if progress else None) or {}).get(question.id) or {}
    if translated.get(field):
        ctx.translated = True
        return translated[field]
    return getattr(question, field) or question.ask


PHONE_TRIED = range(7, 13)  # digits that look like a phone number typed wrong


def _phone_missed(ctx: TurnContext) -> bool:
    """The message holds a number that looks like a phone typed wrong (8 or 12 digits) and no
    phone was read from it."""
    if ctx.extraction.phone:
        return False
    runs = re.findall(r"\d[\d \-.]{5,}\d", ctx.text)
    counts = [len(re.sub(r"\D", "", run)) for run in runs]
    return any(count in PHONE_TRIED and count != PHONE_DIGITS for count in counts)


def _values(ctx: TurnContext) -> dict[str, object]:
    lead = ctx.state.lead.model_dump(exclude_none=True)
    return {**ctx.state.profile, **lead}


def _record_answers(ctx: TurnContext, form: Form, progress: FormProgress) -> None:
    slots = ctx.extraction.slots()
    lead = ctx.state.lead
    reader, said_now = ctx.services.extractor.contact, ctx.extraction.said
    for slot in LEAD_SLOTS:  # contact data is kept whichever question it answers
        if slot in slots:
            setattr(lead, slot, reader.lead_value(getattr(lead, slot), slot, slots[slot], said_now))
    lead_form = any(slot in LEAD_SLOTS for question in form.questions for slot in question.fills)
    if lead_form and chat_wanted(ctx, progress.name) and lead.contact_by != BY_CHAT:
        lead.contact_by = BY_CHAT  # "que me escriban aquí, no puedo contestar llamadas"
        if ctx.template("chat_noted"):
            ctx.notes.append(ctx.say("chat_noted"))
    if lead_form and slots.keys() & {"make", "model"}:
        from dialog.handlers.handoff import car_described

        car_described(ctx)  # "Fernando Ochoa, 55…, quería la tracker 2021": that car
    for question in form.questions:
        if question.id in progress.answers:
            continue
        value = _answer(ctx, question, slots, progress)
        if value is not None:
            progress.answers[question.id] = value


def _answer(
    ctx: TurnContext, question: FormQuestion, slots: dict[str, object], progress: FormProgress
) -> str | None:
    known = [slot for slot in question.fills if getattr(ctx.state.lead, slot, None) is not None]
    if not known and "phone" in question.fills and ctx.state.lead.contact_by == BY_CHAT:
        return BY_CHAT  # no number needed: the advisor writes in this conversation
    if known and all(slot in LEAD_SLOTS for slot in question.fills):
        return ", ".join(str(getattr(ctx.state.lead, slot)) for slot in known)
    filled = [slot for slot in question.fills if slot in slots]
    if filled:
        _apply_slots(ctx, {slot: slots[slot] for slot in filled})
        return ", ".join(f"{slot}={slots[slot]}" for slot in filled)
    for option in question.options:
        if said(ctx, f"form:{progress.name}:{question.id}:{option}"):
            for slot in question.fills:  # "en la tarde" is the lead's contact time
                if slot in LEAD_SLOTS and getattr(ctx.state.lead, slot) is None:
                    setattr(ctx.state.lead, slot, option)
            return option
    if progress.asking == question.id and said(ctx, PASS):
        return ANSWERED_ANY
    return None


def _apply_slots(ctx: TurnContext, values: dict[str, object]) -> None:
    """Slots answered in a form go where a normal turn would put them."""
    filters, financing = ctx.state.filters, ctx.state.financing
    for slot, value in values.items():
        if hasattr(filters, slot):
            setattr(filters, slot, value)
        elif hasattr(financing, slot):
            setattr(financing, slot, value)


def _moved_on(ctx: TurnContext, form: Form, asked: str | None, pending: list) -> bool:
    """ "busco uno de menos de 200 mil" when asked what the car is for: search, don't re-ask."""
    if not form.search_when_criteria or asked not in {q.id for q in pending}:
        return False
    return _answers_pending(ctx, form)


def _answers_pending(ctx: TurnContext, form: Form) -> bool:
    """True when the message fills a slot the form is waiting for (then it is an answer)."""
    slots = ctx.extraction.slots()
    return any(slot in slots for question in form.questions for slot in question.fills)


def _complete(ctx: TurnContext, form: Form) -> Reply:
    progress = ctx.state.form
    ctx.state.form = None
    if progress is not None:
        answers = {key: value for key, value in progress.answers.items() if value != ANSWERED_ANY}
        ctx.state.profile.update(answers)
    ctx.from_form = True
    ctx.form_name = progress.name if progress else None
    spec = HANDLERS.get(form.on_complete)
    assert spec is not None  # checked when the configuration was loaded
    if form.templates:
        ctx.route = Route(handler=form.on_complete, templates=form.templates)
    else:
        ctx.route = ctx.config.routes.get(_route_of(ctx, form.on_complete)) or ctx.route
    return spec.func(ctx)


def _route_of(ctx: TurnContext, handler_name: str) -> str:
    """The first route using this handler, so its templates are used to answer."""
    for intent, route in ctx.config.routes.items():
        if route.handler == handler_name:
            return intent
    return ""
