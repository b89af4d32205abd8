"""The extractor's data files (data/nlu/*.yml) as typed objects, folded once at load."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from nlu.text import fold
from tools.yamlio import load_model

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "nlu"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumberWords(_Strict):
    """Spanish number words (data/nlu/numbers.yml)."""

    units: dict[str, int]
    needs_multiplier: list[str]
    half_words: list[str]
    thousands: list[str]
    millions: list[str]
    joiner: str = "y"


class Features(_Strict):
    features: dict[str, list[str]]
    negations: list[str] = Field(default_factory=list)


class Aliases(_Strict):
    makes: dict[str, list[str]] = Field(default_factory=dict)
    models: dict[str, list[str]] = Field(default_factory=dict)
    needs_make: list[str] = Field(default_factory=list)


class Brands(_Strict):
    brands: dict[str, list[str]]


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


class Lexicon(BaseModel):
    """Everything the extractor knows besides the catalog and the intents."""

    numbers: NumberWords
    features: Features
    aliases: Aliases
    brands: Brands
    cues: Cues
    ordinals: Ordinals

    @classmethod
    def load(cls, directory: Path | str | None = None) -> Lexicon:
        base = Path(directory) if directory else DATA_DIR
        return cls(
            numbers=load_model(NumberWords, base / "numbers.yml"),
            features=load_model(Features, base / "features.yml"),
            aliases=load_model(Aliases, base / "aliases.yml"),
            brands=load_model(Brands, base / "brands.yml"),
            cues=load_model(Cues, base / "cues.yml"),
            ordinals=load_model(Ordinals, base / "ordinals.yml"),
        )

    @cached_property
    def fillers(self) -> frozenset[str]:
        return frozenset(fold(word) for word in self.cues.fillers)

    @cached_property
    def known_words(self) -> frozenset[str]:
        """Every word the rules use: never fuzzy-matched to a car name."""
        phrases = [*self.cues.fillers, *self.numbers.units, *self.numbers.thousands]
        phrases += [*self.numbers.millions, *self.ordinals.words, *self.ordinals.pointers]
        phrases += [*self.ordinals.pick_nouns, *self.ordinals.not_before, *self.ordinals.months]
        phrases += [*self.features.negations]
        for cue_phrases in self.cues.cues.values():
            phrases += cue_phrases
        return frozenset(word for phrase in phrases for word in fold(phrase).split())
