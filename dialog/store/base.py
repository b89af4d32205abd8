"""The store interface every backend implements (memory, SQLite, Redis)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from dialog.state import ConversationState, utc_now

if TYPE_CHECKING:
    from dialog.store.console import ConversationPage, Overview


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
    latency_ms: float | None = None  # the engine's time for the turn (lock, NLU, handler, state)
    at: datetime = Field(default_factory=utc_now)


class Handoff(BaseModel):
    """A lead for a human advisor: validated contact data and what the customer was after."""

    user: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    contact_time: str | None = None
    contact_by: str | None = None  # "chat": "escríbanme por aquí", no calls
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


class Lease(BaseModel):
    """Who runs a job, and for how long without renewing: the owner renews it while the job waits
    in its queue or runs; once it lapses (the owner died or hung) recovery may take the job."""

    owner: str
    seconds: float = Field(gt=0)

    def until(self, now: float) -> float:
        return now + self.seconds


class InboundJob(BaseModel):
    """An acknowledged inbound message, kept until its reply was sent (crash recovery)."""

    message_id: str
    user: str
    payload: dict[str, Any]
    received_at: datetime = Field(default_factory=utc_now)
    attempts: int = 0  # runs started (by the process that accepted it, then by recoveries)
    sending_since: datetime | None = None  # its turn ran; the reply was being sent from then on
    resent: bool = False  # a reply in flight at a crash was sent again (never twice)
    error: str | None = None  # why its last run failed


class DeadLetter(BaseModel):
    """A job given up after too many failed runs, kept for an operator to look at."""

    message_id: str
    user: str
    payload: dict[str, Any]
    attempts: int
    error: str | None = None
    at: datetime = Field(default_factory=utc_now)


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
COUNTERS_KEPT_SECONDS = 24 * 3600  # a counter's window is forgotten this long after its last event


def as_datetime(timestamp: float) -> datetime:
    """A stored Unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)


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

    def save_turn(self, state: ConversationState, turn: Turn) -> None:
        """The end of a turn: its state, its history line and, for an inbound message, the mark
        that its reply is being sent (backends do all of it in one step)."""
        self.save_state(state)
        self.append_turn(turn)
        if turn.message_id:
            self.mark_sending(turn.message_id, turn.at)

    @abstractmethod
    def enqueue_inbound(
        self, message_id: str, user: str, payload: dict[str, Any], lease: Lease | None = None
    ) -> bool:
        """Record a message id atomically: False if it was seen before (Meta redelivers). With a
        lease the job is the caller's (one attempt started); without, any recovery may take it."""

    def enqueue_counted(self, message_id: str, user: str, payload: dict[str, Any],
                        lease: Lease | None, window_seconds: int) -> int:  # fmt: skip
        """enqueue_inbound, and count the new message in the user's 'messages' window: 0 for a
        redelivery, else how many of the user's messages fell in the window (backends do both in
        one step: it is on every message's path)."""
        if not self.enqueue_inbound(message_id, user, payload, lease):
            return 0
        return self.count_event("messages", user, window_seconds)

    @abstractmethod
    def pending_inbound(self, older_than_seconds: float = 0.0) -> list[InboundJob]:
        """Acknowledged messages whose reply was never completed, oldest first."""

    @abstractmethod
    def expired_inbound(self, limit: int = 1000) -> list[InboundJob]:
        """Pending jobs nobody holds a live lease on, oldest first: what recovery may take."""

    @abstractmethod
    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        """Close a job and record the replies sent for it, in one step (a crash leaves both or
        neither)."""

    @abstractmethod
    def claim_inbound(self, message_id: str, lease: Lease) -> bool:
        """Take a pending job whose lease lapsed (one more attempt); False if someone holds it."""

    @abstractmethod
    def renew_leases(self, message_ids: Sequence[str], lease: Lease) -> int:
        """Extend the owner's leases on these jobs; how many it still held."""

    @abstractmethod
    def release_inbound(self, message_id: str, owner: str, error: str) -> None:
        """A run failed: end the owner's lease at once (recovery retries it) and keep why."""

    @abstractmethod
    def mark_sending(self, message_id: str, at: datetime) -> None:
        """The job's turn ran and its reply is about to be sent (a crash now may repeat it)."""

    @abstractmethod
    def mark_resent(self, message_id: str) -> None:
        """The reply in flight at a crash is being sent again: never a third time."""

    @abstractmethod
    def bury_inbound(self, message_id: str, error: str) -> None:
        """Give up on a job: out of the pending set, into the dead letters."""

    @abstractmethod
    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Jobs given up on, newest first."""

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
    def count_event(self, scope: str, user: str, window_seconds: int) -> int:
        """Count one event (a message, an LLM answer) of `user` in `scope`; how many fell in the
        window that started with the first of them. Deleted with the user."""

    @abstractmethod
    def prune(self, hours: float) -> int:
        """Forget users inactive for `hours` (state and history); returns how many."""

    @abstractmethod
    def summary(self) -> StoreSummary: ...

    # --- the staff console (dialog/store/console.py): small records and read-only queries ---

    @abstractmethod
    def console_put(
        self, kind: str, key: str, value: dict[str, Any], user: str | None = None
    ) -> None:
        """Keep one console record ('lead' status of a user, a 'delivery', a 'review' mark);
        records with a `user` are deleted with that user."""

    @abstractmethod
    def console_get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def console_all(self, kind: str) -> dict[str, dict[str, Any]]: ...

    def console_turns(self, since: datetime) -> Iterator[Turn]:
        """Every kept turn from `since` on (backends with an index override the queries below)."""
        for summary in self.users():
            if summary.last_activity >= since:
                yield from (t for t in self.history(summary.user, 10_000) if t.at >= since)

    def console_overview(self, since: datetime, utc_offset: int, top: int = 10) -> Overview:
        """Figures from `since`, which is on an hour boundary (the console asks from a local
        midnight): stores that keep hourly figures count whole hours."""
        from dialog.store.console import overview_of

        return overview_of(
            self.console_turns(since), self.handoffs(100_000), since, utc_offset, top
        )

    def console_conversations(self, query: str, offset: int, limit: int) -> ConversationPage:
        from dialog.store.console import conversations_of

        return conversations_of(self, query, offset, limit)

    def console_review(self, since: datetime, below_score: float, limit: int) -> list[Turn]:
        """Turns not understood: the fallback, out_of_scope, or examples scoring below the bar."""
        from dialog.store.console import needs_review

        turns = [turn for turn in self.console_turns(since) if needs_review(turn, below_score)]
        return sorted(turns, key=lambda turn: turn.at, reverse=True)[:limit]

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

    def durability_problems(self) -> list[str]:
        """What would lose acknowledged messages if the backend restarted (empty: nothing)."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
