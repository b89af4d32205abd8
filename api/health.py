"""GET /health (public): is the assistant able to answer?"""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.context import app_context

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    context = app_context()
    store_ok = context.store.ping()
    bundle = context.runtime.current
    body = {
        "status": "ok" if store_ok else "degraded",
        "catalog_size": len(bundle.services.catalog),
        "store_ok": store_ok,
        "llm_configured": bundle.services.llm_enabled,
        "config_ok": context.runtime.last_report.ok,
    }
    return jsonify(body), 200 if store_ok else 503
