"""Shared fixtures: catalogs, apps built per catalog with their own settings and stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from dialog.store import MemoryStore
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED_CATALOG = ROOT.parent / "shared" / "data" / "kavak_sample_catalog.csv"
CATALOGS = {"bundled": ROOT / "data" / "catalog.csv", "kavak": SHARED_CATALOG}


REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip(prefix: str):
    """A RedisStore on the local server under its own key prefix, or a visible skip."""
    from dialog.store.redis_store import RedisStore

    store = RedisStore(REDIS_URL, prefix=prefix)
    if not store.ping():
        pytest.skip(f"no Redis answering at {REDIS_URL} (.ci/run starts one)")
    return store


def catalog_path(name: str) -> Path:
    path = CATALOGS[name]
    if not path.is_file():
        pytest.skip(f"catalog '{name}' not found at {path}")
    return path


def test_settings(**overrides: object) -> Settings:
    """Settings isolated from the developer's environment (no keys, memory store)."""
    values: dict[str, object] = {
        "store_url": "memory://",
        "catalog_path": CATALOGS["bundled"],
        "admin_token": "",
        "whatsapp_access_token": "",
        "whatsapp_phone_number_id": "",
        "whatsapp_app_secret": "",
        "whatsapp_verify_token": "verify-me",
        "openai_api_key": "",
        "log_level": "WARNING",
        "secret_key": "test-console-session-key",  # else one is generated under var/
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def stop_jobs(app: Flask) -> None:
    """What a process's end does to an app: its lease and recovery timer stop."""
    app.extensions["kavak"].extras["jobs"].stop()


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """Build an app with its own settings; the store defaults to a fresh in-memory one."""
    apps: list[Flask] = []

    def factory(catalog: str = "bundled", store=None, llm=None, **overrides: object) -> Flask:
        overrides.setdefault("catalog_path", catalog_path(catalog))
        settings = test_settings(**overrides)
        from server import create_app

        apps.append(create_app(settings, store=store or MemoryStore(), llm=llm))
        return apps[-1]

    yield factory
    for app in apps:
        stop_jobs(app)


@pytest.fixture(scope="session")
def shared_apps() -> Iterator[dict[str, Flask]]:
    """One app per catalog for read-mostly tests; each test uses its own user ids."""
    from server import create_app

    apps = {}
    for name, path in CATALOGS.items():
        if path.is_file():
            apps[name] = create_app(test_settings(catalog_path=path), store=MemoryStore())
    yield apps
    for app in apps.values():
        stop_jobs(app)


@pytest.fixture
def spawn(tmp_path):
    """Start real server processes (`spawn.dev(env)`, `spawn.gunicorn(env)`); all killed after."""
    from tests.processes import Spawner

    spawner = Spawner(tmp_path)
    yield spawner
    spawner.close()
