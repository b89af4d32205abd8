"""SQLite store (the default): one file under var/, WAL mode, safe across threads and the
processes of one host (gunicorn workers share the file; per-user locks are file locks)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dialog.state import ConversationState
from dialog.store.base import (
    DEDUPE_TTL_SECONDS,
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

log = logging.getLogger("store.sqlite")
HISTORY_LIMIT = 500
# SQLite checkpoints the WAL itself inside the commit that fills it to N pages, while that writer
# holds the write lock: every other writer then waits for the checkpoint's fsync (in the load test,
# a stall of ~100 ms every ~3,000 messages). A background thread checkpoints every second instead,
# without blocking writers; SQLite's own checkpoint is kept as a backstop at a much larger WAL.
CHECKPOINT_SECONDS = 1.0
AUTOCHECKPOINT_PAGES = 20_000
# The WAL file never shrinks by itself: it stayed at its largest (~80 MB after a load test), with
# old copies of rows. A writer that restarts it cuts it back to this size (journal_size_limit),
# and the checkpointer empties it once writes have stopped (a TRUNCATE checkpoint).
WAL_KEPT_BYTES = 4 * 1024 * 1024
IDLE_TRUNCATE_BUSY_MS = 100  # how long the idle truncation waits for readers before trying later
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
COUNTERS_KEPT_SECONDS = 24 * 3600  # prune drops windows older than this
# Columns added since the first schema (name, declaration): added to older databases at start.
# claimed_until is the lease's expiry; dead_at marks a job given up on (completed_at is set too).
INBOUND_COLUMNS = (
    ("claimed_until", "REAL"),
    ("lease_owner", "TEXT"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("sending_since", "REAL"),
    ("resent", "INTEGER NOT NULL DEFAULT 0"),
    ("error", "TEXT"),
    ("dead_at", "REAL"),
)
_JOB_COLUMNS = "message_id, user, payload, received_at, attempts, sending_since, resent, error"


class SQLiteStore(Store):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._locks_dir = self.path.parent / f"{self.path.name}.locks"
        _private_files(self.path, self._locks_dir)
        self._local = threading.local()
        self._thread_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        # A thread's connection is closed when the thread ends: the development server starts a
        # thread per HTTP connection, and keeping them open leaked two fds and ~136 KB for each.
        self._connections: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._connections_guard = threading.Lock()
        self._write_guard = threading.Lock()
        self._writer_file: IO[str] | None = None
        self._writer_pid = 0
        self._checkpoint_stop = threading.Event()
        with self._writer():
            self._db.executescript(SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        """Bring a database made by an earlier version up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(inbound)")}
        for name, declaration in INBOUND_COLUMNS:
            if name not in columns:
                self._db.execute(f"ALTER TABLE inbound ADD COLUMN {name} {declaration}")

    @property
    def _db(self) -> sqlite3.Connection:
        holder = getattr(self._local, "holder", None)
        if holder is None:
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left
            connection.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            connection.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            holder = self._local.holder = _ThreadConnection(connection)
            with self._connections_guard:
                self._connections.add(holder)
        return holder.connection

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time across threads and processes, so SQLite never has to make a
        writer sleep and retry (its busy handler backs off up to 100 ms at a time)."""
        with self._write_guard:
            if self._writer_file is None or self._writer_pid != os.getpid():
                self._writer_file = open(self._locks_dir / "writer.lock", "w")  # noqa: SIM115
                self._writer_pid = os.getpid()
                threading.Thread(  # this process writes: it checkpoints too
                    target=self._checkpoint_loop, name="sqlite-checkpoint", daemon=True
                ).start()
            fcntl.flock(self._writer_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._writer_file, fcntl.LOCK_UN)

    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._writer():
            return self._db.execute(sql, params)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._writer():
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

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
        db.execute(
            "INSERT INTO turns (user, json, intent, at) VALUES (?, ?, ?, ?)",
            (turn.user, turn.model_dump_json(), turn.intent, turn.at.timestamp()),
        )
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
        self._write("INSERT INTO handoffs (json) VALUES (?)", (handoff.model_dump_json(),))

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
            UserSummary(user=user, last_activity=_datetime(at), turns=turns)
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
        db.execute("DELETE FROM handoffs WHERE json_extract(json, '$.user') = ?", (user,))
        db.execute("DELETE FROM inbound WHERE user = ?", (user,))
        db.execute("DELETE FROM outbound WHERE user = ?", (user,))
        db.execute("DELETE FROM counters WHERE user = ?", (user,))
        return bool(deleted)

    def _truncate_wal(self) -> None:
        """Deleted data is zeroed in the database file (secure_delete) but the WAL still holds the
        pages as they were until it is checkpointed and emptied."""
        with self._writer():
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def user_lock(self, user: str) -> Iterator[None]:
        stripe = int(hashlib.sha1(user.encode()).hexdigest(), 16) % LOCK_STRIPES
        with self._thread_locks[stripe], open(self._locks_dir / f"{stripe:03d}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def enqueue_inbound(
        self, message_id: str, user: str, payload: dict[str, Any], lease: Lease | None = None
    ) -> bool:
        now = time.time()
        owner, until = (lease.owner, lease.until(now)) if lease else (None, None)
        cursor = self._write(
            "INSERT OR IGNORE INTO inbound (message_id, user, payload, received_at, lease_owner, "
            "claimed_until, attempts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (message_id, user, json.dumps(payload, ensure_ascii=False), now, owner, until,
             int(lease is not None)),
        )  # fmt: skip
        return cursor.rowcount == 1

    def pending_inbound(self, older_than_seconds: float = 0.0) -> list[InboundJob]:
        rows = self._db.execute(
            f"SELECT {_JOB_COLUMNS} FROM inbound "
            "WHERE completed_at IS NULL AND received_at <= ? ORDER BY received_at",
            (time.time() - older_than_seconds,),
        ).fetchall()
        return [_job(row) for row in rows]

    def expired_inbound(self, limit: int = 1000) -> list[InboundJob]:
        rows = self._db.execute(
            f"SELECT {_JOB_COLUMNS} FROM inbound WHERE completed_at IS NULL "
            "AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY received_at LIMIT ?",
            (time.time(), limit),
        ).fetchall()
        return [_job(row) for row in rows]

    def claim_inbound(self, message_id: str, lease: Lease) -> bool:
        now = time.time()
        cursor = self._write(
            "UPDATE inbound SET lease_owner = ?, claimed_until = ?, attempts = attempts + 1 "
            "WHERE message_id = ? AND completed_at IS NULL "
            "AND (claimed_until IS NULL OR claimed_until < ?)",
            (lease.owner, lease.until(now), message_id, now),
        )
        return cursor.rowcount == 1

    def renew_leases(self, message_ids: Sequence[str], lease: Lease) -> int:
        until, renewed, ids = lease.until(time.time()), 0, list(message_ids)
        with self._transaction():
            for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
                chunk = ids[start : start + 500]
                renewed += self._db.execute(
                    "UPDATE inbound SET claimed_until = ? WHERE lease_owner = ? "
                    f"AND completed_at IS NULL AND message_id IN ({','.join('?' * len(chunk))})",
                    (until, lease.owner, *chunk),
                ).rowcount
        return renewed

    def release_inbound(self, message_id: str, owner: str, error: str) -> None:
        self._write(
            "UPDATE inbound SET claimed_until = 0, error = ? WHERE message_id = ? "
            "AND lease_owner = ? AND completed_at IS NULL",
            (error_text(error), message_id, owner),
        )

    def mark_sending(self, message_id: str, at: datetime) -> None:
        with self._writer():
            self._mark_sending(message_id, at)

    def _mark_sending(self, message_id: str, at: datetime) -> None:
        self._db.execute(
            "UPDATE inbound SET sending_since = ? WHERE message_id = ? AND completed_at IS NULL",
            (at.timestamp(), message_id),
        )

    def mark_resent(self, message_id: str) -> None:
        self._write("UPDATE inbound SET resent = 1 WHERE message_id = ?", (message_id,))

    def bury_inbound(self, message_id: str, error: str) -> None:
        now = time.time()
        self._write(
            "UPDATE inbound SET completed_at = ?, dead_at = ?, error = ?, claimed_until = NULL "
            "WHERE message_id = ? AND completed_at IS NULL",
            (now, now, error_text(error), message_id),
        )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._db.execute(
            "SELECT message_id, user, payload, attempts, error, dead_at FROM inbound "
            "WHERE dead_at IS NOT NULL ORDER BY dead_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            DeadLetter(message_id=mid, user=user, payload=json.loads(raw), attempts=attempts,
                       error=error, at=_datetime(at))
            for mid, user, raw, attempts, error, at in rows
        ]  # fmt: skip

    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        with self._transaction():
            self._db.executemany(_INSERT_OUTBOUND, [_outbound_row(r) for r in replies])
            self._db.execute(
                "UPDATE inbound SET completed_at = ?, payload = '{}' WHERE message_id = ?",
                (time.time(), message_id),
            )

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
                wamid=w, user=u, message_id=m, status=s, error=e, updated_at=_datetime(t)
            )
            for w, u, m, s, e, t in rows.fetchall()
        ]
        return list(reversed(records))

    def count_event(self, scope: str, user: str, window_seconds: int) -> int:
        now = time.time()
        with self._writer():
            rows = self._db.execute(
                "INSERT INTO counters (scope, user, started, n) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (scope, user) DO UPDATE SET "
                "n = CASE WHEN started <= ? THEN 1 ELSE n + 1 END, "
                "started = CASE WHEN started <= ? THEN excluded.started ELSE started END "
                "RETURNING n",
                (scope, user, now, now - window_seconds, now - window_seconds),
            ).fetchall()  # all of it: the statement (and its write) ends here, under the lock
        return rows[0][0]

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

    def ping(self) -> bool:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy committed WAL frames into the database file without blocking writers (PASSIVE).
        Returns SQLite's (busy, frames in the WAL, frames copied)."""
        busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, frames, copied

    def _checkpoint_loop(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout={IDLE_TRUNCATE_BUSY_MS}")  # this thread's own
        last_frames = -1
        while not self._checkpoint_stop.wait(CHECKPOINT_SECONDS):
            try:
                _, frames, copied = self.checkpoint()
                if frames == copied == last_frames and self._wal_bytes() > WAL_KEPT_BYTES:
                    self._truncate_idle_wal()
                last_frames = frames
            except sqlite3.Error as error:  # a closed store, a full disk: try again later
                log.warning("WAL checkpoint failed: %s", error)

    def _wal_bytes(self) -> int:
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_size
        except OSError:
            return 0

    def _truncate_idle_wal(self) -> None:
        """All of the WAL is in the database and nothing was written for a whole period: empty
        it. Writers wait the few milliseconds this takes; readers make it give up and retry."""
        with self._writer():
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            log.debug("WAL truncation deferred: readers busy")

    def close(self) -> None:
        self._checkpoint_stop.set()
        with self._connections_guard:
            for holder in list(self._connections):
                holder.connection.close()
            self._connections.clear()
        self._local = threading.local()


def _private_files(path: Path, locks_dir: Path) -> None:
    """Conversations are personal data: the folder the store creates is 0700, its lock folder
    0700, the database 0600 (SQLite gives its -wal and -shm files the database's mode). A folder
    that exists already is left as it is, with a warning if others can read it."""
    if path.parent.exists():
        if path.parent.stat().st_mode & 0o077:
            log.warning("%s is readable by other users; chmod 700 it", path.parent)
    else:
        path.parent.mkdir(mode=0o700, parents=True)
    locks_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(locks_dir, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            os.chmod(file, 0o600)


class _ThreadConnection:
    """One thread's connection. Only that thread's thread-local slot holds it, so it is freed the
    moment the thread ends; the connection itself sits in reference cycles (its statement cache)
    and would otherwise stay open until a garbage collection, however late that comes."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection
        weakref.finalize(self, connection.close)


_INSERT_OUTBOUND = (
    "INSERT OR REPLACE INTO outbound (wamid, user, message_id, status, error, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _outbound_row(record: OutboundRecord) -> tuple:
    return (
        record.wamid, record.user, record.message_id, record.status, record.error,
        record.updated_at.timestamp(),
    )  # fmt: skip


def _job(row: tuple) -> InboundJob:
    message_id, user, raw, received_at, attempts, sending_since, resent, error = row
    return InboundJob(
        message_id=message_id, user=user, payload=json.loads(raw),
        received_at=_datetime(received_at), attempts=attempts,
        sending_since=_datetime(sending_since) if sending_since else None,
        resent=bool(resent), error=error,
    )  # fmt: skip


def _datetime(timestamp: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(timestamp, UTC)
