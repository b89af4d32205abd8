"""Malformed webhooks: each message is parsed and isolated on its own, so one bad message cannot
fail the notification (a 500 makes Meta redeliver every message in it); a message whose run keeps
failing is given up after MAX_JOB_ATTEMPTS into the dead letters, visible in /admin and /metrics."""

from __future__ import annotations

import json
import time

import pytest

from dialog.store import open_store
from tests.processes import SECRET, signature

GOOD = "5215512340000"


def _message(frm: str, mid: str, body: str = "hola", timestamp: str = "1732500000") -> dict:
    return {"from": frm, "id": mid, "timestamp": timestamp, "type": "text", "text": {"body": body}}


def _raw(*messages: dict) -> str:
    value = {"messaging_product": "whatsapp", "messages": list(messages)}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"changes": [{"value": value}]}]})  # fmt: skip


def _post(client, raw: str | bytes, headers: dict | None = None):
    body = raw.encode() if isinstance(raw, str) else raw
    sent = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body, SECRET)}
    return client.post("/webhook", data=body, headers={**sent, **(headers or {})})


@pytest.fixture
def app(make_app, tmp_path):
    """SQLite, as deployed: a string it cannot encode fails where the memory store would not."""
    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    return make_app(store=store, whatsapp_app_secret=SECRET, workers_async=False)


def _malformed(client) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("kavak_malformed_entries_total "):
            return float(line.split()[1])
    return 0.0


UNUSABLE = {
    "surrogate-from": '{"from": "52155\\ud83d", "id": "wamid.S1", "type": "text", "text": {}}',
    "surrogate-id": '{"from": "5215512341111", "id": "wamid.\\udc00", "type": "text", "text": {}}',
    "not-a-phone": json.dumps(_message("52155 or 1=1", "wamid.NOT-A-PHONE")),
}
ODD_TIMESTAMP = {  # the message itself is fine: answered, its timestamp unknown
    "superscript-timestamp": json.dumps(_message("5215512342222", "wamid.SUP", timestamp="²")),
    "5000-digit-timestamp": json.dumps(
        _message("5215512343333", "wamid.LONG", timestamp="9" * 5000)
    ),
}


@pytest.mark.parametrize(
    ("bad", "accepted"),
    [(raw, 1) for raw in UNUSABLE.values()] + [(raw, 2) for raw in ODD_TIMESTAMP.values()],
    ids=[*UNUSABLE, *ODD_TIMESTAMP],
)
def test_one_malformed_message_does_not_fail_the_others(app, bad, accepted):
    client = app.test_client()
    good = json.dumps(_message(GOOD, "wamid.GOOD"))
    raw = '{"entry": [{"changes": [{"value": {"messages": [' + bad + ", " + good + "]}}]}]}"
    response = _post(client, raw)  # the bad one verbatim: json.dumps would escape it
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["accepted"] == accepted
    assert [turn.intent for turn in app.extensions["kavak"].store.history(GOOD)] == ["greet"]
    assert _malformed(client) == 2 - accepted


def test_a_lone_surrogate_in_the_text_is_stored_and_answered(app):
    raw = _raw(_message(GOOD, "wamid.TEXT")).replace('"hola"', '"busco un versa \\ud83d"')
    assert _post(app.test_client(), raw).get_json()["accepted"] == 1
    [turn] = app.extensions["kavak"].store.history(GOOD)
    assert turn.intent == "search_cars"


def test_json_nested_100k_deep_is_a_clear_400(app):
    client = app.test_client()
    deep = "[" * 100_000 + "]" * 100_000
    response = _post(client, deep)
    assert response.status_code == 400 and "nested" in response.get_json()["reason"]
    chat = client.post("/chat", data=deep, content_type="application/json")
    assert chat.status_code == 400 and "nested" in chat.get_json()["reason"]


@pytest.mark.parametrize("header", ["sha256=ñandú", "sha256=" + "é" * 64, "ñ"])
def test_a_non_ascii_signature_is_refused_before_anything_else(app, header):
    raw = _raw(_message(GOOD, "wamid.SIG")).encode()
    response = _post(app.test_client(), raw, headers={"X-Hub-Signature-256": header})
    assert response.status_code == 403
    assert app.extensions["kavak"].store.pending_inbound() == []


def test_a_tap_on_a_row_with_a_superscript_id_is_answered(app):
    row = {"type": "list_reply", "list_reply": {"id": "car:²", "title": "El ²"}}
    tap = {"from": GOOD, "id": "wamid.TAP", "timestamp": "1", "type": "interactive",
           "interactive": row}  # fmt: skip
    assert _post(app.test_client(), _raw(tap)).status_code == 200
    store = app.extensions["kavak"].store
    assert store.pending_inbound() == [] and len(store.history(GOOD)) == 1


def test_a_job_that_always_fails_goes_to_the_dead_letters(make_app, tmp_path):
    """A job left by an older version in a shape this one cannot run: tried MAX_JOB_ATTEMPTS times
    (once at start, then by the recovery timer), then given up, listed and counted."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    poison = {"message_id": "wamid.POISON", "user": GOOD, "kind": "text", "text": ["not", "text"]}
    open_store(url).enqueue_inbound("wamid.POISON", GOOD, poison)  # its process died
    app = make_app(store=open_store(url), workers_async=False, recover_after_seconds=0,
                   max_job_attempts=2)  # fmt: skip
    client = app.test_client()
    deadline = time.monotonic() + 15
    while not client.get("/admin/dead-letters").get_json()["count"] and time.monotonic() < deadline:
        time.sleep(0.1)
    [dead] = client.get("/admin/dead-letters").get_json()["dead_letters"]
    assert dead["message_id"] == "wamid.POISON" and dead["attempts"] == 2
    assert "AttributeError" in dead["error"] and dead["payload"]["text"] == ["not", "text"]
    assert app.extensions["kavak"].store.pending_inbound() == []
    assert "kavak_dead_letters_total 1.0" in client.get("/metrics").get_data(as_text=True)
