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
    handoff: Handoff | None = None

    def say(self, template: str, values: Mapping[str, object] | None = None) -> str:
        """Render one of this route's templates (falling back to the shared ones)."""
        source = self.route.templates.get(template) or self.config.templates.get(template, "")
        return fill(source, values or {})
