"""Signing in with ADMIN_TOKEN (a few attempts per client and window) and signing out."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from api.context import app_context
from console import bp, security
from console.security import SIGN_IN_ATTEMPTS, SIGN_IN_WINDOW_SECONDS, client_address, signed_in

ATTEMPTS_SCOPE = "console_sign_in"


def _next_page() -> str:
    """Where to go after signing in: a console page, never another site."""
    target = request.values.get("next", "")
    if target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.overview")


@bp.get("/login")
def sign_in_form():
    settings = app_context().settings
    if signed_in(settings):
        return redirect(_next_page())
    return render_template(
        "console/sign_in.html",
        token_set=bool(settings.admin_token),
        next=_next_page(),
        failed=False,
    )


@bp.post("/login")
def sign_in():
    context = app_context()
    settings = context.settings
    if not settings.admin_token:
        return redirect(_next_page())  # this machine needs no sign-in
    attempts = context.store.count_event(
        ATTEMPTS_SCOPE, client_address(settings), SIGN_IN_WINDOW_SECONDS
    )
    if attempts > SIGN_IN_ATTEMPTS:
        abort(429, description="too_many_attempts")
    if not security.token_matches(settings, request.form.get("token", "")):
        page = render_template(
            "console/sign_in.html",
            token_set=True,
            next=_next_page(),
            failed=True,
            left=SIGN_IN_ATTEMPTS - attempts,
        )
        return page, 401
    security.sign_in(settings)
    return redirect(_next_page())


@bp.post("/logout")
def sign_out_now():
    security.sign_out()
    return redirect(url_for("console.sign_in_form"))
