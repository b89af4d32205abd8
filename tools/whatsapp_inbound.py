"""Inbound WhatsApp Cloud API webhooks: signature check and a tolerant notification parser.

Meta retries anything that is not a 200, so the parser never raises: unknown shapes are counted
as ignored and the webhook still answers 200.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pydantic import BaseModel, Field

MAX_MESSAGES_PER_PAYLOAD = 1000
MAX_TEXT_CHARS = 4096 * 4
MEDIA_KINDS = {"image", "audio", "video", "document", "sticker", "location", "contacts"}


class InboundMessage(BaseModel):
    message_id: str
    from_phone: str
    kind: str
    text: str = ""
    reply_id: str | None = None
    timestamp: int | None = None
    name: str | None = None


class StatusUpdate(BaseModel):
    wamid: str
    status: str
    recipient: str = ""
    errors: str | None = None


class Notification(BaseModel):
    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[StatusUpdate] = Field(default_factory=list)
    ignored: int = 0


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """X-Hub-Signature-256 is 'sha256=' + hex HMAC-SHA256 of the raw body; constant-time compare."""
    if not header or not header.startswith("sha256=") or not app_secret:
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def parse_notification(payload: Any) -> Notification:
    notification = Notification()
    for value in _values(payload, notification):
        names = _contact_names(value.get("contacts"))
        for raw in _list(value.get("messages")):
            if len(notification.messages) >= MAX_MESSAGES_PER_PAYLOAD:
                notification.ignored += 1
                continue
            message = _message(raw, names)
            if message is None:
                notification.ignored += 1
            else:
                notification.messages.append(message)
        for raw in _list(value.get("statuses")):
            status = _status(raw)
            if status is None:
                notification.ignored += 1
            else:
                notification.statuses.append(status)
    return notification


def _values(payload: Any, notification: Notification):
    if not isinstance(payload, dict):
        notification.ignored += 1
        return
    for entry in _list(payload.get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, dict) else None):
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                yield value
            else:
                notification.ignored += 1


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _contact_names(contacts: Any) -> dict[str, str]:
    names = {}
    for contact in _list(contacts):
        contact = _dict(contact)
        name = _dict(contact.get("profile")).get("name")
        if isinstance(contact.get("wa_id"), str) and isinstance(name, str):
            names[contact["wa_id"]] = name
    return names


def _message(raw: Any, names: dict[str, str]) -> InboundMessage | None:
    raw = _dict(raw)
    message_id, phone, kind = raw.get("id"), raw.get("from"), raw.get("type")
    if not all(isinstance(value, str) and value for value in (message_id, phone, kind)):
        return None
    text, reply_id = _content(kind, raw)
    timestamp = raw.get("timestamp")
    return InboundMessage(
        message_id=message_id,
        from_phone=phone,
        kind=kind,
        text=text[:MAX_TEXT_CHARS],
        reply_id=reply_id,
        timestamp=int(timestamp) if isinstance(timestamp, str) and timestamp.isdigit() else None,
        name=names.get(phone),
    )


def _content(kind: str, raw: dict[str, Any]) -> tuple[str, str | None]:
    if kind == "text":
        body = _dict(raw.get("text")).get("body")
        return (body if isinstance(body, str) else ""), None
    if kind == "interactive":
        interactive = _dict(raw.get("interactive"))
        reply = _dict(interactive.get("list_reply") or interactive.get("button_reply"))
        title, reply_id = reply.get("title"), reply.get("id")
        return (title if isinstance(title, str) else ""), (
            reply_id if isinstance(reply_id, str) else None
        )
    if kind == "button":  # a quick-reply button of a template message
        button = _dict(raw.get("button"))
        text, payload = button.get("text"), button.get("payload")
        return (text if isinstance(text, str) else ""), (
            payload if isinstance(payload, str) else None
        )
    return "", None


def _status(raw: Any) -> StatusUpdate | None:
    raw = _dict(raw)
    wamid, status = raw.get("id"), raw.get("status")
    if not (isinstance(wamid, str) and isinstance(status, str)):
        return None
    errors = [
        " ".join(str(part) for part in (e.get("code"), e.get("title") or e.get("message")) if part)
        for e in (_dict(item) for item in _list(raw.get("errors")))
    ]
    recipient = raw.get("recipient_id")
    return StatusUpdate(
        wamid=wamid,
        status=status,
        recipient=recipient if isinstance(recipient, str) else "",
        errors="; ".join(errors) or None,
    )
