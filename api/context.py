"""What the blueprints share, built once by create_app and kept in app.extensions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from dialog.engine import Engine
from dialog.runtime import Runtime
from dialog.store.base import Store
from settings import Settings


@dataclass
class AppContext:
    settings: Settings
    store: Store
    runtime: Runtime
    engine: Engine
    metrics: Any = None
    whatsapp: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


def app_context() -> AppContext:
    return current_app.extensions["kavak"]
