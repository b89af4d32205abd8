"""What the customer wants: intents (config/intents.yml) and knowledge topics (data/knowledge.yml),
decided in stages. Each label is one YAML entry with its phrases, patterns, examples and
not_examples; business staff add an intent or an FAQ there, never in Python.

1. rules: a phrase, a pattern or a slot of a label is evidence; the highest-priority label with
   strong evidence wins ("¿puedo dejar mi coche como enganche?" is trade-in, not financing);
2. examples: with no strong evidence (or only `weak_phrases` such as "tienen"), the nearest YAML
   examples decide, if their label scores above `min_score` and `min_margin` ahead of the next;
3. otherwise the message is `out_of_scope` (stage "none"), so every message has an intent.
Context rules (nlu/context.py) then read the message against the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlu.examples import ExampleIndex, Ranked
from nlu.schema import SLOT_KEYS
from nlu.text import fold
from tools.yamlio import YamlError, line_at, load_yaml, validate_yaml

DEFAULT_INTENTS = Path(__file__).resolve().parent.parent / "config" / "intents.yml"
KNOWLEDGE = "knowledge"
OUT_OF_SCOPE = "out_of_scope"


_ESCAPE = re.compile(r"(\\.)")


def fold_pattern(pattern: str) -> str:
    """A pattern folded like the text it searches, its escapes kept: folding "\\W" would make it
    "\\w", the opposite class."""
    return "".join(part if part.startswith("\\") else fold(part) for part in _ESCAPE.split(pattern))


def check_patterns(patterns: list[str]) -> list[str]:
    """The patterns as given, or a ValueError naming the first that does not compile."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"bad pattern {pattern!r}: {error}") from None
    return patterns


def pattern_alternation(patterns: list[str]) -> re.Pattern[str]:
    """One regular expression for all of `patterns`, folded like the text it searches: a message
    is searched once per label or part."""
    return re.compile("|".join(map("(?:{})".format, map(fold_pattern, patterns))))


NAMING_SLOTS = frozenset({"make", "model", "year_min", "year_max"})  # a car named, no wish


class Evidence(BaseModel):
    """What points to one label: shared by intents and knowledge topics."""

    model_config = ConfigDict(extra="forbid")

    phrases: list[str] = Field(default_factory=list)
    weak_phrases: list[str] = Field(default_factory=list)  # generic words: decide only with help
    patterns: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    not_examples: list[str] = Field(default_factory=list)
    slots: list[str] = Field(default_factory=list)  # slots that are strong evidence alone
    weak_slots: list[str] = Field(default_factory=list)
    unless_slots: list[str] = Field(default_factory=list)
    requires_slots: list[str] = Field(default_factory=list)  # fires only with one of these
    unless_phrases: list[str] = Field(default_factory=list)  # never when one of these is said
    # never when the message says one of these of the conversation ("context:bought_car": "compré
    # un carro con ustedes y ya no enfría el clima" is the car's air conditioning, no weather),
    # unless one of its `slots` is said
    unless_said: list[str] = Field(default_factory=list)
    # ... unless one of these slots is said too: "no me alcanza, puedo 4 mil al mes" is a plan
    kept_by_slots: list[str] = Field(default_factory=list)
    # its phrases count only where the message opens ("qué onda, busco…" greets; "y lo del
    # crédito, ¿qué onda?" does not)
    opening_only: bool = False

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        return check_patterns(patterns)

    @field_validator("slots", "weak_slots", "unless_slots", "requires_slots", "kept_by_slots")
    @classmethod
    def _known_slots(cls, slots: list[str]) -> list[str]:
        unknown = sorted(set(slots) - set(SLOT_KEYS))
        if unknown:
            raise ValueError(f"unknown slot(s) {unknown}; known: {', '.join(SLOT_KEYS)}")
        return slots


class IntentRule(Evidence):
    priority: int = 0
    # one of these must hold: [asking] only mid-form; [shown, two_cars] a list or two cars named
    needs_context: list[str] = Field(default_factory=list)
    context_free_slots: list[str] = Field(default_factory=list)  # ...unless one of these is said
    # the screen the examples assume, for checking them: list_shown, car_chosen or asking
    examples_context: Literal["list_shown", "car_chosen", "asking"] | None = None


class ClassifierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_score: float = Field(0.3, ge=0, le=1)
    min_margin: float = Field(0.05, ge=0, le=1)
    min_examples: int = Field(5, ge=0)
    # small talk: decides only when the message says little else ("hola, ¿son agencia?" is not)
    social: list[str] = Field(default_factory=list)
    # labels whose examples never decide alone: a heavy answer (an apology and the advisor's
    # form) needs the customer's own words for it ("¿y si nos esperamos?" is no complaint)
    rule_only: list[str] = Field(default_factory=list)
    min_content_words: int = Field(3, ge=1)
    # a label with weak rule evidence ("tienen", "auto") starts this much ahead in the examples
    weak_bonus: float = Field(0.15, ge=0, le=1)
    leading: list[str] = Field(default_factory=list)  # answered first in a message of several
    # label -> the label that, asked in the same message, takes it in (contact data given with
    # a request for an advisor is part of that request)
    absorbed_by: dict[str, str] = Field(default_factory=dict)
    # the same, only when a car is chosen: "¿cuál es el enganche mínimo y cuánto al mes a 6
    # años?" about the car in focus is its plan, not the general text about plans
    absorbed_with_car: dict[str, str] = Field(default_factory=dict)
    # ... and with no car and no figure: "¿me pueden financiar aunque esté en buró?" beside how
    # plans work says nothing more than that text
    absorbed_without_car: dict[str, str] = Field(default_factory=dict)
    # questions about the customer's own car: the km, year or price said describe that car,
    # they are not a search ("¿en cuánto lo compran? tiene 120 mil km")
    own_car_labels: list[str] = Field(default_factory=list)
    # a plan's words with the customer's own car and no figure ask whether that car can be the
    # down payment ("¿mi civic puede ser el enganche?"): this label answers it
    own_car_as_down_payment: str | None = None
    # the state of a car we sell asked in the words of a seller's car ("¿la cx5 tiene rayones?"
    # while selling their CR-V): how our cars are checked, not how theirs will be
    condition_of_ours: str | None = None
    condition_said: list[str] = Field(default_factory=list)  # ... by these parts of the topics
    # right after the key topic, a reading of the inner key is the inner value: after selling
    # their car, "¿tengo que ir yo o vienen?" asks of its inspection, not of buying online
    reread_after: dict[str, dict[str, str]] = Field(default_factory=dict)
    # farewells that close the conversation: with no question, what else the message says
    # ("Thanks, I'll look at it on the website. Bye!") asks for nothing
    closing: list[str] = Field(default_factory=list)
    # the examples overrule small talk only this clearly ("gracias por tu ayuda" stays thanks)
    min_score_beyond_small_talk: float = Field(0.45, ge=0, le=1)


class IntentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    context: dict[str, Any] = Field(default_factory=dict)  # read by nlu/context.py
    intents: dict[str, IntentRule]


def load_intents(path: Path | str | None = None) -> tuple[IntentsFile, Any]:
    """The validated intents and the raw YAML (for line numbers)."""
    path = Path(path) if path else DEFAULT_INTENTS
    data: Any = load_yaml(path)
    intents = validate_yaml(IntentsFile, data, path)
    if not intents.intents:
        raise YamlError(path, "no intents defined", line_at(data, ("intents",)), "intents")
    for name in (KNOWLEDGE, OUT_OF_SCOPE):
        if name not in intents.intents:
            raise YamlError(path, f"intent '{name}' is required", line_at(data, ("intents",)))
    return intents, data


@dataclass(frozen=True)
class Label:
    """One thing a message can mean: an intent, or a knowledge topic ('knowledge/locations')."""

    name: str
    intent: str
    topic: str | None
    priority: int
    evidence: Evidence
    source: str  # file, for messages
    where: tuple[Any, ...]  # path to the entry inside the file's YAML, for line numbers
    needs_context: tuple[str, ...] = ()
    context_free_slots: tuple[str, ...] = ()
    examples_context: str | None = None


@dataclass
class Hits:
    """Evidence found in one message, per label."""

    strong: dict[str, int] = field(default_factory=dict)
    weak: dict[str, int] = field(default_factory=dict)
    worded: set[str] = field(default_factory=set)  # strong evidence from words, not slots

    def add(self, label: str, strong: bool, count: int = 1, worded: bool = True) -> None:
        target = self.strong if strong else self.weak
        target[label] = target.get(label, 0) + count
        if strong and worded:
            self.worded.add(label)


@dataclass(frozen=True)
class Decision:
    intent: str
    topic: str | None
    stage: str
    score: float
    ranked: tuple[Ranked, ...] = ()

    @property
    def label(self) -> str:
        return f"{KNOWLEDGE}/{self.topic}" if self.topic else self.intent


class IntentClassifier:
    """Rules first, then the nearest examples; built once per configuration."""

    def __init__(self, labels: list[Label], settings: ClassifierSettings):
        self.labels = {label.name: label for label in labels}
        self.settings = settings
        self.patterns = {  # one alternation per label: a message is searched once per label
            label.name: pattern_alternation(patterns)
            for label in labels
            if (patterns := label.evidence.patterns)
        }
        self._by_slot: dict[str, list[tuple[str, bool]]] = {}
        for label in labels:
            for slot in label.evidence.slots:
                self._by_slot.setdefault(slot, []).append((label.name, True))
            for slot in label.evidence.weak_slots:
                self._by_slot.setdefault(slot, []).append((label.name, False))
        self.index: ExampleIndex | None = None
        # what the message says that may rule a label out (Evidence.unless_said)
        self.unless_said = frozenset(
            name for label in labels for name in label.evidence.unless_said
        )

    @property
    def intent_names(self) -> list[str]:
        return list(dict.fromkeys(label.intent for label in self.labels.values()))

    def phrase_groups(self) -> Iterator[tuple[str, bool, list[str]]]:
        """(label, strong?, phrases) for the matcher."""
        for label in self.labels.values():
            if label.evidence.phrases:
                yield label.name, True, label.evidence.phrases
            if label.evidence.weak_phrases:
                yield label.name, False, label.evidence.weak_phrases

    def examples(self) -> Iterator[tuple[str, str, bool]]:
        """(label, text, is an example) of every example and phrase: what the example stage
        learns from."""
        for label in self.labels.values():
            for text in label.evidence.examples:
                yield label.name, text, True
            for text in label.evidence.phrases:
                yield label.name, text, False

    def pattern_spans(self, text: str) -> list[tuple[str, int, int]]:
        """(label, start, end) character spans of every pattern that matches the text."""
        return [
            (label, match.start(), match.end())
            for label, pattern in self.patterns.items()
            for match in pattern.finditer(text)
        ]

    def hits(
        self,
        phrase_hits: Iterable[tuple[str, bool]],
        slots,
        own_car: bool = False,
    ) -> Hits:
        """Evidence per label from phrase and pattern hits (label, strong) and slots; with
        `own_car` the car described is the customer's, so slots are only weak evidence
        ("tengo un aveo 2016, ¿me lo compran?")."""
        hits = Hits()
        for label, strong in phrase_hits:
            hits.add(label, strong)
        for slot in slots:
            for label, strong in self._by_slot.get(slot, ()):
                hits.add(label, strong and not own_car, worded=False)
        return hits

    def allowed(self, name: str, slots, context: Iterable[str] = (), unless_in=None) -> bool:
        """`unless_in`: the slots that rule a label out, when not all of `slots` (one clause's:
        "¿dónde llevo la crv a inspeccionar? y ¿a qué hora cierran?" asks the hours)."""
        label = self.labels[name]
        evidence = label.evidence
        ruling = slots if unless_in is None else unless_in
        if evidence.unless_slots and any(slot in ruling for slot in evidence.unless_slots):
            return False
        if evidence.requires_slots and not any(slot in slots for slot in evidence.requires_slots):
            car_slots = {"make", "model"} & set(evidence.requires_slots)
            # "¿es confiable?" of the chosen car; "which one is the safest?" of those listed
            if not (car_slots and {"focus", "shown"} & set(context)):
                return False
        kept = any(slot in slots for slot in evidence.kept_by_slots)
        if evidence.unless_phrases and f"unless:{name}" in context and not kept:
            return False  # "¿es confiable kavak?" is about Kavak, not about a car
        own_slots = any(slot in slots for slot in evidence.slots)  # its figures said anyway
        if not own_slots and any(said in context for said in evidence.unless_said):
            return False
        if any(slot in slots for slot in label.context_free_slots):
            return True  # its own data is in the message: "mi cel es 55…" needs no question
        return not label.needs_context or any(need in context for need in label.needs_context)

    def unless_groups(self) -> Iterator[tuple[str, list[str]]]:
        for label in self.labels.values():
            if label.evidence.unless_phrases:
                yield f"unless:{label.name}", label.evidence.unless_phrases

    def decide(
        self,
        hits: Hits,
        slots,
        tokens: list[str],
        context: Iterable[str] = (),
        exclude: int | None = None,
        content: list[str] | None = None,
        asks: bool = False,
    ) -> Decision:
        """`content`: the tokens left once small-talk phrases are removed; `asks`: the message
        asks a question (then beyond a greeting the examples decide as anywhere else)."""
        context = set(context)
        strong = [name for name in hits.strong if self.allowed(name, slots, context)]
        if strong:
            best = self._highest(strong, hits.strong, tokens, slots, context, exclude)
            if best not in self.settings.social:
                return self._decision(best, "rule", 1.0)
            naming_only = set(slots) <= NAMING_SLOTS  # "luego les escribo pa la prueba del amg"
            if best in self.settings.closing and not asks and naming_only:
                return self._decision(best, "rule", 1.0)  # "I'll look at the website. Bye!"
            if not slots:  # "hola, ¿son agencia?": small talk decides only if nothing else does
                beyond = self._beyond_small_talk(content or [], slots, context, exclude, asks)
                return beyond or self._decision(best, "rule", 1.0)
            hits = Hits(
                strong={k: v for k, v in hits.strong.items() if k not in self.settings.social},
                weak=hits.weak,
                worded=hits.worded,
            )
            if hits.strong:
                best = self._highest(
                    list(hits.strong), hits.strong, tokens, slots, context, exclude
                )
                return self._decision(best, "rule", 1.0)
        ranked = self._with_bonus(self.rank(tokens, slots, context, exclude), hits.weak)
        if self._confident(ranked):
            return self._decision(ranked[0].label, "examples", ranked[0].score, ranked)
        weak = [name for name in hits.weak if self.allowed(name, slots, context)]
        if weak:
            best = self._highest(weak, hits.weak, tokens, slots, context, exclude)
            near = {item.label for item in ranked[:2]}
            if ranked and ranked[0].score >= self.settings.min_score and best not in near:
                # the examples clearly disagree with a generic word ("carros" in a question)
                return self._decision(ranked[0].label, "examples", ranked[0].score, ranked)
            return self._decision(best, "rule", 0.5, ranked)
        score = ranked[0].score if ranked else 0.0
        return Decision(OUT_OF_SCOPE, None, "none", score, tuple(ranked))

    def rank(self, tokens, slots, context, exclude: int | None = None) -> tuple[Ranked, ...]:
        if self.index is None:
            return ()
        return tuple(  # small talk is all phrases: examples never decide it
            item
            for item in self.index.rank(tokens, exclude)
            if item.label not in self.settings.social
            and item.label not in self.settings.rule_only
            and self.allowed(item.label, slots, context)
        )

    def _highest(self, names, counts, tokens, slots, context, exclude) -> str:
        """The highest priority; between equals, the one the examples prefer."""
        top = max(self.labels[name].priority for name in names)
        tied = [name for name in names if self.labels[name].priority == top]
        if len(tied) == 1:
            return tied[0]
        scores = {item.label: item.score for item in self.rank(tokens, slots, context, exclude)}
        order = list(self.labels)
        return max(tied, key=lambda name: (scores.get(name, 0.0), counts[name], -order.index(name)))

    def _beyond_small_talk(
        self, content, slots, context, exclude, asks: bool = False
    ) -> Decision | None:
        """What the message says beyond small talk, when the examples say it clearly enough:
        "gracias por tu ayuda" stays thanks; "hola, ¿cuánto tengo que ganar para que me den
        crédito?" asks a question, the greeting is no answer to it."""
        if (
            sum(token.isalpha() or token.startswith("#") for token in content)
            < self.settings.min_content_words
        ):
            return None
        ranked = [
            item
            for item in self.rank(content, slots, context, exclude)
            if item.label not in self.settings.social
        ]
        least = self.settings.min_score if asks else self.settings.min_score_beyond_small_talk
        if self._confident(ranked) and ranked[0].score >= least:
            return self._decision(ranked[0].label, "examples", ranked[0].score, ranked)
        return None

    def _with_bonus(self, ranked: tuple[Ranked, ...], weak: dict[str, int]) -> tuple[Ranked, ...]:
        if not weak or not ranked:
            return ranked
        bonus = self.settings.weak_bonus
        boosted = [Ranked(r.label, r.score + bonus if r.label in weak else r.score) for r in ranked]
        return tuple(sorted(boosted, key=lambda item: -item.score))

    def _confident(self, ranked) -> bool:
        """Above min_score, and min_margin ahead of the best label of another intent (two close
        knowledge topics still say "knowledge"; the nearer one answers)."""
        if not ranked or ranked[0].score < self.settings.min_score:
            return False
        intent = self.labels[ranked[0].label].intent
        rival = next((r.score for r in ranked[1:] if self.labels[r.label].intent != intent), 0.0)
        return ranked[0].score - rival >= self.settings.min_margin

    def _decision(self, name: str, stage: str, score: float, ranked=()) -> Decision:
        label = self.labels[name]
        return Decision(label.intent, label.topic, stage, score, tuple(ranked))


def intent_labels(intents: IntentsFile, source: Path | str) -> list[Label]:
    """Every intent of config/intents.yml as a label (the knowledge intent holds no evidence)."""
    return [
        Label(
            name=name,
            intent=name,
            topic=None,
            priority=rule.priority,
            evidence=rule,
            source=str(source),
            where=("intents", name),
            needs_context=tuple(rule.needs_context),
            context_free_slots=tuple(rule.context_free_slots),
            examples_context=rule.examples_context,
        )
        for name, rule in intents.intents.items()
        if name != KNOWLEDGE
    ]


def topic_label(topic: str, evidence: Evidence, priority: int, source, where) -> Label:
    return Label(
        name=f"{KNOWLEDGE}/{topic}",
        intent=KNOWLEDGE,
        topic=topic,
        priority=priority,
        evidence=evidence,
        source=str(source),
        where=where,
    )
