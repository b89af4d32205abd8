"""The extractor through its public interfaces: regression cases, the CLI, hostile input."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu.evaluation import evaluate, load_cases
from nlu.pipeline import Extractor
from nlu.schema import Extraction
from tests.conftest import ROOT, catalog_path
from tools.catalog import Car, Catalog, load_catalog

CASES = ROOT / "data" / "nlu_cases.yml"
ALLOWED_KEYS = {"intent", "topic", *Extraction.model_fields}


@cache
def catalog_named(name: str) -> Catalog:
    return load_catalog(catalog_path(name))


@cache
def extractor_for(name: str) -> Extractor:
    return Extractor.build(catalog_named(name))


@pytest.mark.parametrize("catalog", ["bundled", "kavak"])
def test_regression_cases_pass_on_each_catalog(catalog):
    cases = [case for case in load_cases(CASES) if catalog in case.catalogs]
    assert len(cases) >= 400
    report = evaluate(extractor_for(catalog), cases, catalog_named(catalog))
    failures = "\n".join(
        f"{f.text!r} [{f.slot}] expected {f.expected!r} got {f.got!r}" for f in report.failures
    )
    assert report.ok, failures


def test_every_model_of_both_catalogs_has_a_typo_case():
    texts = " ".join(case.text.casefold() for case in load_cases(CASES))
    expected = {str(case.expect.get("model", "")).casefold() for case in load_cases(CASES)}
    for name in ("bundled", "kavak"):
        for model in load_catalog(catalog_path(name)).models:
            assert model.casefold() in expected, f"no case expects model {model} ({name})"
    assert "jeta" in texts and "corola" in texts


def test_vocabulary_comes_from_the_catalog_not_the_code():
    cars = (
        Car(stock_id=1, km=1000, price=500000, make="Zeekr", model="X-Nova", year=2024),
        Car(stock_id=2, km=2000, price=250000, make="Volkswagen", model="Jetta", year=2019),
    )
    extractor = Extractor.build(Catalog(cars=cars))
    assert extractor.extract("busco un zeekr xnova 2024").slots() == {
        "make": "Zeekr",
        "model": "X-Nova",
        "year_min": 2024,
        "year_max": 2024,
    }
    assert extractor.extract("una x nova").model == "X-Nova"
    assert extractor.extract("tienen tesla?").make == "Tesla"  # the brand lexicon, not in stock


def test_failing_case_is_reported_with_text_slot_expected_and_got(tmp_path: Path):
    cases = tmp_path / "cases.yml"
    cases.write_text(
        'cases:\n  - {text: "hasta 300 mil", expect: {price_max: 250000}}\n', encoding="utf-8"
    )
    result = _cli("eval", str(cases))
    assert result.returncode == 1
    assert "FAIL 'hasta 300 mil' [price_max] expected 250000 got 300000" in result.stdout
    assert "price_max" in result.stdout and "precision" in result.stdout


def test_eval_json_reports_per_slot_scores():
    result = _cli("eval", "--json")
    assert result.returncode == 0, result.stdout[-2000:]
    report = json.loads(result.stdout)
    assert report["cases"] >= 400 and report["exact_match"] == 1.0
    assert report["slots"]["price_max"]["f1"] == 1.0
    assert report["intent_accuracy"] == 1.0


def test_extract_prints_only_the_keys_found():
    result = _cli("extract", "busco un jeta 2019 de menos de 300 mil")
    assert json.loads(result.stdout) == {
        "intent": "search_cars",
        "stage": "rule",
        "score": 1,
        "language": "es",
        "make": "Volkswagen",
        "model": "Jetta",
        "year_min": 2019,
        "year_max": 2019,
        "price_max": 300000,
    }


def test_extract_reads_stdin_one_json_line_per_input_line():
    lines = ["el segundo", "", "hola", "asdf qwerty", "con 50 mil de enganche a 4 años"]
    result = _cli("extract", "--context", "list_shown", stdin="\n".join(lines) + "\n")
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    keys = ("intent", "stage", "ordinal", "down_payment", "term_months")
    assert [{k: p[k] for k in keys if k in p} for p in printed] == [
        {"intent": "select_car", "stage": "rule", "ordinal": 2},
        {},
        {"intent": "greet", "stage": "rule"},
        {"intent": "out_of_scope", "stage": "none"},
        {"intent": "financing", "stage": "rule", "down_payment": 50000, "term_months": 48},
    ]


def test_extract_on_the_kavak_catalog_uses_its_spelling():
    result = _cli("extract", "kia forte 2018", "--catalog", str(catalog_path("kavak")))
    assert json.loads(result.stdout)["model"] == "FORTE"


def test_bad_catalog_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("stock_id,km\n1,2\n", encoding="utf-8")
    result = _cli("extract", "hola", "--catalog", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "Traceback" not in result.stderr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=5000))
def test_never_raises_and_returns_the_schema(text):
    found = extractor_for("bundled").extract(text).to_json()
    assert set(found) <= ALLOWED_KEYS
    json.dumps(found)


HOSTILE_PIECES = st.sampled_from(
    ["999999999999999 mil", "millones", "mil", "el", "2", "de", "a", "y", "-", "%", "$", "🚗",
     "\u202e", "\x00", "jetta", "2019", "enganche", "al mes", "años", "segundo", " ", "\n", "k"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(HOSTILE_PIECES, max_size=400).map(" ".join))
def test_repeated_tokens_and_huge_numbers_stay_valid(text):
    found = extractor_for("bundled").extract(text).to_json()
    assert set(found) <= ALLOWED_KEYS
    for key in ("price_min", "price_max", "down_payment", "monthly_budget"):
        assert key not in found or 0 < found[key] <= 1e10
    assert "ordinal" not in found or found["ordinal"] in {-2, -1, *range(1, 11)}


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nlu", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_new_words_do_not_grow_the_extractor_without_end(monkeypatch):
    """Every name, phone and typo a tokenizer sees stays in spaCy's vocabulary: the message
    tokenizer is replaced once it learnt READER_NEW_WORDS, and reading stays the same after."""
    import nlu.pipeline

    monkeypatch.setattr(nlu.pipeline, "READER_NEW_WORDS", 50)
    extractor = Extractor.build(catalog_named("bundled"))
    first = extractor.extract("busco un jetta 2019 de menos de 300 mil").to_json()
    sizes = []
    for n in range(400):
        found = extractor.extract(f"me llamo zorbax{n} y mi cel es 55{n:08d}").to_json()
        assert found.get("phone") == f"55{n:08d}"
        sizes.append(len(extractor._reader.vocab))
    assert max(sizes) <= sizes[0] + 50 + 3  # at most one message's words past the limit
    assert min(sizes[50:]) < max(sizes)  # it was replaced, more than once
    assert extractor.extract("busco un jetta 2019 de menos de 300 mil").to_json() == first
