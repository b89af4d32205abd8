"""The command lines a newcomer runs from the README: clear errors, clear endings, clear output."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)  # fmt: skip


def test_dialog_bench_with_a_missing_catalog_is_a_clear_error():
    result = _run("dialog", "bench", "--catalog", "no/such/catalog.csv", "--turns", "10")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no/such/catalog.csv" in result.stderr and "not found" in result.stderr


def test_dialog_chat_ends_on_salir():
    result = _run("dialog", "chat", stdin="hola\nsalir\nbusco un versa\n")
    assert result.returncode == 0, result.stderr
    assert "greet" in result.stdout and "search_cars" not in result.stdout
    assert "salir" in result.stdout.splitlines()[0]  # the prompt says how to leave


def test_catalog_gen_says_what_it_wrote(tmp_path):
    out = tmp_path / "cars.csv"
    result = _run("tools.catalog_gen", "25", "--out", str(out), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert f"wrote 25 cars to {out}" in result.stdout
    assert len(out.read_text(encoding="utf-8").splitlines()) == 26
    to_stdout = _run("tools.catalog_gen", "2")
    assert to_stdout.stdout.splitlines()[0].startswith("stock_id")  # only the CSV on stdout
