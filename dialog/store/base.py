"""The store interface every backend implements (memory, SQLite, Redis)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime

from pydantic import BaseModel, Field

from dialog.state import ConversationState, utc_now


class Turn(BaseModel):
    """One exchange, as kept in a user's history."""

    user: str
    text_in: str
    text_out: str
    intent: str | None = None
    slots: dict[str, object] = Field(default_factory=dict)
    message_id: str | None = None
    llm_used: bool = False
    at: datetime = Field(default_factory=utc_now)


class Handoff(BaseModel):
    """A request for a human advisor, with what the customer was looking at."""

    user: str
    name: str | None = None
    contact_time: str | None = None
    stock_id: int | None = None
    plan: dict[str, object] | None = None
    reason: str = ""
    at: datetime = Field(default_factory=utc_now)


class UserSummary(BaseModel):
    user: str
    last_activity: datetime
    turns: int = 0


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
