"""Reliability and security: hostile input, editing mistakes in a running server, faults (store
outage, Redis restart, a killed process), access control and what reaches the logs."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug import Request, Response

from api.logs import JsonFormatter
from dialog.bench import PIECES
from dialog.config import load_dialog_config
from dialog.store import MemoryStore, open_store
from tests.conftest import ROOT
from tests.processes import (
    ADMIN,
    PHONE_ID,
    SECRET,
    TOKEN,
    free_port,
    server_env,
    signature,
    text_payload,
)

CONTRACT = {"reply", "intent", "slots", "results", "selected", "plan", "llm_used"}
GRAPH = f"/v21.0/{PHONE_ID}/messages"


def _signed(client, body: bytes, secret: str = SECRET):
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body, secret)}
    return client.post("/webhook", data=body, headers=headers)


# --- a whole turn under any input -------------------------------------------------------------

HOSTILE = st.one_of(
    st.text(max_size=5000),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "So"]), max_size=2000),
    st.lists(st.sampled_from(PIECES), max_size=600).map(" ".join),
)  # fmt: skip


INTERNAL_ERROR = load_dialog_config().templates["internal_error"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=HOSTILE)
def test_any_message_gets_a_reply_in_the_contract(shared_apps, text):
    client = shared_apps["bundled"].test_client()
    response = client.post("/chat", json={"user": "fuzz", "text": text})
    if not text.strip():
        assert response.status_code == 400
        return
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == CONTRACT
    assert isinstance(body["reply"], str) and body["reply"].strip()
    assert body["llm_used"] is False
    assert body["reply"] != INTERNAL_ERROR, f"a handler crashed on {text!r}"


def test_lone_surrogates_from_json_escapes_are_answered(shared_apps):
    client = shared_apps["bundled"].test_client()
    body = '{"user": "surrogate", "text": "busco un versa \\ud83d y \\udc00"}'
    response = client.post("/chat", data=body, content_type="application/json")
    assert response.status_code == 200 and response.get_json()["slots"]["model"] == "Versa"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["entry", "changes", "value", "messages", "statuses", "from", "id",
                         "type", "text", "body", "interactive", "list_reply"]), inner, max_size=5),
    max_leaves=40,
))  # fmt: skip
def test_any_json_shape_is_a_200_and_never_a_crash(shared_apps, payload):
    client = shared_apps["bundled"].test_client()
    response = client.post("/webhook", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 200


# --- the webhook under hostile input ----------------------------------------------------------


@pytest.fixture
def signed_app(make_app):
    return make_app(whatsapp_app_secret=SECRET, workers_async=False)


def test_a_body_over_1_mb_is_413_and_nothing_runs(signed_app):
    body = json.dumps(text_payload("5215511112222", "wamid.BIG", "x" * 1_100_000)).encode()
    response = _signed(signed_app.test_client(), body)
    assert response.status_code == 413
    assert response.get_json()["error"] == "request_entity_too_large"
    assert signed_app.extensions["kavak"].store.history("5215511112222") == []


def test_a_huge_text_within_the_limit_is_answered_from_its_first_5000_characters(signed_app):
    body = json.dumps(text_payload("5215511113333", "wamid.LONG", "busco un versa " * 60_000))
    assert len(body) < 1_048_576
    assert _signed(signed_app.test_client(), body.encode()).status_code == 200
    [turn] = signed_app.extensions["kavak"].store.history("5215511113333")
    assert turn.intent == "search_cars" and len(turn.text_in) <= 5000


@pytest.mark.parametrize(
    "message",
    [
        {"id": "wamid.NOFROM", "type": "text", "text": {"body": "hola"}},
        {"from": "5215500000001", "type": "text", "text": {"body": "hola"}},
        {"from": "5215500000002", "id": "wamid.NOTEXT", "type": "text"},
        {"from": "5215500000003", "id": "wamid.WEIRD", "type": "hologram", "hologram": {}},
        {"from": ["not", "a", "phone"], "id": {"no": 1}, "type": 7},
    ],
)
def test_missing_fields_and_unknown_types_are_a_clear_200(signed_app, message):
    value = {"messages": [message]}
    body = json.dumps({"entry": [{"changes": [{"value": value}]}]}).encode()
    response = _signed(signed_app.test_client(), body)
    assert response.status_code == 200
    assert response.get_json()["received"] + response.get_json()["accepted"] <= 2


# --- editing mistakes in a running server ----------------------------------------------------


@pytest.fixture
def editable(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    catalog = tmp_path / "catalog.csv"
    shutil.copy(ROOT / "data" / "catalog.csv", catalog)
    return config, catalog


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("dialog.yml", "  greet:\n    handler: reply", "  greet:\n\thandler: reply", "tab"),
        ("dialog.yml", "results_limit: 5", "results_limit: 5\nresults_limit: 6", "duplicate"),
        ("dialog.yml", "handler: reply", "handler: nope.nope", "unknown handler"),
        ("intents.yml", "patterns: ['\\b(opcion", "patterns: ['\\b((opcion", "bad pattern"),
    ],
    ids=["tab", "duplicate-key", "unknown-handler", "bad-regex"],
)
def test_a_broken_yaml_edit_keeps_the_last_good_config(make_app, editable, file, old, new,
                                                       expected):  # fmt: skip
    config, _ = editable
    client = make_app(config_dir=config).test_client()
    path = config / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    response = client.post("/admin/reload", json={})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert re.search(rf"{file}:\d+[: ]", error) and expected in error.lower()  # file:line
    body = client.post("/chat", json={"user": "edit", "text": "busco un versa"}).get_json()
    assert body["intent"] == "search_cars" and body["results"]  # still serving
    assert client.get("/health").get_json()["config_ok"] is False


def test_a_broken_catalog_edit_keeps_the_last_good_catalog(make_app, editable):
    config, catalog = editable
    client = make_app(config_dir=config, catalog_path=catalog).test_client()
    lines = catalog.read_text(encoding="utf-8").splitlines()
    header = lines[0].replace(",price", ",precio")  # a renamed column
    catalog.write_text("\n".join([header, *lines[1:]]) + "\n", encoding="utf-8")
    response = client.post("/admin/reload", json={})
    assert response.status_code == 422
    assert "catalog.csv" in response.get_json()["error"] and "price" in response.get_json()["error"]
    assert client.get("/health").get_json()["catalog_size"] == 249
    lines[5] = lines[5].replace(lines[5].split(",")[2], "barato", 1)  # a non-numeric price
    catalog.write_text("\n".join(lines) + "\n", encoding="utf-8")
    error = client.post("/admin/reload", json={}).get_json()["error"]
    assert "line 6" in error and "price" in error


# --- faults ----------------------------------------------------------------------------------


class OwnRedis:
    """A private redis-server (append-only file on, unless told) that the test can stop and start
    again."""

    def __init__(self, directory: Path, appendonly: bool = True):
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed")
        self.port, self.directory, self.process = free_port(), directory, None
        self.appendonly = "yes" if appendonly else "no"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", str(self.directory), "--appendonly", self.appendonly,
                   "--save", ""]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def forgetful_redis(tmp_path):
    """A redis-server with neither an append-only file nor snapshots: a restart forgets all."""
    server = OwnRedis(tmp_path, appendonly=False)
    server.start()
    yield server
    server.stop()


def test_redis_without_persistence_is_an_error_at_start(make_app, forgetful_redis, own_redis,
                                                        caplog):  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="server"):
        make_app(store=open_store(forgetful_redis.url))
    [error] = [r for r in caplog.records if "persistence" in r.getMessage()]
    assert "appendonly" in error.getMessage() and str(forgetful_redis.port) in error.getMessage()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="server"):
        make_app(store=open_store(own_redis.url))  # appendonly yes: fine
    assert not [r for r in caplog.records if "persistence" in r.getMessage()]


def test_production_refuses_to_start_on_redis_without_persistence(spawn, tmp_path,
                                                                  forgetful_redis):  # fmt: skip
    env = server_env(tmp_path, STORE_URL=forgetful_redis.url, APP_ENV="production")
    server = spawn.dev(env)
    assert server.process.wait(timeout=60) != 0
    log = server.log()
    assert "APP_ENV=production" in log and "appendonly" in log and "Traceback" not in log


def test_a_redis_restart_loses_no_message_and_no_state(make_app, own_redis):
    app = make_app(store=open_store(own_redis.url), workers_async=False)
    client = app.test_client()
    user = "5215522223333"
    first = json.dumps(text_payload(user, "wamid.R1", "busco un versa")).encode()
    assert client.post("/webhook", data=first).status_code == 200
    own_redis.stop()
    second = json.dumps(text_payload(user, "wamid.R2", "el 1")).encode()
    down = client.post("/webhook", data=second)
    assert down.status_code == 503  # not acknowledged: Meta delivers it again
    assert down.get_json()["error"] == "store_unavailable"
    assert client.get("/health").status_code == 503
    chat = client.post("/chat", json={"user": "c", "text": "hola"})
    assert chat.status_code == 503 and "retry" in chat.get_json()["reason"]
    own_redis.start()
    assert client.post("/webhook", data=second).status_code == 200  # Meta's redelivery
    store = app.extensions["kavak"].store
    assert [t.message_id for t in store.history(user)] == ["wamid.R1", "wamid.R2"]
    assert store.load_state(user).selected is not None
    assert client.get("/health").status_code == 200


def test_the_recovery_timer_answers_a_job_whose_turn_failed_mid_way(make_app):
    store = MemoryStore()
    make_app(store=store, workers_async=False, recover_after_seconds=0)
    job = {"message_id": "wamid.MID", "user": "5215544445555", "kind": "text", "text": "hola"}
    store.enqueue_inbound("wamid.MID", job["user"], job)  # acknowledged; its worker then failed
    deadline = time.monotonic() + 10  # no webhook arrives: the timer alone must find it
    while store.pending_inbound() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [t.message_id for t in store.history(job["user"])] == ["wamid.MID"]
    assert store.pending_inbound() == []


class SlowGraph:
    """A Graph API stand-in that can be down (503) or up; counts the replies it accepted."""

    def __init__(self, httpserver):
        self.up = False
        self.accepted: dict[str, int] = {}
        httpserver.expect_request(GRAPH, method="POST").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        if not self.up:
            return Response('{"error": {"code": 2}}', status=503, content_type="application/json")
        if "to" in body:
            self.accepted[body["to"]] = self.accepted.get(body["to"], 0) + 1
        reply = {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.{time.time_ns()}"}]}
        return Response(json.dumps(reply), content_type="application/json")


def test_a_killed_server_answers_every_acknowledged_message_once_after_restart(
    httpserver, tmp_path, spawn
):
    graph = SlowGraph(httpserver)  # down: the turns run, but no reply can go out
    env = server_env(tmp_path, httpserver.url_for("/v21.0"), WHATSAPP_MAX_RETRIES=10,
                     WHATSAPP_BACKOFF=0.5, RECOVER_AFTER_SECONDS=0, LOG_LEVEL="ERROR")  # fmt: skip
    users = [f"52155{n:08d}" for n in range(6)]
    server = spawn.dev(env).wait_ready()
    for n, user in enumerate(users):
        assert server.post_webhook(text_payload(user, f"wamid.K{n}", "busco un versa")) == 200
    time.sleep(0.5)  # the turns are retrying their sends against the dead Graph API
    server.kill()
    assert graph.accepted == {}
    graph.up = True
    restarted = spawn.dev(env, port=server.port).wait_ready()
    deadline = time.monotonic() + 20
    while len(graph.accepted) < len(users) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # any wrongful duplicate would arrive now
    restarted.stop()
    assert graph.accepted == dict.fromkeys(users, 1)


# --- access control and logs -----------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/admin/users"), ("GET", "/admin/users/5215500000000"),
    ("GET", "/admin/users/5215500000000/history"), ("POST", "/admin/users/5215500000000/reset"),
    ("DELETE", "/admin/users/5215500000000"), ("POST", "/admin/prune"),
    ("GET", "/admin/summary"), ("GET", "/admin/handoffs"), ("POST", "/admin/reload"),
    ("POST", "/chat"),
]  # fmt: skip


@pytest.fixture(scope="module")
def guarded_app():
    from server import create_app
    from tests.conftest import stop_jobs, test_settings

    app = create_app(test_settings(admin_token=ADMIN), store=MemoryStore())
    yield app
    stop_jobs(app)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Basic " + ADMIN, ADMIN, "Bearer "]
)
def test_every_protected_route_refuses_a_missing_or_wrong_token(guarded_app, method, path,
                                                                 authorization):  # fmt: skip
    client = guarded_app.test_client()
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.open(path, method=method, headers=headers, json={"hours": 1})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert ADMIN not in response.get_data(as_text=True)


def test_the_right_token_opens_every_protected_route(make_app):
    client = make_app(admin_token=ADMIN).test_client()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    client.post("/chat", json={"user": "5215500000000", "text": "hola"}, headers=headers)
    for method, path in ADMIN_ROUTES:
        body = {"hours": 1} if path.endswith("prune") else {"user": "u", "text": "hola"}
        response = client.open(path, method=method, headers=headers, json=body)
        assert response.status_code in {200, 404}, (method, path, response.status_code)


def test_health_is_public_and_metrics_only_when_metrics_public(make_app):
    client = make_app(admin_token=ADMIN).test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 401
    bearer = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get("/metrics", headers=bearer).status_code == 200
    public = make_app(admin_token=ADMIN, metrics_public=True).test_client()
    assert public.get("/metrics").status_code == 200


def test_phones_and_tokens_never_reach_the_logs(make_app, httpserver, caplog):
    graph = SlowGraph(httpserver)
    graph.up = False  # failures make the channel log the most
    app = make_app(whatsapp_app_secret=SECRET, whatsapp_access_token=TOKEN,
                   whatsapp_phone_number_id=PHONE_ID, whatsapp_max_retries=0,
                   whatsapp_api_base=httpserver.url_for("/v21.0"), admin_token=ADMIN,
                   workers_async=False)  # fmt: skip
    client = app.test_client()
    phone = "5215598765432"
    with caplog.at_level(logging.DEBUG):
        for n, words in enumerate(["hola", "busco un versa", "el 1", "lo quiero", "Ana", "tarde"]):
            body = json.dumps(text_payload(phone, f"wamid.LOG{n}", words)).encode()
            _signed(client, body)
        _signed(client, b"{}", secret="wrong")
        client.get("/admin/users", headers={"Authorization": "Bearer " + "guess"})
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert lines, "the failing sends should have been logged"
    text = "\n".join(lines)
    for secret in (phone, TOKEN, SECRET, ADMIN):
        assert secret not in text
    assert "***5432" in text


def test_a_step_after_the_answer_that_fails_leaves_the_answer(make_app, monkeypatch, caplog):
    """A bug in what runs after the handler (contact data given, a lead's car corrected) is
    logged; the customer still gets the answer, and the conversation goes on."""
    import dialog.engine as engine

    def broken(ctx, reply):
        raise RuntimeError("step bug")

    monkeypatch.setattr(engine, "_lead_car_corrected", broken)
    client = make_app().test_client()
    response = client.post("/chat", json={"user": "steps", "text": "busco un jetta"})
    assert response.status_code == 200
    assert "Jetta" in response.get_json()["reply"]
    assert "broken failed for intent search_cars" in caplog.text
    assert client.post("/chat", json={"user": "steps", "text": "el 1"}).status_code == 200
