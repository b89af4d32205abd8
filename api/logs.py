"""Structured JSON log lines; phone numbers masked to their last 4 digits, tokens never logged."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

_PHONE = re.compile(r"(?<!\d)(\+?\d[\d ]{6,}\d)(\d{4})(?!\d)")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"']+")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def mask_phone(phone: str | None) -> str:
    """'5215512345678' -> '***5678'."""
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    return f"***{digits[-4:]}" if digits else ""


def scrub(text: str) -> str:
    """Mask anything that looks like a phone number or a bearer token inside free text."""
    text = _BEARER.sub(r"\1***", text)
    return _PHONE.sub(lambda match: "***" + match.group(2), text)


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
                entry[key] = mask_phone(value) if key in {"phone", "user"} else value
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
