"""The inbound table of the SQLite store: acknowledged messages as jobs, their leases, attempts,
the mark that their reply is being sent, dead letters; and the outbound records closed with them."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dialog.store.base import (
    DeadLetter,
    InboundJob,
    Lease,
    OutboundRecord,
    as_datetime,
    error_text,
)
from dialog.store.sqlite_file import SQLiteFile

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


class InboundTable(SQLiteFile):
    """The Store's inbound-job methods, on SQLite."""

    def enqueue_inbound(
        self, message_id: str, user: str, payload: dict[str, Any], lease: Lease | None = None
    ) -> bool:
        with self._writer():
            return self._insert_inbound(message_id, user, payload, lease)

    def _insert_inbound(
        self, message_id: str, user: str, payload: dict[str, Any], lease: Lease | None
    ) -> bool:
        now = time.time()
        owner, until = (lease.owner, lease.until(now)) if lease else (None, None)
        cursor = self._db.execute(
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
                       error=error, at=as_datetime(at))
            for mid, user, raw, attempts, error, at in rows
        ]  # fmt: skip

    def complete_inbound(self, message_id: str, replies: Sequence[OutboundRecord] = ()) -> None:
        with self._transaction():
            self._db.executemany(_INSERT_OUTBOUND, [_outbound_row(r) for r in replies])
            self._db.execute(
                "UPDATE inbound SET completed_at = ?, payload = '{}' WHERE message_id = ?",
                (time.time(), message_id),
            )


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
        received_at=as_datetime(received_at), attempts=attempts,
        sending_since=as_datetime(sending_since) if sending_since else None,
        resent=bool(resent), error=error,
    )  # fmt: skip
