"""Who may use /admin, /chat and /metrics, and what the server says at start when it is exposed.

Without ADMIN_TOKEN only this machine may: behind a reverse proxy on the same host every request
comes from 127.0.0.1, so a request that carries proxy headers, or a Host that is not this machine
(DNS rebinding), is not local whatever its address."""

from __future__ import annotations

import pytest

from tests.processes import server_env

PROXIED = [
    {"X-Forwarded-For": "198.51.100.7"},
    {"Forwarded": "for=198.51.100.7;proto=https"},
    {"X-Real-IP": "198.51.100.7"},
]


@pytest.fixture
def client(make_app):
    return make_app().test_client()  # no ADMIN_TOKEN


@pytest.mark.parametrize("headers", PROXIED, ids=lambda h: next(iter(h)))
def test_without_a_token_proxied_requests_are_refused(client, headers):
    response = client.get("/admin/users", headers=headers)
    assert response.status_code == 401
    assert (
        "proxy" in response.get_json()["reason"] and "ADMIN_TOKEN" in response.get_json()["reason"]
    )
    deleted = client.delete("/admin/users/5215512345678", headers={**headers,
                            "Content-Type": "application/json"})  # fmt: skip
    assert deleted.status_code == 401
    chat = client.post("/chat", json={"user": "x", "text": "hola"}, headers=headers)
    assert chat.status_code == 401


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "10.0.0.5", "0.0.0.0"])
def test_without_a_token_a_foreign_host_header_is_refused(client, host):
    response = client.get("/admin/users", headers={"Host": host})
    assert response.status_code == 401
    assert "Host" in response.get_json()["reason"]
    chat = client.post("/chat", json={"user": "x", "text": "hola"}, headers={"Host": host})
    assert chat.status_code == 401


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000"])
def test_without_a_token_local_requests_still_work(client, host):
    assert client.get("/admin/users", headers={"Host": host}).status_code == 200


def test_with_a_token_a_proxy_is_fine(make_app):
    client = make_app(admin_token="t0ken").test_client()
    headers = {"Authorization": "Bearer t0ken", "X-Forwarded-For": "198.51.100.7",
               "Host": "bot.example.com"}  # fmt: skip
    assert client.get("/admin/users", headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/admin/prune"), ("POST", "/admin/reload"), ("DELETE", "/admin/users/52155"),
     ("POST", "/admin/users/52155/reset")],
)  # fmt: skip
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_mutating_admin_routes_need_json(client, method, path, content_type):
    """A cross-site form or text/plain fetch cannot send JSON without a CORS preflight."""
    headers = {"Content-Type": content_type} if content_type else {}
    client.post("/chat", json={"user": "52155", "text": "hola"})
    response = client.open(path, method=method, data='{"hours": 1}', headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.get_json()["reason"]
    assert client.get("/admin/users/52155").status_code == 200  # nothing was changed


# --- what the server says when it listens where others can reach it ---------------------------

UNREACHABLE = "192.0.2.1"  # TEST-NET-1: not an address of this machine, so nothing is ever exposed


def test_the_dev_server_logs_an_error_when_exposed_without_secrets(spawn, tmp_path):
    env = server_env(tmp_path, HOST=UNREACHABLE, ADMIN_TOKEN="", WHATSAPP_APP_SECRET="")
    server = spawn.dev(env)
    assert server.process.wait(timeout=60) != 0  # it cannot listen there: nothing is exposed
    log = server.log()
    errors = [line for line in log.splitlines() if '"level": "ERROR"' in line]
    assert any("ADMIN_TOKEN" in line and UNREACHABLE in line for line in errors), log
    assert any("WHATSAPP_APP_SECRET" in line for line in errors), log
    assert "Traceback" not in log


@pytest.mark.parametrize("kind", ["dev", "gunicorn"])
def test_production_refuses_to_start_exposed_without_secrets(spawn, tmp_path, kind):
    env = server_env(tmp_path, HOST=UNREACHABLE, ADMIN_TOKEN="", APP_ENV="production")
    server = getattr(spawn, kind)(env)
    assert server.process.wait(timeout=60) != 0
    log = server.log()
    assert "ADMIN_TOKEN" in log and "APP_ENV=production" in log
    assert "Listening at" not in log and "Traceback" not in log


def test_production_on_loopback_or_with_secrets_starts(spawn, tmp_path):
    env = server_env(tmp_path, APP_ENV="production", HOST="127.0.0.1", ADMIN_TOKEN="")
    server = spawn.dev(env).wait_ready()
    assert server.request("GET", "/health")[0] == 200
