"""YAML-defined forms: one question at a time, answers in any order, several at once, skippable."""

from __future__ import annotations

from dialog.config import Form, FormQuestion, Route
from dialog.registry import HANDLERS
from dialog.state import FormProgress
from dialog.text import find_phrase, is_phrase, normalize
from dialog.turn import Reply, TurnContext

ANSWERED_ANY = "*"


def start_form(ctx: TurnContext, name: str) -> Reply:
    """Begin a form, taking whatever this very message already answers."""
    ctx.state.form = FormProgress(name=name)
    return _advance(ctx, ctx.config.forms[name], first_turn=True)


def continue_form(ctx: TurnContext) -> Reply | None:
    """Consume this message as form answers; None when it is another request (handled normally)."""
    progress = ctx.state.form
    form = ctx.config.forms.get(progress.name) if progress else None
    if progress is None or form is None:
        ctx.state.form = None
        return None
    if find_phrase(ctx.text, form.cancel_phrases):
        ctx.state.form = None
        return Reply(ctx.say("form_cancelled"))
    if ctx.extraction.intent in form.end_intents and not _answers_pending(ctx, form):
        ctx.state.form = None  # "gracias, adiós": answer that, and stop asking
        return None
    if ctx.extraction.intent in form.interrupt_intents and not _answers_pending(ctx, form):
        return None
    if find_phrase(ctx.text, form.skip_phrases):
        return _complete(ctx, form)
    if _is_question(ctx.text) and not _answers_anything(ctx, form, progress):
        return None  # "¿están en Monterrey?" is not a name: answer it, keep the form open
    return _advance(ctx, form, first_turn=False)


def _is_question(text: str) -> bool:
    return "?" in text or "¿" in text


def _answers_anything(ctx: TurnContext, form: Form, progress) -> bool:
    """A slot or an option of a pending question (free text aside)."""
    if _answers_pending(ctx, form):
        return True
    pending = [q for q in form.questions if q.id not in progress.answers]
    return any(find_phrase(ctx.text, phrases) for q in pending for phrases in q.options.values())


def _advance(ctx: TurnContext, form: Form, first_turn: bool) -> Reply:
    progress = ctx.state.form
    assert progress is not None
    asked = progress.asking
    _record_answers(ctx, form, progress, free_text_allowed=not first_turn)
    pending = [q for q in form.questions if q.id not in progress.answers]
    if not pending or (not first_turn and _moved_on(ctx, form, asked, pending)):
        return _complete(ctx, form)
    progress.asking = pending[0].id
    return Reply(pending[0].ask, rephrasable=False)


def _record_answers(
    ctx: TurnContext, form: Form, progress: FormProgress, free_text_allowed: bool
) -> None:
    slots = ctx.extraction.slots()
    for question in form.questions:
        if question.id in progress.answers:
            continue
        value = _answer(ctx, question, slots, form, progress, free_text_allowed)
        if value is not None:
            progress.answers[question.id] = value


def _answer(
    ctx: TurnContext,
    question: FormQuestion,
    slots: dict[str, object],
    form: Form,
    progress: FormProgress,
    free_text_allowed: bool,
) -> str | None:
    filled = [slot for slot in question.fills if slot in slots]
    if filled:
        _apply_slots(ctx, {slot: slots[slot] for slot in filled})
        return ", ".join(f"{slot}={slots[slot]}" for slot in filled)
    for option, phrases in question.options.items():
        if find_phrase(ctx.text, phrases):
            return option
    is_current = progress.asking == question.id
    if is_current and is_phrase(ctx.text, ctx.config.pass_phrases):
        return ANSWERED_ANY
    if is_current and free_text_allowed and question.free_text and normalize(ctx.text):
        return _free_text(ctx.text, question.strip_phrases)
    return None


def _free_text(text: str, strip_phrases: list[str]) -> str:
    """The answer without its lead-in ("me llamo Ana" -> "Ana") and stray punctuation."""
    answer = " ".join(text.split()).strip(" .,!¡?¿")
    lowered = normalize(answer)
    for phrase in sorted(strip_phrases, key=len, reverse=True):
        lead = normalize(phrase)
        if lowered.startswith(lead + " "):
            answer = " ".join(answer.split()[len(lead.split()) :])
            break
    return answer[:120]


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
