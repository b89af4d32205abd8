"""Handlers by name: the YAML names a handler, this registry maps the name to a function.

Each handler declares the templates it renders and the placeholders each may use, so a
configuration can be checked before it is served (unknown handler, missing template,
unknown placeholder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialog.turn import Reply, TurnContext

HandlerFunc = Callable[["TurnContext"], "Reply"]


@dataclass(frozen=True)
class HandlerSpec:
    """A registered handler: its function and the templates it needs."""

    name: str
    func: HandlerFunc
    required: dict[str, frozenset[str]] = field(default_factory=dict)
    optional: dict[str, frozenset[str]] = field(default_factory=dict)

    def placeholders(self, template: str) -> frozenset[str] | None:
        """Allowed placeholders of a template, or None when the handler does not use it."""
        if template in self.required:
            return self.required[template]
        return self.optional.get(template)


class HandlerRegistry:
    """Name -> HandlerSpec, filled by the @handler decorator of each handler module."""

    def __init__(self) -> None:
        self._specs: dict[str, HandlerSpec] = {}

    def register(
        self,
        name: str,
        required: dict[str, set[str] | frozenset[str]] | None = None,
        optional: dict[str, set[str] | frozenset[str]] | None = None,
    ) -> Callable[[HandlerFunc], HandlerFunc]:
        def decorate(func: HandlerFunc) -> HandlerFunc:
            self._specs[name] = HandlerSpec(
                name=name,
                func=func,
                required={key: frozenset(value) for key, value in (required or {}).items()},
                optional={key: frozenset(value) for key, value in (optional or {}).items()},
            )
            return func

        return decorate

    def get(self, name: str) -> HandlerSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)


HANDLERS = HandlerRegistry()
handler = HANDLERS.register
