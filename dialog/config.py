"""The dialog configuration (config/dialog.yml): routes, templates and forms, validated at load.

Business staff edit this file; every mistake is reported with the file, the line and the field:
an unknown handler, a template the handler needs but the route lacks, a placeholder the handler
cannot fill, a form question that fills an unknown slot, a route for an intent nobody can detect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dialog.registry import HANDLERS, HandlerSpec
from dialog.render import placeholders_of
from nlu.schema import SLOT_KEYS
from tools.yamlio import YamlError, line_at, load_yaml, validate_yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
FALLBACK_ROUTE = "fallback"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Route(_Strict):
    """How one intent is answered: a handler and the wording it uses."""

    handler: str
    templates: dict[str, str] = Field(default_factory=dict)
    use_llm: bool = True  # false: never hand this intent to the LLM, even when it is configured

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
    ask: str
    remind: str = ""  # asked again after an answer to something else; `ask` when empty
    fills: list[str] = Field(default_factory=list)
    free_text: bool = False
    strip_phrases: list[str] = Field(default_factory=list)  # "me llamo" before a name
    options: dict[str, list[str]] = Field(default_factory=dict)

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
    cancel_phrases: list[str] = Field(default_factory=list)
    interrupt_intents: list[str] = Field(default_factory=list)
    search_when_criteria: bool = False  # criteria that ignore the question asked end the form
    end_intents: list[str] = Field(default_factory=list)  # answered normally, and the form closes
    on_complete: str
    templates: dict[str, str] = Field(default_factory=dict)  # for on_complete's handler


class DetailTopic(_Strict):
    """A question about the car in focus (bluetooth, size...) and its answer template.

    For a yes/no feature, `flag` names the car field and `template_no` answers the "no".
    """

    keywords: list[str] = Field(min_length=1)
    template: str
    flag: Literal["bluetooth", "car_play"] | None = None
    template_no: str = ""


class LLMPolicy(_Strict):
    """Where the LLM may speak (free-form questions with these cues, optionally rephrasing), how
    much of a message it reads, how often it may answer, and which claims it must not invent."""

    rephrase: bool = False
    min_words: int = Field(default=3, ge=1)
    question_cues: list[str] = Field(default_factory=list)
    max_question_chars: int = Field(default=500, ge=20)
    per_user_per_hour: int = Field(default=20, ge=0)
    global_per_hour: int = Field(default=1000, ge=0)  # all customers, all workers
    budget_reply: str = "Un asesor te puede ayudar con eso 🙏 escribe *asesor*."
    claim_words: list[str] = Field(default_factory=list)  # never in an answer unless in its sources


class DialogConfig(_Strict):
    """The whole dialog.yml, typed."""

    templates: dict[str, str] = Field(default_factory=dict)
    selection_cues: list[str] = Field(default_factory=list)
    search_cues: list[str] = Field(default_factory=list)
    focus_intents: list[str] = Field(default_factory=list)
    details: dict[str, DetailTopic] = Field(default_factory=dict)
    routes: dict[str, Route]
    forms: dict[str, Form] = Field(default_factory=dict)
    results_limit: int = Field(default=5, ge=1, le=10)
    pass_phrases: list[str] = Field(default_factory=list)
    llm: LLMPolicy = Field(default_factory=LLMPolicy)
    reset_on_new_model: list[str] = Field(default_factory=lambda: ["model", "year_min", "year_max"])
    source: str = ""

    def route_for(self, intent: str | None) -> Route:
        return self.routes.get(intent or FALLBACK_ROUTE) or self.routes[FALLBACK_ROUTE]


def load_dialog_config(
    path: Path | str | None = None, intents: set[str] | None = None
) -> DialogConfig:
    """Load and fully validate dialog.yml; `intents` are the names the NLU can produce."""
    path = Path(path) if path else CONFIG_DIR / "dialog.yml"
    data = load_yaml(path)
    config = validate_yaml(DialogConfig, data, path)
    config.source = str(path)
    _check_routes(config, data, path)
    _check_forms(config, data, path)
    _check_details(config, data, path)
    _check_focus_intents(config, data, path)
    if intents is not None:
        _check_intents_routed(config, data, path, intents)
    return config


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


def _check_templates(
    spec: HandlerSpec,
    templates: dict[str, str],
    shared: dict[str, str],
    data: Any,
    path: Path,
    where: tuple[str, ...],
) -> None:
    field = ".".join(where)
    for name, text in templates.items():
        allowed = spec.placeholders(name)
        location = (*where, "templates", name)
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
    for name in spec.required:  # after the loop: a misspelt name is reported on its own line
        if name not in templates and name not in shared:
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
            if not question.fills and not question.free_text and not question.options:
                raise YamlError(
                    path,
                    "a question needs 'fills', 'options' or 'free_text: true'",
                    line_at(data, ("forms", name, "questions", index)),
                    f"forms.{name}.questions.{index}",
                )


def _check_details(config: DialogConfig, data: Any, path: Path) -> None:
    from dialog.handlers.common import CAR_PLACEHOLDERS as DETAIL_PLACEHOLDERS

    for name, topic in config.details.items():
        unknown = (placeholders_of(topic.template) | placeholders_of(topic.template_no)) - (
            DETAIL_PLACEHOLDERS
        )
        if unknown:
            raise YamlError(
                path,
                f"unknown placeholder(s) {sorted(unknown)}; may use {sorted(DETAIL_PLACEHOLDERS)}",
                line_at(data, ("details", name, "template")),
                f"details.{name}.template",
            )


def _check_focus_intents(config: DialogConfig, data: Any, path: Path) -> None:
    for index, intent in enumerate(config.focus_intents):
        if intent not in config.routes:
            raise YamlError(
                path,
                f"focus_intents names '{intent}', which has no route",
                line_at(data, ("focus_intents", index)),
                "focus_intents",
            )


def _check_intents_routed(config: DialogConfig, data: Any, path: Path, intents: set[str]) -> None:
    for intent in config.routes:
        if intent != FALLBACK_ROUTE and intent not in intents:
            raise YamlError(
                path,
                f"route for intent '{intent}', which config/intents.yml does not define",
                line_at(data, ("routes", intent)),
                f"routes.{intent}",
            )
