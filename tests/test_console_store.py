"""The console's store queries: SQLite (indexed SQL over hourly figures) and Redis answer exactly
as the plain-Python reading of the turns does on the memory store; older SQLite files are
migrated; deleting a customer deletes what the console kept about them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from dialog.state import ConversationState
from dialog.store import MemoryStore
from dialog.store.base import Handoff, Turn
from dialog.store.sqlite import SQLiteStore
from tests.conftest import redis_or_skip

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
OFFSET = -6 * 3600  # Mexico City


def _turns() -> list[Turn]:
    turns = []
    for day in range(4):
        for index in range(6):
            user = f"52155{day}{index % 3:07d}"
            at = NOW - timedelta(days=day, minutes=7 * index)
            turns.append(
                Turn(user=user, text_in=f"busco un jetta {index}", text_out="Encontré...",
                     intent="search_cars", stage="rule", score=1.0,
                     slots={"make": "Volkswagen", "model": "Jetta"},
                     results=[] if index % 3 == 0 else [1, 2], latency_ms=0.4 + index,
                     llm_used=index == 5, at=at)
            )  # fmt: skip
            turns.append(
                Turn(user=user, text_in="¿Dónde están? <b>", text_out="Tenemos 15 sedes",
                     intent="knowledge", topic="locations", stage="examples",
                     score=0.31 + index / 100, at=at + timedelta(seconds=5))
            )  # fmt: skip
        turns.append(
            Turn(user=f"52133{day:08d}", text_in="cual es la capital de francia", text_out="...",
                 intent="out_of_scope", stage="none", score=0.2, at=NOW - timedelta(days=day))
        )  # fmt: skip
    return turns


def _fill(store) -> None:
    turns = _turns()
    for turn in sorted(turns, key=lambda turn: turn.at):
        state = store.load_state(turn.user) or ConversationState(user=turn.user)
        state.turns += 1
        state.updated_at = turn.at
        store.save_turn(state, turn)
    for day in range(3):
        at = NOW - timedelta(days=day)
        store.add_handoff(Handoff(user=f"52155{day}0000000", name="Ana", at=at))
        store.add_handoff(Handoff(user=f"52155{day}0000000", name="Ana", at=at))  # a correction


def _backends(name: str, tmp_path):
    if name == "sqlite":
        return SQLiteStore(tmp_path / "bot.db")
    store = redis_or_skip(f"test-console-{tmp_path.name}:")
    store.clear()
    return store


@pytest.fixture
def memory():
    store = MemoryStore()
    _fill(store)
    return store


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_every_backend_answers_like_the_plain_reading(backend, memory, tmp_path):
    store = _backends(backend, tmp_path)
    try:
        _fill(store)
        # The console asks from a local midnight, always on an hour boundary: the SQLite store
        # keeps hourly figures, so a window that starts mid-hour is not a question it answers.
        since = NOW.replace(minute=0) - timedelta(days=3, hours=NOW.hour)
        expected = memory.console_overview(since, OFFSET, 10)
        got = store.console_overview(since, OFFSET, 10)
        assert got.model_dump() == expected.model_dump()
        assert sum(day.messages for day in got.days) > 0 and got.latency_p99 is not None
        assert got.no_result_total == 8 and got.no_results[0].name == "Volkswagen Jetta"
        review = {(t.user, t.text_in) for t in store.console_review(since, 0.34, 100)}
        assert review == {(t.user, t.text_in) for t in memory.console_review(since, 0.34, 100)}
        assert len(review) == 4 + 4 * 3  # out_of_scope, and examples scoring 0.31 to 0.33
        for query in ("", "JETTA 3", "dónde", "52133", "no such thing"):
            page, reference = (
                store.console_conversations(query, 0, 50),
                memory.console_conversations(query, 0, 50),
            )
            assert [row.user for row in page.rows] == [row.user for row in reference.rows], query
            assert page.total == reference.total
        assert (
            store.console_conversations("52155", 2, 2).rows
            == memory.console_conversations("52155", 2, 2).rows
        )
    finally:
        if backend == "redis":
            store.clear()
        store.close()


@pytest.mark.parametrize(
    "backend", ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]
)
def test_deleting_a_customer_deletes_the_console_records(backend, tmp_path):
    store = MemoryStore() if backend == "memory" else _backends(backend, tmp_path)
    try:
        _fill(store)
        user = "5215500000000"
        store.console_put("lead", user, {"status": "won"}, user=user)
        store.console_put("review", "a" * 32, {"action": "ignored"})
        assert store.console_all("lead") == {user: {"status": "won"}}
        assert store.delete_user(user)
        assert store.console_get("lead", user) is None
        assert store.console_get("review", "a" * 32) == {"action": "ignored"}  # no personal data
        rows = store.console_conversations(user, 0, 10).rows
        assert rows == []
    finally:
        if backend == "redis":
            store.clear()
        store.close()


OLD_SCHEMA = """
CREATE TABLE states (user TEXT PRIMARY KEY, json TEXT NOT NULL, updated_at REAL NOT NULL,
    turns INTEGER NOT NULL DEFAULT 0);
CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, json TEXT NOT NULL,
    intent TEXT, at REAL NOT NULL);
CREATE TABLE handoffs (id INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL);
"""


def test_a_database_of_the_previous_version_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    turn = Turn(user="5215511112222", text_in="¿Tienen Jetta?", text_out="Sí", intent="search_cars",
                slots={"make": "Volkswagen"}, at=NOW)  # fmt: skip
    state = ConversationState(user=turn.user, turns=1, updated_at=NOW)
    db.execute(
        "INSERT INTO states VALUES (?, ?, ?, 1)",
        (turn.user, state.model_dump_json(), NOW.timestamp()),
    )
    db.execute("INSERT INTO turns (user, json, intent, at) VALUES (?, ?, ?, ?)",
               (turn.user, turn.model_dump_json(), turn.intent, NOW.timestamp()))  # fmt: skip
    db.execute(
        "INSERT INTO handoffs (json) VALUES (?)",
        (Handoff(user=turn.user, at=NOW).model_dump_json(),),
    )
    db.commit()
    db.close()
    store = SQLiteStore(path)
    overview = store.console_overview(NOW - timedelta(days=1), OFFSET)
    assert sum(day.messages for day in overview.days) == 1
    assert sum(day.leads for day in overview.days) == 1
    assert overview.makes[0].name == "Volkswagen"
    assert store.console_conversations("jetta", 0, 10).rows[0].lead
    store.close()
