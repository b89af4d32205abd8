"""The load test in its short, bounded CI form: gunicorn with 2 workers behind signed webhooks,
a Graph API stand-in, redeliveries mixed in; zero lost and zero duplicated replies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, redis_or_skip


def run_load(*options: str) -> dict:
    command = [sys.executable, "scripts/loadtest.py", "--workers", "2", "--seconds", "40",
               "--redeliver-every", "5", "--json", *options]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip
    print(result.stdout, result.stderr[-2000:])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0
    return report


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_short_load_loses_and_duplicates_nothing(store):
    if store == "redis":
        redis_or_skip("kavak-load-probe:")
    report = run_load("--store", store, "--messages", "400", "--users", "12")
    assert report["messages"] == 400
    assert report["lost"] == report["duplicated"] == report["unanswered"] == 0
    assert report["refused"] == 0
    assert report["replies_sent"] >= 400
    assert 0 < report["p50_ms"] <= report["p99_ms"]


@pytest.mark.slow
def test_open_loop_answers_every_message_on_schedule():
    """Messages on a fixed schedule from many users (the --rate mode): all answered once."""
    report = run_load("--store", "sqlite", "--rate", "80", "--users", "150", "--messages", "300")
    assert report["messages"] == 300
    assert report["lost"] == report["duplicated"] == report["unanswered"] == 0
    assert report["seconds"] >= 300 / 80 * 0.9  # the schedule was kept, not rushed
