"""In-process store: for tests and the terminal chat. Nothing survives the process."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from dialog.state import ConversationState
from dialog.store.base import Handoff, Store, Turn, UserSummary


class MemoryStore(Store):
    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._history: dict[str, list[Turn]] = defaultdict(list)
        self._handoffs: list[Handoff] = []
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def load_state(self, user: str) -> ConversationState | None:
        raw = self._states.get(user)
        return ConversationState.model_validate_json(raw) if raw else None

    def save_state(self, state: ConversationState) -> None:
        self._states[state.user] = state.model_dump_json()

    def append_turn(self, turn: Turn) -> None:
        with self._guard:
            self._history[turn.user].append(turn)

    def history(self, user: str, limit: int = 50) -> list[Turn]:
        return list(self._history.get(user, [])[-limit:])

    def add_handoff(self, handoff: Handoff) -> None:
        with self._guard:
            self._handoffs.append(handoff)

    def handoffs(self, limit: int = 100) -> list[Handoff]:
        return list(self._handoffs[-limit:])

    def users(self) -> list[UserSummary]:
        result = []
        for user in list(self._states):
            state = self.load_state(user)
            if state is not None:
                result.append(
                    UserSummary(user=user, last_activity=state.updated_at, turns=state.turns)
                )
        return sorted(result, key=lambda summary: summary.last_activity, reverse=True)

    def delete_user(self, user: str) -> bool:
        with self._guard:
            existed = self._states.pop(user, None) is not None
            self._history.pop(user, None)
        return existed

    @contextmanager
    def user_lock(self, user: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks[user]
        with lock:
            yield
