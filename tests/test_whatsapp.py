"""WhatsApp Cloud API client over real HTTP against a local Graph API stand-in, and the parser."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest
from werkzeug import Request, Response

from tools.whatsapp import Button, ListRow, WhatsAppClient, split_text
from tools.whatsapp_inbound import parse_notification, verify_signature

PHONE_ID = "1234567890"
TOKEN = "EAAG-test-token"
PATH = f"/v21.0/{PHONE_ID}/messages"


def _ok(wamid: str = "wamid.OUT") -> dict:
    return {"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
            "messages": [{"id": wamid}]}  # fmt: skip


@pytest.fixture
def client(httpserver):
    graph = WhatsAppClient(
        api_base=httpserver.url_for("/v21.0"), phone_number_id=PHONE_ID, access_token=TOKEN,
        timeout=2, max_retries=2, backoff=0.01,
    )  # fmt: skip
    yield graph
    graph.close()


def _sent(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def test_text_message_exact_json_and_bearer(httpserver, client):
    httpserver.expect_request(
        PATH, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json(_ok("wamid.1"))
    [result] = client.send_text("5215512345678", "¡Hola! 👋")
    assert result.ok and result.wamid == "wamid.1" and result.attempts == 1
    assert _sent(httpserver) == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5215512345678",
            "type": "text",
            "text": {"preview_url": False, "body": "¡Hola! 👋"},
        }
    ]


def test_long_text_is_split_at_4096_characters(httpserver, client):
    httpserver.expect_request(PATH, method="POST").respond_with_json(_ok())
    text = "\n".join(f"línea {n:04d} " + "x" * 80 for n in range(100))  # ~9,000 characters
    results = client.send_text("521", text)
    bodies = [body["text"]["body"] for body in _sent(httpserver)]
    assert len(results) == len(bodies) == 3 and all(len(body) <= 4096 for body in bodies)
    assert "\n".join(bodies) == text
    assert split_text("corto") == ["corto"]


def test_list_message_respects_whatsapp_limits(httpserver, client):
    httpserver.expect_request(PATH, method="POST").respond_with_json(_ok())
    rows = [
        ListRow(
            id=f"car:{n}", title=f"{n}. Volkswagen Jetta 2019 Comfortline", description="d" * 90
        )
        for n in range(12)
    ]
    assert client.send_list("521", "Encontré 12 autos", "Ver todos los autos disponibles", rows).ok
    [body] = _sent(httpserver)
    interactive = body["interactive"]
    assert body["type"] == "interactive" and interactive["type"] == "list"
    assert interactive["body"] == {"text": "Encontré 12 autos"}
    action = interactive["action"]
    assert len(action["button"]) <= 20
    [section] = action["sections"]
    assert len(section["rows"]) == 10
    first = section["rows"][0]
    assert first["id"] == "car:0" and len(first["title"]) <= 24 and len(first["description"]) <= 72
    assert first["title"].endswith("…")


def test_reply_buttons(httpserver, client):
    httpserver.expect_request(PATH, method="POST").respond_with_json(_ok())
    buttons = [Button(id=f"plan:{m}", title=f"{m // 12} años") for m in (36, 48, 60, 72)]
    assert client.send_buttons("521", "¿Qué plazo prefieres?", buttons).ok
    [body] = _sent(httpserver)
    assert body["interactive"]["type"] == "button"
    assert body["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "plan:36", "title": "3 años"}},
        {"type": "reply", "reply": {"id": "plan:48", "title": "4 años"}},
        {"type": "reply", "reply": {"id": "plan:60", "title": "5 años"}},
    ]


def test_mark_read(httpserver, client):
    httpserver.expect_request(PATH, method="POST").respond_with_json({"success": True})
    assert client.mark_read("wamid.IN").ok
    assert _sent(httpserver) == [
        {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"}
    ]


def test_retries_500_then_succeeds(httpserver, client):
    httpserver.expect_ordered_request(PATH).respond_with_json({"error": {"message": "boom"}}, 500)
    httpserver.expect_ordered_request(PATH).respond_with_json(_ok("wamid.2"))
    [result] = client.send_text("521", "hola")
    assert result.ok and result.wamid == "wamid.2" and result.attempts == 2


def test_429_honours_retry_after(httpserver, client):
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"error": {"message": "rate"}}, 429, headers={"Retry-After": "0.2"}
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(_ok())
    started = time.perf_counter()
    [result] = client.send_text("521", "hola")
    assert result.ok and time.perf_counter() - started >= 0.2


def test_client_errors_are_not_retried(httpserver, client):
    error = {"error": {"message": "(#131030) Recipient phone number not in allowed list"}}
    httpserver.expect_request(PATH).respond_with_json(error, 400)
    [result] = client.send_text("521", "hola")
    assert not result.ok and result.status_code == 400 and result.attempts == 1
    assert "131030" in result.error and len(httpserver.log) == 1


def test_persistent_failure_gives_up_after_the_retries(httpserver, client):
    httpserver.expect_request(PATH).respond_with_json({"error": {"message": "down"}}, 503)
    [result] = client.send_text("521", "hola")
    assert not result.ok and result.attempts == 3 and len(httpserver.log) == 3


def test_timeout_is_a_failed_send_not_an_exception(httpserver):
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(3)
        return Response(json.dumps(_ok()), content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(slow)
    graph = WhatsAppClient(httpserver.url_for("/v21.0"), PHONE_ID, TOKEN, timeout=0.1,
                           max_retries=1, backoff=0.01)  # fmt: skip
    [result] = graph.send_text("521", "hola")
    assert not result.ok and result.attempts == 2 and "Timeout" in result.error
    release.set()
    deadline = time.monotonic() + 3
    while len(httpserver.log) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_disabled_client_makes_no_request(httpserver):
    graph = WhatsAppClient(httpserver.url_for("/v21.0"), phone_number_id="", access_token="")
    [result] = graph.send_text("521", "hola")
    assert not graph.enabled and not result.ok and result.error == "whatsapp disabled"
    assert len(httpserver.log) == 0


# --- inbound -----------------------------------------------------------------------------------


def _signed(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signature_verification():
    body = b'{"object":"whatsapp_business_account"}'
    assert verify_signature(body, _signed(body, "s3cret"), "s3cret")
    assert not verify_signature(body, _signed(body, "other"), "s3cret")
    assert not verify_signature(body + b" ", _signed(body, "s3cret"), "s3cret")
    assert not verify_signature(body, _signed(body, "s3cret")[7:], "s3cret")
    assert not verify_signature(body, None, "s3cret")


def notification(*messages: dict, statuses: list | None = None) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5215550000000", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5215512345678"}],
        "messages": list(messages),
    }
    if statuses is not None:
        value["statuses"] = statuses
    change = {"field": "messages", "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [change]}]}


def message(kind: str, **content) -> dict:
    return {"from": "5215512345678", "id": f"wamid.{kind}", "timestamp": "1732500000",
            "type": kind, **content}  # fmt: skip


def test_parses_each_message_kind():
    parsed = parse_notification(
        notification(
            message("text", text={"body": "busco un jetta"}),
            message(
                "interactive",
                interactive={
                    "type": "list_reply",
                    "list_reply": {"id": "car:123", "title": "1. VW Jetta"},
                },
            ),
            message("button", button={"text": "Sí", "payload": "yes"}),
            message("image", image={"id": "media1", "mime_type": "image/jpeg"}),
            message("reaction", reaction={"message_id": "wamid.x", "emoji": "👍"}),
            message("location", location={"latitude": 19.4, "longitude": -99.1}),
        )
    )
    kinds = {m.kind: m for m in parsed.messages}
    assert kinds["text"].text == "busco un jetta" and kinds["text"].name == "Ana"
    assert kinds["text"].timestamp == 1732500000
    assert kinds["interactive"].reply_id == "car:123"
    assert kinds["button"].reply_id == "yes" and kinds["button"].text == "Sí"
    assert set(kinds) == {"text", "interactive", "button", "image", "reaction", "location"}


def test_parses_statuses_with_errors():
    parsed = parse_notification(
        notification(
            statuses=[
                {"id": "wamid.OUT", "status": "delivered", "recipient_id": "521"},
                {
                    "id": "wamid.BAD",
                    "status": "failed",
                    "recipient_id": "521",
                    "errors": [{"code": 131047, "title": "Re-engagement message"}],
                },
            ]
        )
    )
    assert [(s.wamid, s.status) for s in parsed.statuses] == [
        ("wamid.OUT", "delivered"),
        ("wamid.BAD", "failed"),
    ]
    assert parsed.statuses[1].errors == "131047 Re-engagement message"


@pytest.mark.parametrize(
    "payload",
    [None, [], "texto", 42, {"entry": None}, {"entry": [None, 1, {"changes": [None, {}]}]},
     {"entry": [{"changes": [{"value": {"messages": [{"id": None}], "statuses": [{}]}}]}]}],
)  # fmt: skip
def test_garbage_shapes_never_raise(payload):
    parsed = parse_notification(payload)
    assert parsed.messages == [] and parsed.statuses == []


def test_thousands_of_messages_are_all_read():
    """The parser drops none: the webhook takes 1,000 and answers 503 for the rest to come again
    (tests/test_backpressure.py)."""
    many = [message("text", text={"body": "hola"}) | {"id": f"wamid.{n}"} for n in range(1500)]
    parsed = parse_notification(notification(*many))
    assert len(parsed.messages) == 1500 and parsed.ignored == 0
