"""The staff console's questions in indexed SQL (the same answers as dialog/store/console.py).

Each turn row carries the few fields the console counts by (topic, stage, score, LLM, latency,
make, model, how many cars were listed, the customer's text folded for search); one covering
index over them by time answers the 14-day overview without reading the turns' JSON, and one over
the folded text answers a text search. Handoffs carry their user and time for the same reason.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from dialog.store.base import Turn, as_datetime
from dialog.store.console import (
    FALLBACK_INTENTS,
    ConversationPage,
    ConversationRow,
    Overview,
    counted_names,
    overview_from_counts,
    phone_query,
)
from nlu.text import fold

# (column, declaration, how an existing row gets it from its JSON)
TURN_COLUMNS = (
    ("text_fold", "TEXT", None),  # filled in Python: fold() is not SQL
    ("stage", "TEXT", "json_extract(json, '$.stage')"),
    ("score", "REAL", "json_extract(json, '$.score')"),
)
HANDOFF_COLUMNS = (
    ("user", "TEXT", "json_extract(json, '$.user')"),
    ("at", "REAL", "(julianday(json_extract(json, '$.at')) - 2440587.5) * 86400.0"),
)
# what "not understood" reads: the partial index holds only those turns (and every example-stage
# decision, whose score is compared at read time); queries repeat REVIEWED exactly to use it
REVIEWED = "(intent IS NULL OR intent IN ('fallback', 'out_of_scope') OR stage = 'examples')"
CONSOLE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS console (kind TEXT NOT NULL, key TEXT NOT NULL, user TEXT,
    json TEXT NOT NULL, PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS console_by_user ON console (user) WHERE user IS NOT NULL;
CREATE TABLE IF NOT EXISTS turn_counts (hour INTEGER NOT NULL, name TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (hour, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS user_hours (hour INTEGER NOT NULL, user TEXT NOT NULL,
    PRIMARY KEY (hour, user)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS user_hours_by_user ON user_hours (user);
CREATE INDEX IF NOT EXISTS states_by_time ON states (updated_at, user);
CREATE INDEX IF NOT EXISTS turns_to_review ON turns (at, score) WHERE {REVIEWED};
CREATE INDEX IF NOT EXISTS turns_by_text ON turns (text_fold, user);
CREATE INDEX IF NOT EXISTS handoffs_by_user ON handoffs (user, at);
CREATE INDEX IF NOT EXISTS handoffs_by_time ON handoffs (at, user);
"""
INSERT_TURN = (
    "INSERT INTO turns (user, json, intent, at, text_fold, stage, score) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
COUNT_TURN = (
    "INSERT INTO turn_counts (hour, name, n) VALUES (?, ?, 1) "
    "ON CONFLICT (hour, name) DO UPDATE SET n = n + 1"
)
SEARCH_ROWS_SCANNED = 200_000  # a text search reads at most this many turns
HOUR = 3600
MIGRATION_BATCH = 5000


def turn_row(turn: Turn) -> tuple:
    return (
        turn.user,
        turn.model_dump_json(),
        turn.intent,
        turn.at.timestamp(),
        fold(turn.text_in),
        turn.stage,
        turn.score,
    )


def count_turn(db: sqlite3.Connection, turn: Turn) -> None:
    """The turn's share of the hourly figures the overview adds up (and who wrote that hour)."""
    hour = int(turn.at.timestamp() // HOUR)
    db.executemany(COUNT_TURN, [(hour, name) for name in counted_names(turn)])
    db.execute("INSERT OR IGNORE INTO user_hours (hour, user) VALUES (?, ?)", (hour, turn.user))


def migrate_console(db: sqlite3.Connection) -> None:
    """Add the console's columns, tables and indexes to a database made by an earlier version,
    then count its turns into the hourly figures, once (a turn without `text_fold` was never
    counted; each batch is one transaction, so an interrupted start resumes where it stopped)."""
    for table, columns in (("turns", TURN_COLUMNS), ("handoffs", HANDOFF_COLUMNS)):
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, declaration, source in columns:
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
                if source:
                    db.execute(f"UPDATE {table} SET {name} = {source}")
    db.executescript(CONSOLE_SCHEMA)
    while True:
        rows = db.execute(
            "SELECT id, json FROM turns WHERE text_fold IS NULL LIMIT ?", (MIGRATION_BATCH,)
        ).fetchall()
        if not rows:
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            for row_id, raw in rows:
                turn = Turn.model_validate_json(raw)
                db.execute(
                    "UPDATE turns SET text_fold = ? WHERE id = ?", (fold(turn.text_in), row_id)
                )
                count_turn(db, turn)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


class ConsoleQueries:
    """Mixed into SQLiteStore: `_db`, `_write` and `_writer` come from the SQLite file."""

    _db: sqlite3.Connection

    def console_put(
        self, kind: str, key: str, value: dict[str, Any], user: str | None = None
    ) -> None:
        self._write(  # type: ignore[attr-defined]
            "INSERT INTO console (kind, key, user, json) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET user = excluded.user, json = excluded.json",
            (kind, key, user, json.dumps(value, default=str)),
        )

    def console_get(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT json FROM console WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def console_all(self, kind: str) -> dict[str, dict[str, Any]]:
        rows = self._db.execute("SELECT key, json FROM console WHERE kind = ?", (kind,))
        return {key: json.loads(raw) for key, raw in rows.fetchall()}

    def console_turns(self, since: datetime):
        rows = self._db.execute(
            "SELECT json FROM turns WHERE at >= ? ORDER BY id", (since.timestamp(),)
        )
        return (Turn.model_validate_json(row[0]) for row in rows)

    def console_overview(self, since: datetime, utc_offset: int, top: int = 10) -> Overview:
        """From the hourly figures (a few thousand rows for 14 days, whatever the traffic)."""
        db, first = self._db, int(since.timestamp() // HOUR)
        counts = db.execute(
            "SELECT hour, name, n FROM turn_counts WHERE hour >= ?", (first,)
        ).fetchall()
        active = db.execute("SELECT hour, user FROM user_hours WHERE hour >= ?", (first,))
        leads = db.execute(
            "SELECT at, user FROM handoffs INDEXED BY handoffs_by_time WHERE at >= ?",
            (since.timestamp(),),
        )
        return overview_from_counts(
            since, utc_offset, top, counts, active.fetchall(), leads.fetchall()
        )

    def console_conversations(self, query: str, offset: int, limit: int) -> ConversationPage:
        db, digits, words = self._db, phone_query(query), fold(query.strip())
        if digits:
            pattern = f"%{_like(digits)}%"
            total = db.execute(
                "SELECT COUNT(*) FROM states WHERE user LIKE ? ESCAPE '\\'", (pattern,)
            ).fetchone()[0]
            found = db.execute(
                "SELECT user, updated_at, turns FROM states INDEXED BY states_by_time "
                "WHERE user LIKE ? ESCAPE '\\' ORDER BY updated_at DESC LIMIT ? OFFSET ?",
                (pattern, limit, offset),
            ).fetchall()
        elif words:
            matched = db.execute(
                "SELECT DISTINCT user FROM (SELECT user FROM turns INDEXED BY turns_by_text "
                "WHERE instr(text_fold, ?) > 0 LIMIT ?)",
                (words, SEARCH_ROWS_SCANNED),
            ).fetchall()
            users = [row[0] for row in matched]
            total = len(users)
            found = self._states_of(users, offset, limit)
        else:
            total = db.execute("SELECT COUNT(*) FROM states").fetchone()[0]
            found = db.execute(
                "SELECT user, updated_at, turns FROM states INDEXED BY states_by_time "
                "ORDER BY updated_at DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return ConversationPage(rows=[self._row(*row) for row in found], total=total)

    def _states_of(self, users: list[str], offset: int, limit: int) -> list[tuple]:
        rows: list[tuple] = []
        for start in range(0, len(users), 500):
            chunk = users[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._db.execute(
                f"SELECT user, updated_at, turns FROM states WHERE user IN ({marks})", chunk
            ).fetchall()
        rows.sort(key=lambda row: -row[1])
        return rows[offset : offset + limit]

    def _row(self, user: str, updated_at: float, turns: int) -> ConversationRow:
        db = self._db
        last = db.execute(
            "SELECT json_extract(json, '$.text_in'), intent, json_extract(json, '$.topic') "
            "FROM turns WHERE user = ? ORDER BY id DESC LIMIT 1",
            (user,),
        ).fetchone()
        lead = db.execute("SELECT 1 FROM handoffs WHERE user = ? LIMIT 1", (user,)).fetchone()
        text, intent, topic = last or ("", None, None)
        return ConversationRow(
            user=user,
            last_text=text or "",
            last_at=as_datetime(updated_at),
            last_intent=intent,
            last_topic=topic,
            turns=turns,
            lead=lead is not None,
        )

    def console_review(self, since: datetime, below_score: float, limit: int) -> list[Turn]:
        marks = ",".join("?" * len(FALLBACK_INTENTS))
        rows = self._db.execute(
            f"SELECT json FROM turns INDEXED BY turns_to_review WHERE {REVIEWED} AND at >= ? "
            f"AND (intent IS NULL OR intent IN ({marks}) OR score < ?) ORDER BY at DESC LIMIT ?",
            (since.timestamp(), *FALLBACK_INTENTS, below_score, limit),
        ).fetchall()
        return [Turn.model_validate_json(row[0]) for row in rows]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
