"""The extractor's data files (data/nlu/*.yml) as typed objects, folded once at load."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from nlu.text import fold, stem
from tools.yamlio import (
    YamlError,
    line_at,
    load_model,
    load_yaml,
    raise_problems,
    validate_yaml,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "nlu"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumberWords(_Strict):
    """Spanish number words (data/nlu/numbers.yml)."""

    units: dict[str, int]
    needs_multiplier: list[str]
    time_units: list[str] = Field(default_factory=list)
    half_words: list[str]
    # parts of a million said as a word before it ("un cuarto de millón")
    fractions: dict[str, float] = Field(default_factory=dict)
    thousands: list[str]
    millions: list[str]
    joiner: str = "y"


class Values(_Strict):
    """Words that set a slot (data/nlu/values.yml): equipment flags and attribute values."""

    flags: dict[str, list[str]]
    negations: list[str] = Field(default_factory=list)
    # "olvida el carplay", "ya no importa lo automático": the criterion is dropped, not negated
    drops: list[str] = Field(default_factory=list)
    values: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    # nouns a value word only describes ("inspección mecánica", "falla eléctrica"): not the car's
    not_after: list[str] = Field(default_factory=list)
    # a two-valued slot ruled out is the other value ("que no sea estándar": automatic)
    opposites: dict[str, dict[str, str]] = Field(default_factory=dict)
    # broad words a more precise value said with them narrows ("camioneta de batea": a pickup)
    generic: list[str] = Field(default_factory=list)


class Area(_Strict):
    lat: float
    lon: float


class Place(_Strict):
    aliases: list[str] = Field(default_factory=list)
    area: str | None = None
    near: str | None = None  # the branch of its area nearest to it ("Coacalco" -> "Cosmopol")
    branch: bool = False  # one of Kavak's own branches ("la de Santa Fe", "Explanada")
    lat: float | None = None
    lon: float | None = None
    needs_preposition: bool = False


class Places(_Strict):
    """Cities and areas for the `city` slot (data/nlu/places.yml)."""

    areas: dict[str, Area]
    prepositions: list[str]
    # before a place the customer only travels to, no place asked about ("viajes a saltillo")
    trip_words: list[str] = Field(default_factory=list)
    places: dict[str, Place]


class Cues(_Strict):
    cues: dict[str, list[str]]
    fillers: list[str]


class Ordinals(_Strict):
    words: dict[str, int]
    pointers: list[str]
    pick_nouns: list[str]
    not_after: list[str]
    not_before: list[str]
    months: list[str]
    positions: dict[str, int] = {}
    position_pointers: list[str] = []
    # words that may lead a list of bare picks: "compara 2 y 3", "compare 2 and 3"
    list_leads: list[str] = []
    # next to the car in focus: "el siguiente" (+1), "el de arriba" (-1)
    relative: dict[str, int] = {}


class Emoji(_Strict):
    emoji: dict[str, str]


class Shorthand(_Strict):
    shorthand: dict[str, str]
    keep_before: list[str] = Field(default_factory=list)  # "x trail" is a car, not "por trail"
    # expanded before a number too: "menos d 150" ("q 5" stays: the Audi Q5)
    before_numbers: list[str] = Field(default_factory=list)


class Concept(_Strict):
    es: list[str] = Field(default_factory=list)  # every inflection, through the stemmer
    en: list[str] = Field(default_factory=list)  # exact words


class Concepts(_Strict):
    """Words the example stage reads as one (data/nlu/concepts.yml): "nave" = "carro"."""

    concepts: dict[str, Concept]


def load_concepts(path: Path | str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(English word -> concept, Spanish stem -> concept), concepts written "@auto". A word
    under two concepts is reported with its line (one of them would silently win)."""
    path = Path(path) if path else DATA_DIR / "concepts.yml"
    data = load_yaml(path)
    found = validate_yaml(Concepts, data, path)
    words: dict[str, str] = {}
    stems: dict[str, str] = {}
    problems: list[YamlError] = []
    for name, concept in found.concepts.items():
        for language, keys in (("en", words), ("es", stems)):
            for index, word in enumerate(getattr(concept, language)):
                folded = fold(word).strip()
                key = stem(folded) if language == "es" else folded
                other = keys.setdefault(key, f"@{name}")
                if other != f"@{name}":
                    line = line_at(data, ("concepts", name, language, index))
                    reason = f"{word!r} is under {other[1:]!r} and {name!r}: keep it in one"
                    problems.append(YamlError(path, reason, line, f"concepts.{name}"))
    raise_problems(problems)
    return words, stems


class Lexicon(BaseModel):
    """Everything the extractor knows besides the catalog and the intents."""

    numbers: NumberWords
    values: Values
    places: Places
    emoji: Emoji
    shorthand: Shorthand
    cues: Cues
    ordinals: Ordinals

    @classmethod
    def load(cls, directory: Path | str | None = None) -> Lexicon:
        base = Path(directory) if directory else DATA_DIR
        return cls(
            numbers=load_model(NumberWords, base / "numbers.yml"),
            values=load_model(Values, base / "values.yml"),
            places=load_model(Places, base / "places.yml"),
            emoji=load_model(Emoji, base / "emoji.yml"),
            shorthand=load_model(Shorthand, base / "shorthand.yml"),
            cues=load_model(Cues, base / "cues.yml"),
            ordinals=load_model(Ordinals, base / "ordinals.yml"),
        )

    def words_for_emoji(self, text: str) -> str:
        """'👋' -> ' hola ': emoji that mean something become words before folding."""
        if text.isascii():
            return text
        for emoji, words in self.emoji.emoji.items():
            if emoji in text:
                text = text.replace(emoji, f" {words} ")
        return text

    def shorthand_pattern(self, keep_before: set[str] = frozenset()) -> re.Pattern[str]:
        """Whole-word shorthand ("q" -> "que"), never next to a dash or a digit ("x-trail",
        "q5") nor before a word of `keep_before` (car names: "x trail", "x nova")."""
        numbered = {fold(word) for word in self.shorthand.before_numbers} & set(
            self.shorthand_words
        )
        words = sorted(set(self.shorthand_words) - numbered, key=len, reverse=True)
        keep = {fold(word) for word in self.shorthand.keep_before} | set(keep_before)
        alternatives = "|".join(map(re.escape, sorted(keep)))
        kept = rf"(?! (?:{alternatives})\b)" if keep else ""
        guard = r"(?![\w-])(?! ?\d)" + kept
        pattern = r"(?<![\w$#-])(?:" + "|".join(map(re.escape, words)) + ")" + guard
        if numbered:  # "d 150": no digit guard, still never glued to a word or a dash
            pattern += (
                r"|(?<![\w$#-])(?:" + "|".join(map(re.escape, sorted(numbered))) + r")(?![\w-])"
            )
        return re.compile(pattern)

    @cached_property
    def shorthand_words(self) -> dict[str, str]:
        return {
            fold(short): fold(long)
            for short, long in self.shorthand.shorthand.items()
            if short != long
        }

    @cached_property
    def fillers(self) -> frozenset[str]:
        return frozenset(fold(word) for word in self.cues.fillers)

    @cached_property
    def term_units(self) -> frozenset[str]:
        """The words of a term's unit (cues.yml years_unit, months_unit): "años", "meses"."""
        phrases = self.cues.cues.get("years_unit", []) + self.cues.cues.get("months_unit", [])
        return frozenset(word for phrase in phrases for word in fold(phrase).split())

    @cached_property
    def known_words(self) -> frozenset[str]:
        """Every word the rules use: never fuzzy-matched to a car name."""
        phrases = [*self.cues.fillers, *self.numbers.units, *self.numbers.thousands]
        phrases += [*self.numbers.millions, *self.ordinals.words, *self.ordinals.pointers]
        phrases += [*self.ordinals.pick_nouns, *self.ordinals.not_before, *self.ordinals.months]
        phrases += [*self.values.negations, *self.values.drops]
        for cue_phrases in self.cues.cues.values():
            phrases += cue_phrases
        return frozenset(word for phrase in phrases for word in fold(phrase).split())


def read_word_list(path: Path) -> frozenset[str]:
    """One folded word or phrase per line; '#' starts a comment line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(fold(line.strip()) for line in lines if line.strip() and line[0] != "#")
