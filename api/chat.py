"""POST /chat: the JSON contract of the web test endpoint, the CLI and the conversation tests."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify

from api.auth import protected
from api.context import app_context
from api.json_body import json_request

bp = Blueprint("chat", __name__)
MAX_USER_CHARS = 128
MAX_TEXT_CHARS = 5000


@bp.post("/chat")
@protected
def chat():
    payload = json_request()
    if not isinstance(payload, dict):
        return _bad('the body must be a JSON object like {"user": "...", "text": "..."}')
    user, text = payload.get("user"), payload.get("text")
    if not isinstance(user, str | int) or not str(user).strip():
        return _bad("'user' is required (a non-empty string)")
    if not isinstance(text, str) or not text.strip():
        return _bad("'text' is required (a non-empty string)")
    user = str(user).strip()
    if len(user) > MAX_USER_CHARS:
        return _bad(f"'user' is longer than {MAX_USER_CHARS} characters")
    if len(text) > MAX_TEXT_CHARS:
        return _bad(f"'text' is longer than {MAX_TEXT_CHARS} characters")
    context = app_context()
    started = time.perf_counter()
    result = context.engine.handle(user, text)
    if context.metrics is not None:
        context.metrics.messages.labels(channel="chat", kind="text").inc()
        context.metrics.turn(result, channel="chat", seconds=time.perf_counter() - started)
    return jsonify(result.public())


def _bad(reason: str):
    response = jsonify(error="bad_request", reason=reason)
    response.status_code = 400
    return response
