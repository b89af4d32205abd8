"""Intents from config/intents.yml: phrases, regular expressions and slots as evidence.

Each intent has a priority; the highest-priority intent with any evidence wins ("¿puedo dejar mi
coche como enganche?" is knowledge, not financing). Knowledge intents carry a topic: the topic
with most evidence. Business staff add an intent or a phrase in YAML, never in Python.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from nlu.schema import SLOT_KEYS
from nlu.text import fold
from tools.yamlio import YamlError, line_at, load_yaml, validate_yaml

DEFAULT_INTENTS = Path(__file__).resolve().parent.parent / "config" / "intents.yml"


class Evidence(BaseModel):
    """What makes an intent (or a knowledge topic) fire."""

    model_config = ConfigDict(extra="forbid")

    phrases: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"bad pattern {pattern!r}: {error}") from None
        return patterns


class IntentRule(Evidence):
    priority: int = 0
    slots: list[str] = Field(default_factory=list)
    unless_slots: list[str] = Field(default_factory=list)
    requires_slots: list[str] = Field(default_factory=list)  # fires only with one of these
    topics: dict[str, Evidence] = Field(default_factory=dict)

    @field_validator("slots", "unless_slots", "requires_slots")
    @classmethod
    def _known_slots(cls, slots: list[str]) -> list[str]:
        unknown = sorted(set(slots) - set(SLOT_KEYS))
        if unknown:
            raise ValueError(f"unknown slot(s) {unknown}; known: {', '.join(SLOT_KEYS)}")
        return slots


class IntentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intents: dict[str, IntentRule]


def load_intents(path: Path | str | None = None) -> IntentsFile:
    """Load and validate the intents; errors name the file, line and field."""
    path = Path(path) if path else DEFAULT_INTENTS
    data: Any = load_yaml(path)
    intents = validate_yaml(IntentsFile, data, path)
    if not intents.intents:
        raise YamlError(path, "no intents defined", line_at(data, ("intents",)), "intents")
    return intents


class IntentClassifier:
    """Decides the intent (and knowledge topic) of one message from its evidence."""

    def __init__(self, intents: IntentsFile):
        self.rules = intents.intents
        self.order = {name: index for index, name in enumerate(self.rules)}
        self.patterns = {
            key: [re.compile(fold(pattern)) for pattern in evidence.patterns]
            for key, evidence in self._evidence()
            if evidence.patterns
        }
        # which rule each evidence key belongs to, and which rules a slot can trigger alone
        self._rule_of = {key: key.split(":")[1] for key, _ in self._evidence()}
        self._by_slot: dict[str, list[str]] = {}
        for name, rule in self.rules.items():
            for slot in rule.slots:
                self._by_slot.setdefault(slot, []).append(name)

    @property
    def names(self) -> list[str]:
        return list(self.rules)

    def phrase_patterns(self) -> Iterable[tuple[str, list[str]]]:
        """Matcher keys ('intent:greet', 'topic:knowledge:locations') and their phrases."""
        for key, evidence in self._evidence():
            yield key, [fold(phrase) for phrase in evidence.phrases]

    def _evidence(self) -> Iterable[tuple[str, Evidence]]:
        for name, rule in self.rules.items():
            yield f"intent:{name}", rule
            for topic, evidence in rule.topics.items():
                yield f"topic:{name}:{topic}", evidence

    def classify(
        self, text: str, phrase_keys: Iterable[str], slots: dict[str, object]
    ) -> tuple[str | None, str | None]:
        hits = Counter(phrase_keys)
        for key, patterns in self.patterns.items():
            for pattern in patterns:
                if pattern.search(text):
                    hits[key] += 1
        candidates = {self._rule_of[key] for key in hits}
        for slot in slots:
            candidates.update(self._by_slot.get(slot, ()))
        best: tuple[int, int, str] | None = None
        for name in candidates:
            rule = self.rules[name]
            if rule.unless_slots and any(slot in slots for slot in rule.unless_slots):
                continue
            if rule.requires_slots and not any(slot in slots for slot in rule.requires_slots):
                continue
            rank = (rule.priority, -self.order[name], name)
            if best is None or rank > best:
                best = rank
        if best is None:
            return None, None
        name = best[2]
        return name, self._topic(name, hits)

    def _topic(self, name: str, hits: Counter) -> str | None:
        scored = [(hits[f"topic:{name}:{topic}"], topic) for topic in self.rules[name].topics]
        scored = [(score, -index, topic) for index, (score, topic) in enumerate(scored) if score]
        return max(scored)[2] if scored else None
