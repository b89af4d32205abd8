"""One behaviour suite for every store backend: memory, SQLite and Redis (127.0.0.1:6379)."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from dialog.state import ConversationState, utc_now
from dialog.store import (
    Handoff,
    Lease,
    MemoryStore,
    OutboundRecord,
    StoreError,
    Turn,
    open_store,
)
from dialog.store import sqlite_file as sqlite_module
from dialog.store.redis_store import RedisStore
from dialog.store.sqlite import SQLiteStore
from tests.conftest import REDIS_URL, redis_or_skip
from tests.processes import enqueue_in_process


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, tmp_path: Path):
    """(kind, factory): the factory opens the same underlying data again, like a restart."""
    kind = request.param
    if kind == "memory":
        store = MemoryStore()
        yield kind, lambda: store
    elif kind == "sqlite":
        stores = []

        def reopen():
            stores.append(SQLiteStore(tmp_path / "bot.db"))
            return stores[-1]

        yield kind, reopen
        for store in stores:
            store.close()
    else:
        prefix = f"test:{uuid.uuid4().hex}:"
        first = redis_or_skip(prefix)
        yield kind, lambda: RedisStore(REDIS_URL, prefix=prefix)
        first.clear()


@pytest.fixture
def store(backend):
    return backend[1]()


def _state(user: str, **changes) -> ConversationState:
    return ConversationState(user=user, **changes)


def test_state_round_trip(store):
    state = _state("5215512345678", last_results=[3, 1, 2], selected=1, turns=4)
    state.filters.make = "Mazda"
    state.financing.down_payment = 50_000
    store.save_state(state)
    loaded = store.load_state("5215512345678")
    assert loaded == state
    assert store.load_state("nobody") is None
    assert store.state_for("nobody").user == "nobody"


def test_history_keeps_order_and_limit(store):
    for n in range(7):
        store.append_turn(Turn(user="u", text_in=f"in {n}", text_out=f"out {n}", intent="greet"))
    history = store.history("u", limit=3)
    assert [turn.text_in for turn in history] == ["in 4", "in 5", "in 6"]
    assert store.history("other") == []


def test_inbound_is_deduplicated_and_pending_until_completed(store):
    assert store.enqueue_inbound("wamid.1", "u", {"text": "hola"}) is True
    assert store.enqueue_inbound("wamid.1", "u", {"text": "hola"}) is False
    assert store.enqueue_inbound("wamid.2", "u", {"text": "el 2"}) is True
    pending = store.pending_inbound()
    assert [job.message_id for job in pending] == ["wamid.1", "wamid.2"]
    assert pending[0].payload == {"text": "hola"}
    assert store.pending_inbound(older_than_seconds=3600) == []
    store.complete_inbound("wamid.1")
    assert [job.message_id for job in store.pending_inbound()] == ["wamid.2"]
    assert store.enqueue_inbound("wamid.1", "u", {}) is False  # completed ids stay deduplicated


def test_outbound_status(store):
    store.record_outbound("wamid.out.1", "u", "wamid.in.1")
    assert store.update_outbound_status("wamid.out.1", "delivered") is True
    assert store.update_outbound_status("wamid.out.1", "failed", error="131047 re-engagement")
    assert store.update_outbound_status("unknown", "read") is False
    [record] = store.outbound("u")
    assert record.status == "failed" and "131047" in record.error
    assert store.outbound("someone else") == []


def test_completing_a_job_records_its_replies_with_it(store):
    store.enqueue_inbound("wamid.in.7", "u", {"text": "el 2"})
    replies = [
        OutboundRecord(wamid="wamid.out.7a", user="u", message_id="wamid.in.7"),
        OutboundRecord(wamid="failed:wamid.in.7:1", user="u", message_id="wamid.in.7",
                       status="failed", error="HTTP 500"),
    ]  # fmt: skip
    store.complete_inbound("wamid.in.7", replies)
    assert store.pending_inbound() == []
    recorded = {record.wamid: record for record in store.outbound("u")}
    assert recorded.keys() == {"wamid.out.7a", "failed:wamid.in.7:1"}
    assert recorded["failed:wamid.in.7:1"].status == "failed"
    assert recorded["failed:wamid.in.7:1"].error == "HTTP 500"
    assert store.update_outbound_status("wamid.out.7a", "delivered") is True
    assert {r.wamid: r.status for r in store.outbound("u")}["wamid.out.7a"] == "delivered"


def test_users_summary_prune_and_delete(store):
    old = _state("old", turns=1)
    old.updated_at = utc_now() - timedelta(hours=48)
    store.save_state(old)
    store.save_state(_state("new", turns=2))
    store.append_turn(Turn(user="new", text_in="hola", text_out="¡Hola!", intent="greet"))
    store.append_turn(Turn(user="new", text_in="el 2", text_out="...", intent="select_car"))
    store.add_handoff(Handoff(user="new", name="Ana", stock_id=10, reason="purchase"))
    assert [summary.user for summary in store.users()] == ["new", "old"]
    summary = store.summary()
    assert summary.users == 2 and summary.handoffs == 1
    assert summary.turns_by_intent == {"greet": 1, "select_car": 1}
    assert store.prune(hours=24) == 1
    assert [summary.user for summary in store.users()] == ["new"]
    assert store.delete_user("new") is True and store.delete_user("new") is False
    assert store.load_state("new") is None and store.history("new") == []
    assert store.handoffs() == []  # deleting a user deletes their handoff (name, contact time)


def test_data_survives_reopening(backend):
    _kind, reopen = backend
    first = reopen()
    first.save_state(_state("u", selected=7))
    first.append_turn(Turn(user="u", text_in="hola", text_out="¡Hola!"))
    first.enqueue_inbound("wamid.9", "u", {"text": "x"})
    second = reopen()
    assert second.load_state("u").selected == 7
    assert [turn.text_in for turn in second.history("u")] == ["hola"]
    assert [job.message_id for job in second.pending_inbound()] == ["wamid.9"]
    assert second.enqueue_inbound("wamid.9", "u", {}) is False


def test_user_lock_serialises_turns_of_one_user(store):
    events: list[str] = []
    inside = threading.Event()

    def first():
        with store.user_lock("u"):
            events.append("first in")
            inside.set()
            time.sleep(0.2)
            events.append("first out")

    def second():
        inside.wait(5)
        with store.user_lock("u"):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert events == ["first in", "first out", "second in"]


def test_ping(store):
    assert store.ping() is True


def test_sqlite_dedupe_is_atomic_across_processes(tmp_path: Path):
    path = str(tmp_path / "bot.db")
    SQLiteStore(path)
    # not fork: this process has threads (SQLite checkpointers) whose locks a fork would copy held
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.processes", "dialog.store.sqlite"])
    results = context.Queue()
    workers = [context.Process(target=enqueue_in_process, args=(path, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(results.get(timeout=5) for _ in workers) == [False, False, False, True]


def test_open_store_urls(tmp_path: Path):
    assert isinstance(open_store("memory://"), MemoryStore)
    sqlite = open_store(f"sqlite:///{tmp_path}/x/bot.db")
    assert isinstance(sqlite, SQLiteStore) and sqlite.path == tmp_path / "x" / "bot.db"
    redis_store = open_store("redis://127.0.0.1:6379/0?prefix=abc:")
    assert isinstance(redis_store, RedisStore) and redis_store.prefix == "abc:"
    with pytest.raises(StoreError, match="postgres"):
        open_store("postgres://localhost/db")
    with pytest.raises(StoreError, match="no file path"):
        open_store("sqlite://")


def test_redis_down_is_reported_not_raised():
    store = RedisStore("redis://127.0.0.1:1/0")
    assert store.ping() is False


def _lease(owner: str, seconds: float = 60.0) -> Lease:
    return Lease(owner=owner, seconds=seconds)


def test_a_pending_job_is_claimed_by_one_process_at_a_time(store):
    store.enqueue_inbound("wamid.C", "u", {"text": "hola"})  # no lease: its process is gone
    assert store.claim_inbound("wamid.C", _lease("a"))
    assert not store.claim_inbound("wamid.C", _lease("b"))  # another worker: not yours
    store.complete_inbound("wamid.C")
    assert not store.claim_inbound("wamid.C", _lease("b"))
    assert not store.claim_inbound("wamid.NEVER-SEEN", _lease("b"))


def test_a_job_is_leased_by_its_process_until_it_stops_renewing(store):
    assert store.enqueue_inbound("wamid.L", "u", {"text": "hola"}, _lease("a", 0.5))
    assert store.expired_inbound() == [] and not store.claim_inbound("wamid.L", _lease("b"))
    time.sleep(0.3)
    assert store.renew_leases(["wamid.L", "wamid.OTHER"], _lease("a", 0.5)) == 1
    assert store.renew_leases(["wamid.L"], _lease("b", 0.5)) == 0  # only the owner renews
    time.sleep(0.3)  # past the first expiry, within the renewed one
    assert store.expired_inbound() == []
    time.sleep(0.4)  # a stopped renewing (it died)
    [job] = store.expired_inbound()
    assert job.message_id == "wamid.L" and job.attempts == 1
    assert store.claim_inbound("wamid.L", _lease("b"))
    assert store.pending_inbound()[0].attempts == 2 and store.expired_inbound() == []


def test_a_failed_run_is_released_and_a_hopeless_job_buried(store):
    store.enqueue_inbound("wamid.P", "u", {"text": "car:²"}, _lease("a"))
    store.release_inbound("wamid.P", "b", "not b's job")
    assert store.expired_inbound() == []
    store.release_inbound("wamid.P", "a", "ValueError: invalid literal for int()")
    [job] = store.expired_inbound()  # the lease ended with the failed run
    assert "ValueError" in job.error
    store.bury_inbound("wamid.P", "gave up after 1 attempts")
    assert store.pending_inbound() == [] and store.expired_inbound() == []
    [dead] = store.dead_letters()
    assert (dead.message_id, dead.user, dead.payload) == ("wamid.P", "u", {"text": "car:²"})
    assert dead.attempts == 1 and dead.error == "gave up after 1 attempts"
    assert store.enqueue_inbound("wamid.P", "u", {}) is False  # still deduplicated


def test_a_job_is_marked_sending_with_its_turn_and_resent_once(store):
    store.enqueue_inbound("wamid.S", "u", {"text": "hola"}, _lease("a"))
    assert store.pending_inbound()[0].sending_since is None
    turn = Turn(user="u", text_in="hola", text_out="¡Hola!", message_id="wamid.S")
    store.save_turn(_state("u", turns=1), turn)
    [job] = store.pending_inbound()
    assert abs((job.sending_since - turn.at).total_seconds()) < 0.001 and not job.resent
    store.mark_resent("wamid.S")
    assert store.pending_inbound()[0].resent
    store.complete_inbound("wamid.S")
    store.save_turn(_state("u", turns=2), turn)  # a late mark must not bring a closed job back
    store.mark_resent("wamid.S")
    assert store.pending_inbound() == [] and store.expired_inbound() == []


def test_sqlite_databases_of_the_earlier_schema_are_migrated(tmp_path: Path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE inbound (message_id TEXT PRIMARY KEY, user TEXT NOT NULL, "
            "payload TEXT NOT NULL, received_at REAL NOT NULL, completed_at REAL)"
        )
        old.execute("INSERT INTO inbound VALUES ('wamid.OLD', 'u', '{}', 0, NULL)")
    store = SQLiteStore(path)
    assert [job.message_id for job in store.pending_inbound()] == ["wamid.OLD"]
    assert store.claim_inbound("wamid.OLD", _lease("a"))
    assert store.pending_inbound()[0].attempts == 1
    store.close()


@pytest.mark.redis
def test_redis_jobs_of_the_earlier_layout_are_migrated():
    prefix = f"test:{uuid.uuid4().hex}:"
    store = redis_or_skip(prefix)
    job = {"message_id": "wamid.OLD", "user": "u", "payload": {"text": "hola"},
           "received_at": "2026-11-20T10:00:00Z"}  # fmt: skip
    store.client.hset(prefix + "pending", "wamid.OLD", json.dumps(job))
    [recovered] = store.expired_inbound()
    assert recovered.message_id == "wamid.OLD" and recovered.payload == {"text": "hola"}
    assert store.claim_inbound("wamid.OLD", _lease("a"))
    assert store.client.hlen(prefix + "pending") == 0
    store.clear()


def test_save_turn_stores_state_and_history_together(store):
    state = _state("st", turns=1, selected=42)
    store.save_turn(
        state, Turn(user="st", text_in="el 1", text_out="Buena elección", intent="select_car")
    )
    assert store.load_state("st").selected == 42
    assert [turn.intent for turn in store.history("st")] == ["select_car"]
    assert store.summary().turns_by_intent.get("select_car") == 1


def test_sqlite_checkpoints_the_wal_in_the_background(tmp_path: Path, monkeypatch):
    """Committed pages reach the database file without a writer doing SQLite's checkpoint (which
    would hold the write lock through an fsync and stall every other writer)."""
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_SECONDS", 0.05)
    path = tmp_path / "bot.db"
    others = set(threading.enumerate())
    store = SQLiteStore(path)
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] >= 10_000
    size_before = path.stat().st_size
    for n in range(200):
        store.append_turn(Turn(user=f"u{n}", text_in="hola " * 50, text_out="¡Hola! " * 50))
    deadline = time.monotonic() + 5
    while path.stat().st_size == size_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > size_before  # the background thread copied the WAL in
    # nothing holds it busy for long: a checkpoint of our own may meet the background one
    # (every 0.05 s here) on a loaded machine, and gets through on a later try
    busy = 1
    while busy and time.monotonic() < deadline + 5:
        busy = store.checkpoint()[0]
        if busy:
            time.sleep(0.01)
    assert busy == 0
    threads = [t for t in set(threading.enumerate()) - others if t.name == "sqlite-checkpoint"]
    assert threads
    store.close()
    for thread in threads:
        thread.join(timeout=1)
    assert not any(thread.is_alive() for thread in threads)
    assert len(SQLiteStore(path).history("u7")) == 1


def test_sqlite_the_checkpointer_truncates_the_wal_once_writes_stop(tmp_path: Path, monkeypatch):
    """A burst of writes grows the WAL (to ~80 MB under load); once the checkpointer has copied
    it all and no new write came, it empties the file instead of keeping it at its largest."""
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_SECONDS", 0.05)
    path = tmp_path / "bot.db"
    store = SQLiteStore(path)
    wal = path.with_name("bot.db-wal")
    for n in range(600):
        store.append_turn(Turn(user=f"u{n}", text_in="hola " * 400, text_out="¡Hola! " * 400))
    print(f"WAL after the burst: {wal.stat().st_size / 1e6:.1f} MB")
    assert wal.stat().st_size > 8_000_000
    deadline = time.monotonic() + 10
    while wal.stat().st_size > 4 * 1024 * 1024 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wal.stat().st_size <= 4 * 1024 * 1024
    assert len(store.history("u599")) == 1
    store.close()


def test_a_new_message_is_counted_with_its_job_and_a_redelivery_is_not(store):
    """The webhook's one store call per message: dedupe, job and the customer's rate count."""
    assert store.enqueue_counted("wamid.R1", "u", {"text": "a"}, _lease("w"), 60) == 1
    assert store.enqueue_counted("wamid.R2", "u", {"text": "b"}, _lease("w"), 60) == 2
    assert store.enqueue_counted("wamid.R1", "u", {"text": "a"}, _lease("w"), 60) == 0
    assert store.enqueue_counted("wamid.R3", "v", {"text": "c"}, None, 60) == 1
    assert store.count_event("messages", "u", 60) == 3
    assert [job.message_id for job in store.pending_inbound()] == [
        "wamid.R1",
        "wamid.R2",
        "wamid.R3",
    ]
    assert store.expired_inbound()[0].message_id == "wamid.R3"  # unleased: anyone may take it
