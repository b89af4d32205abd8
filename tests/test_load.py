"""The load test in its short, bounded CI form: gunicorn with 2 workers behind signed webhooks,
a Graph API stand-in, redeliveries mixed in; zero lost and zero duplicated replies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, redis_or_skip


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_short_load_loses_and_duplicates_nothing(store):
    if store == "redis":
        redis_or_skip("kavak-load-probe:")
    command = [sys.executable, "scripts/loadtest.py", "--store", store, "--workers", "2",
               "--messages", "400", "--users", "12", "--seconds", "40", "--redeliver-every", "5",
               "--json"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(result.stdout)
    assert report["messages"] == 400
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert report["replies_sent"] >= 400
    assert result.returncode == 0
