"""Jinja filters of the console: local times, masked phones, money, WhatsApp-style text.

Everything a customer wrote is escaped before any markup is added, so `<script>` shows as text.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from markupsafe import Markup, escape

from settings import Settings

# WhatsApp: *bold*, _italic_, ~strikethrough~, ```monospace```; a marker hugs its text
_MONO = re.compile(r"```(.+?)```", re.DOTALL)
_STYLES = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), "s"),
)


def whatsapp(text: str | None) -> Markup:
    """WhatsApp's formatting as HTML: escaped first, then bold, italic, strike, monospace and
    line breaks."""
    html = str(escape(text or ""))
    html = _MONO.sub(r"<code>\1</code>", html)
    for pattern, tag in _STYLES:
        html = pattern.sub(rf"<{tag}>\1</{tag}>", html)
    return Markup(html.replace("\n", "<br>\n"))


def masked(user: str | None) -> str:
    """'5215512345678' -> '•••• 5678'; a short id stays partly visible ('web-7' -> '•••b-7')."""
    text = str(user or "")
    if len(text) <= 4:
        return "•" * len(text)
    return "•••• " + text[-4:]


def money(value: object) -> str:
    try:
        return f"${float(value):,.0f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def register_filters(app: Flask, settings: Settings) -> None:
    zone = ZoneInfo(settings.console_timezone)

    def local(moment: datetime | None, pattern: str = "%d/%m/%Y %H:%M") -> str:
        return moment.astimezone(zone).strftime(pattern) if moment else ""

    app.jinja_env.filters.update(whatsapp=whatsapp, masked=masked, money=money, local=local)
    app.jinja_env.globals["timezone_name"] = settings.console_timezone
