"""Fixed answers, knowledge answers and the fallback (the only place the LLM may answer)."""

from __future__ import annotations

import logging

from dialog.registry import handler
from dialog.text import find_phrase
from dialog.turn import Reply, TurnContext

log = logging.getLogger("dialog")


@handler("reply", required={"default": set()})
def fixed_reply(ctx: TurnContext) -> Reply:
    """greet, thanks, goodbye, out_of_scope and any intent staff add with a plain answer."""
    return Reply(ctx.say("default"))


@handler("knowledge.answer", required={"no_answer": set()})
def knowledge_answer(ctx: TurnContext) -> Reply:
    """The knowledge base's answer (narrowed to what was asked); else the LLM; else say so."""
    answer = ctx.services.knowledge.answer(ctx.extraction.topic, ctx.text)
    if answer is not None:
        return Reply(answer.text)
    return ask_llm(ctx, "no_answer")


@handler("llm.answer", required={"no_answer": set()})
def llm_answer(ctx: TurnContext) -> Reply:
    """Questions about a car the catalog cannot answer (fuel, reliability): the LLM or say so."""
    return ask_llm(ctx, "no_answer")


@handler("fallback.answer", required={"help": set(), "no_answer": set()})
def fallback_answer(ctx: TurnContext) -> Reply:
    """No intent recognised: a free-form question may go to the LLM; anything else gets help."""
    answer = ctx.services.knowledge.answer(None, ctx.text)
    if answer is not None:
        return Reply(answer.text)
    if _looks_like_question(ctx):  # the LLM if configured, else an honest "no tengo ese dato"
        return ask_llm(ctx, "no_answer")
    return Reply(ctx.say("help"))


def _looks_like_question(ctx: TurnContext) -> bool:
    words = ctx.text.split()
    if len(words) < ctx.config.llm.min_words:
        return False
    return "?" in ctx.text or find_phrase(ctx.text, ctx.config.llm.question_cues) is not None


def ask_llm(ctx: TurnContext, fallback_template: str) -> Reply:
    """Ask the LLM with verified context only; its answer is grounded or not used at all."""
    llm = ctx.services.llm
    if llm is None or not llm.enabled or not ctx.route.use_llm:
        return Reply(ctx.say(fallback_template))
    from tools.llm import LLMContext

    knowledge = [entry.text for entry in ctx.services.knowledge.closest(ctx.text, k=3)]
    car = ctx.services.catalog.get(ctx.state.selected) if ctx.state.selected else None
    context = LLMContext(knowledge=knowledge, car=car.model_dump() if car else None)
    result = llm.answer_question(ctx.text, context, user=ctx.state.user)
    if result.used and result.text:
        return Reply(result.text, llm_used=True, rephrasable=False)
    if result.reason == "budget_spent":
        return Reply(ctx.config.llm.budget_reply, rephrasable=False)
    log.info("llm answer not used", extra={"reason": result.reason, "user_turn": ctx.state.turns})
    return Reply(ctx.say(fallback_template), rephrasable=False)
