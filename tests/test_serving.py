"""The servers as they run: `python server.py` (make run) and gunicorn, as real processes on
127.0.0.1, under what the red team did to them (many connections, slow clients, scrapes)."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scripts.loadtest import wait_until_booted
from tests.processes import ADMIN, server_env

CONNECTIONS = 5000


def _one_connection_requests(port: int, requests: list[bytes], threads: int = 16) -> list[int]:
    """Each request on its own new connection (as browsers, probes and scanners do)."""
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(share: list[bytes]) -> None:
        for raw in share:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(raw)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            with lock:
                statuses.append(int(answer.split(b" ", 2)[1]))

    workers = [threading.Thread(target=worker, args=(requests[n::threads],))
               for n in range(threads)]  # fmt: skip
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return statuses


def _requests(count: int) -> list[bytes]:
    health = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    body = json.dumps({"user": "5215500001111", "text": "hola"}).encode()
    chat = (
        b"POST /chat HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nAuthorization: Bearer " + ADMIN.encode() +
        b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )  # fmt: skip
    return [chat if n % 50 == 0 else health for n in range(count)]


def test_the_dev_server_keeps_constant_fds_and_memory_over_many_connections(spawn, tmp_path):
    server = spawn.dev(server_env(tmp_path)).wait_ready()
    assert set(_one_connection_requests(server.port, _requests(100))) == {200}  # warm up
    fds, rss = server.fds(), server.rss_kb()
    statuses = _one_connection_requests(server.port, _requests(CONNECTIONS))
    assert statuses.count(200) == CONNECTIONS
    # A few more may be open at the end (requests' threads still ending, a timer thread's first
    # SQLite connection); a leak was two more per connection: +10,000 here.
    deadline = time.monotonic() + 5
    while server.fds() > fds + 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"fds {fds} -> {server.fds()}, RSS {rss} -> {server.rss_kb()} kB")
    assert server.fds() <= fds + 20
    assert server.rss_kb() - rss < 30_000  # was ~136 KB more per connection
    assert server.request("GET", "/health")[0] == 200


def test_the_dev_server_logs_no_secret_phone_or_message_id_and_keeps_its_files_private(
    spawn, tmp_path
):
    """What `make run` prints at INFO while it is used: no verify token from a query string, no
    phone (an 11-digit US one included) in any field or path, no message id (its head is the
    phone in base64). Its database, WAL and folder are readable by its user only."""
    import base64
    import stat

    from tests.processes import text_payload

    us_phone, mx_phone = "15551234567", "5215512345678"
    message_id = "wamid.HBgN" + base64.b64encode(mx_phone.encode()).decode() + "FQIAEhgUM0VC"
    folder = tmp_path / "var"
    env = server_env(tmp_path, LOG_LEVEL="INFO", WHATSAPP_VERIFY_TOKEN="verify-s3cret",
                     STORE_URL=f"sqlite:///{folder / 'bot.db'}")  # fmt: skip
    server = spawn.dev(env).wait_ready()
    server.request(
        "GET", "/webhook?hub.mode=subscribe&hub.verify_token=verify-s3cret&hub.challenge=7"
    )
    server.request(
        "GET", "/webhook?hub.mode=subscribe&hub.verify_token=wrong-guess&hub.challenge=7"
    )
    assert server.post_webhook(text_payload(mx_phone, message_id, "hola")) == 200
    assert server.post_webhook(text_payload(mx_phone, message_id, "hola")) == 200  # duplicate
    for phone in (us_phone, mx_phone):
        server.admin("POST", "/chat", {"user": phone, "text": "busco un versa"})
        server.admin("GET", f"/admin/users/{phone}/history")
        server.admin("DELETE", f"/admin/users/{phone}", {})
    server.stop()
    log = server.log()
    for secret in ("verify-s3cret", "wrong-guess", us_phone, mx_phone, message_id,
                   base64.b64encode(mx_phone.encode()).decode()):  # fmt: skip
        assert secret not in log, secret
    assert '"logger": "access"' in log and "GET /admin/users/<phone>/history 200" in log
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in [folder, *folder.iterdir()]}
    assert modes["var"] == 0o700 and modes["bot.db.locks"] == 0o700
    assert modes["bot.db"] == modes["bot.db-wal"] == modes["bot.db-shm"] == 0o600


# --- gunicorn as deployed: 2 workers, 8 threads each ------------------------------------------


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    from tests.processes import Spawner

    tmp_path = tmp_path_factory.mktemp("gunicorn")
    spawner = Spawner(tmp_path)
    env = server_env(tmp_path, WEB_CONCURRENCY=2, GUNICORN_THREADS=8, HOME=tmp_path / "home")
    server = spawner.gunicorn(env)
    server.wait_ready()
    wait_until_booted(server.pid, 2, time.monotonic() + 30)
    yield server
    spawner.close()


def _scrape(server, headers: dict | None = None) -> dict[str, float]:
    status, body = server.request("GET", "/metrics", headers=headers or _ADMIN)
    assert status == 200, body
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
CHAT = "kavak_messages_total[('channel', 'chat'), ('kind', 'text')]"


def test_gunicorn_writes_nothing_outside_the_repository(gunicorn):
    """gunicorn 25+ opens a control socket in ~/.gunicorn by default."""
    home = gunicorn.log_path.parent / "home"
    assert not (home / ".gunicorn").exists() and "Control socket" not in gunicorn.log()


def test_metrics_count_every_worker_the_same_on_every_scrape(gunicorn):
    """Each request on a new connection: gunicorn spreads them over its workers."""
    before = _scrape(gunicorn).get(CHAT, 0.0)
    for n in range(40):
        body = json.dumps({"user": f"52155{n:08d}", "text": "hola"}).encode()
        headers = {**_ADMIN, "Content-Type": "application/json"}
        assert gunicorn.request("POST", "/chat", body, headers)[0] == 200
    scrapes = [_scrape(gunicorn).get(CHAT, 0.0) - before for _ in range(8)]
    assert scrapes == [40.0] * 8
    assert gunicorn.request("GET", "/metrics")[0] == 401  # ADMIN_TOKEN is set: behind it


def test_64_slow_clients_do_not_stall_health(gunicorn):
    """Slowloris: 64 connections (4 times the threads) send a request head a byte at a time.
    gunicorn reads requests in its event loop and hands only whole ones to its threads."""
    slow = []
    for _ in range(64):
        sock = socket.create_connection(("127.0.0.1", gunicorn.port), timeout=5)
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        slow.append(sock)
    try:
        for _ in range(5):
            for sock in slow:
                sock.send(b"a")  # still alive, never finished
            status, body = gunicorn.request("GET", "/health", timeout=5)
            assert status == 200 and json.loads(body)["status"] == "ok"
            time.sleep(0.3)
    finally:
        for sock in slow:
            sock.close()
