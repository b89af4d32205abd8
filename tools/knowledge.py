"""The knowledge base (data/knowledge.yml): verified answers about Kavak, one entry per topic.

An answer can narrow to a section ("¿dónde están en Guadalajara?" -> only Guadalajara). Without a
topic from the NLU, an entry answers only when its keywords or examples match confidently.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from rapidfuzz import fuzz

from nlu.text import fold
from tools.yamlio import YamlError, line_at, load_yaml, validate_yaml

MAX_ANSWER_CHARS = 900
_WORDS = re.compile(r"[a-z0-9]+")


class KnowledgeSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    keywords: list[str] = Field(min_length=1)
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)


class KnowledgeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str
    title: str
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    keywords: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    sections: list[KnowledgeSection] = Field(default_factory=list)

    @field_validator("answer")
    @classmethod
    def _not_blank(cls, answer: str) -> str:
        if not answer.strip():
            raise ValueError("the answer is empty")
        return answer.strip()


class KnowledgeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_score: float = Field(0.8, ge=0, le=1)
    entries: list[KnowledgeEntry] = Field(min_length=1)


class KnowledgeAnswer(BaseModel):
    topic: str
    section: str | None = None
    text: str
    score: float = 1.0


def _normal(text: str) -> str:
    return " ".join(_WORDS.findall(fold(text)))


def _mentions(normal_text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {normal_text} "


class KnowledgeBase:
    def __init__(self, data: KnowledgeFile, source: str = ""):
        self.data, self.source = data, source
        self.entries = {entry.topic: entry for entry in data.entries}

    @classmethod
    def load(cls, path: Path | str) -> KnowledgeBase:
        raw: Any = load_yaml(path)
        data = validate_yaml(KnowledgeFile, raw, path)
        seen: set[str] = set()
        for index, entry in enumerate(data.entries):
            if entry.topic in seen:
                line = line_at(raw, ("entries", index, "topic"))
                raise YamlError(path, f"topic '{entry.topic}' is defined twice", line, "topic")
            seen.add(entry.topic)
        return cls(data, str(path))

    @property
    def topics(self) -> list[str]:
        return list(self.entries)

    @cached_property
    def _keywords(self) -> dict[str, list[str]]:
        return {t: [_normal(k) for k in e.keywords] for t, e in self.entries.items()}

    @cached_property
    def _examples(self) -> dict[str, list[str]]:
        return {t: [_normal(x) for x in e.examples] for t, e in self.entries.items()}

    def answer(self, topic: str | None, text: str) -> KnowledgeAnswer | None:
        """The answer for `topic` (narrowed by section), or the confident best match, or None."""
        normal = _normal(text)
        if topic is not None and topic in self.entries:
            return self._narrowed(self.entries[topic], normal, 1.0)
        best = self._ranked(normal)
        if best and best[0][0] >= self.data.min_score:
            score, entry_topic = best[0]
            return self._narrowed(self.entries[entry_topic], normal, score)
        return None

    def closest(self, text: str, k: int = 3) -> list[KnowledgeAnswer]:
        """The k entries nearest the text, confident or not (context for the LLM)."""
        ranked = self._ranked(_normal(text))[:k]
        return [
            KnowledgeAnswer(topic=topic, text=self.entries[topic].answer, score=score)
            for score, topic in ranked
        ]

    def _ranked(self, normal: str) -> list[tuple[float, str]]:
        scored = [(self._score(topic, normal), topic) for topic in self.entries]
        return sorted(scored, key=lambda item: -item[0])

    def _score(self, topic: str, normal: str) -> float:
        if not normal:
            return 0.0
        hits = sum(_mentions(normal, keyword) for keyword in self._keywords[topic])
        keyword_score = min(1.0, 0.8 + 0.1 * (hits - 1)) if hits else 0.0
        example_score = max(
            (fuzz.token_sort_ratio(normal, example) / 100 for example in self._examples[topic]),
            default=0.0,
        )
        return max(keyword_score, example_score if example_score >= 0.85 else 0.0)

    def _narrowed(self, entry: KnowledgeEntry, normal: str, score: float) -> KnowledgeAnswer:
        sections = [
            section
            for section in entry.sections
            if any(_mentions(normal, _normal(keyword)) for keyword in section.keywords)
        ]
        if not sections:
            return KnowledgeAnswer(topic=entry.topic, text=entry.answer, score=score)
        return KnowledgeAnswer(
            topic=entry.topic,
            section=", ".join(section.name for section in sections),
            text="\n\n".join(section.answer for section in sections),
            score=score,
        )
