"""Questions in further sentences of a message that neither answer took ("the x trail se ve bien.
how many km y trae carplay? also puedo pagar con dólares cash?"): each is read on its own; one a
rule knows is answered by its route, any other is named back and left to an advisor. A customer's
question is never silently dropped (dialog.yml `open_questions`)."""

from __future__ import annotations

from collections.abc import Callable

from dialog.config import OpenQuestions
from dialog.handlers.answers import REPEATED
from dialog.screen import dialog_context
from dialog.turn import Reply, TurnContext
from nlu.examples import STOPWORDS
from nlu.grammar import GRAMMAR
from nlu.text import normalize, sentences

DETAILS_HANDLER = "catalog.details"  # its parts are the car's data asked ("details:km")
QUOTE_CHARS = 90  # a longer question is cut at a word, with "…"
SELECTED = "select_car"  # a sentence naming the car in focus again, with what it asks of it
ASKED = "?"
OPENING_WORDS = 4  # the longest opening said: "i'd like to know"
RULED = ("rule", "context")  # stages that read a sentence by its words, not by likeness


def answer_open_questions(
    ctx: TurnContext, first: Reply, dispatch: Callable[[TurnContext], Reply]
) -> Reply:
    """`first` followed by the answers to the questions it left; `dispatch` runs a route (the
    engine's, with no form reading the aside)."""
    policy = ctx.config.open_questions
    parts = [clause for sentence in sentences(ctx.text) for clause in _clauses(sentence, policy)]
    if policy.most == 0 or len(parts) < 2 or ctx.intent in policy.skip:
        return first
    extractor = ctx.services.extractor
    answered = {ctx.extraction.label, ctx.extraction.second}
    if ctx.answered_last:
        answered.add(_label(*ctx.answered_last))
    added = 0
    asides: dict[str, set[str]] = {}  # the parts each answer added here took
    asked = [sentence for sentence in parts if _asks(sentence, policy)]
    if not asked:
        return first  # "Estoy en Monterrey.": where they are, not a question about the branches
    context = dialog_context(ctx.state, ctx.services.catalog, ctx.config)
    for sentence in asked:
        if added >= policy.most:
            break
        reading = extractor.extract(sentence, context)
        if reading.intent == SELECTED and reading.second and ctx.state.selected is not None:
            intent, _, topic = reading.second.partition("/")  # "y es la versión advance
            reading = reading.model_copy(  # verdad": of the car in focus, its detail asked
                update={"intent": intent, "topic": topic or None, "second": None}
            )
        label = reading.label
        parts = _parts(ctx, reading)
        if label in asides and parts and not parts <= asides[label]:
            pass  # "solo 18 mil km? … y es la versión advance verdad": another datum of it
        elif label in answered and (parts or not _parts(ctx, ctx.extraction, label)):
            continue  # asked and answered; but "¿incluye seguro? ¿y cuánto tardan?" is two
        own_rule = reading.stage == "rule" and reading.label not in answered  # "y también ¿aceptan
        # tarjeta para el enganche?": the card's question, though "enganche" is the plan's word
        if not own_rule and _names_answered(extractor, sentence, answered):
            continue  # "¿qué documentos necesito para venderlo?": the sale's answer took it
        own = _own_words(sentence, policy)  # "¿cómo funciona eso?" asks of the rest
        ruled = reading.stage in RULED  # "la touareg es diesel verdad?" of a listed car
        clear = ruled or (own and (reading.score or 0.0) >= policy.min_score)
        if clear and label in policy.answers:
            reply = _answered(ctx, sentence, reading, dispatch)
        elif not ruled and own and not reading.slots():
            if _said_in(sentence, first.full_text, policy):
                continue  # "30% over 3 years. total interest paid?": the plan says it
            reply = Reply(_named_back(ctx, sentence), rephrasable=False)
        else:
            continue
        if not reply.text or _says_again(reply.text, first.full_text):
            continue
        if reply.kind == REPEATED and first.text.strip():
            continue  # "ya te lo compartí arriba" beside a real answer says nothing
        answered.add(label)
        asides[label] = asides.get(label, set()) | parts
        added += 1
        first = first.followed_by(reply)
    return first


YES_NO = GRAMMAR.yes_no  # "Sí, el ibiza es automático" says what "El ibiza es…" says


def _line_keys(text: str) -> set[str]:
    keys = set()
    for line in text.splitlines():
        words = normalize(line).split()
        while words and words[0] in YES_NO:
            words = words[1:]
        if words:
            keys.add(" ".join(words))
    return keys


def _says_again(text: str, said: str) -> bool:
    """Every line of `text` is a line `said` already has, but for a "sí"/"yes" before it."""
    keys = _line_keys(text)
    return not keys or keys <= _line_keys(said) or text in said


def _names_answered(extractor, sentence: str, answered: set) -> bool:
    """The sentence has a strong word of a request the reply already answers: the reply is its
    answer, whatever the sentence alone would be read as."""
    found = {label for label, strong, _, _ in extractor.analyse(sentence).labels if strong}
    return bool(found & answered)


def _answered(
    ctx: TurnContext, sentence: str, reading, dispatch: Callable[[TurnContext], Reply]
) -> Reply:
    """The sentence answered by its own route; its general "no lo tengo confirmado" names the
    question instead, so the customer knows which one it is. A city said elsewhere in the message
    is the sentence's ("la camioneta está aquí en gdl? ¿dónde están sus sucursales acá?")."""
    if reading.city is None and ctx.extraction.city is not None:
        reading = reading.model_copy(update={"city": ctx.extraction.city})
    other = TurnContext(
        text=sentence,
        extraction=reading,
        state=ctx.state,
        route=ctx.config.route_for(reading.intent),
        config=ctx.config,
        services=ctx.services,
        intent=reading.intent or "",
        marks=ctx.marks,
    )
    reply = dispatch(other)
    if other.handoff is not None:
        ctx.handoff = other.handoff
    if _generic(other, reply):
        return Reply(_named_back(ctx, sentence), rephrasable=False)
    return reply


def name_the_question(ctx: TurnContext, answered: TurnContext, reply: Reply) -> Reply:
    """A second request answered with its route's general "no lo tengo confirmado" ("busco un
    sedán. ¿y hay descuento por pagar todo de contado?"): the sentence that asked it is named, so
    the customer knows which question it is."""
    if not _generic(answered, reply):
        return reply
    label = answered.extraction.label
    context = dialog_context(ctx.state, ctx.services.catalog, ctx.config)
    policy = ctx.config.open_questions
    question_before = False
    for sentence in sentences(ctx.text):
        asked = _asks(sentence, policy) or (question_before and _alternative(sentence, policy))
        if ctx.services.extractor.extract(sentence, context).label == label:
            if not asked:
                return Reply("")  # "tengo factura original y tenencias": told, not asked
            return Reply(_named_back(ctx, sentence), rephrasable=False)
        question_before = asked
    return reply


def _alternative(sentence: str, policy: OpenQuestions) -> bool:
    """ "o me penalizan" after "¿se reduce el interés?": the question goes on."""
    words = normalize(sentence).split()
    return bool(words) and words[0] in {normalize(word) for word in policy.alternatives}


def told_not_asked(ctx: TurnContext, label: str) -> bool:
    """The request `label` comes only from a sentence that asks nothing ("raro q el más caro
    tenga más km."): no "?" closes it and no question word opens it."""
    if len(sentences(ctx.text)) < 2:
        return False
    policy = ctx.config.open_questions
    readings = ctx.sentence_readings()
    found = [part for part, reading in readings if label in (reading.label, reading.second)]
    if not found and ctx.config.route_for(label).handler == DETAILS_HANDLER:
        # "raro q el más caro tenga más km.": the sentence that names the car's datum
        found = [part for part, reading in readings if _parts(ctx, reading, label)]
    return bool(found) and not any(
        _asks(part, policy) or set(normalize(part).split()) & policy.anywhere for part in found
    )


def _generic(answered: TurnContext, reply: Reply) -> bool:
    generic = answered.say("no_answer")
    return bool(generic) and reply.text.strip() == generic.strip()


def _parts(ctx: TurnContext, extraction, intent: str | None = None) -> set[str]:
    """The parts of a route answered by their own template ("¿incluye seguro?": insurance) that
    the message says."""
    intent = intent or extraction.intent or ""
    route = ctx.config.route_for(intent)
    found = {
        key
        for key in route.phrases
        if route.templates.get(key) and f"{intent}:{key}" in extraction.said
    }
    if route.handler == DETAILS_HANDLER:  # "¿tiene bluetooth? ¿y cuántas llaves trae?": the
        found |= {name for name in extraction.said if name.startswith("details:")}  # data asked
    return found


def _clauses(sentence: str, policy: OpenQuestions) -> list[str]:
    """A sentence cut where, after a comma, a clause break opens another request ("…máximo 260
    mil, y también quiero saber si aceptan tarjeta"); the break stays with the clause it opens."""
    pieces = sentence.split(",")
    clauses = [pieces[0]]
    for piece in pieces[1:]:
        words = normalize(piece).split()
        opens = any(
            words[: len(phrase.split())] == phrase.split() for phrase in policy.breaks if phrase
        )
        if opens and normalize(clauses[-1]):
            clauses.append(piece.strip())
        else:
            clauses[-1] = f"{clauses[-1]},{piece}"
    return clauses


def _asks(sentence: str, policy: OpenQuestions) -> bool:
    """A "?" closes it, or a question word opens it (after "y", "also", "ok"...)."""
    if sentence.rstrip(" !.").endswith(ASKED):
        return True
    words = _unconnected(normalize(sentence).split(), policy)
    if len(words) > 2 and words[-1] in policy.tag_words:
        return True  # "y es la versión advance verdad": a question tagged, no "?"
    opening = policy.opening
    return any(" ".join(words[:n]) in opening for n in range(1, OPENING_WORDS + 1) if words)


def _own_words(sentence: str, policy: OpenQuestions) -> bool:
    """A question of enough words, with words of its own: "¿aceptan dólares?", not "what do you
    have?" or "¿cómo funciona eso?", which ask about what the rest of the message says."""
    words = _unconnected(normalize(sentence).split(), policy)
    if len(words) < policy.min_words or words[-1] in policy.tag_words:
        return False  # "sale más barato, ¿no?": a confirmation of what the rest says
    return len(_content(words, policy)) >= policy.min_content


def _content(words: list[str], policy: OpenQuestions) -> list[str]:
    plain = policy.plain
    return [
        word
        for word in words
        if word.isalpha() and len(word) > 3 and word not in plain and word not in STOPWORDS
    ]


def _said_in(sentence: str, reply: str, policy: OpenQuestions) -> bool:
    """Most of the question's own words are in the reply already: it answers it."""
    content = set(_content(normalize(sentence).split(), policy))
    found = content & set(normalize(reply).split())
    return bool(content) and len(found) * 2 >= len(content)


def _unconnected(words: list[str], policy: OpenQuestions) -> list[str]:
    """The words after the connectors a sentence begins with ("y", "also", "ok", "otra cosa")."""
    changed = True
    while changed and words:
        changed = False
        for connector in policy.leading:
            if tuple(words[: len(connector)]) == connector:
                words, changed = words[len(connector) :], True
                break
    return words


def _named_back(ctx: TurnContext, sentence: str) -> str:
    return ctx.say("open_question", {"question": _quoted(sentence, ctx.config.open_questions)})


def _quoted(sentence: str, policy: OpenQuestions) -> str:
    """The question in the customer's words, without its opening connector and marks."""
    words = sentence.strip(" ¿¡?!.;").split()
    while len(words) > 1 and (normalize(words[0]),) in policy.leading:
        words = words[1:]
    text = " ".join(words).strip(" ¿¡?!.;,")
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"
    return text


def _label(intent: str, topic: str | None) -> str:
    return f"knowledge/{topic}" if intent == "knowledge" and topic else intent
