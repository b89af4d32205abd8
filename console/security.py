"""Who may use /console and how: a signed session cookie after signing in with ADMIN_TOKEN (or,
without a token, this machine only, as /admin), a CSRF token on every POST, few sign-in attempts.

The cookie is HttpOnly, SameSite=Lax, limited to /console, and Secure whenever the request came over
HTTPS: PREFERRED_URL_SCHEME=https, or X-Forwarded-Proto: https from an address in TRUSTED_PROXIES.
The key that signs it is SECRET_KEY, or one generated once and kept in VAR_DIR (mode 0600).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, abort, request, session
from flask.sessions import SecureCookieSessionInterface

from api.auth import from_this_machine
from settings import Settings

log = logging.getLogger("console")
SECRET_FILE = "console_secret_key"
SESSION_HOURS = 12
SIGN_IN_ATTEMPTS = 5  # per client and window; the next one is refused with 429
SIGN_IN_WINDOW_SECONDS = 300
CSRF_FIELD = "csrf_token"


def secret_key(settings: Settings) -> str:
    """SECRET_KEY, else the key kept in VAR_DIR (made on first use; workers racing to make it all
    end up reading the one that was linked first)."""
    if settings.secret_key:
        return settings.secret_key
    folder = Path(settings.var_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / SECRET_FILE
    if not path.exists():
        draft = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # fails if another process linked its key first
            log.info("generated the console's session key in %s", folder)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    os.chmod(path, 0o600)
    return path.read_text().strip()


def client_address(settings: Settings) -> str:
    """The caller's address: the peer, or the last address a trusted proxy saw."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if peer in settings.trusted_proxy_addresses and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        untrusted = [hop for hop in hops if hop not in settings.trusted_proxy_addresses]
        return untrusted[-1] if untrusted else peer
    return peer


def over_https(settings: Settings) -> bool:
    if settings.preferred_url_scheme == "https" or request.scheme == "https":
        return True
    proxy_says = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.remote_addr in settings.trusted_proxy_addresses and proxy_says == "https"


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure per request (HTTPS direct or via a trusted proxy)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def get_cookie_secure(self, app: Flask) -> bool:
        return over_https(self.settings)


def configure_sessions(app: Flask, settings: Settings) -> None:
    app.secret_key = secret_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME="kavak_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        PREFERRED_URL_SCHEME=settings.preferred_url_scheme,
    )
    app.session_interface = ConsoleSessionInterface(settings)


def csrf_token() -> str:
    """This session's token for forms (made on first use)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def check_csrf() -> None:
    """Every POST carries the session's token: 400 without one, 403 with another."""
    given = request.form.get(CSRF_FIELD, "")
    if not given:
        abort(400, description="csrf_missing")
    expected = session.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403, description="csrf_invalid")


def signed_in(settings: Settings) -> bool:
    """With ADMIN_TOKEN: a session that signed in with it. Without: a request from this machine."""
    if not settings.admin_token:
        return from_this_machine()
    return session.get("staff") == token_id(settings)  # a changed ADMIN_TOKEN ends every session


def token_id(settings: Settings) -> str:
    """Which ADMIN_TOKEN a session signed in with (a digest, never the token)."""
    digest = hmac.new(b"kavak-console-session", settings.admin_token.encode(), "sha256")
    return digest.hexdigest()[:24]


def token_matches(settings: Settings, given: str) -> bool:
    return bool(settings.admin_token) and hmac.compare_digest(
        given.strip().encode(), settings.admin_token.encode()
    )


def sign_in(settings: Settings) -> None:
    session.clear()  # a new session: nothing chosen before signing in carries over
    session.permanent = True
    session["staff"] = token_id(settings)
    csrf_token()


def sign_out() -> None:
    session.clear()
