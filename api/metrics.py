"""Prometheus metrics on a registry owned by the app (nothing global at import time).

Under gunicorn (PROMETHEUS_MULTIPROC_DIR, set by gunicorn.conf.py) every worker writes its values
to files and /metrics adds up all workers, so each scrape sees the same totals. /metrics follows
the admin rule (bearer ADMIN_TOKEN, else this machine only) unless METRICS_PUBLIC=true.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from api.auth import refusal
from api.context import app_context

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

bp = Blueprint("metrics", __name__)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


# Events counted without labels: (attribute of AppMetrics, metric name, what it counts).
EVENT_COUNTERS = (
    ("send_failures", "kavak_send_failures_total", "Outbound WhatsApp messages that failed"),
    ("duplicates", "kavak_duplicate_messages_total", "Redelivered inbound messages ignored"),
    ("malformed", "kavak_malformed_entries_total",
     "Webhook messages and statuses that could not be used (bad id, phone, timestamp...)"),
    ("rate_limited", "kavak_rate_limited_total",
     "Messages over a customer's MESSAGES_PER_MINUTE, not run (the first one told to wait)"),
    ("resent", "kavak_resent_replies_total",
     "Replies in flight at a crash, sent again once after recovery"),
    ("dead_letters", "kavak_dead_letters_total",
     "Messages given up on after too many failed runs (GET /admin/dead-letters)"),
)  # fmt: skip


class AppMetrics:
    """The counters the assistant exposes on GET /metrics."""

    send_failures: Counter
    duplicates: Counter
    malformed: Counter
    rate_limited: Counter
    resent: Counter
    dead_letters: Counter

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.messages = Counter(
            "kavak_messages_total",
            "Inbound messages by channel and kind",
            ["channel", "kind"],
            registry=self.registry,
        )
        self.intents = Counter(
            "kavak_intents_total", "Answered turns by intent", ["intent"], registry=self.registry
        )
        self.llm_turns = Counter(
            "kavak_llm_turns_total", "Turns whose reply came from the LLM", registry=self.registry
        )
        self.turn_latency = Histogram(
            "kavak_turn_latency_seconds",
            "Time to answer one turn",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lead_webhooks = Counter(
            "kavak_lead_webhooks_total",
            "Leads POSTed to LEAD_WEBHOOK_URL by outcome (sent, failed after retries)",
            ["outcome"],
            registry=self.registry,
        )
        for attribute, name, description in EVENT_COUNTERS:
            setattr(self, attribute, Counter(name, description, registry=self.registry))

    def turn(self, result, channel: str, seconds: float | None = None) -> None:
        """One answered turn (the inbound message itself is counted where it arrives)."""
        self.intents.labels(intent=result.intent).inc()
        if result.llm_used:
            self.llm_turns.inc()
        if seconds is not None:
            self.turn_latency.labels(channel=channel).observe(seconds)


@bp.get("/metrics")
def metrics():
    context = app_context()
    if not context.settings.metrics_public and (refused := refusal()):
        return refused
    return Response(generate_latest(_registry(context.metrics)), mimetype=CONTENT_TYPE_LATEST)


def _registry(metrics: AppMetrics) -> CollectorRegistry:
    """All workers' values in multiprocess mode, else this app's own registry."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return metrics.registry
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
