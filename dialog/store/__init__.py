"""Conversation stores behind one interface: memory (tests), SQLite (default), Redis (scale-out)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from dialog.store.base import (
    DeadLetter,
    Handoff,
    InboundJob,
    Lease,
    OutboundRecord,
    Store,
    StoreSummary,
    Turn,
    UserSummary,
)
from dialog.store.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent.parent
# What a backend raises when it cannot be reached or written: the app answers 503, not 500.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (sqlite3.Error,)
try:
    import redis

    STORE_UNAVAILABLE += (redis.exceptions.RedisError,)
except ImportError:  # pragma: no cover - redis is in requirements.txt
    pass
SCHEMES = "memory://, sqlite:///relative/file.db, sqlite:////absolute/file.db, redis://host:6379/0"


class StoreError(ValueError):
    """A STORE_URL that cannot be used."""


def open_store(url: str, redis_prefix: str | None = None) -> Store:
    """memory:// | sqlite:///var/bot.db (relative to the project) | redis://host:port/db[?prefix=]"""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from dialog.store.sqlite import SQLiteStore

        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise StoreError(f"STORE_URL {url!r} has no file path; use e.g. sqlite:///var/bot.db")
        file = Path(path)
        return SQLiteStore(file if file.is_absolute() else ROOT / file)
    if scheme in ("redis", "rediss", "unix"):
        from dialog.store.redis_store import RedisStore

        parts = urlsplit(url)
        prefix = parse_qs(parts.query).get("prefix", [redis_prefix or "kavak:"])[0]
        return RedisStore(urlunsplit(parts._replace(query="")), prefix=prefix)
    raise StoreError(f"STORE_URL scheme {scheme or url!r} is not supported; use one of: {SCHEMES}")


__all__ = [
    "DeadLetter",
    "Handoff",
    "InboundJob",
    "Lease",
    "MemoryStore",
    "OutboundRecord",
    "Store",
    "StoreError",
    "StoreSummary",
    "Turn",
    "UserSummary",
    "open_store",
]
