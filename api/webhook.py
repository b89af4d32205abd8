"""GET/POST /webhook: the WhatsApp Cloud API entry point.

POST is verified (X-Hub-Signature-256 when an app secret is set), parsed, deduplicated by message id
in the store and acknowledged at once; turns run on the dispatcher, one user at a time, in order.
When this process holds MAX_QUEUED_MESSAGES jobs, or a notification brings more than
MAX_NEW_MESSAGES new ones, the rest is refused with a 503: Meta delivers the notification again
later, and what was taken is a duplicate then.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, jsonify, request

from api.context import app_context
from api.json_body import parse_json
from dialog.store import STORE_UNAVAILABLE
from tools.whatsapp_inbound import parse_notification, verify_signature

bp = Blueprint("webhook", __name__)
log = logging.getLogger("webhook")
MAX_NEW_MESSAGES = 1000  # per notification
RETRY_AFTER_SECONDS = 30


@bp.get("/webhook")
def verify():
    """Meta's subscription handshake: echo hub.challenge when the verify token matches."""
    expected = app_context().settings.whatsapp_verify_token
    mode = request.args.get("hub.mode", "")
    token = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge", "")
    if mode == "subscribe" and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return challenge, 200, {"Content-Type": "text/plain"}
    return jsonify(error="forbidden", reason="verification token mismatch"), 403


@bp.post("/webhook")
def receive():
    context = app_context()
    raw = request.get_data(cache=False)
    secret = context.settings.whatsapp_app_secret
    if secret:
        header = request.headers.get("X-Hub-Signature-256")
        if not header:
            return jsonify(error="unauthorized", reason="missing X-Hub-Signature-256"), 401
        if not verify_signature(raw, header, secret):
            return jsonify(error="forbidden", reason="invalid signature"), 403
    notification = parse_notification(parse_json(raw))
    for status in notification.statuses:
        context.store.update_outbound_status(
            status.wamid, status.status, error=status.errors or None
        )
    accepted, full = _accept_all(context, notification.messages)
    if notification.ignored:
        log.info("ignored %d unusable entries in one notification", notification.ignored)
        if context.metrics is not None:
            context.metrics.malformed.inc(notification.ignored)
    if full:
        return _busy(len(notification.messages), accepted)
    return jsonify(received=len(notification.messages), accepted=accepted), 200


def _accept_all(context, messages: list) -> tuple[int, bool]:
    """(new messages taken, whether some were left for Meta to deliver again)."""
    jobs, accepted = context.extras["jobs"], 0
    for message in messages:
        if accepted >= MAX_NEW_MESSAGES or not jobs.has_room():
            return accepted, True
        accepted += _accept_isolated(context, message)
    return accepted, False


def _busy(received: int, accepted: int):
    log.warning(
        "queue full or notification too large: %d of %d messages left for redelivery",
        received - accepted, received,
    )  # fmt: skip
    reason = "busy: the messages not accepted will be taken when Meta delivers them again"
    response = jsonify(error="busy", reason=reason, received=received, accepted=accepted)
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _accept_isolated(context, message) -> bool:
    """One message's failure is that message's: the others of the notification go through (a
    500 would make Meta deliver all of them again). A store outage is everyone's: 503."""
    try:
        return _accept(context, message)
    except STORE_UNAVAILABLE:
        raise
    except Exception:
        log.exception("message could not be accepted", extra={"message_id": message.message_id})
        if context.metrics is not None:
            context.metrics.malformed.inc()
        return False


def _accept(context, message) -> bool:
    """Store the message as this process's job (deduplicated) and queue it."""
    if message.kind == "reaction":
        return False
    job = {
        "message_id": message.message_id,
        "user": message.from_phone,
        "kind": message.kind,
        "text": message.text,
        "reply_id": message.reply_id,
    }
    if not context.extras["jobs"].accept(job):
        if context.metrics is not None:
            context.metrics.duplicates.inc()
        log.info("duplicate message ignored", extra={"message_id": message.message_id})
        return False
    if context.metrics is not None:
        context.metrics.messages.labels(channel="whatsapp", kind=message.kind).inc()
    return True
