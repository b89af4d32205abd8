"""Admin and /chat protection: a bearer token, or loopback only when no token is configured."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from ipaddress import ip_address

from flask import jsonify, request

from api.context import app_context


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ip_address(address).is_loopback
    except ValueError:
        return False


def authorized() -> tuple[bool, str]:
    """(allowed, reason). Constant-time token comparison."""
    token = app_context().settings.admin_token
    if not token:
        if _is_loopback(request.remote_addr):
            return True, ""
        return False, "ADMIN_TOKEN is not set: only requests from this machine are allowed"
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False, "missing bearer token"
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return False, "invalid token"
    return True, ""


def protected(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        allowed, reason = authorized()
        if not allowed:
            response = jsonify(error="unauthorized", reason=reason)
            response.status_code = 401
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return view(*args, **kwargs)

    return wrapper
