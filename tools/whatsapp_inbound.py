"""Inbound WhatsApp Cloud API webhooks: signature check and a tolerant notification parser.

Meta retries anything that is not a 200, so the parser never raises: each message and status is
read on its own, and one that is unusable (an id or phone that is not one, a lone surrogate, a
timestamp of "²") is counted as ignored while the others go through.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationError

MAX_TEXT_CHARS = 4096 * 4
MAX_ID_CHARS = 256
MEDIA_KINDS = {"image", "audio", "video", "document", "sticker", "location", "contacts"}
# A wa_id is digits; Meta's ids are base64-like. ASCII only: "²".isdigit() is True in Python.
PHONE = re.compile(r"[0-9]{5,20}")
MESSAGE_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,256}")
KIND = re.compile(r"[a-z_]{1,32}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")


def clean_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Text a store can encode: lone surrogates (JSON allows "\\ud83d" alone) become U+FFFD."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"not a {what}")
        return value

    return AfterValidator(check)


MessageId = Annotated[str, _matching(MESSAGE_ID, "message id")]
Phone = Annotated[str, _matching(PHONE, "phone number")]
Kind = Annotated[str, _matching(KIND, "message type")]
Text = Annotated[str, AfterValidator(clean_text)]
ShortText = Annotated[str, AfterValidator(lambda text: clean_text(text, 500))]


class InboundMessage(BaseModel):
    message_id: MessageId
    from_phone: Phone
    kind: Kind
    text: Text = ""
    reply_id: Text | None = None
    timestamp: int | None = None
    name: Text | None = None


class StatusUpdate(BaseModel):
    wamid: MessageId
    status: ShortText
    recipient: ShortText = ""
    errors: ShortText | None = None


class Notification(BaseModel):
    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[StatusUpdate] = Field(default_factory=list)
    ignored: int = 0


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """X-Hub-Signature-256 is 'sha256=' + hex HMAC-SHA256 of the raw body; constant-time compare
    of bytes (a header with non-ASCII characters is simply wrong, not an error)."""
    if not header or not header.startswith("sha256=") or not app_secret:
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest().encode()
    given = header[len("sha256=") :].strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


def parse_notification(payload: Any) -> Notification:
    notification = Notification()
    for value in _values(payload, notification):
        names = _contact_names(value.get("contacts"))
        for raw in _list(value.get("messages")):
            _keep(notification.messages, _message(raw, names), notification)
        for raw in _list(value.get("statuses")):
            _keep(notification.statuses, _status(raw), notification)
    return notification


def _keep(items: list, item: BaseModel | None, notification: Notification) -> None:
    if item is None:
        notification.ignored += 1
    else:
        items.append(item)


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
    try:
        return InboundMessage(
            message_id=message_id,
            from_phone=phone,
            kind=kind,
            text=text,
            reply_id=reply_id[:MAX_ID_CHARS] if reply_id else reply_id,
            timestamp=_timestamp(timestamp),
            name=names.get(phone),
        )
    except ValidationError:
        return None


def _timestamp(value: Any) -> int | None:
    """Unix seconds as Meta sends them (a string of ASCII digits); anything else is unknown."""
    if isinstance(value, str) and TIMESTAMP.fullmatch(value):
        return int(value)
    return None


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
    try:
        return StatusUpdate(
            wamid=wamid,
            status=status,
            recipient=recipient if isinstance(recipient, str) else "",
            errors="; ".join(errors) or None,
        )
    except ValidationError:
        return None
