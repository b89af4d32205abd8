"""SQLite store (the default): one file under var/, WAL mode, safe across threads and the
processes of one host (gunicorn workers share the file; per-user locks are file locks)."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dialog.state import ConversationState
from dialog.store.base import (
    COUNTERS_KEPT_SECONDS,
    DEDUPE_TTL_SECONDS,
    Handoff,
    Lease,
    OutboundRecord,
    Store,
    StoreSummary,
    Turn,
    UserSummary,
    as_datetime,
    error_text,
)
from dialog.store.sqlite_console import (
    INSERT_TURN,
    ConsoleQueries,
    count_turn,
    migrate_console,
    turn_row,
)
from dialog.store.sqlite_inbound import (
    _INSERT_OUTBOUND,
    INBOUND_COLUMNS,
    InboundTable,
    _outbound_row,
)

log = logging.getLogger("store.sqlite")
HISTORY_LIMIT = 500
LOCK_STRIPES = 256
SCHEMA = """
CREATE TABLE IF NOT EXISTS states (user TEXT PRIMARY KEY, json TEXT NOT NULL,
    updated_at REAL NOT NULL, turns INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS turns (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL,
    json TEXT NOT NULL, intent TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS turns_by_user ON turns (user, id);
CREATE TABLE IF NOT EXISTS handoffs (id INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbound (message_id TEXT PRIMARY KEY, user TEXT NOT NULL,
    payload TEXT NOT NULL, received_at REAL NOT NULL, completed_at REAL);
CREATE INDEX IF NOT EXISTS inbound_pending ON inbound (completed_at, received_at);
CREATE INDEX IF NOT EXISTS inbound_by_user ON inbound (user);
CREATE TABLE IF NOT EXISTS outbound (wamid TEXT PRIMARY KEY, user TEXT NOT NULL,
    message_id TEXT, status TEXT NOT NULL, error TEXT, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS outbound_by_time ON outbound (updated_at);
CREATE INDEX IF NOT EXISTS outbound_by_user ON outbound (user, updated_at);
CREATE TABLE IF NOT EXISTS intent_counts (intent TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (scope TEXT NOT NULL, user TEXT NOT NULL,
    started REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (scope, user));
"""


class SQLiteStore(InboundTable, ConsoleQueries, Store):
    def __init__(self, path: Path | str):
        super().__init__(path)
        self._thread_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        with self._writer():
            self._db.executescript(SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        """Bring a database made by an earlier version up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(inbound)")}
        for name, declaration in INBOUND_COLUMNS:
            if name not in columns:
                self._db.execute(f"ALTER TABLE inbound ADD COLUMN {name} {declaration}")
        migrate_console(self._db)

    def load_state(self, user: str) -> ConversationState | None:
        row = self._db.execute("SELECT json FROM states WHERE user = ?", (user,)).fetchone()
        return ConversationState.model_validate_json(row[0]) if row else None

    def save_state(self, state: ConversationState) -> None:
        with self._writer():
            self._save_state(state)

    def save_turn(self, state: ConversationState, turn: Turn) -> None:
        with self._transaction():
            self._save_state(state)
            self._append_turn(turn)
            if turn.message_id:
                self._mark_sending(turn.message_id, turn.at)

    def append_turn(self, turn: Turn) -> None:
        with self._transaction():
            self._append_turn(turn)

    def _save_state(self, state: ConversationState) -> None:
        self._db.execute(
            "INSERT INTO states (user, json, updated_at, turns) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(user) DO UPDATE SET json = excluded.json, "
            "updated_at = excluded.updated_at, turns = excluded.turns",
            (state.user, state.model_dump_json(), state.updated_at.timestamp(), state.turns),
        )

    def _append_turn(self, turn: Turn) -> None:
        db = self._db
        db.execute(INSERT_TURN, turn_row(turn))
        count_turn(db, turn)
        db.execute(
            "INSERT INTO intent_counts (intent, n) VALUES (?, 1) "
            "ON CONFLICT(intent) DO UPDATE SET n = n + 1",
            (turn.intent or "none",),
        )
        db.execute(
            "DELETE FROM turns WHERE user = ? AND id <= (SELECT id FROM turns WHERE user = ? "
            "ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (turn.user, turn.user, HISTORY_LIMIT),
        )

    def history(self, user: str, limit: int = 50) -> list[Turn]:
        rows = self._db.execute(
            "SELECT json FROM turns WHERE user = ? ORDER BY id DESC LIMIT ?", (user, limit)
        ).fetchall()
        return [Turn.model_validate_json(row[0]) for row in reversed(rows)]

    def add_handoff(self, handoff: Handoff) -> None:
        self._write(
            "INSERT INTO handoffs (json, user, at) VALUES (?, ?, ?)",
            (handoff.model_dump_json(), handoff.user, handoff.at.timestamp()),
        )

    def handoffs(self, limit: int = 100) -> list[Handoff]:
        rows = self._db.execute(
            "SELECT json FROM handoffs ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [Handoff.model_validate_json(row[0]) for row in reversed(rows)]

    def users(self) -> list[UserSummary]:
        rows = self._db.execute(
            "SELECT user, updated_at, turns FROM states ORDER BY updated_at DESC"
        ).fetchall()
        return [
            UserSummary(user=user, last_activity=as_datetime(at), turns=turns)
            for user, at, turns in rows
        ]

    def delete_user(self, user: str) -> bool:
        """Everything kept about the user, then the WAL's old copies of those pages too."""
        with self._transaction():
            deleted = self._delete_user(user)
        self._truncate_wal()
        return deleted

    def _delete_user(self, user: str) -> bool:
        db = self._db
        deleted = db.execute("DELETE FROM states WHERE user = ?", (user,)).rowcount
        deleted += db.execute("DELETE FROM turns WHERE user = ?", (user,)).rowcount
        db.execute("DELETE FROM handoffs WHERE user = ?", (user,))
        db.execute("DELETE FROM console WHERE user = ?", (user,))
        db.execute("DELETE FROM user_hours WHERE user = ?", (user,))
        db.execute("DELETE FROM inbound WHERE user = ?", (user,))
        db.execute("DELETE FROM outbound WHERE user = ?", (user,))
        db.execute("DELETE FROM counters WHERE user = ?", (user,))
        return bool(deleted)

    @contextmanager
    def user_lock(self, user: str) -> Iterator[None]:
        stripe = int(hashlib.sha1(user.encode()).hexdigest(), 16) % LOCK_STRIPES
        with self._thread_locks[stripe], open(self._locks_dir / f"{stripe:03d}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def record_outbound(self, wamid, user, message_id, status="sent", error=None) -> None:
        record = OutboundRecord(
            wamid=wamid, user=user, message_id=message_id, status=status, error=error_text(error)
        )
        self._write(_INSERT_OUTBOUND, _outbound_row(record))

    def update_outbound_status(self, wamid: str, status: str, error: object = None) -> bool:
        cursor = self._write(
            "UPDATE outbound SET status = ?, error = ?, updated_at = ? WHERE wamid = ?",
            (status, error_text(error), time.time(), wamid),
        )
        return cursor.rowcount == 1

    def outbound(self, user: str | None = None, limit: int = 100) -> list[OutboundRecord]:
        query = "SELECT wamid, user, message_id, status, error, updated_at FROM outbound"
        args: tuple = ()
        if user is not None:
            query, args = query + " WHERE user = ?", (user,)
        rows = self._db.execute(query + " ORDER BY updated_at DESC LIMIT ?", (*args, limit))
        records = [
            OutboundRecord(
                wamid=w, user=u, message_id=m, status=s, error=e, updated_at=as_datetime(t)
            )
            for w, u, m, s, e, t in rows.fetchall()
        ]
        return list(reversed(records))

    def count_event(self, scope: str, user: str, window_seconds: int) -> int:
        with self._writer():
            return self._count_event(scope, user, window_seconds)

    def _count_event(self, scope: str, user: str, window_seconds: int) -> int:
        now = time.time()
        rows = self._db.execute(
            "INSERT INTO counters (scope, user, started, n) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (scope, user) DO UPDATE SET "
            "n = CASE WHEN started <= ? THEN 1 ELSE n + 1 END, "
            "started = CASE WHEN started <= ? THEN excluded.started ELSE started END "
            "RETURNING n",
            (scope, user, now, now - window_seconds, now - window_seconds),
        ).fetchall()  # all of it: the statement (and its write) ends here, under the lock
        return rows[0][0]

    def enqueue_counted(self, message_id: str, user: str, payload: dict[str, Any],
                        lease: Lease | None, window_seconds: int) -> int:  # fmt: skip
        """One transaction (one commit) for the job and the user's count."""
        with self._transaction():
            if not self._insert_inbound(message_id, user, payload, lease):
                return 0
            return self._count_event("messages", user, window_seconds)

    def prune(self, hours: float) -> int:
        cutoff = time.time() - hours * 3600
        db = self._db
        with self._transaction():
            stale = [row[0] for row in db.execute(
                "SELECT user FROM states WHERE updated_at < ?", (cutoff,)
            ).fetchall()]  # fmt: skip
            for user in stale:
                self._delete_user(user)
            db.execute(
                "DELETE FROM inbound WHERE completed_at IS NOT NULL AND dead_at IS NULL "
                "AND received_at < ?",
                (time.time() - DEDUPE_TTL_SECONDS,),
            )
            db.execute(
                "DELETE FROM counters WHERE started < ?", (time.time() - COUNTERS_KEPT_SECONDS,)
            )
        self._truncate_wal()
        return len(stale)

    def summary(self) -> StoreSummary:
        db = self._db
        counts = dict(db.execute("SELECT intent, n FROM intent_counts").fetchall())
        return StoreSummary(
            users=db.execute("SELECT COUNT(*) FROM states").fetchone()[0],
            turns=sum(counts.values()),
            handoffs=db.execute("SELECT COUNT(*) FROM handoffs").fetchone()[0],
            turns_by_intent=counts,
        )
