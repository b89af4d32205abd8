"""Admin API (bearer ADMIN_TOKEN, else this machine only): users, history, handoffs, dead letters,
reload."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from api.auth import json_required, refusal
from api.context import app_context
from api.json_body import json_request
from dialog.state import ConversationState

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_USER_CHARS = 128


@bp.before_request
def _guard():
    """Every admin route is protected (401), and changes come as JSON only (415)."""
    return refusal() or json_required()


def _user_or_404(phone: str):
    if len(phone) > MAX_USER_CHARS:
        return None, (jsonify(error="bad_request", reason="user id too long"), 400)
    state = app_context().store.load_state(phone)
    if state is None:
        return None, (jsonify(error="not_found", reason=f"no conversation for user {phone}"), 404)
    return state, None


@bp.get("/users")
def users():
    rows = app_context().store.users()
    return jsonify(users=[row.model_dump(mode="json") for row in rows], count=len(rows))


@bp.get("/users/<phone>")
def user_state(phone: str):
    state, error = _user_or_404(phone)
    return error or jsonify(state.model_dump(mode="json"))


@bp.get("/users/<phone>/history")
def user_history(phone: str):
    limit = request.args.get("limit", default=50, type=int)
    if limit is None or not 1 <= limit <= 1000:
        return jsonify(error="bad_request", reason="limit must be between 1 and 1000"), 400
    store = app_context().store
    turns = store.history(phone, limit=limit)
    sent = store.outbound(phone, limit=limit)  # what went out to WhatsApp and its delivery status
    return jsonify(
        user=phone,
        turns=[turn.model_dump(mode="json") for turn in turns],
        outbound=[record.model_dump(mode="json") for record in sent],
    )


@bp.post("/users/<phone>/reset")
def reset_user(phone: str):
    state, error = _user_or_404(phone)
    if error:
        return error
    context = app_context()
    with context.store.user_lock(phone):
        context.store.save_state(ConversationState(user=phone, turns=state.turns))
    return jsonify(user=phone, reset=True)


@bp.delete("/users/<phone>")
def delete_user(phone: str):
    deleted = app_context().store.delete_user(phone)
    if not deleted:
        return jsonify(error="not_found", reason=f"no conversation for user {phone}"), 404
    return jsonify(user=phone, deleted=True)


@bp.post("/prune")
def prune():
    payload = json_request() or {}
    hours = payload.get("hours", 24) if isinstance(payload, dict) else None
    if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
        return jsonify(error="bad_request", reason="'hours' must be a positive number"), 400
    removed = app_context().store.prune(float(hours))
    return jsonify(pruned=removed, hours=hours)


@bp.get("/summary")
def summary():
    return jsonify(app_context().store.summary().model_dump(mode="json"))


@bp.get("/dead-letters")
def dead_letters():
    """Messages given up on after MAX_JOB_ATTEMPTS failed runs, newest first, with the error."""
    rows = app_context().store.dead_letters()
    return jsonify(dead_letters=[row.model_dump(mode="json") for row in rows], count=len(rows))


@bp.get("/handoffs")
def handoffs():
    rows = app_context().store.handoffs()
    return jsonify(handoffs=[row.model_dump(mode="json") for row in rows], count=len(rows))


@bp.post("/reload")
def reload_config():
    report = app_context().runtime.reload()
    status = 200 if report.ok else 422
    return jsonify(ok=report.ok, error=report.error), status
