"""The dialog engine: extract, decide the intent in context, run its handler, save the state."""

from __future__ import annotations

import logging
import time

from dialog.config import FALLBACK_ROUTE
from dialog.forms import continue_form
from dialog.handlers.selection import cars_named
from dialog.registry import HANDLERS
from dialog.render import clip
from dialog.runtime import Bundle, Runtime
from dialog.state import ConversationState, utc_now
from dialog.store.base import Store, Turn
from dialog.text import find_phrase
from dialog.turn import Reply, TurnContext, TurnResult
from nlu.schema import Extraction
from nlu.text import valid_unicode

log = logging.getLogger("dialog")
MAX_TEXT_CHARS = 5000
SEARCH_SLOTS = ("year_min", "year_max", "price_min", "price_max", "km_max", "bluetooth", "car_play")


class Engine:
    """Answers one message of one user; safe to call from many threads."""

    def __init__(self, runtime: Runtime, store: Store, rephrase: bool = False):
        self.runtime, self.store, self.rephrase = runtime, store, rephrase

    def handle(
        self, user: str, text: str, *, message_id: str | None = None, picked: int | None = None
    ) -> TurnResult:
        """Process one message under the user's lock; never raises for any text.

        `picked` is the stock id of a car the customer tapped in a list message.
        """
        text = valid_unicode(" ".join(text.split())[:MAX_TEXT_CHARS])
        self.runtime.reload_if_changed()
        with self.store.user_lock(user):
            state = self.store.state_for(user)
            if picked is not None:
                text = self._pick_text(state, picked) or text
            result = self._turn(state, text)
            state.turns += 1
            state.updated_at = utc_now()
            self.store.save_turn(
                state,
                Turn(
                    user=user,
                    text_in=text,
                    text_out=result.reply,
                    intent=result.intent,
                    slots=result.slots,
                    message_id=message_id,
                    llm_used=result.llm_used,
                ),
            )
        return result

    def _pick_text(self, state: ConversationState, stock_id: int) -> str | None:
        """A tapped car becomes "el N" of the list it came from (an older list: a list of one)."""
        if stock_id in state.last_results:
            return f"el {state.last_results.index(stock_id) + 1}"
        if self.runtime.current.services.catalog.get(stock_id) is None:
            return None
        state.last_results = [stock_id]
        return "el 1"

    def _turn(self, state: ConversationState, text: str) -> TurnResult:
        bundle = self.runtime.current
        started = time.perf_counter()
        extraction = bundle.services.extractor.extract(text)
        intent = resolve_intent(text, extraction, state, bundle)
        route = bundle.config.route_for(intent)
        ctx = TurnContext(
            text=text,
            extraction=extraction,
            state=state,
            route=route,
            config=bundle.config,
            services=bundle.services,
            intent=intent,
        )
        reply = self._dispatch(ctx)
        if ctx.handoff is not None:
            self.store.add_handoff(ctx.handoff)
        reply = self._maybe_rephrase(ctx, reply)
        state.last_intent = intent
        log.debug("turn %.2f ms intent=%s", (time.perf_counter() - started) * 1000, intent)
        return TurnResult(
            reply=clip(reply.text),
            intent=intent,
            slots=extraction.slots(),
            results=list(reply.results or []),
            selected=state.selected,
            plan=reply.plan,
            llm_used=reply.llm_used,
            choices=reply.choices,
            choices_kind=reply.choices_kind,
        )

    def _dispatch(self, ctx: TurnContext) -> Reply:
        try:
            form = ctx.state.form
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

    def _maybe_rephrase(self, ctx: TurnContext, reply: Reply) -> Reply:
        llm = ctx.services.llm
        wanted = self.rephrase or ctx.config.llm.rephrase
        if not (wanted and reply.rephrasable and llm is not None and llm.enabled):
            return reply
        result = llm.rephrase(reply.text, [], user=ctx.state.user)
        if result.used and result.text:
            reply.text, reply.llm_used = result.text, True
        return reply


def _remind(ctx: TurnContext, reply: Reply) -> Reply:
    """After answering a question asked mid-form, ask the form's pending question again."""
    progress = ctx.state.form
    form = ctx.config.forms.get(progress.name) if progress else None
    question = next((q for q in form.questions if q.id == progress.asking), None) if form else None
    if question is not None:
        reply.text = f"{reply.text}\n\n{question.remind or question.ask}"
    return reply


def resolve_intent(
    text: str, extraction: Extraction, state: ConversationState, bundle: Bundle
) -> str:
    """The NLU's intent, corrected by context: "el corolla" after a list is a selection."""
    intent = extraction.intent or ""
    if (
        intent == "search_cars"
        and _asks_about_focus(extraction, state, bundle)
        and find_phrase(text, bundle.config.search_cues) is None
    ):
        return "car_details"
    if intent == "search_cars" and _picks_shown_car(text, extraction, state, bundle):
        return "select_car"
    if (
        intent == "select_car"
        and extraction.ordinal is None
        and _names_unshown_car(extraction, state, bundle)
    ):
        return "search_cars"  # "me interesa el corolla" with no Corolla listed: look for one
    if not intent and extraction.slots():
        return "search_cars"
    return intent or FALLBACK_ROUTE


FEATURES = {"bluetooth", "car_play"}


def _asks_about_focus(extraction: Extraction, state: ConversationState, bundle: Bundle) -> bool:
    """ "¿y bluetooth?" right after talking about the chosen car asks about that car."""
    slots = set(extraction.slots())
    return bool(
        state.selected is not None
        and state.last_intent in bundle.config.focus_intents
        and slots
        and slots <= FEATURES
    )


def _names_unshown_car(extraction: Extraction, state: ConversationState, bundle: Bundle) -> bool:
    if not (extraction.model or extraction.make):
        return False
    shown = state.last_results
    return not shown or not cars_named(bundle.services.catalog, extraction, shown)


def _picks_shown_car(
    text: str, extraction: Extraction, state: ConversationState, bundle: Bundle
) -> bool:
    """A make/model alone, said with a pointing word ("el", "ese"), naming a car just shown."""
    if not state.last_results or not (extraction.model or extraction.make):
        return False
    if any(getattr(extraction, slot) is not None for slot in SEARCH_SLOTS):
        return False
    if find_phrase(text, bundle.config.selection_cues) is None:
        return False
    return bool(cars_named(bundle.services.catalog, extraction, state.last_results))
