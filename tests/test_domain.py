"""Domain logic in tools/: financing arithmetic, catalog search and relaxation, knowledge base."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.conftest import ROOT, catalog_path
from tools.catalog import Car, Catalog, load_catalog
from tools.financing import (
    FinancingError,
    budget_fit,
    load_financing_config,
    make_plan,
    max_affordable_price,
    monthly_payment,
    suggested_plans,
)
from tools.knowledge import KnowledgeBase, without_repeated_facts
from tools.search import SearchFilters, alternative_parts, brand_in_stock, search
from tools.yamlio import YamlError

FINANCING = load_financing_config(ROOT / "config" / "financing.yml")
KNOWLEDGE = KnowledgeBase.load(ROOT / "data" / "knowledge.yml")


# --- financing ---------------------------------------------------------------------------


def test_amortisation_formula_matches_known_values():
    assert monthly_payment(300_000, 0.10, 48) == pytest.approx(7608.78, abs=0.01)
    assert monthly_payment(100_000, 0.10, 36) == pytest.approx(3226.72, abs=0.01)
    assert monthly_payment(120_000, 0.0, 48) == pytest.approx(2500.0)


def test_plan_with_down_payment_and_term():
    plan = make_plan(350_000, FINANCING, down_payment=50_000, term_months=48)
    assert plan.financed == 300_000
    assert plan.monthly_payment == pytest.approx(7608.78, abs=0.01)
    assert plan.total_paid == pytest.approx(50_000 + 7608.775 * 48, abs=1)
    assert plan.total_interest == pytest.approx(7608.775 * 48 - 300_000, abs=1)
    assert plan.rate == 0.10 and plan.down_payment_pct == pytest.approx(14.3)


def test_defaults_fill_the_missing_half():
    only_pct = make_plan(200_000, FINANCING, down_payment_pct=30)
    assert only_pct.term_months == 48 and only_pct.down_payment == 60_000
    only_term = make_plan(200_000, FINANCING, term_months=72)
    assert only_term.down_payment == 40_000


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"down_payment": 10_000}, "down_payment_too_low"),
        ({"down_payment_pct": 5}, "down_payment_too_low"),
        ({"down_payment": 200_000}, "down_payment_too_high"),
        ({"down_payment": 250_000}, "down_payment_too_high"),
        ({"term_months": 24}, "term_out_of_range"),
        ({"term_months": 84}, "term_out_of_range"),
        ({"down_payment": -5}, "bad_amount"),
    ],
)
def test_invalid_plans_say_why(kwargs, code):
    with pytest.raises(FinancingError) as caught:
        make_plan(200_000, FINANCING, **kwargs)
    assert caught.value.code == code


def test_minimum_down_payment_is_accepted_exactly():
    assert make_plan(313_999, FINANCING, down_payment=31_400).down_payment == 31_400


def test_suggested_plans_cover_every_percentage_and_term():
    plans = suggested_plans(300_000, FINANCING)
    assert len(plans) == 12
    assert {(p.down_payment_pct, p.term_months) for p in plans} == {
        (pct, years * 12) for pct in (10, 20, 30) for years in (3, 4, 5, 6)
    }


def test_affordability_round_trip():
    afford = max_affordable_price(80_000, 7_000, FINANCING)
    assert afford.term_months == 72
    plan = make_plan(afford.price, FINANCING, down_payment=80_000, term_months=72)
    assert plan.monthly_payment == pytest.approx(7_000, abs=0.05)
    without = max_affordable_price(None, 7_000, FINANCING)
    check = make_plan(without.price, FINANCING, down_payment_pct=10, term_months=72)
    assert check.monthly_payment == pytest.approx(7_000, abs=0.05)
    assert max_affordable_price(None, 0, FINANCING).price == 0


def test_affordability_respects_the_minimum_down_payment():
    afford = max_affordable_price(10_000, 20_000, FINANCING)
    assert afford.price == pytest.approx(100_000)


def test_a_budget_the_term_asked_misses_names_the_longer_term_that_fits():
    fit = budget_fit(184_999, 4_000, FINANCING, down_payment=20_000, term_months=48)
    assert not fit.fits and fit.plan is not None and fit.plan.term_months == 48
    assert fit.longer is not None and fit.longer.term_months == 60
    assert fit.longer.monthly_payment == pytest.approx(3_505.74, abs=0.01)
    none_fits = budget_fit(184_999, 2_000, FINANCING, down_payment=20_000, term_months=48)
    assert not none_fits.fits and none_fits.longer is None
    no_term = budget_fit(184_999, 4_000, FINANCING, down_payment=20_000)
    assert no_term.fits and no_term.longer is None


def test_a_budget_with_a_down_payment_over_the_price_fits_no_plan_and_does_not_crash():
    # found by the hostile-message fuzz: "2019 millones" kept as the down payment, then a term
    fit = budget_fit(184_999, 4_000, FINANCING, down_payment=2_019_000_000, term_months=48)
    assert not fit.fits and fit.plan is None and fit.longer is None


def test_financing_yaml_errors_name_the_line(tmp_path: Path):
    bad = tmp_path / "financing.yml"
    text = (ROOT / "config" / "financing.yml").read_text(encoding="utf-8")
    bad.write_text(text.replace("annual_rate: 0.10", "annual_rate: diez"), encoding="utf-8")
    with pytest.raises(YamlError) as caught:
        load_financing_config(bad)
    assert caught.value.field == "annual_rate"
    assert caught.value.line == text.splitlines().index("annual_rate: 0.10") + 1


# --- search ----------------------------------------------------------------------------------


def _car(stock_id: int, make: str, model: str, year: int, price: float, **extra) -> Car:
    return Car(stock_id=stock_id, km=extra.pop("km", 50_000), price=price, make=make,
               model=model, year=year, **extra)  # fmt: skip


SMALL = Catalog(
    cars=(
        _car(1, "Mazda", "CX-5", 2019, 380_000, car_play=True),
        _car(2, "Mazda", "CX-5", 2018, 340_000),
        _car(3, "Mazda", "Mazda 3", 2021, 330_000, bluetooth=True),
        _car(4, "Volkswagen", "Jetta", 2019, 290_000, km=30_000),
        _car(5, "Volkswagen", "Jetta", 2019, 270_000, km=90_000),
        _car(6, "Nissan", "Versa", 2022, 260_000, bluetooth=True, car_play=True),
    )
)


def test_every_filter_is_anded():
    outcome = search(SMALL, SearchFilters(make="Volkswagen", year_min=2019, km_max=50_000))
    assert [car.stock_id for car in outcome.cars] == [4]
    assert outcome.total == 1 and not outcome.relaxed
    both = search(SMALL, SearchFilters(bluetooth=True, car_play=True))
    assert [car.stock_id for car in both.cars] == [6]


def test_results_are_cheapest_first_and_limited():
    outcome = search(SMALL, SearchFilters(), limit=3)
    assert [car.stock_id for car in outcome.cars] == [6, 5, 4]
    assert outcome.total == 6


def test_monthly_budget_cap_combines_with_price_max():
    outcome = search(SMALL, SearchFilters(price_max=350_000), max_price=280_000)
    assert [car.stock_id for car in outcome.cars] == [6, 5]
    assert outcome.filters_used.price_max == 280_000


def test_relaxes_year_first():
    outcome = search(SMALL, SearchFilters(model="CX-5", year_min=2021, year_max=2021))
    assert [step.kind for step in outcome.relaxed] == ["year"]
    assert [car.stock_id for car in outcome.cars] == [2, 1]


def test_then_price_by_fifteen_percent():
    outcome = search(SMALL, SearchFilters(model="CX-5", year_min=2019, price_max=340_000))
    assert [step.kind for step in outcome.relaxed] == ["year"]
    outcome = search(SMALL, SearchFilters(model="CX-5", price_max=300_000))
    assert [step.kind for step in outcome.relaxed] == ["price"]
    assert outcome.filters_used.price_max == 345_000 and outcome.cars[0].stock_id == 2


def test_then_model_keeping_the_make_then_make():
    outcome = search(SMALL, SearchFilters(make="Mazda", model="CX-5", price_max=200_000))
    assert [s.kind for s in outcome.relaxed] == ["price", "model", "make"]
    outcome = search(SMALL, SearchFilters(make="Mazda", model="CX-30", price_max=400_000))
    assert [s.kind for s in outcome.relaxed] == ["model"]
    assert {car.make for car in outcome.cars} == {"Mazda"}


def test_a_year_said_with_one_car_binds_only_that_car():
    # "el cx-5 2018 o el jetta": the CX-5 of 2018, and any Jetta
    one = SearchFilters(
        model="CX-5", year_min=2018, year_max=2018, alternatives=["Volkswagen|Jetta|"]
    )
    assert sorted(car.stock_id for car in search(SMALL, one).cars) == [2, 4, 5]
    # "el jetta o el cx-5 2019": any Jetta, and the CX-5 of 2019
    other = SearchFilters(model="Jetta", alternatives=["Mazda|CX-5|2019"])
    assert sorted(car.stock_id for car in search(SMALL, other).cars) == [1, 4, 5]
    # "el sentra o el cx-5 2021": neither in stock so, the years loosened, the CX-5s of any year
    wanted = SearchFilters(make="Nissan", model="Sentra", alternatives=["Mazda|CX-5|2021"])
    loosened = search(SMALL, wanted)
    assert [step.kind for step in loosened.relaxed] == ["year"]
    assert sorted(car.stock_id for car in loosened.cars) == [1, 2]
    assert alternative_parts("Mazda|CX-5|2021") == ("Mazda", "CX-5", 2021)
    assert alternative_parts("BMW|") == ("BMW", "", None)


def test_nothing_at_all_returns_empty():
    outcome = search(SMALL, SearchFilters(price_min=5_000_000))
    assert outcome.cars == [] and outcome.total == 0


@pytest.mark.parametrize("name", ["bundled", "kavak"])
def test_search_on_real_catalogs_never_lists_a_car_outside_the_catalog(name):
    catalog = load_catalog(catalog_path(name))
    outcome = search(catalog, SearchFilters(make="Volkswagen", price_max=300_000), limit=5)
    assert outcome.cars and all(catalog.get(car.stock_id) == car for car in outcome.cars)
    assert all(car.make == "Volkswagen" and car.price <= 300_000 for car in outcome.cars)
    assert brand_in_stock(catalog, "volkswagen") and not brand_in_stock(catalog, "Tesla")


# --- knowledge -----------------------------------------------------------------------------


def test_a_fact_said_in_another_block_with_more_is_not_repeated():
    text = (
        "🛡️ *Compra con confianza:*\n• Incluye *3 meses de garantía*, que puedes extender\n\n"
        "🛡️ Tu auto incluye *3 meses de garantía* y la puedes extender *un año más*."
    )
    kept = without_repeated_facts(text)
    assert kept.count("3 meses de garantía") == 1 and "un año más" in kept


def test_every_general_answer_keeps_all_its_lines():
    """Lines of one block are never judged against each other, and a single figure ("3 días")
    is too little to call a line a repeat: the reservation answer keeps "no es reembolsable"."""
    for entry in KNOWLEDGE.entries.values():
        assert without_repeated_facts(entry.answer) == entry.answer.strip(), entry.topic


PHRASINGS = {
    "about_kavak": ["que es kavak", "es confiable kavak?"],
    "locations": ["donde estan", "tienen sucursal en monterrey?"],
    "buying_process": ["como compro un auto con ustedes", "cuales son los pasos para comprar"],
    "selling_car": ["quiero vender mi auto", "cuanto me dan por mi carro?"],
    "certification": ["los autos estan certificados?", "que inspeccion les hacen"],
    "trade_in": ["puedo dejar mi coche como enganche?", "reciben autos a cuenta?"],
    "payment_plans": ["como funciona el credito?", "que tasa de interes manejan"],
    "credit_application": ["que requisitos piden para el credito", "que documentos necesito"],
    "digital_process": ["puedo hacer todo en linea?", "me lo llevan a domicilio?"],
    "warranty_returns": ["tienen garantia?", "lo puedo devolver?"],
    "reservation": [
        "cuanto tiempo me apartan el auto?",
        "si aparto y no compro me devuelven el apartado?",
    ],
    "kavak_total": ["que es kavak total", "que cubre la cobertura kavak total"],
    "app_aftersales": ["tienen app?", "como agendo el mantenimiento de mi auto?"],
}


@cache
def _extractor():
    from nlu.pipeline import Extractor

    return Extractor.build(load_catalog())


@pytest.mark.parametrize(("topic", "text"), [(t, x) for t, xs in PHRASINGS.items() for x in xs])
def test_every_topic_is_understood_and_answered(topic, text):
    extraction = _extractor().extract(text)
    assert (extraction.intent, extraction.topic) == ("knowledge", topic)
    answer = KNOWLEDGE.answer(extraction.topic, extraction.said)
    assert answer is not None and answer.topic == topic
    assert 0 < len(answer.text) <= 900


def test_answers_narrow_to_the_area_or_section_asked():
    answer = KNOWLEDGE.answer("locations", area="Guadalajara")
    assert answer.section == "Guadalajara"
    assert "Midtown" in answer.text and "Punto Valle" not in answer.text
    everything = KNOWLEDGE.answer("locations")
    assert everything.section is None and "Punto Valle" in everything.text
    hours = _extractor().extract("¿a qué hora cierran?")
    assert KNOWLEDGE.answer(hours.topic, hours.said).section == "Horario"


def test_unknown_topic_has_no_answer():
    assert KNOWLEDGE.answer(None) is None and KNOWLEDGE.answer("no_such_topic") is None


def test_nearest_topics_give_llm_context():
    topics = _extractor().nearest_topics("¿me conviene más un sedán o una suv para uber?", k=3)
    assert 1 <= len(topics) <= 3 and all(topic in KNOWLEDGE.entries for topic in topics)
    assert KNOWLEDGE.texts(topics) and all(KNOWLEDGE.texts(topics))


def test_knowledge_yaml_mistakes_name_the_line(tmp_path: Path):
    bad = tmp_path / "knowledge.yml"
    bad.write_text(
        "entries:\n  - topic: a\n    title: A\n    answer: uno\n"
        "  - topic: a\n    title: B\n    answer: dos\n",
        encoding="utf-8",
    )
    with pytest.raises(YamlError, match="defined twice") as caught:
        KnowledgeBase.load(bad)
    assert caught.value.line == 5
    bad.write_text("entries:\n  - topic: a\n    title: A\n", encoding="utf-8")
    with pytest.raises(YamlError) as caught:
        KnowledgeBase.load(bad)
    assert caught.value.line == 2 and "answer" in caught.value.field
