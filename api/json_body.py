"""Request bodies as JSON, with a 400 that says what is wrong (never a 500)."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, request


def parse_json(raw: bytes) -> Any:
    """The body as JSON; a 400 when it is not JSON, not UTF-8, or nested too deeply to parse
    (Python's parser recurses: 100,000 '[' raise RecursionError)."""
    try:
        return json.loads(raw)
    except RecursionError:
        abort(400, description="body is JSON nested too deeply")
    except (ValueError, UnicodeDecodeError):
        abort(400, description="body is not valid JSON")


def json_request() -> Any:
    """The request's JSON body, or None when it was not sent as application/json."""
    if not request.is_json:
        return None
    return parse_json(request.get_data(cache=True))
