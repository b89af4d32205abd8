"""Structured JSON log lines. Personal data is masked by field, not found by pattern: a phone goes
in `phone` (or `user`, `to`...) and is logged as its last 4 digits, a message id (whose head is
the phone in base64) as its last 8 characters. Free text is scrubbed too, as a backstop: bearer
tokens, `token=` query values, long digit runs and message ids."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

PHONE_FIELDS = frozenset({"phone", "user", "to", "from", "wa_id", "recipient"})
ID_FIELDS = frozenset({"message_id", "wamid"})
ID_TAIL = 8
_DIGIT_RUN = re.compile(r"(?<![\w.])\+?\d[\d\s()-]{6,}\d(?![\w.])")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"']+")
_TOKEN_VALUE = re.compile(r"(?i)([\w.]*(?:token|secret|key)[\w.]*=)[^&\s\"']+")
_MESSAGE_ID = re.compile(r"\bwamid\.[A-Za-z0-9+/=._:-]+")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def mask_phone(phone: str | None) -> str:
    """'5215512345678' -> '***5678'."""
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    return f"***{digits[-4:]}" if digits else ""


def mask_id(message_id: str | None) -> str:
    """'wamid.HBgNNTIx...QjA0QjQ2' -> '…QjA0QjQ2' (the tail is the message's own random part)."""
    text = str(message_id or "")
    return "…" + text[-ID_TAIL:] if text else ""


def scrub(text: str) -> str:
    """Mask tokens, secrets in query strings, digit runs that may be phones and message ids."""
    text = _BEARER.sub(r"\1***", text)
    text = _TOKEN_VALUE.sub(r"\1***", text)
    text = _MESSAGE_ID.sub(lambda match: mask_id(match.group(0)), text)
    return _DIGIT_RUN.sub(lambda match: mask_phone(match.group(0)), text)


def _field(key: str, value: object) -> object:
    if key in PHONE_FIELDS:
        return mask_phone(value)  # type: ignore[arg-type]
    if key in ID_FIELDS:
        return mask_id(value)  # type: ignore[arg-type]
    return scrub(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _field(key, value)
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger to stderr as JSON lines (idempotent: safe for every create_app)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if getattr(handler, "_kavak", False):
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._kavak = True  # type: ignore[attr-defined]
    root.addHandler(handler)
