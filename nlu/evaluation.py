"""Evaluation of the extractor, like `rasa test nlu`: per-slot precision/recall/F1, intent and
topic accuracy, per-label precision/recall, the most frequent confusions, the share of messages
each stage decided, and leave-one-out accuracy over the YAML examples.

Cases (data/nlu_cases.yml, data/nlu_blind*.yml) are `{text, expect, context?, catalogs?}`;
every slot not under `expect` must not be extracted; `intent`/`topic`/`second` are checked only
when given. `context` is what was on screen: `list_shown` (a list of cars that includes any car
the case names), `car_chosen` (that car is also in focus), `plan_shown` (a plan for that car
was the last answer), `lead_sent` (an advisor's lead was taken), `places_shown` (the branches
were the last answer) or `selling` (the customer talked of selling their own car, a Volkswagen
Jetta 2018: the last answer). Strings compare
without case or accents, numbers exactly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlu.context import DialogContext, ShownCar, car_matches
from nlu.pipeline import Extractor
from nlu.schema import SLOT_KEYS
from nlu.text import fold
from tools.catalog import Catalog
from tools.yamlio import load_yaml, validate_yaml

CASES = Path(__file__).resolve().parent.parent / "data" / "nlu_cases.yml"
LABEL_KEYS = ("intent", "topic", "second")
SHOWN = 5


Screen = Literal["list_shown", "car_chosen", "plan_shown", "lead_sent", "places_shown", "selling"]
SCREENS = get_args(Screen)


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    expect: dict[str, object] = Field(default_factory=dict)
    context: Screen | None = None
    catalogs: list[str] = Field(default_factory=lambda: ["bundled", "kavak"])
    note: str = ""

    @field_validator("expect")
    @classmethod
    def _known_keys(cls, expect: dict[str, object]) -> dict[str, object]:
        unknown = sorted(set(expect) - set(SLOT_KEYS) - set(LABEL_KEYS))
        if unknown:
            raise ValueError(
                f"unknown expect key(s) {unknown}; known: {', '.join((*LABEL_KEYS, *SLOT_KEYS))}"
            )
        topic = expect.get("topic")
        if isinstance(topic, str) and topic.startswith("knowledge/"):  # the label's spelling
            expect = {**expect, "topic": topic.removeprefix("knowledge/")}
        return expect


class CasesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[Case]


class Failure(BaseModel):
    text: str
    slot: str
    expected: object = None
    got: object = None


class SlotScore(BaseModel):
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


class Report(BaseModel):
    cases: int = 0
    exact: int = 0
    slots: dict[str, SlotScore] = Field(default_factory=dict)
    checked: Counter[str] = Field(default_factory=Counter)  # intent/topic/second -> cases
    correct: Counter[str] = Field(default_factory=Counter)
    labels: dict[str, SlotScore] = Field(default_factory=dict)  # per label: P/R of the label
    confusions: Counter[tuple[str, str]] = Field(default_factory=Counter)
    stages: Counter[str] = Field(default_factory=Counter)
    failures: list[Failure] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def accuracy(self, key: str) -> float:
        return _ratio(self.correct[key], self.checked[key])

    def slot_micro_f1(self) -> float:
        micro = SlotScore(
            true_positives=sum(s.true_positives for s in self.slots.values()),
            false_positives=sum(s.false_positives for s in self.slots.values()),
            false_negatives=sum(s.false_negatives for s in self.slots.values()),
        )
        return round(micro.f1, 4)

    def summary(self) -> dict[str, object]:
        return {
            "cases": self.cases,
            "exact_match": _ratio(self.exact, self.cases),
            "intent_accuracy": self.accuracy("intent"),
            "topic_accuracy": self.accuracy("topic"),
            "second_accuracy": self.accuracy("second"),
            "slot_micro_f1": self.slot_micro_f1(),
            "slots": _scores(self.slots),
            "labels": _scores(self.labels),
            "confusions": [
                {"expected": expected, "got": got, "count": count}
                for (expected, got), count in self.confusions.most_common(15)
            ],
            "stages": {stage: _ratio(count, self.cases) for stage, count in self.stages.items()},
            "failures": [failure.model_dump() for failure in self.failures],
        }


def load_cases(path: Path | str = CASES) -> list[Case]:
    return validate_yaml(CasesFile, load_yaml(path), path).cases


def evaluate(
    extractor: Extractor,
    cases: list[Case],
    catalog: Catalog | None = None,
    ignore_slots: tuple[str, ...] = (),
) -> Report:
    report = Report()
    scores: dict[str, SlotScore] = defaultdict(SlotScore)
    labels: dict[str, SlotScore] = defaultdict(SlotScore)
    slot_keys = [slot for slot in SLOT_KEYS if slot not in ignore_slots]
    for case in cases:
        context = case_context(case, catalog)
        extraction = extractor.extract(case.text, context)
        got = extraction.to_json()
        failures = _compare(case, got, scores, slot_keys)
        report.cases += 1
        report.exact += not failures
        report.failures += failures
        report.stages[extraction.stage or "none"] += 1
        _score_labels(case, got, extraction.label, report, labels)
    report.slots, report.labels = dict(scores), dict(labels)
    return report


CHOSEN = ("car_chosen", "plan_shown")
SELLING, SELLING_CAR = "knowledge/selling_car", "Volkswagen Jetta 2018"
PLACES = "knowledge/locations"
LAST_LABEL = {"list_shown": "search_cars", "car_chosen": "select_car", "plan_shown": "financing"}


def case_context(case: Case, catalog: Catalog | None) -> DialogContext | None:
    """The screen the case's writer imagined: a list that holds the car the case names."""
    if case.context is None:
        return None
    if case.context == "lead_sent":  # the advisor's lead was sent; nothing on screen
        return DialogContext(lead_open=True)
    if case.context == "places_shown":  # the branches were the last answer
        return DialogContext(last_label=PLACES)
    if case.context == "selling":  # their own car to sell; nothing on screen
        return DialogContext(last_label=SELLING, own_car=SELLING_CAR)
    if catalog is None or not len(catalog):
        car = ShownCar(stock_id=0, make="Nissan", model="Versa", year=2020)
        focus = car if case.context in CHOSEN else None
        last = LAST_LABEL[case.context]
        return DialogContext(shown=[car] * SHOWN, focus=focus, last_label=last)
    cars = [_shown(car) for car in catalog.cars]
    naming = ("make", "model", "body_type", "transmission", "fuel")
    wanted = {key: case.expect[key] for key in naming if key in case.expect}
    named = [car for car in cars if wanted and car_matches(car, wanted)][:2]
    others = [car for car in cars if car not in named]
    shown = (named + others[: SHOWN - len(named)])[:SHOWN]
    focus = shown[0] if case.context in CHOSEN else None
    return DialogContext(shown=shown, focus=focus, last_label=LAST_LABEL[case.context])


def _shown(car: Any) -> ShownCar:
    return ShownCar(
        stock_id=car.stock_id,
        make=car.make,
        model=car.model,
        year=car.year,
        price=car.price,
        km=car.km,
        version=car.version,
        body_type=car.body_type,
        transmission=car.transmission,
        fuel=car.fuel,
        seats=car.seats,
    )


def _score_labels(case: Case, got: dict, label: str | None, report: Report, labels) -> None:
    expected_intent = case.expect.get("intent")
    for key in LABEL_KEYS:
        if key in case.expect:
            report.checked[key] += 1
            report.correct[key] += int(_same(case.expect[key], got.get(key)))
    if expected_intent is None:
        return
    expected = str(expected_intent)
    if expected == "knowledge" and "topic" in case.expect:
        expected = f"knowledge/{case.expect['topic']}"
    found = label or "none"
    if _same(expected, found):
        labels[expected].true_positives += 1
    else:
        labels[expected].false_negatives += 1
        labels[found].false_positives += 1
        report.confusions[(expected, found)] += 1


def _compare(case: Case, got: dict[str, object], scores, slot_keys) -> list[Failure]:
    failures = []
    for slot in slot_keys:
        expected, found = case.expect.get(slot), got.get(slot)
        if expected is None and found is None:
            continue
        score = scores[slot]
        if expected is not None and _same(expected, found):
            score.true_positives += 1
            continue
        if found is not None:
            score.false_positives += 1
        if expected is not None:
            score.false_negatives += 1
        failures.append(Failure(text=case.text, slot=slot, expected=expected, got=found))
    for key in LABEL_KEYS:
        if key in case.expect and not _same(case.expect[key], got.get(key)):
            failures.append(
                Failure(text=case.text, slot=key, expected=case.expect[key], got=got.get(key))
            )
    return failures


def leave_one_out(
    extractor: Extractor, catalog: Catalog | None = None
) -> tuple[float, int, list[tuple[str, str, str]]]:
    """Accuracy on the YAML examples, each classified with itself left out of the index."""
    from nlu.labels import screen_for  # the same screen the load-time check uses

    index = extractor.classifier.index
    if index is None:
        return 1.0, 0, []
    misses, total = [], 0
    for position, (label, text, is_example) in enumerate(index.sources):
        if not is_example:
            continue
        total += 1
        context = screen_for(extractor.classifier.labels[label], text, extractor, catalog)
        got = extractor.extract(text, context, exclude=position).label
        if got != label:
            misses.append((label, text, got or "none"))
    return _ratio(total - len(misses), total), total, misses


def _same(expected: object, found: object) -> bool:
    if isinstance(expected, bool) or isinstance(found, bool):
        return expected is found
    if isinstance(expected, (int, float)) and isinstance(found, (int, float)):
        return abs(float(expected) - float(found)) < 0.5
    if isinstance(expected, str) and isinstance(found, str):
        return _comparable(expected) == _comparable(found)
    return expected == found


def _comparable(text: str) -> str:
    """'Mercedes-Benz' == 'Mercedes Benz', 'Querétaro' == 'queretaro'."""
    return " ".join(fold(text).replace("-", " ").split())


def _scores(scores: dict[str, SlotScore]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "f1": round(s.f1, 4),
            "support": s.true_positives + s.false_negatives,
        }
        for name, s in sorted(scores.items())
    }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0
