"""The servers as they run: `python server.py` (make run) and gunicorn, as real processes on
127.0.0.1, under what the red team did to them (many connections, slow clients, scrapes)."""

from __future__ import annotations

import json
import socket
import threading

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
    assert set(_one_connection_requests(server.port, _requests(300))) == {200}  # warm up
    fds, rss = server.fds(), server.rss_kb()
    statuses = _one_connection_requests(server.port, _requests(CONNECTIONS))
    assert statuses.count(200) == CONNECTIONS
    print(f"fds {fds} -> {server.fds()}, RSS {rss} -> {server.rss_kb()} kB")
    assert server.fds() <= fds + 4  # was two more per connection (a SQLite connection per thread)
    assert server.rss_kb() - rss < 30_000  # was ~136 KB more per connection
    assert server.request("GET", "/health")[0] == 200
