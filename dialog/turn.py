"""What a handler receives (TurnContext) and returns (Reply); what a turn produces (TurnResult)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from dialog.render import fill
from dialog.state import ConversationState
from nlu.schema import Extraction

if TYPE_CHECKING:
    from dialog.config import DialogConfig, Route
    from dialog.services import Services
    from dialog.store.base import Handoff


class PlanSummary(BaseModel):
    """The one specific plan a turn computed, as /chat reports it."""

    price: float
    down_payment: float
    term_months: int
    monthly_payment: float
    rate: float


class Choice(BaseModel):
    """A tappable option for channels that support it (WhatsApp list rows, reply buttons)."""

    id: str
    title: str
    description: str = ""


class TurnResult(BaseModel):
    """The outcome of one turn; /chat serialises the public part."""

    reply: str
    intent: str
    topic: str | None = None
    stage: str | None = None  # what decided the intent: rule, examples, context, none
    score: float | None = None
    slots: dict[str, object] = Field(default_factory=dict)
    results: list[int] = Field(default_factory=list)
    selected: int | None = None
    plan: PlanSummary | None = None
    llm_used: bool = False
    choices: list[Choice] = Field(default_factory=list)
    choices_kind: str = ""  # "cars" (a list message) or "buttons"

    def public(self) -> dict[str, object]:
        """Exactly the /chat contract keys."""
        return {
            "reply": self.reply,
            "intent": self.intent,
            "slots": self.slots,
            "results": self.results,
            "selected": self.selected,
            "plan": self.plan.model_dump() if self.plan else None,
            "llm_used": self.llm_used,
        }


@dataclass
class Reply:
    """A handler's answer: text plus what the channel and the tests may need."""

    text: str
    results: list[int] | None = None  # None: this reply listed no cars
    plan: PlanSummary | None = None
    llm_used: bool = False
    choices: list[Choice] = field(default_factory=list)
    choices_kind: str = ""
    rephrasable: bool = True
    kind: str = ""  # "help" for the menu: the next time it is shortened
    ask: str = ""  # a question that must come last, after any other answer (a form's question)
    offered: str | None = None  # a reply id a bare "sí" to this reply takes ("plan:60")

    @property
    def full_text(self) -> str:
        return "\n\n".join(part for part in (self.text.strip(), self.ask.strip()) if part)

    def followed_by(self, other: Reply) -> Reply:
        """Two answers in one message (a second request): texts joined, the last list wins;
        a question either asks goes last, once (a complaint and a request for a person both
        open the advisor form)."""
        paragraphs = [*self.text.strip().split("\n\n"), *other.text.strip().split("\n\n")]
        asks = (self.ask.strip(), other.ask.strip())
        return Reply(  # a paragraph both say (the same list) is said once
            text="\n\n".join(dict.fromkeys(part for part in paragraphs if part.strip())),
            ask="\n\n".join(dict.fromkeys(part for part in asks if part)),
            results=other.results if other.results is not None else self.results,
            plan=other.plan or self.plan,
            llm_used=self.llm_used or other.llm_used,
            choices=other.choices or self.choices,
            choices_kind=other.choices_kind if other.choices else self.choices_kind,
            rephrasable=self.rephrasable and other.rephrasable,
            kind=other.kind or self.kind,
            offered=other.offered or self.offered,
        )


@dataclass
class TurnContext:
    """Everything a handler may read or change during one turn."""

    text: str
    extraction: Extraction
    state: ConversationState
    route: Route
    config: DialogConfig
    services: Services
    intent: str
    from_form: bool = False
    form_name: str | None = None  # set when a form completes: its templates answer
    handoff: Handoff | None = None
    # marks of the whole turn, seen by every copy of this context (`speaking_as`, a handler's
    # `replace`): "translated", a template of the customer's language (config/i18n) was used
    marks: dict[str, bool] = field(default_factory=dict)
    pct_before: bool = False  # the down payment before this turn was a percent ("¿y con 30?")
    notes: list[str] = field(default_factory=list)  # said before the reply ("Sin problema, ...")
    # the request answered last: a second one ("¿tiene carplay? ¿y a 4 años?") if there was one
    answered_last: tuple[str, str | None] | None = None

    @property
    def translated(self) -> bool:
        return self.marks.get("translated", False)

    @translated.setter
    def translated(self, value: bool) -> None:
        self.marks["translated"] = value

    def say(self, template: str, values: Mapping[str, object] | None = None) -> str:
        """Render one of this route's templates (falling back to the shared ones), in the
        customer's language when config/i18n has it ("hi" is answered in English)."""
        return fill(self.template(template), values or {})

    def speaking_as(self, intent: str) -> TurnContext:
        """The same turn rendered with another route's templates (a car list in a plan reply)."""
        from dataclasses import replace

        return replace(self, route=self.config.route_for(intent), intent=intent)

    def template(self, name: str) -> str:
        translated = self._translated(name)
        if translated:
            self.translated = True
            return translated
        return self.route.templates.get(name) or self.config.templates.get(name, "")

    @property
    def words(self) -> dict[str, str]:
        """Slot values in the customer's words (dialog.yml `words`, then the language pack's)."""
        return {**self.config.words, **(self.pack().get("words") or {})}

    def detail(self, name: str, field: str, default: str) -> str:
        """A `details` template in the customer's language when the pack has it."""
        found = ((self.pack().get("details") or {}).get(name) or {}).get(field)
        if found:
            self.translated = True
            return found
        return default

    def knowledge(self, topic: str, field: str = "answer", section: str | None = None) -> str:
        """A knowledge topic's `answer`, `offer` or `nearest` (or one section's answer) in the
        customer's language; "" when the pack does not have it."""
        pack = self.pack()
        entry = (pack.get("knowledge_answers") or {}).get(topic) or {}
        entry = entry if isinstance(entry, dict) else {}
        found = (entry.get("sections") or {}).get(section) if section else entry.get(field)
        if found:
            self.translated = True
        return found or ""

    def sentence_readings(self) -> list[tuple[str, Extraction]]:
        """Each sentence of the message read on its own, in this conversation's context ("el m2
        tiene carplay? y el serie 7 cuantos km": each sentence its car and its datum)."""
        from dialog.screen import dialog_context
        from nlu.text import sentences

        context = dialog_context(self.state, self.services.catalog, self.config)
        extract = self.services.extractor.extract
        return [(part, extract(part, context)) for part in sentences(self.text)]

    def pack(self) -> dict:
        """The customer's language pack (config/i18n), empty for Spanish."""
        if self.state.language == "es":
            return {}
        return self.config.i18n.get(self.state.language, {})

    def _translated(self, name: str) -> str:
        pack = self.pack()
        if not pack:
            return ""
        if self.form_name:
            form = (pack.get("forms") or {}).get(self.form_name) or {}
            found = (form.get("templates") or {}).get(name)
            if found:
                return found
        route = pack.get(self.intent) or {}
        return route.get(name) or (pack.get("templates") or {}).get(name) or ""
