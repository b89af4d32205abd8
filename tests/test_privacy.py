"""Deleting a customer (DELETE /admin/users/<phone>, POST /admin/prune) removes everything the
store keeps about them: state, history, the handoff with their name and contact time, the messages
in and out, their dedupe records and dead letters. Each store is searched for the phone after."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest
from werkzeug import Request, Response

from dialog.store import MemoryStore, open_store
from tests.conftest import redis_or_skip
from tests.processes import PHONE_ID, SECRET, TOKEN, signature

ANA, LUIS = "5215512345678", "5215587654321"
LEAD = ["busco un versa", "el 1", "lo quiero", "Ana Pérez", "en la tarde"]


def wamid(phone: str, n: int) -> str:
    """Meta's message ids carry the sender's phone in base64, as the real ones do."""
    return "wamid.HBgN" + base64.b64encode(phone.encode()).decode() + f"FQIAEhgU{n:04d}"


def traces(phone: str) -> list[str]:
    return [phone, base64.b64encode(phone.encode()).decode()]


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_and_dump(request, tmp_path: Path):
    """(store, dump): dump() is everything the store holds, as text, to search."""
    if request.param == "memory":
        store = MemoryStore()
        yield store, lambda: repr(vars(store))
    elif request.param == "sqlite":
        path = tmp_path / "bot.db"
        store = open_store(f"sqlite:///{path}")
        yield store, lambda: _file_bytes(path)  # the files themselves, WAL included
        store.close()
    else:
        prefix = f"test:{uuid.uuid4().hex}:"
        store = redis_or_skip(prefix)
        yield store, lambda: _redis_dump(store)
        store.clear()


def _file_bytes(path: Path) -> str:
    parts = [p.read_bytes() for p in sorted(path.parent.iterdir()) if p.name.startswith(path.name)
             and p.is_file()]  # fmt: skip
    return b"".join(parts).decode("latin-1")


def _redis_dump(store) -> str:
    client, out = store.client, []
    for key in client.scan_iter(match=store.prefix + "*"):
        kind = client.type(key)
        value = {"string": lambda k: client.get(k), "hash": client.hgetall,
                 "list": lambda k: client.lrange(k, 0, -1), "set": client.smembers,
                 "zset": lambda k: client.zrange(k, 0, -1)}[kind](key)  # fmt: skip
        out.append(f"{key} {value}")
    return "\n".join(out)


@pytest.fixture
def graph(httpserver):
    def answer(request: Request) -> Response:
        body = {"messages": [{"id": f"wamid.OUT{uuid.uuid4().hex}"}]}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(f"/v21.0/{PHONE_ID}/messages").respond_with_handler(answer)
    return httpserver


def _chat(client, phone: str, texts: list[str], first: int = 0) -> None:
    for n, text in enumerate(texts, start=first):
        message = {"from": phone, "id": wamid(phone, n), "timestamp": "1", "type": "text",
                   "text": {"body": text}}  # fmt: skip
        value = {"contacts": [{"profile": {"name": "Cliente"}, "wa_id": phone}],
                 "messages": [message]}  # fmt: skip
        body = json.dumps({"entry": [{"changes": [{"value": value}]}]}).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)}
        assert client.post("/webhook", data=body, headers=headers).status_code == 200


@pytest.fixture
def app(make_app, graph, store_and_dump):
    store, _ = store_and_dump
    return make_app(store=store, workers_async=False, whatsapp_app_secret=SECRET,
                    whatsapp_access_token=TOKEN, whatsapp_phone_number_id=PHONE_ID,
                    whatsapp_api_base=graph.url_for("/v21.0"))  # fmt: skip


def test_deleting_a_user_leaves_nothing_of_them_in_the_store(app, store_and_dump):
    store, dump = store_and_dump
    client = app.test_client()
    _chat(client, ANA, LEAD)
    _chat(client, LUIS, ["hola", "busco un jetta"])
    assert [h.name for h in store.handoffs()] == ["Ana Pérez"]
    assert all(trace in dump() for trace in traces(ANA))
    response = client.delete(f"/admin/users/{ANA}", json={})
    assert response.status_code == 200 and response.get_json()["deleted"] is True
    left = dump()
    assert not [trace for trace in [*traces(ANA), "Ana Pérez"] if trace in left]
    assert LUIS in left and len(store.history(LUIS)) == 2  # the others are untouched
    assert client.get(f"/admin/users/{ANA}").status_code == 404


def test_pruning_leaves_nothing_of_the_inactive_users(app, store_and_dump):
    _, dump = store_and_dump
    client = app.test_client()
    _chat(client, ANA, LEAD)
    time.sleep(0.5)
    _chat(client, LUIS, ["hola"])
    response = client.post("/admin/prune", json={"hours": 0.4 / 3600})  # inactive for 0.4 s
    assert response.get_json()["pruned"] == 1
    left = dump()
    assert not [trace for trace in [*traces(ANA), "Ana Pérez"] if trace in left]
    assert LUIS in left


def test_a_message_from_a_deleted_user_starts_afresh(app, store_and_dump):
    client = app.test_client()
    _chat(client, ANA, ["busco un versa"])
    client.delete(f"/admin/users/{ANA}", json={})
    _chat(client, ANA, ["hola"], first=1)  # a new message: a new conversation
    store, _ = store_and_dump
    assert [turn.intent for turn in store.history(ANA)] == ["greet"]
