"""Multi-turn scripts from data/conversations.yml, run through POST /chat on both catalogs.

Each turn's `expect` may check:
  intent, slots (subset), results (exact count) / results_min, results_where (every listed car
  satisfies make/model/year_min/year_max/price_max/price_min/km_max/bluetooth/car_play/body_type/
  transmission/fuel/drive/size/seats_min/length_min/length_max),
  selected (null | "result:N" = N-th car of the previous list | true = anything), plan (null |
  true | subset of fields), plan_consistent (monthly payment matches the amortization formula),
  reply_contains / reply_not_contains (accent- and case-insensitive), reply_count (fragment ->
  times it appears: a fact said once), llm_used.
A turn may speak `as:` another user (interleaving), and a script may list `catalogs:`.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import yaml

from tools.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = yaml.safe_load((ROOT / "data" / "conversations.yml").read_text(encoding="utf-8"))
CATALOG_NAMES = ("bundled", "kavak")
EXPECT_KEYS = frozenset(
    {"intent", "slots", "results", "results_min", "results_where", "selected", "plan",
     "plan_consistent", "reply_contains", "reply_not_contains", "reply_count", "llm_used"}
)  # fmt: skip


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _cases():
    for script in SCRIPTS:
        for catalog in script.get("catalogs", CATALOG_NAMES):
            yield pytest.param(script, catalog, id=f"{catalog}-{script['name']}")


@pytest.mark.parametrize(("script", "catalog"), list(_cases()))
def test_conversation(shared_apps, script, catalog):
    if catalog not in shared_apps:
        pytest.skip(f"catalog {catalog} not available")
    app = shared_apps[catalog]
    cars = load_catalog(app.extensions["kavak"].settings.catalog_path).by_id
    client = app.test_client()
    default_user = f"{catalog}-{script['name']}"
    previous: dict[str, list[int]] = {}
    for number, turn in enumerate(script["turns"], start=1):
        user = f"{default_user}-{turn['as']}" if "as" in turn else default_user
        response = client.post("/chat", json={"user": user, "text": turn["user"]})
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert set(body) == {"reply", "intent", "slots", "results", "selected", "plan", "llm_used"}
        where = f"turn {number} {turn['user']!r} -> {body['intent']}: {body['reply'][:300]!r}"
        _check(turn.get("expect", {}), body, previous.get(user, []), cars, where)
        if body["results"]:
            previous[user] = body["results"]


def _check(expect: dict, body: dict, previous: list[int], cars: dict, where: str) -> None:
    unknown = set(expect) - EXPECT_KEYS
    assert not unknown, (
        f"{where}: unknown expect key(s) {sorted(unknown)}; known: {sorted(EXPECT_KEYS)}"
    )
    if "intent" in expect:
        assert body["intent"] == expect["intent"], where
    for key, value in expect.get("slots", {}).items():
        got = body["slots"].get(key)
        same = _fold(got) == _fold(value) if isinstance(value, str) else got == value
        assert same, f"{where}: slot {key} expected {value!r}, got {got!r}"
    if "results" in expect:
        assert len(body["results"]) == expect["results"], where
    if "results_min" in expect:
        assert len(body["results"]) >= expect["results_min"], where
    for stock_id in body["results"]:
        assert stock_id in cars, f"{where}: {stock_id} is not in the catalog"
        _check_car(cars[stock_id], expect.get("results_where", {}), where)
    _check_selected(expect, body, previous, where)
    _check_plan(expect, body, where)
    reply = _fold(body["reply"])
    for fragment in _as_list(expect.get("reply_contains")):
        assert _fold(fragment) in reply, f"{where}: missing {fragment!r}"
    for fragment in _as_list(expect.get("reply_not_contains")):
        assert _fold(fragment) not in reply, f"{where}: unexpected {fragment!r}"
    for fragment, times in (expect.get("reply_count") or {}).items():
        found = reply.count(_fold(fragment))
        assert found == times, f"{where}: {fragment!r} {found} times, expected {times}"
    if "llm_used" in expect:
        assert body["llm_used"] is expect["llm_used"], where


def _check_car(car, rules: dict, where: str) -> None:
    checks = {
        "make": lambda v: _fold(car.make) == _fold(v),
        "model": lambda v: _fold(car.model) == _fold(v),
        "year_min": lambda v: car.year >= v,
        "year_max": lambda v: car.year <= v,
        "price_max": lambda v: car.price <= v,
        "price_min": lambda v: car.price >= v,
        "km_max": lambda v: car.km <= v,
        "bluetooth": lambda v: car.bluetooth == v,
        "car_play": lambda v: car.car_play == v,
        "body_type": lambda v: car.body_type == v,
        "transmission": lambda v: car.transmission == v,
        "fuel": lambda v: car.fuel == v,
        "drive": lambda v: car.drive == v,
        "size": lambda v: car.size == v,
        "seats_min": lambda v: car.seats >= v,
        "length_min": lambda v: car.largo is not None and car.largo >= v,
        "length_max": lambda v: car.largo is not None and car.largo <= v,
    }
    for key, value in rules.items():
        assert checks[key](value), f"{where}: car {car.stock_id} breaks {key}={value}: {car}"


def _check_selected(expect: dict, body: dict, previous: list[int], where: str) -> None:
    if "selected" not in expect:
        return
    wanted = expect["selected"]
    if wanted is None:
        assert body["selected"] is None, where
    elif wanted is True:
        assert body["selected"] is not None, where
    else:
        position = int(str(wanted).split(":")[1])
        assert previous, f"{where}: no previous list to select from"
        index = position - 1 if position > 0 else len(previous) + position
        assert body["selected"] == previous[index], where


def _check_plan(expect: dict, body: dict, where: str) -> None:
    if "plan" in expect:
        wanted, plan = expect["plan"], body["plan"]
        if wanted is None:
            assert plan is None, where
        else:
            assert plan is not None, where
            for key, value in (wanted if isinstance(wanted, dict) else {}).items():
                got = (
                    plan["down_payment"] / plan["price"] * 100
                    if key == "down_payment_pct"
                    else plan[key]
                )
                assert got == pytest.approx(value, rel=1e-3), f"{where}: plan {key}"
    if expect.get("plan_consistent"):
        plan = body["plan"]
        rate, months = plan["rate"] / 12, plan["term_months"]
        principal = plan["price"] - plan["down_payment"]
        payment = principal * rate / (1 - (1 + rate) ** -months)
        assert plan["monthly_payment"] == pytest.approx(payment, abs=0.01), where


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
