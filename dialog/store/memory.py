"""In-process store: for tests and the terminal chat. Nothing survives the process."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from dialog.state import ConversationState, utc_now
from dialog.store.base import (
    DeadLetter,
    Handoff,
    InboundJob,
    Lease,
    OutboundRecord,
    Store,
    StoreSummary,
    Turn,
    UserSummary,
    error_text,
)

HISTORY_LIMIT = 500


class MemoryStore(Store):
    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._history: dict[str, list[Turn]] = defaultdict(list)
        self._handoffs: list[Handoff] = []
        self._seen: dict[str, str] = {}  # message id -> user (deleted with the user)
        self._leases: dict[str, tuple[str, float]] = {}  # message id -> (owner, until)
        self._pending: dict[str, InboundJob] = {}
        self._dead: dict[str, DeadLetter] = {}
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}  # (scope, user) -> window
        self._outbound: dict[str, OutboundRecord] = {}
        self._intents: Counter[str] = Counter()
        self._console: dict[tuple[str, str], tuple[str | None, dict[str, Any]]] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def load_state(self, user: str) -> ConversationState | None:
        raw = self._states.get(user)
        return ConversationState.model_validate_json(raw) if raw else None

    def save_state(self, state: ConversationState) -> None:
        self._states[state.user] = state.model_dump_json()

    def append_turn(self, turn: Turn) -> None:
        with self._guard:
            history = self._history[turn.user]
            history.append(turn)
            del history[:-HISTORY_LIMIT]
            self._intents[turn.intent or "none"] += 1

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
        """Everything kept about the user: state, history, handoffs, messages in and out."""
        with self._guard:
            existed = self._states.pop(user, None) is not None
            existed |= self._history.pop(user, None) is not None
            self._handoffs = [handoff for handoff in self._handoffs if handoff.user != user]
            for message_id in [mid for mid, owner in self._seen.items() if owner == user]:
                for index in (self._seen, self._pending, self._leases, self._dead):
                    index.pop(message_id, None)
            for wamid in [w for w, record in self._outbound.items() if record.user == user]:
                del self._outbound[wamid]
            self._locks.pop(user, None)
            for key in [key for key in self._counts if key[1] == user]:
                del self._counts[key]
            for key in [key for key, (owner, _) in self._console.items() if owner == user]:
                del self._console[key]
        return existed

    def console_put(
        self, kind: str, key: str, value: dict[str, Any], user: str | None = None
    ) -> None:
        with self._guard:
            self._console[kind, key] = (user, dict(value))

    def console_get(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self._console.get((kind, key))
        return dict(found[1]) if found else None

    def console_all(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._guard:
            return {key: dict(value) for (k, key), (_, value) in self._console.items() if k == kind}

    @contextmanager
    def user_lock(self, user: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks[user]
        with lock:
            yield

    def enqueue_inbound(
        self, message_id: str, user: str, payload: dict[str, Any], lease: Lease | None = None
    ) -> bool:
        with self._guard:
            if message_id in self._seen:
                return False
            self._seen[message_id] = user
            self._pending[message_id] = InboundJob(
                message_id=message_id, user=user, payload=payload, attempts=int(lease is not None)
            )
            if lease is not None:
                self._leases[message_id] = (lease.owner, lease.until(time.time()))
            return True

    def pending_inbound(self, older_than_seconds: float = 0.0) -> list[InboundJob]:
        cutoff = utc_now() - timedelta(seconds=older_than_seconds)
        with self._guard:
            jobs = [job.model_copy() for job in self._pending.values() if job.received_at <= cutoff]
        return sorted(jobs, key=lambda job: job.received_at)

    def expired_inbound(self, limit: int = 1000) -> list[InboundJob]:
        now = time.time()
        with self._guard:
            jobs = [job.model_copy() for mid, job in self._pending.items()
                    if self._leases.get(mid, ("", 0.0))[1] < now]  # fmt: skip
        return sorted(jobs, key=lambda job: job.received_at)[:limit]

    def claim_inbound(self, message_id: str, lease: Lease) -> bool:
        now = time.time()
        with self._guard:
            job = self._pending.get(message_id)
            if job is None or self._leases.get(message_id, ("", 0.0))[1] >= now:
                return False
            self._leases[message_id] = (lease.owner, lease.until(now))
            job.attempts += 1
            return True

    def renew_leases(self, message_ids: Sequence[str], lease: Lease) -> int:
        until, renewed = lease.until(time.time()), 0
        with self._guard:
            for message_id in message_ids:
                held = self._leases.get(message_id)
                if message_id in self._pending and held and held[0] == lease.owner:
                    self._leases[message_id], renewed = (lease.owner, until), renewed + 1
        return renewed

    def release_inbound(self, message_id: str, owner: str, error: str) -> None:
        with self._guard:
            job, held = self._pending.get(message_id), self._leases.get(message_id)
            if job is not None and held and held[0] == owner:
                self._leases[message_id] = (owner, 0.0)
                job.error = error_text(error)

    def mark_sending(self, message_id: str, at: datetime) -> None:
        with self._guard:
            if message_id in self._pending:
                self._pending[message_id].sending_since = at

    def mark_resent(self, message_id: str) -> None:
        with self._guard:
            if message_id in self._pending:
                self._pending[message_id].resent = True

    def bury_inbound(self, message_id: str, error: str) -> None:
        with self._guard:
            job = self._pending.pop(message_id, None)
            self._leases.pop(message_id, None)
            if job is not None:
                self._dead[message_id] = DeadLetter(
                    message_id=message_id, user=job.user, payload=job.payload,
                    attempts=job.attempts, error=error_text(error),
                )  # fmt: skip

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with self._guard:
            letters = sorted(self._dead.values(), key=lambda letter: letter.at, reverse=True)
        return letters[:limit]

    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        with self._guard:
            for record in replies:
                self._outbound[record.wamid] = record.model_copy()
            self._pending.pop(message_id, None)
            self._leases.pop(message_id, None)

    def record_outbound(self, wamid, user, message_id, status="sent", error=None) -> None:
        with self._guard:
            self._outbound[wamid] = OutboundRecord(
                wamid=wamid, user=user, message_id=message_id, status=status,
                error=error_text(error),
            )  # fmt: skip

    def update_outbound_status(self, wamid: str, status: str, error: object = None) -> bool:
        with self._guard:
            record = self._outbound.get(wamid)
            if record is None:
                return False
            record.status, record.error, record.updated_at = status, error_text(error), utc_now()
            return True

    def outbound(self, user: str | None = None, limit: int = 100) -> list[OutboundRecord]:
        records = [r for r in self._outbound.values() if user is None or r.user == user]
        return sorted(records, key=lambda r: r.updated_at)[-limit:]

    def count_event(self, scope: str, user: str, window_seconds: int) -> int:
        now = time.time()
        with self._guard:
            started, count = self._counts.get((scope, user), (0.0, 0))
            if started <= now - window_seconds:
                started, count = now, 0
            self._counts[scope, user] = (started, count + 1)
            return count + 1

    def prune(self, hours: float) -> int:
        cutoff = utc_now() - timedelta(hours=hours)
        stale = [s.user for s in self.users() if s.last_activity < cutoff]
        return sum(self.delete_user(user) for user in stale)

    def summary(self) -> StoreSummary:
        with self._guard:
            return StoreSummary(
                users=len(self._states),
                turns=sum(len(turns) for turns in self._history.values()),
                handoffs=len(self._handoffs),
                turns_by_intent=dict(self._intents),
            )
