"""Admin, /chat and /metrics protection: a bearer token, or this machine only when no token is set.

"This machine" means more than a loopback address: behind nginx, Caddy, cloudflared or ngrok on
the same host every request arrives from 127.0.0.1, so a request carrying proxy headers is not
local, and neither is one whose Host is not localhost (a DNS-rebinding page in a browser)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from ipaddress import ip_address

from flask import jsonify, request

from api.context import app_context

PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
LOCAL_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_TOKEN = "ADMIN_TOKEN is not set: only requests from this machine are allowed"


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ip_address(address).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """'localhost:5000' -> 'localhost'; '[::1]:5000' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _local_only() -> tuple[bool, str]:
    if not _is_loopback(request.remote_addr):
        return False, NO_TOKEN
    proxied = [name for name in PROXY_HEADERS if name in request.headers]
    if proxied:
        return False, f"{NO_TOKEN}; this request came through a proxy ({proxied[0]})"
    if _host_name(request.headers.get("Host", "")) not in LOCAL_HOST_NAMES:
        return False, f"{NO_TOKEN}; its Host header is not localhost, 127.0.0.1 or [::1]"
    return True, ""


def from_this_machine() -> bool:
    """The rule without ADMIN_TOKEN: loopback, no proxy headers, a Host of this machine."""
    return _local_only()[0]


def _bearer(token: str) -> tuple[bool, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False, "missing bearer token"
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return False, "invalid token"
    return True, ""


def authorized() -> tuple[bool, str]:
    """(allowed, reason). Constant-time token comparison."""
    token = app_context().settings.admin_token
    return _bearer(token) if token else _local_only()


def refusal() -> object | None:
    """The 401 response for a caller who may not use a protected route, else None."""
    allowed, reason = authorized()
    if allowed:
        return None
    response = jsonify(error="unauthorized", reason=reason)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def json_required() -> object | None:
    """A 415 for a change sent as anything but JSON: a cross-site form or text/plain fetch can
    reach a local server from a browser without a preflight, a JSON one cannot."""
    if request.method not in MUTATING_METHODS or request.is_json:
        return None
    response = jsonify(error="unsupported_media_type",
                       reason="send changes with Content-Type: application/json")  # fmt: skip
    response.status_code = 415
    return response


def protected(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        return refusal() or view(*args, **kwargs)

    return wrapper
