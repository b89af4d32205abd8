"""Acknowledged messages after crashes, slow Graph APIs and restarts, on real server processes:
never lost, never run by two workers at once, recovered without waiting for traffic, and a reply
in flight at a crash sent again at most once."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from scripts.loadtest import GraphStandIn, user_phone
from tests.processes import server_env, signature, text_payload

DELIVERED = {"id": "wamid.out.unknown", "status": "delivered", "recipient_id": "5215500000000"}
STATUS = {"entry": [{"changes": [{"value": {"statuses": [DELIVERED]}}]}]}


@pytest.fixture
def graph() -> GraphStandIn:
    """The load test's Graph API stand-in: concurrent, with a latency, counting what it got."""
    return GraphStandIn()


def _graph_url(graph: GraphStandIn) -> str:
    return f"http://127.0.0.1:{graph.port}/v21.0"


def _post_messages(server, users: int, turn: int = 0, text: str = "hola") -> None:
    """On one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for index in range(users):
        body = json.dumps(text_payload(user_phone(index), f"wamid.in.{index}.{turn}", text))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(body.encode()),
        }
        connection.request("POST", "/webhook", body=body, headers=headers)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
    connection.close()


def _status_traffic(server, seconds: float) -> None:
    """Status webhooks every 0.2 s on new connections, as Meta sends them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.post_webhook(STATUS) == 200
        time.sleep(0.2)


def _wait(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _replies(graph: GraphStandIn, users: int) -> dict[str, int]:
    with graph.lock:
        return {user_phone(index): graph.sends.get(user_phone(index), 0) for index in range(users)}


def test_recovery_never_takes_a_job_another_process_is_still_running(spawn, tmp_path, graph):
    """Two server processes on one store (as gunicorn workers are), one turn thread each, a slow
    Graph API: one has a backlog that outlives the recovery window, the other is idle and gets the
    traffic (status webhooks). Each message runs once, in the process that accepted it."""
    graph.latency_s = 0.3
    users = 8
    env = server_env(tmp_path, _graph_url(graph), TURN_THREADS=1, RECOVER_AFTER_SECONDS=2,
                     WHATSAPP_TIMEOUT=5, WHATSAPP_MAX_RETRIES=0)  # fmt: skip
    busy, idle = spawn.dev(env), spawn.dev(env)
    busy.wait_ready(), idle.wait_ready()
    _post_messages(busy, users)  # ~5 s of work for one turn thread
    while sum(_replies(graph, users).values()) < users:
        _status_traffic(idle, 1)
        assert time.monotonic() < busy.started_at + 60, _replies(graph, users)
    _status_traffic(idle, 1.5)  # a wrongful second run would send now
    assert _replies(graph, users) == dict.fromkeys(map(user_phone, range(users)), 1)
    for index in range(users):
        status_code, history = busy.admin("GET", f"/admin/users/{user_phone(index)}/history")
        assert status_code == 200 and len(history["turns"]) == 1


def test_after_a_restart_messages_are_answered_with_no_new_traffic(spawn, tmp_path, graph):
    """kill -9 while the Graph API is stuck; restart; no webhook arrives: the recovery timer still
    answers every acknowledged message."""
    graph.latency_s = 30  # the replies never come back before the kill
    users = 6
    env = server_env(tmp_path, _graph_url(graph), RECOVER_AFTER_SECONDS=3, WHATSAPP_TIMEOUT=60,
                     WHATSAPP_MAX_RETRIES=0)  # fmt: skip
    server = spawn.dev(env).wait_ready()
    _post_messages(server, users)
    assert _wait(lambda: graph.received == users, 10)  # every turn is stuck in its read receipt
    server.kill()
    graph.latency_s = 0
    restarted = spawn.dev(env, port=server.port).wait_ready()
    assert _wait(lambda: all(_replies(graph, users).values()), 30), _replies(graph, users)
    time.sleep(1)
    assert _replies(graph, users) == dict.fromkeys(map(user_phone, range(users)), 1)
    assert restarted.process.poll() is None


def test_a_reply_in_flight_at_a_crash_is_sent_again_at_most_once(spawn, tmp_path, graph):
    """kill -9 while every reply is in flight, restart, kill -9 again once the resends have
    started, restart: each customer gets the reply, and at most one repeat of it."""
    graph.latency_s = 0.4
    users = 6
    env = server_env(tmp_path, _graph_url(graph), RECOVER_AFTER_SECONDS=1, WHATSAPP_TIMEOUT=1.5,
                     WHATSAPP_MAX_RETRIES=0)  # fmt: skip
    server = spawn.dev(env).wait_ready()
    _post_messages(server, users, text="busco un versa")
    assert _wait(lambda: graph.in_flight == users, 15)  # every reply is being sent
    server.kill()
    in_flight_at_crash, received_at_crash = graph.in_flight, graph.received
    resending = spawn.dev(env, port=server.port).wait_ready()
    # the resends have started (on a slow machine they may not all be in flight at once)
    assert _wait(lambda: graph.received > received_at_crash, 20), graph.received
    resending.kill()
    time.sleep(3)  # (an earlier version took back its 5 s claims at start, and sent a third copy)
    spawn.dev(env, port=server.port).wait_ready()
    time.sleep(1.5)  # start-up recovery and a sweep of the timer have run
    assert _wait(lambda: graph.in_flight == 0, 10)
    replies = _replies(graph, users)
    assert all(1 <= count <= 2 for count in replies.values()), replies
    assert sum(replies.values()) - users <= in_flight_at_crash
