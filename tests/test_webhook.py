"""The WhatsApp webhook end to end: Flask test client in, a Graph API stand-in out (real HTTP),
over the memory, SQLite and Redis stores."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import time
import uuid

import pytest
from werkzeug import Request, Response

from api.logs import JsonFormatter
from dialog.store import Lease, MemoryStore, open_store
from tests.conftest import redis_or_skip, stop_jobs

PHONE_ID = "1234567890"
TOKEN = "EAAG-test-token"
SECRET = "app-secret-for-tests"
GRAPH = f"/v21.0/{PHONE_ID}/messages"
ANA = "5215512345678"
LUIS = "5213398765432"


class Graph:
    """The Graph API stand-in: answers every send with a fresh wamid (or a scripted status)."""

    def __init__(self, httpserver):
        self.httpserver = httpserver
        self.ids = itertools.count(1)
        self.statuses: list[int] = []  # consumed one per request; then 200
        httpserver.expect_request(GRAPH, method="POST").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            error = {"error": {"message": "Service unavailable", "code": 2}}
            return Response(json.dumps(error), status=status, content_type="application/json")
        body = {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.OUT{next(self.ids)}"}]}
        return Response(json.dumps(body), content_type="application/json")

    @property
    def sent(self) -> list[dict]:
        return [json.loads(request.get_data()) for request, _ in self.httpserver.log]

    def replies(self, to: str | None = None) -> list[dict]:
        """Messages sent to customers (not read receipts), optionally to one number."""
        return [m for m in self.sent if "to" in m and (to is None or m["to"] == to)]


@pytest.fixture
def graph(httpserver) -> Graph:
    return Graph(httpserver)


@pytest.fixture
def wa_app(make_app, httpserver):
    def factory(store=None, **overrides):
        settings = {
            "whatsapp_access_token": TOKEN,
            "whatsapp_phone_number_id": PHONE_ID,
            "whatsapp_api_base": httpserver.url_for("/v21.0"),
            "whatsapp_app_secret": SECRET,
            "whatsapp_backoff": 0.01,
            "whatsapp_timeout": 2,
            "workers_async": False,
            "recover_after_seconds": 0,
        }
        return make_app(store=store or MemoryStore(), **{**settings, **overrides})

    return factory


# --- payloads as Meta sends them ---------------------------------------------------------------

_mids = itertools.count(1)


def notification(*messages: dict, statuses: list[dict] | None = None) -> dict:
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5215500000000", "phone_number_id": PHONE_ID},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Ana"}, "wa_id": m["from"]} for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    change = {"field": "messages", "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [change]}]}


def message(kind: str = "text", frm: str = ANA, mid: str | None = None, **content) -> dict:
    raw = {"from": frm, "id": mid or f"wamid.IN{next(_mids)}", "timestamp": "1732500000"}
    raw["type"] = kind
    raw[kind] = content
    return raw


def text(body: str, frm: str = ANA, mid: str | None = None) -> dict:
    return message("text", frm, mid, body=body)


def list_reply(row_id: str, title: str, frm: str = ANA) -> dict:
    interactive = {"type": "list_reply", "list_reply": {"id": row_id, "title": title}}
    return message("interactive", frm, **interactive)


def status(wamid: str, state: str, errors: list | None = None) -> dict:
    entry = {"id": wamid, "status": state, "timestamp": "1732500001", "recipient_id": ANA}
    if errors:
        entry["errors"] = errors
    return entry


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, payload, secret: str | None = SECRET, headers: dict | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    if secret is not None:
        sent_headers["X-Hub-Signature-256"] = sign(body, secret)
    return client.post("/webhook", data=body, headers=sent_headers)


# --- verification handshake and signatures --------------------------------------------------------


def test_subscription_handshake(wa_app):
    client = wa_app().test_client()
    ok = client.get(
        "/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
    )
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    wrong = client.get("/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
    assert wrong.status_code == 403
    mode = client.get("/webhook?hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1")
    assert mode.status_code == 403
    assert client.get("/webhook").status_code == 403


def test_unset_verify_token_never_verifies(wa_app):
    client = wa_app(whatsapp_verify_token="").test_client()
    assert (
        client.get("/webhook?hub.mode=subscribe&hub.verify_token=&hub.challenge=1").status_code
        == 403
    )


@pytest.mark.parametrize(
    ("secret", "status"),
    [(None, 401), ("someone-elses-secret", 403)],
    ids=["missing-signature", "wrong-signature"],
)
def test_bad_signatures_are_refused_and_nothing_is_processed(wa_app, graph, secret, status):
    app = wa_app()
    response = post(app.test_client(), notification(text("hola")), secret=secret)
    assert response.status_code == status
    assert graph.sent == []
    store = app.extensions["kavak"].store
    assert store.history(ANA) == [] and store.pending_inbound() == []


def test_a_tampered_body_fails_the_signature(wa_app, graph):
    client = wa_app().test_client()
    body = json.dumps(notification(text("hola"))).encode()
    tampered = body.replace(b"hola", b"HOLA")
    response = client.post("/webhook", data=tampered, headers={"X-Hub-Signature-256": sign(body)})
    assert response.status_code == 403 and graph.sent == []


def test_without_an_app_secret_unsigned_posts_are_accepted(wa_app, graph):
    client = wa_app(whatsapp_app_secret="").test_client()
    assert post(client, notification(text("hola")), secret=None).status_code == 200
    assert len(graph.replies(ANA)) == 1


def test_invalid_json_is_400_and_unknown_shapes_are_200(wa_app, graph):
    client = wa_app().test_client()
    assert post(client, b"{not json").status_code == 400
    assert post(client, b"\xff\xfe").status_code == 400
    for shape in ({}, [], {"object": "page"}, {"entry": "x"}, {"entry": [{"changes": [None]}]}):
        response = post(client, shape)
        assert response.status_code == 200, shape
        assert response.get_json()["accepted"] == 0
    assert graph.sent == []


# --- message kinds ------------------------------------------------------------------------------


def test_text_is_answered_once_and_marked_read(wa_app, graph):
    app = wa_app()
    inbound = text("hola", mid="wamid.HELLO")
    response = post(app.test_client(), notification(inbound))
    assert response.status_code == 200 and response.get_json() == {"received": 1, "accepted": 1}
    read, reply = graph.sent
    assert read == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HELLO"}
    assert reply["to"] == ANA and reply["type"] == "text" and "Kavak" in reply["text"]["body"]
    [turn] = app.extensions["kavak"].store.history(ANA)
    assert turn.message_id == "wamid.HELLO" and turn.intent == "greet"
    [out] = app.extensions["kavak"].store.outbound(ANA)
    assert out.wamid == "wamid.OUT2" and out.status == "sent"


def test_redelivery_is_answered_once(wa_app, graph):
    app = wa_app()
    client = app.test_client()
    payload = notification(text("busco un versa", mid="wamid.TWICE"))
    assert post(client, payload).get_json()["accepted"] == 1
    assert post(client, payload).get_json()["accepted"] == 0
    assert len(graph.replies(ANA)) == 1
    assert len(app.extensions["kavak"].store.history(ANA)) == 1
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "kavak_duplicate_messages_total 1.0" in metrics


def test_search_goes_out_as_a_list_and_a_tap_selects_the_car(wa_app, graph):
    app = wa_app()
    client = app.test_client()
    post(client, notification(text("busco un jetta de menos de 400 mil")))
    [listing] = graph.replies(ANA)
    assert listing["type"] == "interactive"
    interactive = listing["interactive"]
    assert interactive["type"] == "list" and "Jetta" in interactive["body"]["text"]
    assert len(interactive["action"]["button"]) <= 20
    rows = [row for section in interactive["action"]["sections"] for row in section["rows"]]
    assert 1 <= len(rows) <= 10
    assert all(len(r["title"]) <= 24 and len(r.get("description", "")) <= 72 for r in rows)
    assert all(r["id"].startswith("car:") for r in rows)
    second = rows[1]
    post(client, notification(list_reply(second["id"], second["title"])))
    picked = graph.replies(ANA)[-1]
    state = app.extensions["kavak"].store.load_state(ANA)
    assert state.selected == int(second["id"].removeprefix("car:"))
    # the chosen car comes with reply buttons (financing, purchase)
    assert picked["type"] == "interactive" and picked["interactive"]["type"] == "button"
    buttons = picked["interactive"]["action"]["buttons"]
    assert 1 <= len(buttons) <= 3 and all(len(b["reply"]["title"]) <= 20 for b in buttons)


def test_a_tap_on_an_older_list_still_selects_that_car(wa_app, graph):
    app = wa_app()
    client = app.test_client()
    post(client, notification(text("busco un jetta")))
    rows = graph.replies(ANA)[-1]["interactive"]["action"]["sections"][0]["rows"]
    post(client, notification(text("busco un versa")))  # a newer list replaces it
    post(client, notification(list_reply(rows[0]["id"], rows[0]["title"])))
    state = app.extensions["kavak"].store.load_state(ANA)
    assert state.selected == int(rows[0]["id"].removeprefix("car:"))


def test_financing_options_come_as_reply_buttons(wa_app, graph):
    client = wa_app().test_client()
    for words in ("busco un versa", "el 1", "¿cómo quedaría financiado?"):
        post(client, notification(text(words)))
    options = graph.replies(ANA)[-1]
    assert options["type"] == "interactive" and options["interactive"]["type"] == "button"
    titles = [b["reply"]["title"] for b in options["interactive"]["action"]["buttons"]]
    assert titles and all("años" in title for title in titles)
    tap = {"id": "plan:48", "title": "3 años"}  # the id decides, not the title
    post(client, notification(message("interactive", type="button_reply", button_reply=tap)))
    body = graph.replies(ANA)[-1]["text"]["body"]
    assert "Mensualidad" in body and "48 meses" in body


@pytest.mark.parametrize(
    ("reply_id", "title", "expected"),
    [
        ("financing", "Quiero saber más", "Planes para"),
        ("purchase", "Ver detalles", "nombre"),
        ("advisor", "Ok", "nombre"),
    ],
)
def test_reply_buttons_are_routed_by_their_id(wa_app, graph, reply_id, title, expected):
    client = wa_app().test_client()
    for words in ("busco un versa", "el 1"):
        post(client, notification(text(words)))
    tap = {"id": reply_id, "title": title}
    post(client, notification(message("interactive", type="button_reply", button_reply=tap)))
    assert expected in _last_text(graph)


def test_template_quick_reply_buttons_are_understood(wa_app, graph):
    client = wa_app().test_client()
    post(client, notification(message("button", text="Sí", payload="advisor")))
    assert "nombre" in _last_text(graph)


def _last_text(graph) -> str:
    last = graph.replies(ANA)[-1]
    if last["type"] == "text":
        return last["text"]["body"]
    return last["interactive"]["body"]["text"]


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("image", {"id": "media1", "mime_type": "image/jpeg"}),
        ("audio", {"id": "media2", "voice": True}),
        ("video", {"id": "media3"}),
        ("document", {"id": "media4", "filename": "ine.pdf"}),
        ("sticker", {"id": "media5"}),
        ("location", {"latitude": 19.43, "longitude": -99.13}),
    ],
)
def test_media_gets_a_polite_text_only_answer(wa_app, graph, kind, content):
    app = wa_app()
    post(app.test_client(), notification(message(kind, **content)))
    [reply] = graph.replies(ANA)
    assert reply["type"] == "text" and "solo entiendo mensajes de texto" in reply["text"]["body"]


def test_contacts_message_gets_the_same_answer(wa_app, graph):
    card = {"name": {"formatted_name": "Luis"}, "phones": [{"phone": LUIS}]}
    raw = {"from": ANA, "id": "wamid.CONTACTS", "timestamp": "1", "type": "contacts",
           "contacts": [card]}  # fmt: skip
    post(wa_app().test_client(), notification(raw))
    [reply] = graph.replies(ANA)
    assert "solo entiendo mensajes de texto" in reply["text"]["body"]


def test_reactions_are_ignored(wa_app, graph):
    client = wa_app().test_client()
    reaction = message("reaction", message_id="wamid.OUT1", emoji="👍")
    assert post(client, notification(reaction)).status_code == 200
    assert graph.sent == []


def test_statuses_are_recorded_on_the_outbound_message_and_never_answered(wa_app, graph):
    app = wa_app()
    client = app.test_client()
    post(client, notification(text("hola")))
    [out] = app.extensions["kavak"].store.outbound(ANA)
    before = len(graph.sent)
    post(client, notification(statuses=[status(out.wamid, "delivered")]))
    assert app.extensions["kavak"].store.outbound(ANA)[0].status == "delivered"
    failure = [{"code": 131047, "title": "Re-engagement message"}]
    post(client, notification(statuses=[status(out.wamid, "failed", failure)]))
    [failed] = app.extensions["kavak"].store.outbound(ANA)
    assert failed.status == "failed" and "131047" in failed.error
    post(client, notification(statuses=[status("wamid.UNKNOWN", "read")]))  # not ours: ignored
    assert len(graph.sent) == before


# --- delivery failures -------------------------------------------------------------------------


def test_graph_retries_then_delivers(wa_app, graph):
    app = wa_app()
    graph.statuses = [200, 500, 429]  # read receipt ok; the reply fails twice, then goes through
    post(app.test_client(), notification(text("hola")))
    assert len(graph.replies(ANA)) == 3
    [out] = app.extensions["kavak"].store.outbound(ANA)
    assert out.status == "sent"


def test_graph_down_is_recorded_as_failed_and_the_job_is_closed(wa_app, graph, caplog):
    app = wa_app(whatsapp_max_retries=1)
    graph.statuses = [503] * 10
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="channel"):
        assert post(client, notification(text("hola", mid="wamid.LOST"))).status_code == 200
    store = app.extensions["kavak"].store
    [out] = store.outbound(ANA)
    assert out.status == "failed" and out.message_id == "wamid.LOST" and "503" in out.error
    assert store.pending_inbound() == []  # answered (and recorded as failed), not retried forever
    assert "kavak_send_failures_total 1.0" in client.get("/metrics").get_data(as_text=True)
    history = client.get(f"/admin/users/{ANA}/history").get_json()
    assert history["outbound"][0]["status"] == "failed"
    assert history["turns"][0]["message_id"] == "wamid.LOST"
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert any("…mid.LOST" in line and "***5678" in line for line in lines)  # masked by field
    assert not any(ANA in line or TOKEN in line for line in lines)


# --- ordering, restarts, stores ----------------------------------------------------------------


def test_one_users_messages_run_in_order_while_users_run_in_parallel(wa_app, graph):
    app = wa_app(workers_async=True)
    client = app.test_client()
    payload = notification(
        text("busco un versa"),
        text("busco un jetta", frm=LUIS),
        text("el 2"),
        text("el 1", frm=LUIS),
    )
    assert post(client, payload).get_json()["accepted"] == 4
    assert app.extensions["kavak"].extras["dispatcher"].wait_idle(10)
    store = app.extensions["kavak"].store
    assert [t.intent for t in store.history(ANA)] == ["search_cars", "select_car"]
    assert [t.intent for t in store.history(LUIS)] == ["search_cars", "select_car"]
    assert store.load_state(ANA).selected == store.load_state(ANA).last_results[1]
    assert store.pending_inbound() == []


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def reopen_store(request, tmp_path):
    """Opens the same durable store again, as a restarted process would."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bot.db'}"
        yield lambda: open_store(url)
    else:
        prefix = f"test:{uuid.uuid4().hex}:"
        first = redis_or_skip(prefix)
        yield lambda: open_store("redis://127.0.0.1:6379/0", redis_prefix=prefix)
        first.clear()


def test_acknowledged_messages_survive_a_crash_and_are_answered_once(wa_app, graph, reopen_store):
    crashed = reopen_store()
    job = {"message_id": "wamid.CRASH", "user": ANA, "kind": "text", "text": "busco un versa",
           "reply_id": None}  # fmt: skip
    assert crashed.enqueue_inbound("wamid.CRASH", ANA, job)  # acknowledged, then the process died
    app = wa_app(store=reopen_store())  # the restart recovers pending jobs
    store = app.extensions["kavak"].store
    assert [turn.message_id for turn in store.history(ANA)] == ["wamid.CRASH"]
    assert len(graph.replies(ANA)) == 1 and store.pending_inbound() == []
    wa_app(store=reopen_store())  # another restart: nothing left to do
    assert len(graph.replies(ANA)) == 1
    # Meta redelivers the same message after the restart: still answered once
    post(app.test_client(), notification(text("busco un versa", mid="wamid.CRASH")))
    assert len(graph.replies(ANA)) == 1


def test_a_crash_after_the_turn_resends_its_reply_once_without_running_it_again(
    wa_app, graph, reopen_store
):
    crashed = wa_app(store=reopen_store(), whatsapp_access_token="")  # a process about to die
    stop_jobs(crashed)
    store = crashed.extensions["kavak"].store
    job = {"message_id": "wamid.HALF", "user": ANA, "kind": "text", "text": "busco un versa"}
    store.enqueue_inbound("wamid.HALF", ANA, job)
    ran = crashed.extensions["kavak"].engine.handle(ANA, "busco un versa", message_id="wamid.HALF")
    assert store.pending_inbound()[0].sending_since is not None  # it died while sending
    # the restart waits until that send cannot still be in flight (0.2 s timeout, no retry)
    restarted = wa_app(store=reopen_store(), whatsapp_timeout=0.2, whatsapp_max_retries=0)
    store = restarted.extensions["kavak"].store
    deadline = time.monotonic() + 10
    while store.pending_inbound() and time.monotonic() < deadline:
        time.sleep(0.05)
    [reply] = graph.replies(ANA)
    assert reply["type"] == "text" and reply["text"]["body"] == ran.reply
    assert len(store.history(ANA)) == 1 and store.pending_inbound() == []  # the turn ran once


def test_a_crash_after_sending_does_not_send_twice(wa_app, graph, reopen_store):
    # a pending job whose reply is on record: another worker finished it while this one was
    # recovering it, or the job was left by a version that recorded replies before closing jobs
    store = reopen_store()
    job = {"message_id": "wamid.SENT", "user": ANA, "kind": "text", "text": "hola"}
    store.enqueue_inbound("wamid.SENT", ANA, job)
    store.record_outbound("wamid.OUT-BEFORE-CRASH", ANA, "wamid.SENT", status="sent")
    restarted = wa_app(store=reopen_store())
    assert graph.replies(ANA) == []
    assert restarted.extensions["kavak"].store.pending_inbound() == []


def test_conversation_state_and_history_survive_a_restart(wa_app, graph, reopen_store):
    client = wa_app(store=reopen_store()).test_client()
    post(client, notification(text("busco un versa")))
    post(client, notification(text("el 1")))
    restarted = wa_app(store=reopen_store())
    post(restarted.test_client(), notification(text("con 20% de enganche a 4 años")))
    store = restarted.extensions["kavak"].store
    assert [t.intent for t in store.history(ANA)] == ["search_cars", "select_car", "financing"]
    assert "Mensualidad" in graph.replies(ANA)[-1]["text"]["body"]


def test_disabled_sending_still_runs_the_turn(make_app):
    app = make_app(workers_async=False)  # no token, no phone id: WhatsApp sending is off
    response = post(app.test_client(), notification(text("hola")), secret=None)
    assert response.status_code == 200
    store = app.extensions["kavak"].store
    assert [t.intent for t in store.history(ANA)] == ["greet"]
    [out] = store.outbound(ANA)
    assert out.status == "failed" and "disabled" in out.error


def test_two_workers_starting_together_recover_a_job_once(wa_app, graph, reopen_store):
    store = reopen_store()
    job = {"message_id": "wamid.BOTH", "user": ANA, "kind": "text", "text": "hola"}
    store.enqueue_inbound("wamid.BOTH", ANA, job)
    claimed = reopen_store()
    assert claimed.claim_inbound("wamid.BOTH", Lease(owner="worker-1", seconds=60))  # took it...
    wa_app(store=reopen_store())  # ...so worker 2 leaves it alone
    assert graph.replies(ANA) == []
