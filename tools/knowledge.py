"""The knowledge base (data/knowledge.yml): verified answers about Kavak, one entry per topic.

An entry holds everything about its topic: the answer, narrower sections, and the phrases,
patterns and examples by which the NLU recognises a question about it (nlu/labels.py). A
section answers instead of the whole entry when the question names it: a place served by an
area ("¿dónde están en Zapopan?" -> Guadalajara) or one of its phrases ("¿a qué hora abren?").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nlu.intents import Evidence, check_patterns
from tools.yamlio import YamlError, line_at, load_yaml, validate_yaml

MAX_ANSWER_CHARS = 900
LONGEST = 1200  # a general answer and the sections asked, in one message


class Window(BaseModel):
    """A period a section's rule lasts from the purchase (the 7 days of a return, the 3 months of
    the warranty): told how long ago they bought ("lo compré hace 2 meses"), the answer says
    whether they are within it. `{ago}` in either text is that time, in the customer's words."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(gt=0)
    within: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    past: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    # a rule that also ends at a distance (the return's 300 km): told the km driven ("ya le metí
    # 600 km"), `km_past` or `km_within` answers; `{driven}` is those km
    km: int | None = Field(default=None, gt=0)
    km_within: str | None = Field(default=None, min_length=1, max_length=MAX_ANSWER_CHARS)
    km_past: str | None = Field(default=None, min_length=1, max_length=MAX_ANSWER_CHARS)

    @model_validator(mode="after")
    def _km_texts(self) -> Window:
        if self.km is not None and not (self.km_within and self.km_past):
            raise ValueError("a window with `km` needs both `km_within` and `km_past`")
        return self

    def sides(self) -> tuple[str, ...]:
        return ("within", "past", "km_within", "km_past") if self.km else ("within", "past")

    def side(self, days: int | None, driven: int | None) -> str | None:
        """`within`, `past`, `km_within` or `km_past` of what was told; None if nothing of it."""
        if self.km is not None and driven is not None and driven > self.km:
            return "km_past"  # 600 km: past, whatever the days
        if days is not None:
            return "within" if days <= self.days else "past"
        if self.km is not None and driven is not None:
            return "km_within"
        return None


class KnowledgeSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    phrases: list[str] = Field(default_factory=list)
    # regular expressions over the message (lowercase, no accents) for what phrases cannot list:
    # "le faltan 8 mensualidades" has a number inside
    patterns: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    # answered without the topic's general answer, which says nothing of it ("¿quién paga la
    # tenencia?" needs no list of what the app does)
    alone: bool = False
    window: Window | None = None
    # asked beside a car, it is the question, the car its subject ("can you source a hilux for
    # me?"): this part is answered first, the car's search after it
    before_search: bool = False
    # said beside another request (a car's plan, a pick), it is asked too and answered after it:
    # "se ve bonito. pero tengo 17 años, ¿puedo sacarlo a crédito?"
    asked_beside: bool = False
    # said, it is the whole answer: "en la app no me sale nada" gets no list of what the app does
    # nor another section that sends them to it
    only: bool = False

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        return check_patterns(patterns)


class KnowledgeEntry(Evidence):
    topic: str
    title: str
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    sections: list[KnowledgeSection] = Field(default_factory=list)
    nearest: str = ""  # locations: a place with no branch ({place}, {areas})
    offer: str = ""  # a next step appended to the answer ("¿Quieres que agende la inspección?")
    # the offer asks for a car ("¿te ayudo a buscar uno?"): not made once a car is chosen or named
    offer_asks_car: bool = False
    # said after the answer when a car is chosen ({title}, {price}...): "¿dónde lo puedo ver?"
    with_car: str = ""

    @field_validator("answer")
    @classmethod
    def _not_blank(cls, answer: str) -> str:
        if not answer.strip():
            raise ValueError("the answer is empty")
        return answer.strip()


class KnowledgeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[KnowledgeEntry] = Field(min_length=1)


class KnowledgeAnswer(BaseModel):
    topic: str
    section: str | None = None
    text: str
    general: bool = False  # the general answer comes first
    # the sections whose text the answer says (a part the general answer already says is not);
    # a section answered by its window is named "<section>:within" or "<section>:past"
    said_sections: list[str] = Field(default_factory=list)


def load_knowledge_file(path: Path | str) -> tuple[KnowledgeFile, Any]:
    raw: Any = load_yaml(path)
    data = validate_yaml(KnowledgeFile, raw, path)
    seen: set[str] = set()
    for index, entry in enumerate(data.entries):
        if entry.topic in seen:
            line = line_at(raw, ("entries", index, "topic"))
            raise YamlError(path, f"topic '{entry.topic}' is defined twice", line, "topic")
        seen.add(entry.topic)
    return data, raw


def section_key(topic: str, name: str) -> str:
    """The phrase-set name under which the extractor reports a section's phrases."""
    return f"section:{topic}:{name}"


class KnowledgeBase:
    def __init__(self, data: KnowledgeFile, source: str = ""):
        self.data, self.source = data, source
        self.entries = {entry.topic: entry for entry in data.entries}

    @classmethod
    def load(cls, path: Path | str) -> KnowledgeBase:
        return cls(load_knowledge_file(path)[0], str(path))

    def pattern_sets(self) -> dict[str, list[str]]:
        """Section patterns for the extractor ('section:selling_car:Con adeudo')."""
        return self._section_sets("patterns")

    def phrase_sets(self) -> dict[str, list[str]]:
        """Section phrases for the extractor's matcher ('section:locations:Horario')."""
        return self._section_sets("phrases")

    def _section_sets(self, field: str) -> dict[str, list[str]]:
        return {
            section_key(entry.topic, section.name): getattr(section, field)
            for entry in self.data.entries
            for section in entry.sections
            if getattr(section, field)
        }

    def answer(
        self,
        topic: str | None,
        said: frozenset[str] = frozenset(),
        area: str | None = None,
        first: bool = False,
        elapsed_days: int | None = None,
        driven_km: int | None = None,
    ) -> KnowledgeAnswer | None:
        """The answer for `topic`, narrowed to the sections the question named; `first` (the
        topic was not answered yet in this conversation): the general answer, then them. Told
        how long ago they bought (`elapsed_days`), the sections with a window say whether that
        is within it; `{ago}` is left for the caller to fill."""
        entry = self.entries.get(topic or "")
        if entry is None:
            return None
        sections = [
            section
            for section in entry.sections
            if section.name == area or section_key(entry.topic, section.name) in said
        ]
        if elapsed_days is not None or driven_km is not None:
            timed = _timed(entry, sections, elapsed_days, driven_km)
            if timed is not None:
                return timed
        if not sections:
            return KnowledgeAnswer(topic=entry.topic, text=entry.answer)
        sections = [section for section in sections if section.only] or sections
        alone = [section for section in sections if section.alone]
        sections = [  # "¿abren el 16 de septiembre?": the holidays, which say the hours too
            section
            for section in sections
            if section.alone or not any(_said_in(section.answer, other.answer) for other in alone)
        ]
        texts = [section.answer for section in sections]
        general = first and area is None and len(entry.answer) + sum(map(len, texts)) <= LONGEST
        general = general and not all(section.alone for section in sections)
        kept = sections
        if general:  # a part the general answer already says is not said twice
            kept = [section for section in sections if not _said_in(section.answer, entry.answer)]
            texts = [section.answer for section in kept]
        return KnowledgeAnswer(
            topic=entry.topic,
            section=", ".join(section.name for section in sections),
            text=without_repeated_facts("\n\n".join([entry.answer, *texts] if general else texts)),
            general=general,
            said_sections=[section.name for section in kept],
        )

    def texts(self, topics: list[str]) -> list[str]:
        """The general answers of these topics (verified context for the LLM)."""
        return [self.entries[topic].answer for topic in topics if topic in self.entries]


SAID_SHARE = 0.7  # a section whose words are mostly in the general answer repeats it
_ENUMERATOR = re.compile(r"^\s*(?:[•\-]|\d+[.)])\s*")


def sections_marked(entries, flag: str) -> set[str]:
    """The phrase-set names (`section:<topic>:<name>`) of the sections whose `flag` is set
    (`before_search`: asked before a search; `asked_beside`: asked beside another request)."""
    return {
        section_key(entry.topic, section.name)
        for entry in entries
        for section in entry.sections
        if getattr(section, flag)
    }


MIN_FACTS = 2  # "3 días" alone is too little to call a line a repeat
_BOLD = re.compile(r"\*[^*]+\*")
_DIGITS = re.compile(r"\d+")


def _timed(
    entry: KnowledgeEntry, named: list[KnowledgeSection], days: int | None, driven: int | None
) -> KnowledgeAnswer | None:
    """ "Lo compré hace 2 meses, ¿lo puedo devolver?", "ya le metí 600 km": each windowed section
    asked (all of the topic's when none is) says whether `days` (and the km `driven`) are within
    it; the others asked keep their text."""
    sides = {
        section.name: side
        for section in entry.sections
        if section.window is not None and (side := section.window.side(days, driven)) is not None
    }
    windowed = [section for section in named if section.name in sides]
    if named and not windowed:  # "ya pasaron 15 días, ¿me regresan mi dinero?": whether the
        # time is within the topic's windows, then the part asked
        timed = [
            (s.window.days, i) for i, s in enumerate(entry.sections) if s.window and s.name in sides
        ]
        if not timed:
            return None
        first = entry.sections[min(timed)[1]]  # the shortest window (the return's 7 days)
        return _timed(entry, [first, *named], days, driven)
    parts = named if windowed else [s for s in entry.sections if s.name in sides]
    if not parts:
        return None
    # a window past ("ya no la puedo devolver"): what still applies, after it (the warranty's
    # 3 months after the return's 7 days)
    if any(sides.get(section.name) == "past" for section in parts):
        parts = [
            *parts,
            *(s for s in entry.sections if sides.get(s.name) == "within" and s not in parts),
        ]
    names, texts = [], []
    for section in parts:
        if section.window is None or section.name not in sides:
            names.append(section.name)
            texts.append(section.answer)
            continue
        side = sides[section.name]
        names.append(f"{section.name}:{side}")
        texts.append(getattr(section.window, side))
    return KnowledgeAnswer(
        topic=entry.topic,
        section=", ".join(section.name for section in parts),
        text="\n\n".join(texts),
        said_sections=names,
    )


def without_repeated_facts(text: str) -> str:
    """Across the blocks of an answer (the general one, a section, a city), a line whose figures
    and bold words a line of another block also says, with more, goes: "• Incluye *3 meses de
    garantía*" before "Tu auto incluye *3 meses de garantía* y la puedes extender *un año más*".
    A line with a single figure ("3 días") is never judged by it; list numbers do not count."""
    lines = text.split("\n")
    block, blocks = 0, []
    for line in lines:
        blocks.append(block)
        if not line.strip():
            block += 1
    facts = [_facts(line) for line in lines]
    dropped: set[int] = set()
    for i, mine in enumerate(facts):
        if len(mine) < MIN_FACTS:
            continue
        for j, other in enumerate(facts):
            if blocks[j] == blocks[i] or j in dropped or not other:
                continue
            if mine < other or (mine == other and j < i):
                dropped.add(i)  # another block says it too, and more (or said it first)
                break
    kept = [line for i, line in enumerate(lines) if i not in dropped]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def new_facts_only(text: str, said: str) -> str:
    """`text` without the lines whose figures and bold words a line of `said` already says:
    the second of two answers ("¿es confiable? ¿no me venden uno chocado?") does not repeat
    the *7 días o 300 km* the first one gave."""
    known = [_facts(line) for line in said.split("\n")]
    kept = [
        line
        for line in text.split("\n")
        if len(mine := _facts(line)) < MIN_FACTS or not any(mine <= other for other in known)
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _facts(line: str) -> frozenset[str]:
    body = _ENUMERATOR.sub("", line)
    bold = {" ".join(fact.strip("*").casefold().split()) for fact in _BOLD.findall(body)}
    return frozenset(bold | set(_DIGITS.findall(body)))


def _said_in(part: str, whole: str) -> bool:
    words = {word for word in re.findall(r"\w+", part.casefold()) if len(word) > 3}
    known = set(re.findall(r"\w+", whole.casefold()))
    return bool(words) and len(words & known) >= SAID_SHARE * len(words)
