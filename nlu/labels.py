"""Every label the NLU can give, read from its one YAML entry: intents from config/intents.yml,
knowledge topics from data/knowledge.yml (next to their answers). Checked both ways at load:

- E101 a label with fewer than `min_examples` examples;
- E102 the same phrase under two labels (unless their slot conditions exclude each other);
- E103 an example that does not classify to its own label, or a not_example that does
- E104 a classifier setting (leading, own_car_labels, absorbed_by, absorbed_with_car) that names
  no label;
  (run with `check_examples`, once the extractor is built).
Every problem is reported at once, with file:line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlu.context import ContextSettings
from nlu.intents import (
    KNOWLEDGE,
    ClassifierSettings,
    Label,
    intent_labels,
    load_intents,
    topic_label,
)
from nlu.text import normalize
from tools.yamlio import YamlError, line_at, raise_problems

if TYPE_CHECKING:
    from nlu.pipeline import Extractor

DEFAULT_KNOWLEDGE = Path(__file__).resolve().parent.parent / "data" / "knowledge.yml"


@dataclass
class LoadedLabels:
    labels: list[Label]
    settings: ClassifierSettings
    context: ContextSettings
    raw: dict[str, Any]  # source file -> parsed YAML, for line numbers
    knowledge: Any = None  # the KnowledgeFile the topics came from (its sections' phrases)


def load_labels(
    intents_path: Path | str | None = None, knowledge_path: Path | str | None = None
) -> LoadedLabels:
    from tools.knowledge import load_knowledge_file

    intents, intents_raw = load_intents(intents_path)
    intents_source = str(intents_path or "config/intents.yml")
    knowledge_path = Path(knowledge_path) if knowledge_path else DEFAULT_KNOWLEDGE
    knowledge, knowledge_raw = load_knowledge_file(knowledge_path)
    labels = intent_labels(intents, intents_path or "config/intents.yml")
    priority = intents.intents[KNOWLEDGE].priority
    for index, entry in enumerate(knowledge.entries):
        where = ("entries", index)
        labels.append(topic_label(entry.topic, entry, priority, knowledge_path, where))
    try:
        context = ContextSettings.model_validate(intents.context)
    except ValueError as error:
        raise YamlError(intents_source, str(error), line_at(intents_raw, ("context",))) from None
    raw = {intents_source: intents_raw, str(knowledge_path): knowledge_raw}
    raw[str(intents_path)] = intents_raw
    loaded = LoadedLabels(labels, intents.classifier, context, raw, knowledge)
    raise_problems(_check_counts(loaded) + _check_phrases(loaded) + _check_settings(loaded))
    return loaded


def _check_settings(loaded: LoadedLabels) -> list[YamlError]:
    """E104: the classifier's label lists and maps name labels that exist."""
    known = {label.name for label in loaded.labels}
    settings, source = loaded.settings, next(iter(loaded.raw))
    named = {
        "leading": list(settings.leading),
        "closing": list(settings.closing),
        "own_car_labels": list(settings.own_car_labels),
        "own_car_as_down_payment": [
            *([settings.own_car_as_down_payment] if settings.own_car_as_down_payment else [])
        ],
        "condition_of_ours": [
            *([settings.condition_of_ours] if settings.condition_of_ours else [])
        ],
        "absorbed_by": [*settings.absorbed_by, *settings.absorbed_by.values()],
        "absorbed_with_car": [*settings.absorbed_with_car, *settings.absorbed_with_car.values()],
        "absorbed_without_car": [
            *settings.absorbed_without_car,
            *settings.absorbed_without_car.values(),
        ],
        "reread_after": [
            name
            for last, reread in settings.reread_after.items()
            for name in (last, *reread, *reread.values())
        ],
    }
    return [
        YamlError(
            source,
            f"E104 classifier.{key} names '{name}', which is no intent or knowledge topic",
            line_at(loaded.raw[source], ("classifier", key)),
            f"classifier.{key}",
        )
        for key, names in named.items()
        for name in names
        if name not in known
    ]


def _line(loaded: LoadedLabels, label: Label, *path: Any) -> int | None:
    return line_at(loaded.raw.get(label.source), (*label.where, *path))


def _check_counts(loaded: LoadedLabels) -> list[YamlError]:
    wanted = loaded.settings.min_examples
    return [
        YamlError(
            label.source,
            f"E101 '{label.name}' has {len(label.evidence.examples)} examples; write at least "
            f"{wanted} real messages under examples:",
            _line(loaded, label, "examples"),
            "examples",
        )
        for label in loaded.labels
        if len(label.evidence.examples) < wanted
    ]


def _check_phrases(loaded: LoadedLabels) -> list[YamlError]:
    owners: dict[str, list[Label]] = defaultdict(list)
    for label in loaded.labels:
        for phrase in {
            normalize(p) for p in (*label.evidence.phrases, *label.evidence.weak_phrases)
        }:
            owners[phrase].append(label)
    problems = []
    for phrase, labels in owners.items():
        for i, first in enumerate(labels):
            for second in labels[i + 1 :]:
                if _exclusive(first, second):
                    continue
                problems.append(
                    YamlError(
                        second.source,
                        f"E102 phrase '{phrase}' is under both '{first.name}' and "
                        f"'{second.name}'; keep it under one label",
                        _phrase_line(loaded, second, phrase),
                        "phrases",
                    )
                )
    return problems


def _phrase_line(loaded: LoadedLabels, label: Label, phrase: str) -> int | None:
    for field in ("phrases", "weak_phrases"):
        items = getattr(label.evidence, field)
        for index, item in enumerate(items):
            if normalize(item) == phrase:
                return _line(loaded, label, field, index)
    return _line(loaded, label)


def _exclusive(first: Label, second: Label) -> bool:
    """One needs a slot the other refuses: "es confiable" about a car vs about Kavak."""
    a, b = first.evidence, second.evidence
    return bool(set(a.requires_slots) & set(b.unless_slots)) or bool(
        set(b.requires_slots) & set(a.unless_slots)
    )


def check_examples(extractor: Extractor, loaded: LoadedLabels, catalog=None) -> list[YamlError]:
    """E103: every example reads as its own label; no not_example does."""
    problems = []
    for label in loaded.labels:
        for index, text in enumerate(label.evidence.examples):
            got = extractor.extract(text, screen_for(label, text, extractor, catalog)).label
            if got != label.name:
                problems.append(
                    YamlError(
                        label.source,
                        f"E103 example {text!r} of '{label.name}' is read as '{got}'; reword it,"
                        " or add a phrase to its label",
                        _line(loaded, label, "examples", index),
                        "examples",
                    )
                )
        for index, text in enumerate(label.evidence.not_examples):
            got = extractor.extract(text, screen_for(label, text, extractor, catalog)).label
            if got == label.name:
                problems.append(
                    YamlError(
                        label.source,
                        f"E103 not_example {text!r} is read as '{label.name}'; a phrase of the "
                        "label is too broad",
                        _line(loaded, label, "not_examples", index),
                        "not_examples",
                    )
                )
    return problems


def screen_for(label: Label, text: str, extractor: Extractor, catalog=None):
    """The screen a label's examples assume: a list that holds the car the example names."""
    from nlu.evaluation import Case, case_context

    screen = label.examples_context or (label.needs_context[0] if label.needs_context else None)
    if screen is None:
        return None
    if screen == "asking":
        from nlu.context import DialogContext

        return DialogContext(asking=["name", "phone", "email", "contact_time"])
    if screen == "lead":
        screen = "lead_sent"
    if screen == "shown":
        screen = "list_shown"
    slots = extractor.analyse(text).slots
    expect = {
        key: slots[key]
        for key in ("make", "model", "body_type", "transmission", "fuel")
        if key in slots
    }
    return case_context(Case(text=text, context=screen, expect=expect), catalog)
