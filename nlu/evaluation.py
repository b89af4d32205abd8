"""Regression evaluation of the extractor: per-slot precision/recall/F1, intent and topic accuracy.

Cases (data/nlu_cases.yml) are `{text, expect, catalogs?}`; every slot not under `expect` must
not be extracted; `intent`/`topic` are checked only when given. Strings compare without case
or accents, numbers exactly.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from nlu.pipeline import Extractor, normalise_for_compare
from nlu.schema import SLOT_KEYS
from tools.yamlio import load_yaml, validate_yaml

CASES = Path(__file__).resolve().parent.parent / "data" / "nlu_cases.yml"


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    expect: dict[str, object] = Field(default_factory=dict)
    catalogs: list[str] = Field(default_factory=lambda: ["bundled", "kavak"])
    note: str = ""


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
    intent_checked: int = 0
    intent_correct: int = 0
    topic_checked: int = 0
    topic_correct: int = 0
    failures: list[Failure] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> dict[str, object]:
        micro = SlotScore(
            true_positives=sum(s.true_positives for s in self.slots.values()),
            false_positives=sum(s.false_positives for s in self.slots.values()),
            false_negatives=sum(s.false_negatives for s in self.slots.values()),
        )
        return {
            "cases": self.cases,
            "exact_match": _ratio(self.exact, self.cases),
            "intent_accuracy": _ratio(self.intent_correct, self.intent_checked),
            "topic_accuracy": _ratio(self.topic_correct, self.topic_checked),
            "slot_micro_f1": round(micro.f1, 4),
            "slots": {
                name: {
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.true_positives + s.false_negatives,
                }
                for name, s in sorted(self.slots.items())
            },
            "failures": [failure.model_dump() for failure in self.failures],
        }


def load_cases(path: Path | str = CASES) -> list[Case]:
    return validate_yaml(CasesFile, load_yaml(path), path).cases


def evaluate(extractor: Extractor, cases: list[Case]) -> Report:
    report = Report()
    scores: dict[str, SlotScore] = defaultdict(SlotScore)
    for case in cases:
        got = extractor.extract(case.text).to_json()
        failures = _compare(case, got, scores)
        report.cases += 1
        report.exact += not failures
        report.failures += failures
        for key, checked, correct in _labels(case, got):
            if key == "intent":
                report.intent_checked += checked
                report.intent_correct += correct
            else:
                report.topic_checked += checked
                report.topic_correct += correct
    report.slots = dict(scores)
    return report


def _compare(case: Case, got: dict[str, object], scores) -> list[Failure]:
    failures = []
    for slot in SLOT_KEYS:
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
    for key in ("intent", "topic"):
        if key in case.expect and not _same(case.expect[key], got.get(key)):
            failures.append(
                Failure(text=case.text, slot=key, expected=case.expect[key], got=got.get(key))
            )
    return failures


def _labels(case: Case, got: dict[str, object]):
    for key in ("intent", "topic"):
        if key in case.expect:
            yield key, 1, int(_same(case.expect[key], got.get(key)))


def _same(expected: object, found: object) -> bool:
    if isinstance(expected, bool) or isinstance(found, bool):
        return expected is found
    if isinstance(expected, (int, float)) and isinstance(found, (int, float)):
        return abs(float(expected) - float(found)) < 0.5
    return normalise_for_compare(expected) == normalise_for_compare(found)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0
