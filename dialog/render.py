"""Filling Spanish templates: money, km and placeholders, WhatsApp-safe length."""

from __future__ import annotations

import string
from collections.abc import Mapping

WHATSAPP_MAX_CHARS = 4096
_FORMATTER = string.Formatter()


def placeholders_of(template: str) -> set[str]:
    """Names used as {name} in a template; raises ValueError on a malformed template."""
    names = set()
    for _literal, name, _spec, _conversion in _FORMATTER.parse(template):
        if name is not None:
            if not name.isidentifier():
                raise ValueError(f"placeholder {{{name}}} is not a simple name")
            names.add(name)
    return names


class _Blank(dict):
    """Missing placeholders render empty instead of raising (validated at load anyway)."""

    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: Mapping[str, object]) -> str:
    """Render a template; collapse the blank lines left by empty placeholders."""
    text = template.format_map(_Blank(values))
    lines = [line.rstrip() for line in text.split("\n")]
    compact: list[str] = []
    for line in lines:
        if line or (compact and compact[-1]):
            compact.append(line)
    return "\n".join(compact).strip()


def money(amount: float) -> str:
    """313999.0 -> '$313,999'; cents only when present."""
    rounded = round(amount, 2)
    if rounded == int(rounded):
        return f"${int(rounded):,}"
    return f"${rounded:,.2f}"


def thousands(amount: float, suffix: str = "mil") -> str:
    """350000 -> '350 mil', 1200000 -> '1.2 millones' (for sentences, not tables); English
    passes its own `suffix` ('350k')."""
    if amount >= 1_000_000:
        millions = amount / 1_000_000
        text = f"{millions:.1f}".rstrip("0").rstrip(".")
        return f"{text} millón" if text == "1" else f"{text} millones"
    if amount >= 1000:
        return f"{amount / 1000:,.0f}{'' if suffix == 'k' else ' '}{suffix}"
    return f"{amount:,.0f}"


def km(value: int) -> str:
    return f"{value:,} km"


def clip(text: str, limit: int = WHATSAPP_MAX_CHARS) -> str:
    """Keep a reply within WhatsApp's limit, cutting at a line break when possible."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 1)
    cut = cut if cut > limit // 2 else limit - 1
    return text[:cut].rstrip() + "…"
