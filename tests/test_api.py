"""HTTP contract of /chat, /health, /metrics and the admin API, through the Flask test client."""

from __future__ import annotations

import pytest

from dialog.store import MemoryStore

TOKEN = "s3cret-admin-token"
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}  # documentation range: a non-loopback caller


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def test_chat_answers_with_exactly_the_contract_keys(client):
    response = client.post("/chat", json={"user": "u1", "text": "busco un versa"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"reply", "intent", "slots", "results", "selected", "plan", "llm_used"}
    assert body["intent"] == "search_cars"
    assert body["slots"]["model"] == "Versa"
    assert body["results"] and all(isinstance(stock_id, int) for stock_id in body["results"])
    assert body["llm_used"] is False


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"user": "u1"}, "'text' is required"),
        ({"user": "u1", "text": "   "}, "'text' is required"),
        ({"text": "hola"}, "'user' is required"),
        ({"user": "", "text": "hola"}, "'user' is required"),
        ({"user": "u1", "text": 5}, "'text' is required"),
        ({"user": "u1", "text": "x" * 5001}, "longer than"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_chat_rejects_bad_requests_with_a_reason(client, payload, reason):
    response = client.post("/chat", json=payload)
    assert response.status_code == 400
    assert reason in response.get_json()["reason"]


def test_chat_rejects_invalid_json(client):
    response = client.post("/chat", data="{not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_route_and_method_are_json_errors(client):
    assert client.get("/nope").status_code == 404
    response = client.get("/chat")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


def test_health_reports_catalog_store_and_llm(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    assert body["catalog_size"] == 249
    assert body["store_ok"] is True
    assert body["llm_configured"] is False


def test_metrics_count_turns_by_intent(client):
    client.post("/chat", json={"user": "m1", "text": "hola"})
    client.post("/chat", json={"user": "m1", "text": "busco un versa"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'kavak_intents_total{intent="greet"} 1.0' in text
    assert 'kavak_intents_total{intent="search_cars"} 1.0' in text


def test_without_token_admin_and_chat_answer_only_loopback(client):
    assert client.get("/admin/users").status_code == 200
    response = client.get("/admin/users", environ_base=REMOTE)
    assert response.status_code == 401
    assert "only requests from this machine" in response.get_json()["reason"]
    assert (
        client.post("/chat", json={"user": "x", "text": "hola"}, environ_base=REMOTE).status_code
        == 401
    )


def test_with_token_admin_needs_the_right_bearer(make_app):
    client = make_app(admin_token=TOKEN).test_client()
    assert client.get("/admin/users").status_code == 401
    wrong = client.get("/admin/users", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.get_json()["reason"] == "invalid token"
    right = client.get(
        "/admin/users", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=REMOTE
    )
    assert right.status_code == 200


def test_admin_user_lifecycle(client):
    client.post("/chat", json={"user": "5215512345678", "text": "busco un jetta"})
    client.post("/chat", json={"user": "5215512345678", "text": "el 1"})
    users = client.get("/admin/users").get_json()
    assert users["count"] == 1 and users["users"][0]["user"] == "5215512345678"
    state = client.get("/admin/users/5215512345678").get_json()
    assert state["selected"] is not None and state["turns"] == 2
    history = client.get("/admin/users/5215512345678/history").get_json()["turns"]
    assert [turn["text_in"] for turn in history] == ["busco un jetta", "el 1"]
    assert client.post("/admin/users/5215512345678/reset", json={}).get_json()["reset"] is True
    assert client.get("/admin/users/5215512345678").get_json()["selected"] is None
    summary = client.get("/admin/summary").get_json()
    assert summary["turns_by_intent"]["search_cars"] == 1
    assert client.delete("/admin/users/5215512345678", json={}).status_code == 200
    assert client.get("/admin/users/5215512345678").status_code == 404
    assert client.delete("/admin/users/5215512345678", json={}).status_code == 404


def test_admin_prune_validates_hours(client):
    assert client.post("/admin/prune", json={"hours": -1}).status_code == 400
    assert client.post("/admin/prune", json={"hours": "x"}).status_code == 400
    client.post("/chat", json={"user": "old", "text": "hola"})
    assert client.post("/admin/prune", json={"hours": 1}).get_json()["pruned"] == 0


def test_admin_handoffs_list_lead_capture(client):
    for text in ("busco un jetta", "el 1", "lo quiero", "Ana", "55 1234 5678", "en la tarde"):
        client.post("/chat", json={"user": "lead", "text": text})
    handoffs = client.get("/admin/handoffs").get_json()["handoffs"]
    assert len(handoffs) == 1
    assert handoffs[0]["name"] == "Ana" and handoffs[0]["stock_id"] is not None


def test_admin_reload_reports_a_broken_config(make_app, tmp_path):
    import shutil
    from pathlib import Path

    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parent.parent / "config", config)
    client = make_app(config_dir=config).test_client()
    assert client.post("/admin/reload", json={}).get_json() == {"ok": True, "error": ""}
    dialog_yml = config / "dialog.yml"
    dialog_yml.write_text(dialog_yml.read_text().replace("handler: reply", "handler: nope", 1))
    response = client.post("/admin/reload", json={})
    assert response.status_code == 422
    assert "dialog.yml" in response.get_json()["error"]
    assert client.post("/chat", json={"user": "r", "text": "hola"}).status_code == 200


def test_state_survives_an_app_restart_on_sqlite(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    from dialog.store import open_store

    first = make_app(store=open_store(url)).test_client()
    first.post("/chat", json={"user": "r1", "text": "busco un jetta"})
    selected = first.post("/chat", json={"user": "r1", "text": "el 1"}).get_json()["selected"]
    second = make_app(store=open_store(url)).test_client()
    body = second.post(
        "/chat", json={"user": "r1", "text": "con 20% de enganche a 4 años"}
    ).get_json()
    assert body["selected"] == selected
    assert body["plan"]["term_months"] == 48


def test_memory_store_is_the_test_default(app):
    assert isinstance(app.extensions["kavak"].store, MemoryStore)
