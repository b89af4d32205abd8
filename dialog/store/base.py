"""The store interface every backend implements (memory, SQLite, Redis)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from dialog.state import ConversationState, utc_now


class Turn(BaseModel):
    """One exchange, as kept in a user's history."""

    user: str
    text_in: str
    text_out: str
    intent: str | None = None
    topic: str | None = None
    stage: str | None = None  # what decided the intent: rule, examples, context, none
    score: float | None = None
    slots: dict[str, object] = Field(default_factory=dict)
    results: list[int] = Field(default_factory=list)
    plan: dict[str, object] | None = None
    message_id: str | None = None
    llm_used: bool = False
    at: datetime = Field(default_factory=utc_now)


class Handoff(BaseModel):
    """A lead for a human advisor: validated contact data and what the customer was after."""

    user: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    contact_time: str | None = None
    stock_id: int | None = None
    car: str | None = None  # "Volkswagen Jetta 2019 · $289,999"
    plan: dict[str, object] | None = None
    reason: str = ""
    summary: list[str] = Field(default_factory=list)  # what was asked, searched and chosen
    at: datetime = Field(default_factory=utc_now)


class UserSummary(BaseModel):
    user: str
    last_activity: datetime
    turns: int = 0


class InboundJob(BaseModel):
    """An acknowledged inbound message, kept until its reply was sent (crash recovery)."""

    message_id: str
    user: str
    payload: dict[str, Any]
    received_at: datetime = Field(default_factory=utc_now)


class OutboundRecord(BaseModel):
    """A message sent to WhatsApp and its delivery status (sent, delivered, read, failed)."""

    wamid: str
    user: str
    message_id: str | None = None
    status: str = "sent"
    error: str | None = None
    updated_at: datetime = Field(default_factory=utc_now)


class StoreSummary(BaseModel):
    users: int = 0
    turns: int = 0
    handoffs: int = 0
    turns_by_intent: dict[str, int] = Field(default_factory=dict)


DEDUPE_TTL_SECONDS = 7 * 24 * 3600


def error_text(error: object) -> str | None:
    return None if error in (None, "", [], {}) else str(error)[:500]


class Store(ABC):
    """Durable conversation data. Implementations must be safe across threads."""

    @abstractmethod
    def load_state(self, user: str) -> ConversationState | None: ...

    @abstractmethod
    def save_state(self, state: ConversationState) -> None: ...

    @abstractmethod
    def append_turn(self, turn: Turn) -> None: ...

    def save_turn(self, state: ConversationState, turn: Turn) -> None:
        """The end of a turn: its state and its history line (backends may do both at once)."""
        self.save_state(state)
        self.append_turn(turn)

    @abstractmethod
    def history(self, user: str, limit: int = 50) -> list[Turn]: ...

    @abstractmethod
    def add_handoff(self, handoff: Handoff) -> None: ...

    @abstractmethod
    def handoffs(self, limit: int = 100) -> list[Handoff]: ...

    @abstractmethod
    def users(self) -> list[UserSummary]: ...

    @abstractmethod
    def delete_user(self, user: str) -> bool: ...

    @abstractmethod
    def user_lock(self, user: str) -> AbstractContextManager[None]:
        """Serialise turns of one user (across threads, and processes where the backend can)."""

    @abstractmethod
    def enqueue_inbound(self, message_id: str, user: str, payload: dict[str, Any]) -> bool:
        """Record a message id atomically: False if it was seen before (Meta redelivers)."""

    @abstractmethod
    def pending_inbound(self, older_than_seconds: float = 0.0) -> list[InboundJob]:
        """Acknowledged messages whose reply was never completed, oldest first."""

    @abstractmethod
    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        """Close a job and record the replies sent for it, in one step (a crash leaves both or
        neither)."""

    @abstractmethod
    def claim_inbound(self, message_id: str, lease_seconds: float) -> bool:
        """Take a pending job for recovery; False if another process holds an unexpired claim."""

    @abstractmethod
    def record_outbound(
        self,
        wamid: str,
        user: str,
        message_id: str | None,
        status: str = "sent",
        error: object = None,
    ) -> None: ...

    @abstractmethod
    def update_outbound_status(self, wamid: str, status: str, error: object = None) -> bool:
        """A status webhook (delivered, read, failed); False for an unknown wamid."""

    @abstractmethod
    def outbound(self, user: str | None = None, limit: int = 100) -> list[OutboundRecord]: ...

    @abstractmethod
    def prune(self, hours: float) -> int:
        """Forget users inactive for `hours` (state and history); returns how many."""

    @abstractmethod
    def summary(self) -> StoreSummary: ...

    def state_for(self, user: str) -> ConversationState:
        """The user's state, or a fresh one."""
        return self.load_state(user) or ConversationState(user=user)

    def iter_states(self) -> Iterator[ConversationState]:
        for summary in self.users():
            state = self.load_state(summary.user)
            if state is not None:
                yield state

    def ping(self) -> bool:
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
