"""Makes and models: catalog names, generated spellings, aliases, a brand lexicon and fuzzy typos.

"jeta" -> Jetta, "crv" -> CR-V, "vw" -> Volkswagen, "tesla" -> Tesla (not in stock, still a make).
Names that are numbers or everyday words ("208", "Uno", "Escape") count only next to their make.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from nlu.lexicon import DATA_DIR, Lexicon
from nlu.text import fold, prepare
from tools.catalog import Catalog

# "rav4" -> "rav 4", "xc40" -> "xc 40"; never "a3" -> "a 3" ("a 3 años" is a term, not an Audi)
_LETTER_DIGIT = re.compile(r"(?<=[a-z]{2})(?=\d)|(?<=\d)(?=[a-z]{2})")
_ANY_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_WORDISH = re.compile(r"^[a-z][a-z-]*$")


@dataclass(frozen=True, slots=True)
class Name:
    """One thing a phrase can name: a make, or a model of a make."""

    make: str
    model: str | None = None
    needs_make: bool = False


@dataclass
class VehicleMention:
    make: str | None = None
    model: str | None = None
    claimed: list[tuple[int, int]] = field(default_factory=list)


def spellings(name: str) -> set[str]:
    """'CR-V' -> {'cr-v', 'crv', 'cr v'}; 'RAV4' -> {'rav4', 'rav 4'}; 'Land Rover' +'landrover'."""
    base = fold(name).strip()
    forms = {base, base.replace("-", ""), base.replace("-", " "), base.replace(" ", "")}
    forms |= {_LETTER_DIGIT.sub(" ", form) for form in list(forms)}
    forms |= {_ANY_LETTER_DIGIT.sub("-", form) for form in list(forms)}  # "x-5", "l-200"
    forms |= {form.replace(" ", "-") for form in list(forms) if " " in form}
    return {" ".join(form.split()) for form in forms if form.strip()}


def read_common_words(path: Path) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(fold(line.strip()) for line in lines if line.strip() and line[0] != "#")


class VehicleVocabulary:
    """Every way to write every make and model the assistant should recognise."""

    def __init__(self, catalog: Catalog, lexicon: Lexicon, common_words: frozenset[str]):
        self.phrases: dict[str, set[Name]] = {}
        self.makes: dict[str, str] = {}  # folded -> canonical
        self.models_by_make: dict[str, set[str]] = {}
        self._add_makes(catalog, lexicon)
        self._add_models(catalog, lexicon)
        self.skip_fuzzy = common_words | lexicon.known_words
        self.fuzzy_choices = sorted(
            phrase for phrase in self.phrases if _WORDISH.match(phrase) and len(phrase) >= 3
        )

    @classmethod
    def build(cls, catalog: Catalog, lexicon: Lexicon, data_dir: Path | None = None):
        words = read_common_words((data_dir or DATA_DIR) / "common_words.txt")
        return cls(catalog, lexicon, words)

    def _canonical_make(self, name: str) -> str:
        return self.makes.setdefault(fold(name), name)

    def _add(self, phrase: str, name: Name) -> None:
        self.phrases.setdefault(prepare(phrase), set()).add(name)

    def _add_makes(self, catalog: Catalog, lexicon: Lexicon) -> None:
        for make in catalog.makes:  # catalog spelling wins ("KIA", "Mercedes Benz")
            self._canonical_make(make)
        sources = [lexicon.brands.brands, lexicon.aliases.makes]
        for source in sources:
            for make, aliases in source.items():
                canonical = self._canonical_make(make)
                for alias in [make, *aliases]:
                    for form in spellings(alias):
                        self._add(form, Name(canonical))
        for make in catalog.makes:
            for form in spellings(make):
                self._add(form, Name(make))

    def _add_models(self, catalog: Catalog, lexicon: Lexicon) -> None:
        aliases = {fold(model): names for model, names in lexicon.aliases.models.items()}
        word_like = {fold(model) for model in lexicon.aliases.needs_make}
        for model, make in catalog.models.items():
            key = fold(model)
            self.models_by_make.setdefault(make, set()).add(model)
            needs_make = key in word_like or _numeric(key, make)
            full = Name(make, model, needs_make)
            for form in spellings(model) | {
                alias for a in aliases.get(key, []) for alias in spellings(a)
            }:
                self._add(form, full)
            if not key.startswith(fold(make)):
                for form in spellings(f"{make} {model}"):
                    self._add(form, Name(make, model))

    def fuzzy(self, token: str) -> str | None:
        """The phrase a misspelt token most likely means ('corola' -> 'corolla'), or None."""
        if len(token) < 4 or token in self.skip_fuzzy or not token.isalpha():
            return None
        return _closest(token, tuple(self.fuzzy_choices))


@lru_cache(maxsize=65536)
def _closest(token: str, choices: tuple[str, ...]) -> str | None:
    cutoff = 85 if len(token) <= 5 else 80
    best = process.extractOne(token, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
    if best is None:
        return None
    phrase, score = best[0], best[1]
    return phrase if phrase[0] == token[0] or score >= 90 else None


def _numeric(model: str, make: str) -> bool:
    """'208', '2008', 'Mazda 3' said as '3': numbers are only a model next to the make."""
    if model.startswith(fold(make)):
        return False  # "mazda 3" names its make
    return model.isdigit() or len(model) <= 1


def resolve(
    vocabulary: VehicleVocabulary,
    spans: Iterable[tuple[str, int, int]],
    tokens: list[str],
    taken: list[bool],
) -> VehicleMention:
    """Pick the make and model named in the message from phrase matches plus fuzzy typos."""
    candidates = [(phrase, start, end) for phrase, start, end in spans]
    candidates += list(_fuzzy_spans(vocabulary, tokens, taken, candidates))
    chosen = _longest_first(candidates)
    named = [(vocabulary.phrases[phrase], start, end) for phrase, start, end in chosen]
    makes_said = {name.make for names, _, _ in named for name in names if name.model is None}
    mention = VehicleMention()
    for names, start, end in sorted(named, key=lambda item: item[1]):
        usable = [n for n in names if not n.needs_make or n.make in makes_said]
        if not usable:
            continue
        model_names = [n for n in usable if n.model]
        if model_names and mention.model is None:
            pick = _prefer_make(model_names, mention.make or _first(makes_said, named))
            mention.model, mention.make = pick.model, pick.make
        elif not model_names and mention.make is None:
            mention.make = usable[0].make
        elif not model_names and mention.model is None:
            mention.make = mention.make or usable[0].make
        mention.claimed.append((start, end))
    return mention


def _prefer_make(names: list[Name], make: str | None) -> Name:
    for name in names:
        if make and name.make == make:
            return name
    return sorted(names, key=lambda name: (name.make, name.model or ""))[0]


def _first(makes: set[str], named: list) -> str | None:
    for names, _, _ in sorted(named, key=lambda item: item[1]):
        for name in names:
            if name.model is None and name.make in makes:
                return name.make
    return None


def _fuzzy_spans(
    vocabulary: VehicleVocabulary,
    tokens: list[str],
    taken: list[bool],
    exact: list[tuple[str, int, int]],
) -> Iterator[tuple[str, int, int]]:
    covered = {i for _, start, end in exact for i in range(start, end)}
    for i, token in enumerate(tokens):
        if i in covered or taken[i]:
            continue
        phrase = vocabulary.fuzzy(token)
        if phrase is not None:
            yield phrase, i, i + 1


def _longest_first(spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Non-overlapping spans, longer ones winning ('mazda 3' over 'mazda')."""
    chosen: list[tuple[str, int, int]] = []
    used: set[int] = set()
    for phrase, start, end in sorted(spans, key=lambda s: (s[1] - s[2], s[1])):
        if used.isdisjoint(range(start, end)):
            chosen.append((phrase, start, end))
            used.update(range(start, end))
    return chosen
