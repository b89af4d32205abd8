"""The staff console: /console, server-rendered pages in Spanish for sales, operations and the
people who edit the YAML (overview, conversations, leads, messages not understood, answers)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from api.auth import from_this_machine
from api.context import AppContext, app_context
from console.formatting import register_filters
from console.security import (
    SIGN_IN_WINDOW_SECONDS,
    check_csrf,
    configure_sessions,
    csrf_token,
    signed_in,
)

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
PUBLIC = frozenset({"console.static", "console.sign_in_form", "console.sign_in"})
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # conversations and phones: never kept by a browser or a proxy
}


def register(app: Flask, context: AppContext) -> None:
    """Mount /console on the app and start telling LEAD_WEBHOOK_URL of new leads."""
    from console import auth_pages, knowledge_pages, lead_pages, pages, review_pages  # noqa: F401
    from console.notifier import LeadNotifier

    configure_sessions(app, context.settings)
    register_filters(app, context.settings)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(bp)
    notifier = LeadNotifier(context)
    context.extras["lead_notifier"] = notifier
    context.engine.handoff_listeners.append(notifier.notify)


@bp.before_request
def guard():
    """Without ADMIN_TOKEN only this machine; every POST with its CSRF token; then a session."""
    if request.endpoint == "console.static":
        return None
    settings = app_context().settings
    if not settings.admin_token and not from_this_machine():
        abort(403, description="local_only")
    if request.method == "POST":
        check_csrf()
    if request.endpoint in PUBLIC or signed_in(settings):
        return None
    if request.method == "GET":
        return redirect(url_for("console.sign_in_form", next=request.full_path.rstrip("?")))
    abort(401, description="signed_out")


@bp.context_processor
def page_values() -> dict[str, object]:
    settings = app_context().settings
    return {"config_token_set": bool(settings.admin_token), "config_llm": settings.llm_enabled}


@bp.after_request
def security_headers(response):
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.errorhandler(HTTPException)
def problem(error: HTTPException):
    """A 4xx page in Spanish naming what was wrong (error.html words each reason code)."""
    page = render_template("console/error.html", code=error.code, reason=error.description or "")
    response = make_response(page, error.code or 500)
    if error.code == 429:
        response.headers["Retry-After"] = str(SIGN_IN_WINDOW_SECONDS)
    return response
