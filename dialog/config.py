"""The dialog configuration (config/dialog.yml): routes, templates and forms, validated at load.

Business staff edit this file; every mistake is reported with the file, the line and the field:
an unknown handler, a template the handler needs but the route lacks, a placeholder the handler
cannot fill, a form question that fills an unknown slot, a route for an intent nobody can detect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from dialog.registry import HANDLERS, HandlerSpec
from dialog.render import placeholders_of
from nlu.schema import SLOT_KEYS
from nlu.text import normalize
from tools.search import RelaxKind
from tools.yamlio import YamlError, line_at, load_yaml, raise_problems, validate_yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
FALLBACK_ROUTE = "fallback"


UsePick = Literal[
    "cheapest", "lowest_km", "newest", "shortest", "longest", "tallest", "smallest_engine",
    "largest_engine",
]  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Route(_Strict):
    """How one intent is answered: a handler and the wording it uses."""

    handler: str
    templates: dict[str, str] = Field(default_factory=dict)
    use_llm: bool = True  # false: never hand this intent to the LLM, even when it is configured
    # Phrase sets the handler asks about ("el mínimo de enganche"): said(ctx, "<intent>:<name>").
    phrases: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("templates")
    @classmethod
    def _templates_parse(cls, templates: dict[str, str]) -> dict[str, str]:
        for name, text in templates.items():
            try:
                placeholders_of(text)
            except ValueError as error:
                raise ValueError(f"template '{name}': {error}") from None
        return templates


class FormQuestion(_Strict):
    """One question of a form: what it asks, and which slots (or free text) answer it."""

    id: str
    ask: str  # may use the answers so far: "Gracias, {name}. ¿En qué horario...?"
    remind: str = ""  # asked again after an answer to something else; `ask` when empty
    retry: str = ""  # asked again when the reply answers nothing ("Solo necesito tu nombre...")
    fills: list[str] = Field(default_factory=list)
    options: dict[str, list[str]] = Field(default_factory=dict)
    # asked once more at most: a second reply that does not answer it ends the form with what it
    # has (the first gets `retry`)
    optional: bool = False

    @field_validator("fills")
    @classmethod
    def _known_slots(cls, fills: list[str]) -> list[str]:
        unknown = [slot for slot in fills if slot not in SLOT_KEYS]
        if unknown:
            raise ValueError(f"unknown slot(s) {unknown}; slots are {', '.join(SLOT_KEYS)}")
        return fills


class Form(_Strict):
    """A short YAML-defined questionnaire asked one question at a time."""

    questions: list[FormQuestion] = Field(min_length=1)
    skip_phrases: list[str] = Field(default_factory=list)
    cancel_phrases: list[str] = Field(default_factory=list)  # nearly the whole message
    refuse_phrases: list[str] = Field(default_factory=list)  # anywhere: the form is unwanted
    # ... because they gave their data before ("ya se los di la semana pasada"): said so
    given_before_phrases: list[str] = Field(default_factory=list)
    # anywhere: reach me in this conversation ("escríbanme por aquí", "es este mismo número"):
    # the phone question is answered, and a "no me llamen" beside it is no refusal
    chat_phrases: list[str] = Field(default_factory=list)
    # ... taken back by one of these up to 3 words before it ("no me escriban por whats") or 2
    # after it ("por whats no", "this number is wrong")
    chat_denials: list[str] = Field(default_factory=list)
    chat_denials_after: list[str] = Field(default_factory=list)
    # refusals of calls only: said with a chat phrase, the advisor is still wanted
    call_refusal_phrases: list[str] = Field(default_factory=list)
    # a number given with one of these is for a call: the chat contact goes ("llámenme al 55…")
    call_phrases: list[str] = Field(default_factory=list)
    max_misses: int = Field(default=3, ge=1)  # messages in a row that answer nothing, then give up
    interrupt_intents: list[str] = Field(default_factory=list)
    # An intent guessed from examples (not a rule) interrupts only at this score or above.
    interrupt_min_score: float = Field(default=0.5, ge=0, le=1)
    search_when_criteria: bool = False  # criteria that ignore the question asked end the form
    end_intents: list[str] = Field(default_factory=list)  # answered normally, and the form closes
    # to an optional question, these ("ok gracias") close the form with what it has at once
    optional_done_intents: list[str] = Field(default_factory=list)
    on_complete: str
    templates: dict[str, str] = Field(default_factory=dict)  # for on_complete's handler


class DetailTopic(_Strict):
    """A question about the car in focus (bluetooth, size...) and its answer template.

    For a yes/no feature, `flag` names the car field and `template_no` answers the "no";
    `template_unknown` answers when the catalog does not say. For a figure the catalog may only
    guess (`guessed`: seats), `template` answers when the version states it, `template_usual` when
    its model usually has it, `template_unknown` when nothing says it.
    """

    keywords: list[str] = Field(min_length=1)
    template: str
    flag: (
        Literal["bluetooth", "car_play", "transmission", "fuel", "body_type", "drive", "engine"]
        | None
    ) = None
    template_no: str = ""
    template_unknown: str = ""
    guessed: Literal["seats"] | None = None
    template_usual: str = ""
    # a word of the version and what it means, said after the answer ("Asg": an automated
    # manual, no clutch pedal); translated under `details.<name>.notes` of a language pack
    notes: dict[str, str] = Field(default_factory=dict)
    # context word lists of config/intents.yml that ask it too ("¿viene en rojo?": colour_words)
    context_words: list[Literal["colour_words"]] = Field(default_factory=list)
    # what the NLU read that asks it too ("figure:price_echoed": "139 mil x un aveo?? q caro"
    # says the listed car's price back, judged)
    said: list[Literal["figure:price_echoed"]] = Field(default_factory=list)
    # other details this one answers in its place ("¿cuál gasta menos gasolina?" asks the fuel
    # economy, not whether it runs on gasoline)
    instead_of: list[str] = Field(default_factory=list)
    # the list line of a car already says it (price, km, version, year): a list of several cars
    # answers it by the list alone
    in_list_line: bool = False
    # asked as an opinion too ("¿qué tal de consumo?" goes to car_question): with no LLM answer,
    # this detail's answer of the car in focus says what the listing has and lacks
    in_questions: bool = False


class LLMPolicy(_Strict):
    """Where the LLM may speak (free-form questions with these cues, optionally rephrasing), how
    much of a message it reads, how often it may answer, and which claims it must not invent."""

    rephrase: bool = False
    min_words: int = Field(default=3, ge=1)
    question_cues: list[str] = Field(default_factory=list)
    # a question no rule understood goes to the LLM only if its nearest examples score this much
    # (it is about cars or buying); below, the honest "no tengo ese dato"
    min_relevance: float = Field(default=0.15, ge=0, le=1)
    max_question_chars: int = Field(default=500, ge=20)
    per_user_per_hour: int = Field(default=20, ge=0)
    global_per_hour: int = Field(default=1000, ge=0)  # all customers, all workers
    budget_reply: str = "Un asesor te puede ayudar con eso 🙏 escribe *asesor*."
    claim_words: list[str] = Field(default_factory=list)  # never in an answer unless in its sources


class OpenQuestions(_Strict):
    """Questions in further sentences of a message that neither answer took: answered by their
    own reading when a rule knows it (`answers`), else named back (template `open_question`)."""

    most: int = Field(default=2, ge=0, le=5)
    min_words: int = Field(default=3, ge=1)
    min_score: float = Field(default=0.6, ge=0, le=1)
    answers: list[str] = Field(default_factory=list)
    skip: list[str] = Field(default_factory=list)
    starts: list[str] = Field(default_factory=list)
    min_content: int = Field(default=2, ge=0)
    vague: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    connectors: list[str] = Field(default_factory=list)
    # a word anywhere in a sentence that makes it ask ("pero primero dime cuántos km tiene")
    asks_anywhere: list[str] = Field(default_factory=list)
    # a sentence that opens with one of these right after a question goes on asking it ("¿se
    # reduce el interés? o me penalizan")
    alternatives: list[str] = Field(default_factory=list)
    # after a comma, these open another request in the same sentence ("…máximo 260 mil, y también
    # quiero saber si aceptan tarjeta"): read as a sentence of its own
    clause_breaks: list[str] = Field(default_factory=list)
    # the lists above folded once at load, as the messages are ("cuánto" -> "cuanto")
    _opening: frozenset[str] = PrivateAttr(default=frozenset())
    _plain: frozenset[str] = PrivateAttr(default=frozenset())
    _tags: frozenset[str] = PrivateAttr(default=frozenset())
    _leading: tuple[tuple[str, ...], ...] = PrivateAttr(default=())
    _anywhere: frozenset[str] = PrivateAttr(default=frozenset())
    _breaks: tuple[str, ...] = PrivateAttr(default=())

    def model_post_init(self, _context: Any) -> None:
        self._opening = frozenset(normalize(word) for word in self.starts)
        self._plain = self._opening | {normalize(word) for word in self.vague}
        self._tags = frozenset(normalize(word) for word in self.tags)
        self._anywhere = frozenset(normalize(word) for word in self.asks_anywhere)
        self._breaks = tuple(normalize(word) for word in self.clause_breaks)
        split = {tuple(normalize(word).split()) for word in self.connectors}
        self._leading = tuple(sorted((c for c in split if c), key=len, reverse=True))

    @property
    def breaks(self) -> tuple[str, ...]:
        """The clause breaks folded ("también" -> "tambien")."""
        return self._breaks

    @property
    def anywhere(self) -> frozenset[str]:
        """Words that make a sentence ask wherever they are ("dime", "cuántos")."""
        return self._anywhere

    @property
    def opening(self) -> frozenset[str]:
        """Question words that open a question ("cuánto", "can")."""
        return self._opening

    @property
    def plain(self) -> frozenset[str]:
        """Words that say nothing of their own in a question: question words and `vague`."""
        return self._plain

    @property
    def tag_words(self) -> frozenset[str]:
        return self._tags

    @property
    def leading(self) -> tuple[tuple[str, ...], ...]:
        """The connectors as folded word tuples, longest first ("otra cosa" before "o")."""
        return self._leading


class DialogConfig(_Strict):
    """The whole dialog.yml, typed."""

    templates: dict[str, str] = Field(default_factory=dict)
    details: dict[str, DetailTopic] = Field(default_factory=dict)
    # ids of reply buttons that name an intent ("financing" -> financing)
    reply_ids: dict[str, str] = Field(default_factory=dict)
    # a second request in the same message is answered too when it is one of these
    second_requests: list[str] = Field(default_factory=list)
    # ... of these only when their sentence asks ("?" or a question word): a car's datum told in
    # a remark ("raro q el más caro tenga más km.") is not asked
    asked_only: list[str] = Field(default_factory=list)
    # ... these only when the message names two cars or more ("pa comparar" of two plans is none)
    cars_only: list[str] = Field(default_factory=list)
    open_questions: OpenQuestions = Field(default_factory=OpenQuestions)
    routes: dict[str, Route]
    forms: dict[str, Form] = Field(default_factory=dict)
    results_limit: int = Field(default=5, ge=1, le=10)
    price_stretch: float = Field(default=0.10, ge=0, le=1)  # "si se pasa tantito": 10% more
    # "ta cara la mensualidad" at the longest term: the plan with this share more down payment
    lower_payment_step: float = Field(default=0.10, gt=0, le=1)
    # the most cars one message lists when all are asked for ("show me all 8")
    results_all_limit: int = Field(default=10, ge=1, le=20)
    # the cars shown beside the plan of a price said ("uno de 200 mil"): within this share of it
    quote_band: float = Field(default=0.10, gt=0, lt=1)
    # how the cars a monthly budget affords are listed when the customer chose no order
    budget_order: Literal["cheapest", "most_expensive", "newest", "oldest", "lowest_km"] = (
        "most_expensive"
    )
    # "¿cuál me recomiendas para ciudad?" with cars on screen: the listing's figure each use of
    # the guided search (`forms.guided_search` use options) picks by, and says why
    # (a list: the next figure decides when the cars tie on the one before)
    use_picks: dict[str, UsePick | list[UsePick]] = Field(default_factory=dict)
    # how close two cars' figures are to count as a tie for a use pick (the catalog's mm):
    # 4.27 m against 4.25 m is no "more room"
    use_ties: dict[UsePick, float] = Field(default_factory=dict)
    # routes whose answer, given twice in a row word for word, becomes `said_again`
    not_twice: list[str] = Field(default_factory=list)
    lead_sent_says: dict[str, str] = Field(
        default_factory=dict
    )  # after a lead: "escribe asesor" ->
    # the call to an advisor said once per reply: each earlier one becomes its short form
    advisor_once: dict[str, str] = Field(default_factory=dict)
    # words of an apology in a reply: "Perdón por la confusión" is not said again before it
    apology_marks: list[str] = Field(default_factory=list)
    pass_phrases: list[str] = Field(default_factory=list)
    llm: LLMPolicy = Field(default_factory=LLMPolicy)
    reset_on_new_model: list[str] = Field(default_factory=lambda: ["model", "year_min", "year_max"])
    # wishes no car in stock has (a relaxation kind): said once in the answer, then forgotten
    not_carried: list[RelaxKind] = Field(default_factory=list)
    words: dict[str, str] = Field(default_factory=dict)  # slot values in the customer's words
    # what the customer asked to do, noted for the advisor when said: note -> phrases
    lead_wishes: dict[str, list[str]] = Field(default_factory=dict)
    # wishes a plan in the lead contradicts ("paga de contado" beside an enganche and term)
    lead_wishes_unless_plan: list[str] = Field(default_factory=list)
    # other languages (config/i18n/<lang>.yml): route -> template -> text, "templates" (shared)
    # and "forms" -> form -> question -> ask/remind/retry (or form -> "templates")
    i18n: dict[str, dict[str, Any]] = Field(default_factory=dict)
    source: str = ""
    _raw: Any = PrivateAttr(default=None)

    def phrase_sets(self) -> dict[str, list[str]]:
        """Every phrase list of this file, for the NLU's one matcher; handlers then ask
        `said(ctx, key)` instead of searching the text themselves."""
        sets: dict[str, list[str]] = {
            "pass": self.pass_phrases,
            "llm:question": self.llm.question_cues,
        }
        for name, route in self.routes.items():
            for key, phrases in route.phrases.items():
                sets[f"{name}:{key}"] = phrases
        for name, topic in self.details.items():
            sets[f"details:{name}"] = topic.keywords
        for name, form in self.forms.items():
            sets[f"form:{name}:cancel"] = form.cancel_phrases
            sets[f"form:{name}:refuse"] = form.refuse_phrases
            if form.given_before_phrases:
                sets[f"form:{name}:given_before"] = form.given_before_phrases
            if form.chat_phrases:
                sets[f"form:{name}:chat"] = form.chat_phrases
            if form.call_phrases:
                sets[f"form:{name}:call"] = form.call_phrases
            sets[f"form:{name}:skip"] = form.skip_phrases
            for question in form.questions:
                for option, phrases in question.options.items():
                    sets[f"form:{name}:{question.id}:{option}"] = phrases
        return {key: phrases for key, phrases in sets.items() if phrases}

    def route_for(self, intent: str | None) -> Route:
        return self.routes.get(intent or FALLBACK_ROUTE) or self.routes[FALLBACK_ROUTE]


def load_dialog_config(
    path: Path | str | None = None,
    intents: set[str] | None = None,
    labels: set[str] | None = None,
    i18n: bool = True,
) -> DialogConfig:
    """Load and fully validate dialog.yml; `intents` are the names the NLU can produce and
    `labels` every intent and topic ('knowledge/locations')."""
    path = Path(path) if path else CONFIG_DIR / "dialog.yml"
    data = load_yaml(path)
    config = validate_yaml(DialogConfig, data, path)
    config.source = str(path)
    config._raw = data
    _check_routes(config, data, path)
    _check_forms(config, data, path)
    _check_details(config, data, path)
    if intents is not None:
        check_intents_routed(config, intents, labels)
    if i18n:  # after the routes: a pack follows dialog.yml
        config.i18n = load_i18n(config)
    return config


def load_i18n(config: DialogConfig) -> dict[str, dict[str, Any]]:
    """Packs per language (config/i18n/<lang>.yml): the routes' templates, shared templates,
    forms, `details`, `words`, `knowledge` answers and contact times in that language. Every key
    must exist in dialog.yml and a template may only use the placeholders its handler gives."""
    directory = Path(config.source).parent / "i18n"
    packs: dict[str, dict[str, Any]] = {}
    for file in sorted(directory.glob("*.yml")) if directory.is_dir() else []:
        data = load_yaml(file)
        if not isinstance(data, dict):
            raise YamlError(file, "expected a mapping of routes to templates", 1)
        known = {*config.routes, *I18N_SECTIONS}
        for key, value in data.items():
            if key not in known:
                raise YamlError(
                    file, f"'{key}' is not a route of dialog.yml", line_at(data, (key,))
                )
            if key in config.routes and isinstance(value, dict):
                spec = HANDLERS.get(config.routes[key].handler)
                for name, text in value.items():
                    if not isinstance(text, str):
                        raise YamlError(file, f"'{key}.{name}' must be a template text",
                                        line_at(data, (key, name)))  # fmt: skip
                if spec is not None:
                    _check_templates(spec, value, config.templates, data, file, (key,), bare=True)
        for form in data.get("forms") or {}:
            if form not in config.forms:
                raise YamlError(file, f"'{form}' is not a form of dialog.yml",
                                line_at(data, ("forms", form)))  # fmt: skip
        for name in data.get("details") or {}:
            if name not in config.details:
                raise YamlError(file, f"'{name}' is not a detail of dialog.yml",
                                line_at(data, ("details", name)))  # fmt: skip
        for wish in data.get("lead_wishes") or {}:
            if wish not in config.lead_wishes:
                raise YamlError(file, f"'{wish}' is not a wish of dialog.yml lead_wishes",
                                line_at(data, ("lead_wishes", wish)))  # fmt: skip
        packs[file.stem] = data
    return packs


# `contact_time_words`: the contact times of data/nlu/contact.yml, as the customer reads them;
# `lead_wishes`: the advisor's note of a wish as the customer reads it in the lead's summary
I18N_SECTIONS = (
    "templates", "forms", "details", "words", "knowledge_answers", "contact_time_words",
    "lead_wishes",
)  # fmt: skip


def _check_routes(config: DialogConfig, data: Any, path: Path) -> None:
    if FALLBACK_ROUTE not in config.routes:
        raise YamlError(path, f"a '{FALLBACK_ROUTE}' route is required", line_at(data, ("routes",)))
    for intent, route in config.routes.items():
        spec = HANDLERS.get(route.handler)
        where = ("routes", intent)
        if spec is None:
            raise YamlError(
                path,
                f"unknown handler '{route.handler}'; known: {', '.join(HANDLERS.names())}",
                line_at(data, (*where, "handler")),
                f"routes.{intent}.handler",
            )
        _check_templates(spec, route.templates, config.templates, data, path, where)
    for index, intent in enumerate(config.not_twice):
        if intent not in config.routes:
            raise YamlError(path, f"not_twice names '{intent}', which has no route",
                            line_at(data, ("not_twice", index)), "not_twice")  # fmt: skip
    if config.not_twice and not config.templates.get("said_again"):
        raise YamlError(path, "not_twice needs a 'said_again' template under templates:",
                        line_at(data, ("not_twice",)), "not_twice")  # fmt: skip


def _check_templates(
    spec: HandlerSpec,
    templates: dict[str, str],
    shared: dict[str, str],
    data: Any,
    path: Path,
    where: tuple[str, ...],
    bare: bool = False,
) -> None:
    """`bare`: the templates sit right under `where` (a language pack), not under `templates`;
    a pack need not translate every template."""
    field = ".".join(where)
    for name, text in templates.items():
        allowed = spec.placeholders(name)
        location = (*where, name) if bare else (*where, "templates", name)
        if allowed is None:
            raise YamlError(
                path,
                f"handler '{spec.name}' has no template '{name}'; it uses: "
                + ", ".join(sorted({*spec.required, *spec.optional})),
                line_at(data, location),
                f"{field}.templates.{name}",
            )
        unknown = placeholders_of(text) - allowed
        if unknown:
            raise YamlError(
                path,
                f"unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))}; "
                f"this template may use: {', '.join(sorted(allowed)) or 'none'}",
                line_at(data, location),
                f"{field}.templates.{name}",
            )
    for name in spec.required if not bare else ():  # after the loop: a misspelt name is
        if name not in templates and name not in shared:  # reported on its own line
            raise YamlError(
                path,
                f"handler '{spec.name}' needs a template '{name}'",
                line_at(data, (*where, "templates")),
                f"{field}.templates",
            )


def _check_forms(config: DialogConfig, data: Any, path: Path) -> None:
    for name, form in config.forms.items():
        if HANDLERS.get(form.on_complete) is None:
            raise YamlError(
                path,
                f"unknown handler '{form.on_complete}'",
                line_at(data, ("forms", name, "on_complete")),
                f"forms.{name}.on_complete",
            )
        spec = HANDLERS.get(form.on_complete)
        if form.templates and spec is not None:
            _check_templates(spec, form.templates, config.templates, data, path, ("forms", name))
        for index, question in enumerate(form.questions):
            if not question.fills and not question.options:
                raise YamlError(
                    path,
                    "a question needs 'fills' (slots that answer it) or 'options'",
                    line_at(data, ("forms", name, "questions", index)),
                    f"forms.{name}.questions.{index}",
                )


def _check_details(config: DialogConfig, data: Any, path: Path) -> None:
    from dialog.cars import CAR_PLACEHOLDERS as DETAIL_PLACEHOLDERS

    for name, topic in config.details.items():
        for other in topic.instead_of:
            if other not in config.details:
                raise YamlError(path, f"'{other}' is not a detail of details:",
                                line_at(data, ("details", name, "instead_of")),
                                f"details.{name}.instead_of")  # fmt: skip
        fields = (topic.template, topic.template_no, topic.template_unknown, topic.template_usual)
        unknown = set().union(*map(placeholders_of, fields)) - DETAIL_PLACEHOLDERS
        if unknown:
            raise YamlError(
                path,
                f"unknown placeholder(s) {sorted(unknown)}; may use {sorted(DETAIL_PLACEHOLDERS)}",
                line_at(data, ("details", name, "template")),
                f"details.{name}.template",
            )


def check_intents_routed(
    config: DialogConfig, intents: set[str], labels: set[str] | None = None
) -> None:
    """Both ways: every route has an intent, every intent a route; reply ids and second
    requests name known intents or topics. All problems are reported together."""
    data, path = config._raw, Path(config.source)
    problems = [
        YamlError(
            path,
            f"E201 route for intent '{intent}', which config/intents.yml does not define; "
            f"known: {', '.join(sorted(intents))}",
            line_at(data, ("routes", intent)),
            f"routes.{intent}",
        )
        for intent in config.routes
        if intent != FALLBACK_ROUTE and intent not in intents
    ]
    problems += [
        YamlError(
            path,
            f"E202 intent '{intent}' of config/intents.yml has no route; add one under routes:",
            line_at(data, ("routes",)),
            "routes",
        )
        for intent in sorted(intents)
        if intent not in config.routes
    ]
    known = labels or intents
    problems += [
        YamlError(
            path,
            f"E203 reply id '{key}' names unknown intent '{intent}'",
            line_at(data, ("reply_ids", key)),
            f"reply_ids.{key}",
        )
        for key, intent in config.reply_ids.items()
        if intent not in intents
    ]
    problems += [
        YamlError(
            path,
            f"E204 second_requests names unknown label '{label}'",
            line_at(data, ("second_requests", index)),
            "second_requests",
        )
        for index, label in enumerate(config.second_requests)
        if label not in known
    ]
    problems += [
        YamlError(
            path,
            f"E205 open_questions.answers names unknown label '{label}'",
            line_at(data, ("open_questions", "answers", index)),
            "open_questions.answers",
        )
        for index, label in enumerate(config.open_questions.answers)
        if label not in known
    ]
    raise_problems(problems)
