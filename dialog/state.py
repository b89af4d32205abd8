"""Per-user conversation state: what was shown, what is in focus, what was asked for."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from tools.search import SearchFilters


def utc_now() -> datetime:
    return datetime.now(UTC)


class FinancingParams(BaseModel):
    """Financing wishes, kept across turns ("¿y a 3 años?" keeps the down payment)."""

    down_payment: float | None = None
    down_payment_pct: float | None = None
    term_months: int | None = None
    monthly_budget: float | None = None


class Lead(BaseModel):
    """Contact data the customer gave, each read and validated by the NLU (never raw text)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    contact_time: str | None = None
    contact_by: str | None = None  # "chat": reached in this conversation, no calls

    def missing(self, wanted: list[str]) -> list[str]:
        return [field for field in wanted if getattr(self, field, None) is None]


class FormProgress(BaseModel):
    """A YAML-defined form in progress (guided search, lead capture)."""

    name: str
    answers: dict[str, str] = Field(default_factory=dict)
    asking: str | None = None
    misses: int = 0  # messages in a row that answered nothing


OWN_CAR_BOUGHT = "own_car_bought"  # profile key: their car was bought from Kavak (after-sale)
LEAD_NOTES = "lead_notes"  # profile key: notes for the advisor, " | " between them


def append_note(profile: dict[str, str], note: str) -> None:
    """One more note for the advisor, after the ones the lead already has (never twice)."""
    notes = profile.get(LEAD_NOTES, "")
    if note and note not in notes:
        profile[LEAD_NOTES] = f"{notes} | {note}" if notes else note


class ConversationState(BaseModel):
    """Everything the assistant remembers about one user between turns."""

    user: str
    last_results: list[int] = Field(default_factory=list)
    page: int = 0  # how many cars of the last search came before the ones on screen
    paged: list[int] = Field(default_factory=list)  # every car the last search's pages showed
    selected: int | None = None
    chosen: list[int] = Field(default_factory=list)  # cars in focus before, the latest last
    seen: list[int] = Field(default_factory=list)  # cars of earlier lists, the latest last
    compared: list[int] = Field(default_factory=list)  # the cars of the last comparison
    filters: SearchFilters = Field(default_factory=SearchFilters)
    financing: FinancingParams = Field(default_factory=FinancingParams)
    last_intent: str | None = None
    last_topic: str | None = None
    last_reply_kind: str | None = None  # "help" after the menu: the next time, a short variant
    last_reply_digest: str | None = None  # the last reply, hashed: never the same text twice
    form: FormProgress | None = None
    profile: dict[str, str] = Field(default_factory=dict)  # form answers (use of the car...)
    lead: Lead = Field(default_factory=Lead)
    handoff: bool = False
    language: str = "es"
    last_money: tuple[str, float] | None = (
        None  # the last amount the customer said, and what it was
    )
    last_plan: dict[str, object] | None = None  # the last plan shown (what the advisor quotes)
    recent_answers: list[str] = Field(default_factory=list)  # knowledge answers just given
    recent_parts: list[str] = Field(default_factory=list)  # their sections: "topic:section"
    own_car: str | None = None  # the car the customer wants to sell or trade in ("Tiguan 2017")
    # the one thing the last reply offered, as a reply id ("plan:60"): a bare "sí" takes it
    offered: str | None = None
    turns: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    @property
    def last_label(self) -> str | None:
        """'knowledge/locations' after a locations answer, else the last intent."""
        if self.last_intent == "knowledge" and self.last_topic:
            return f"knowledge/{self.last_topic}"
        return self.last_intent
