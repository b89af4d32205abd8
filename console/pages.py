"""Overview (figures of the last 14 days), the conversations list and one conversation's turns."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, render_template, request

from api.context import app_context
from console import bp
from console.charts import bar_chart, column_chart
from console.leads import latest_leads
from dialog.store.console import Overview

DAYS = 14
TOP = 10
PAGE_SIZE = 25
MAX_QUERY_CHARS = 100
MAX_USER_CHARS = 128


def window_start(days: int = DAYS) -> tuple[datetime, int]:
    """Local midnight `days - 1` days ago (as UTC) and the zone's offset from UTC in seconds."""
    zone = ZoneInfo(app_context().settings.console_timezone)
    now = datetime.now(zone)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    offset = now.utcoffset() or timedelta()
    return midnight.astimezone(UTC), int(offset.total_seconds())


@bp.get("/")
def overview():
    started = time.perf_counter()
    since, offset = window_start()
    figures = app_context().store.console_overview(since, offset, TOP)
    return render_template(
        "console/overview.html",
        figures=figures,
        charts=_charts(figures),
        rankings=_rankings(figures),
        since=since,
        build_ms=(time.perf_counter() - started) * 1000,
    )


def _charts(figures: Overview) -> dict[str, object]:
    labels = [day.day.strftime("%d") for day in figures.days]

    def chart(values: list[float], written: list[str]):
        titles = [
            f"{day.day:%d/%m}: {text}" for day, text in zip(figures.days, written, strict=True)
        ]
        peak = written[values.index(max(values))] if values else ""
        return column_chart(values, labels, titles, peak=peak)

    days = figures.days
    shares = [round(day.llm_share * 100, 1) for day in days]
    counted = {
        key: [getattr(day, key) for day in days] for key in ("conversations", "messages", "leads")
    }
    charts = {key: chart(values, [str(v) for v in values]) for key, values in counted.items()}
    charts["llm"] = chart(shares, [f"{share:.1f} %" for share in shares])
    return charts


def _rankings(figures: Overview) -> dict[str, object]:
    def ranking(items):
        return bar_chart([(item.name or "—", item.count, str(item.count)) for item in items])

    return {
        "intents": ranking(figures.intents),
        "topics": ranking(figures.topics),
        "makes": ranking(figures.makes),
        "models": ranking(figures.models),
        "no_results": ranking(figures.no_results),
    }


def page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        abort(400, description="bad_page")
    return int(raw)


@bp.get("/conversations")
def conversations():
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY_CHARS:
        abort(400, description="query_too_long")
    page = page_number()
    started = time.perf_counter()
    found = app_context().store.console_conversations(query, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, -(-found.total // PAGE_SIZE))
    if page > pages:
        abort(400, description="bad_page")
    return render_template(
        "console/conversations.html",
        found=found,
        query=query,
        page=page,
        pages=pages,
        build_ms=(time.perf_counter() - started) * 1000,
    )


@bp.get("/conversations/<path:user>")
def transcript(user: str):
    if len(user) > MAX_USER_CHARS:
        abort(400, description="user_too_long")
    context = app_context()
    turns = context.store.history(user, limit=500)
    if not turns and context.store.load_state(user) is None:
        abort(404, description="no_conversation")
    catalog = context.runtime.current.services.catalog
    cars = {stock_id: catalog.get(stock_id) for turn in turns for stock_id in turn.results}
    leads = [lead for lead in latest_leads(context) if lead.handoff.user == user]
    return render_template(
        "console/transcript.html",
        user=user,
        turns=turns,
        cars=cars,
        lead=leads[0] if leads else None,
    )
