"""What the staff console reads from a store: figures per day, conversations, turns to review.

Here in plain Python over any store's turns (memory, Redis); the SQLite store answers the same
questions with indexed SQL (dialog/store/sqlite_console.py). Both give the same results.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from dialog.store.base import Handoff, Turn
from nlu.text import fold

if TYPE_CHECKING:
    from dialog.store.base import Store

FALLBACK_INTENTS = ("fallback", "out_of_scope")
SEARCH_INTENT = "search_cars"
RANKED = ("intent", "topic", "make", "model", "no_result")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DayFigures(BaseModel):
    day: date
    conversations: int = 0  # customers who wrote that day
    messages: int = 0
    leads: int = 0  # customers handed to an advisor that day
    llm: int = 0  # turns the LLM answered

    @property
    def llm_share(self) -> float:
        return self.llm / self.messages if self.messages else 0.0


class Counted(BaseModel):
    name: str
    count: int


class Overview(BaseModel):
    days: list[DayFigures]
    intents: list[Counted] = Field(default_factory=list)
    topics: list[Counted] = Field(default_factory=list)
    makes: list[Counted] = Field(default_factory=list)
    models: list[Counted] = Field(default_factory=list)
    searches: int = 0
    no_results: list[Counted] = Field(default_factory=list)  # by make and model searched
    no_result_total: int = 0
    latency_p50: float | None = None
    latency_p99: float | None = None
    latency_count: int = 0


class ConversationRow(BaseModel):
    user: str
    last_text: str = ""
    last_at: datetime
    last_intent: str | None = None
    last_topic: str | None = None
    turns: int = 0
    lead: bool = False


class ConversationPage(BaseModel):
    rows: list[ConversationRow]
    total: int


def day_of(at: datetime, utc_offset: int) -> date:
    """The local calendar day of a moment, for a zone `utc_offset` seconds ahead of UTC."""
    return (at.astimezone(UTC) + timedelta(seconds=utc_offset)).date()


def needs_review(turn: Turn, below_score: float) -> bool:
    """Fell to the fallback or out_of_scope, or the nearest examples decided it unconvincingly."""
    if turn.intent in FALLBACK_INTENTS or turn.intent is None:
        return True
    return turn.stage == "examples" and (turn.score or 0.0) < below_score


def top_of(counter: Counter[str], top: int) -> list[Counted]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [Counted(name=name, count=count) for name, count in ranked[:top]]


def car_searched(turn: Turn) -> str:
    """'Volkswagen Jetta', 'Nissan', or '' for a search without make or model."""
    make, model = (str(turn.slots.get(key) or "") for key in ("make", "model"))
    if model.lower().startswith(make.lower()):  # "Mazda 3" already names its make
        return model or make
    return f"{make} {model}".strip()


def empty_days(since: datetime, utc_offset: int, now: datetime | None = None) -> list[DayFigures]:
    first, last = day_of(since, utc_offset), day_of(now or datetime.now(UTC), utc_offset)
    return [DayFigures(day=first + timedelta(days=n)) for n in range((last - first).days + 1)]


def latency_bucket(milliseconds: float) -> float:
    """A latency to 2 significant digits (0.43, 1.2, 230): figures kept per hour stay few."""
    return float(f"{milliseconds:.2g}")


def counted_names(turn: Turn) -> list[str]:
    """What one turn adds to its hour's figures: 'messages', 'intent:search_cars', 'llm',
    'topic:…', 'make:…', 'model:…', 'search', 'no_result:<car searched>', 'latency:<ms>'."""
    names = ["messages", f"intent:{turn.intent or 'fallback'}"]
    if turn.llm_used:
        names.append("llm")
    if turn.topic:
        names.append(f"topic:{turn.topic}")
    if turn.slots.get("make"):
        names.append(f"make:{turn.slots['make']}")
    if turn.slots.get("model"):
        names.append(f"model:{car_searched(turn)}")
    if turn.intent == SEARCH_INTENT:
        names.append("search")
        if not turn.results:
            names.append(f"no_result:{car_searched(turn)}")
    if turn.latency_ms is not None:
        names.append(f"latency:{latency_bucket(turn.latency_ms)}")
    return names


def hour_of(at: datetime) -> int:
    return int(at.timestamp() // 3600)


def _day_of_hour(hour: int, utc_offset: int) -> date:
    return (EPOCH + timedelta(seconds=hour * 3600 + utc_offset)).date()


def overview_of(
    turns: Iterable[Turn],
    handoffs: Iterable[Handoff],
    since: datetime,
    utc_offset: int,
    top: int = 10,
) -> Overview:
    """The overview of these turns and handoffs (what SQLite keeps per hour, made on the fly)."""
    counts: list[tuple[int, str, int]] = []
    active: list[tuple[int, str]] = []
    for turn in turns:
        if turn.at >= since:
            hour = hour_of(turn.at)
            counts += [(hour, name, 1) for name in counted_names(turn)]
            active.append((hour, turn.user))
    leads = [(h.at.timestamp(), h.user) for h in handoffs if h.at >= since]
    return overview_from_counts(since, utc_offset, top, counts, active, leads)


def overview_from_counts(
    since: datetime,
    utc_offset: int,
    top: int,
    counts: Iterable[tuple[int, str, int]],
    active: Iterable[tuple[int, str]],
    leads: Iterable[tuple[float, str]],
) -> Overview:
    """Days, rankings and latency percentiles from hourly counts, who wrote in which hour, and
    when each handoff was made."""
    days = {figures.day: figures for figures in empty_days(since, utc_offset)}
    ranked: dict[str, Counter[str]] = {kind: Counter() for kind in RANKED}
    latencies: Counter[float] = Counter()
    searches = 0
    for hour, name, n in counts:
        figures = days.get(_day_of_hour(hour, utc_offset))
        if figures is None:
            continue
        kind, _, value = name.partition(":")
        if kind == "messages":
            figures.messages += n
        elif kind == "llm":
            figures.llm += n
        elif kind == "search":
            searches += n
        elif kind == "latency":
            latencies[float(value)] += n
        elif kind in ranked:
            ranked[kind][value] += n
    for day, seen in _distinct_by_day(active, utc_offset).items():
        if day in days:
            days[day].conversations = len(seen)
    leads_by_day = _distinct_by_day(((int(at // 3600), user) for at, user in leads), utc_offset)
    for day, seen in leads_by_day.items():
        if day in days:
            days[day].leads = len(seen)
    return Overview(
        days=list(days.values()),
        intents=top_of(ranked["intent"], top),
        topics=top_of(ranked["topic"], top),
        makes=top_of(ranked["make"], top),
        models=top_of(ranked["model"], top),
        searches=searches,
        no_results=top_of(ranked["no_result"], top),
        no_result_total=sum(ranked["no_result"].values()),
        latency_p50=weighted_percentile(latencies, 0.5),
        latency_p99=weighted_percentile(latencies, 0.99),
        latency_count=sum(latencies.values()),
    )


def _distinct_by_day(pairs: Iterable[tuple[int, str]], utc_offset: int) -> dict[date, set[str]]:
    found: dict[date, set[str]] = {}
    for hour, user in pairs:
        found.setdefault(_day_of_hour(hour, utc_offset), set()).add(user)
    return found


def weighted_percentile(counts: Counter[float], share: float) -> float | None:
    """Nearest-rank percentile of values given with how often each occurred."""
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(share * total)), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return None


def phone_query(query: str) -> str | None:
    """The digits of a query that is (part of) a phone ('55 1234', '+52 1 55...'), else None."""
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3 and not any(ch.isalpha() for ch in query):
        return digits
    return None


def conversations_of(store: Store, query: str, offset: int, limit: int) -> ConversationPage:
    """Newest first; `query` matches part of the phone (digits) or of what the customer wrote."""
    summaries = store.users()
    digits, words = phone_query(query), fold(query.strip())
    if digits:
        summaries = [s for s in summaries if digits in s.user]
    elif words:
        summaries = [
            s
            for s in summaries
            if any(words in fold(t.text_in) for t in store.history(s.user, 500))
        ]
    leads = {handoff.user for handoff in store.handoffs(100_000)}
    rows = []
    for summary in summaries[offset : offset + limit]:
        last = store.history(summary.user, 1)
        turn = last[-1] if last else None
        rows.append(
            ConversationRow(
                user=summary.user,
                last_text=turn.text_in if turn else "",
                last_at=summary.last_activity,
                last_intent=turn.intent if turn else None,
                last_topic=turn.topic if turn else None,
                turns=summary.turns,
                lead=summary.user in leads,
            )
        )
    return ConversationPage(rows=rows, total=len(summaries))
