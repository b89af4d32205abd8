"""The webhook under more than it should hold: a bounded queue of turns per process and at most
1,000 new messages per notification. Beyond either it answers 503, which makes Meta deliver the
notification again later; what it had taken is deduplicated then, so nothing is lost or doubled."""

from __future__ import annotations

import json
import threading
import time

import pytest
from werkzeug import Request, Response

from tests.processes import PHONE_ID, SECRET, TOKEN, signature, text_payload


def _post(client, payload: dict):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body, SECRET)}
    return client.post("/webhook", data=body, headers=headers)


class StuckGraph:
    """A Graph API stand-in that holds every call until released; counts replies per user."""

    def __init__(self, httpserver):
        self.release = threading.Event()
        self.replies: dict[str, int] = {}
        httpserver.expect_request(f"/v21.0/{PHONE_ID}/messages").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        self.release.wait(30)
        body = json.loads(request.get_data())
        if "to" in body:
            self.replies[body["to"]] = self.replies.get(body["to"], 0) + 1
        answer = {"messages": [{"id": f"wamid.{time.time_ns()}"}]}
        return Response(json.dumps(answer), content_type="application/json")


@pytest.fixture
def stuck(httpserver):
    graph = StuckGraph(httpserver)
    yield graph
    graph.release.set()


def test_a_full_queue_answers_503_and_the_redelivery_is_answered(make_app, httpserver, stuck):
    app = make_app(workers_async=True, max_queued_messages=4, whatsapp_app_secret=SECRET,
                   whatsapp_access_token=TOKEN, whatsapp_phone_number_id=PHONE_ID,
                   whatsapp_api_base=httpserver.url_for("/v21.0"))  # fmt: skip
    client = app.test_client()
    users = [f"52155{n:08d}" for n in range(7)]
    payloads = [text_payload(user, f"wamid.Q{n}", "hola") for n, user in enumerate(users)]
    statuses = [_post(client, payload) for payload in payloads]
    assert [r.status_code for r in statuses] == [200] * 4 + [503] * 3
    assert statuses[-1].headers["Retry-After"] and "busy" in statuses[-1].get_json()["reason"]
    store = app.extensions["kavak"].store
    assert len(store.pending_inbound()) == 4  # the refused ones were not taken
    stuck.release.set()
    assert app.extensions["kavak"].extras["dispatcher"].wait_idle(20)
    assert [_post(client, payload).status_code for payload in payloads] == [200] * 7  # Meta again
    assert app.extensions["kavak"].extras["dispatcher"].wait_idle(20)
    assert stuck.replies == dict.fromkeys(users, 1)
    assert store.pending_inbound() == []


def test_more_than_1000_new_messages_in_one_notification_are_taken_over_redeliveries(make_app):
    app = make_app(whatsapp_app_secret=SECRET, workers_async=False)
    client = app.test_client()
    entries = [text_payload(f"52155{n:08d}", f"wamid.MANY{n}", "hola")["entry"][0]
               for n in range(1500)]  # fmt: skip
    payload = {"object": "whatsapp_business_account", "entry": entries}
    first = _post(client, payload)
    assert first.status_code == 503 and first.get_json()["accepted"] == 1000
    assert first.headers["Retry-After"]
    assert client.get("/health").status_code == 200
    second = _post(client, payload)  # Meta's redelivery: the first 1000 are duplicates now
    assert second.status_code == 200 and second.get_json()["accepted"] == 500
    assert _post(client, payload).get_json()["accepted"] == 0  # nothing twice
    store = app.extensions["kavak"].store
    assert len(store.users()) == 1500 and store.pending_inbound() == []


def test_a_customer_over_the_message_rate_is_told_once_to_wait_and_nothing_runs(
    make_app, httpserver, stuck
):
    """MESSAGES_PER_MINUTE per customer: the first message over it gets the YAML's "dame un
    momento", the rest of the minute's messages get nothing and run no turn."""
    stuck.release.set()  # a Graph API that answers at once
    app = make_app(workers_async=False, messages_per_minute=3, whatsapp_app_secret=SECRET,
                   whatsapp_access_token=TOKEN, whatsapp_phone_number_id=PHONE_ID,
                   whatsapp_api_base=httpserver.url_for("/v21.0"))  # fmt: skip
    client = app.test_client()
    ana, luis = "5215512345678", "5215587654321"
    for n in range(7):
        assert (
            _post(client, text_payload(ana, f"wamid.FLOOD{n}", "busco un versa")).status_code == 200
        )
    assert _post(client, text_payload(luis, "wamid.CALM", "hola")).status_code == 200
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    to_ana = [body for body in bodies if body.get("to") == ana]
    assert len(to_ana) == 4  # three answers and one "dame un momento"
    assert "Dame un momento" in to_ana[-1]["text"]["body"]
    store = app.extensions["kavak"].store
    assert len(store.history(ana)) == 3 and store.pending_inbound() == []
    assert stuck.replies[luis] == 1
    assert "kavak_rate_limited_total 4.0" in client.get("/metrics").get_data(as_text=True)
