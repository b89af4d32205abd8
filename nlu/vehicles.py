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

from nlu.grammar import GRAMMAR
from nlu.lexicon import DATA_DIR, Lexicon, read_word_list
from nlu.text import fold, prepare
from tools.catalog import Catalog
from tools.vehicles import VehicleLexicon, load_vehicle_lexicon

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
    # other cars named as alternatives ("un jetta o un vento"): (make, model or None)
    others: list[tuple[str, str | None]] = field(default_factory=list)
    # other models named in another clause ("la tracker tiene pocos km. y la escape…"): kept
    # aside, a question between the two ("¿cuál de las 2?") compares them
    apart: list[tuple[str, str | None]] = field(default_factory=list)


def spellings(name: str) -> set[str]:
    """'CR-V' -> {'cr-v', 'crv', 'cr v'}; 'RAV4' -> {'rav4', 'rav 4'}; 'Land Rover' +'landrover'."""
    base = fold(name).strip()
    forms = {base, base.replace("-", ""), base.replace("-", " "), base.replace(" ", "")}
    forms |= {_LETTER_DIGIT.sub(" ", form) for form in list(forms)}
    forms |= {_ANY_LETTER_DIGIT.sub("-", form) for form in list(forms)}  # "x-5", "l-200"
    forms |= {form.replace(" ", "-") for form in list(forms) if " " in form}
    return {" ".join(form.split()) for form in forms if form.strip()}


class VehicleVocabulary:
    """Every way to write every make and model the assistant should recognise."""

    def __init__(
        self,
        catalog: Catalog,
        lexicon: Lexicon,
        vehicles: VehicleLexicon,
        common_words: frozenset[str],
    ):
        self.vehicles = vehicles  # body types and fuels of the makes and models sold in Mexico
        self.phrases: dict[str, set[Name]] = {}
        self.makes: dict[str, str] = {}  # folded -> canonical
        self.models_by_make: dict[str, set[str]] = {}
        self._add_makes(catalog, vehicles)
        self._add_models(catalog, vehicles)
        in_stock = {fold(make): make for make in catalog.makes}
        # "autos alemanes": the makes of that origin the catalog has, in the order listed
        self.origins = {
            name: [in_stock[fold(make)] for make in origin.makes if fold(make) in in_stock]
            for name, origin in vehicles.origins.items()
        }
        self.origin_words = {name: origin.words for name, origin in vehicles.origins.items()}
        self.skip_fuzzy = common_words | lexicon.known_words
        self.trim_words = frozenset(  # "gti", "gli", "sport": a version word after the model
            fold(word)
            for group in vehicles.version_words.model_dump().values()
            for words in group.values()
            for word in words
            if " " not in word and not word.isdigit()
        )
        self.fuzzy_choices = sorted(  # typos are corrected to cars in stock and to makes only
            phrase
            for phrase, names in self.phrases.items()
            if _WORDISH.match(phrase)
            and len(phrase) >= 3
            and any(name.model is None or fold(name.model) in self.in_stock for name in names)
        )

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        lexicon: Lexicon,
        data_dir: Path | None = None,
        vehicles: VehicleLexicon | None = None,
    ):
        words = read_word_list((data_dir or DATA_DIR) / "common_words.txt")
        # an everyday English word is no typo of a car ("my Spanish is pretty basic": no BAIC)
        english = read_word_list((data_dir or DATA_DIR) / "english.txt")
        return cls(catalog, lexicon, vehicles or load_vehicle_lexicon(), words | english)

    def _canonical_make(self, name: str) -> str:
        return self.makes.setdefault(fold(name), name)

    def _add(self, phrase: str, name: Name) -> None:
        self.phrases.setdefault(prepare(phrase), set()).add(name)

    def _add_makes(self, catalog: Catalog, vehicles: VehicleLexicon) -> None:
        for make in catalog.makes:  # catalog spelling wins ("KIA", "Mercedes Benz")
            self._canonical_make(make)
        for make, aliases in vehicles.makes.items():
            canonical = self._canonical_make(make)
            for alias in [make, *aliases]:
                for form in spellings(alias):
                    self._add(form, Name(canonical))
        for make in catalog.makes:
            for form in spellings(make):
                self._add(form, Name(make))

    def _add_models(self, catalog: Catalog, vehicles: VehicleLexicon) -> None:
        word_like = {fold(model) for model in vehicles.needs_make}
        known: dict[str, tuple[str, str, list[str]]] = {}
        for make, model, info in vehicles.entries():
            known[fold(model)] = (self._canonical_make(make), model, info.aliases)
        in_stock = {fold(model) for model in catalog.models}
        for model, make in catalog.models.items():
            aliases = known.get(fold(model), ("", "", []))[2]
            self._add_model(make, model, aliases, word_like)
        # "el M2": a name a stocked version carries ("3.0 M2 DCT") is a car we have
        versions: dict[str, set[str]] = {}
        for car in catalog.cars:
            words = fold(car.version).replace("-", " ").split()
            versions.setdefault(fold(car.make), set()).update(words)
        for key, (make, model, aliases) in known.items():
            if key not in in_stock:  # a short name of a car we lack is too easily a word
                lacked = _short(key) and key not in versions.get(fold(make), set())
                self._add_model(make, model, aliases, word_like | ({key} if lacked else set()))
        self.in_stock = in_stock

    def _add_model(self, make: str, model: str, aliases: list[str], word_like: set[str]) -> None:
        key = fold(model)
        self.models_by_make.setdefault(make, set()).add(model)
        needs_make = key in word_like or _numeric(key, make)
        full = Name(make, model, needs_make)
        for form in spellings(model) | {alias for a in aliases for alias in spellings(a)}:
            self._add(form, full)
        if not key.startswith(fold(make)):
            for form in spellings(f"{make} {model}"):
                self._add(form, Name(make, model))

    def fuzzy(self, token: str) -> str | None:
        """The phrase a misspelt token most likely means ('corola' -> 'corolla'), or None."""
        if len(token) < 4 or token in self.skip_fuzzy or not token.isalpha():
            return None
        if _PROTHETIC_E.match(token) and token[1:] in self.fuzzy_choices:
            return token[1:]  # "espark", "eswift": the "e" Spanish puts before an s and a consonant
        return _closest(token, tuple(self.fuzzy_choices))


_PROTHETIC_E = re.compile(r"^es[bcdfgklmnpqtvwz]")


@lru_cache(maxsize=65536)
def _closest(token: str, choices: tuple[str, ...]) -> str | None:
    cutoff = 85 if len(token) <= 5 else 80
    best = process.extractOne(token, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
    if best is None:
        return None
    phrase = best[0]
    if phrase[0] != token[0]:  # typos rarely change the first letter
        return None
    return phrase if abs(len(phrase) - len(token)) <= max(1, len(phrase) // 4) else None


def _pointed(vocabulary: VehicleVocabulary, name: Name) -> bool:
    """An article makes a short name a car only when we have it: "el gt" after a list is the
    Forte GT listed, not an MG GT we lack."""
    key = fold(name.model or "")
    return key in vocabulary.in_stock or not _short(key)


def _short(key: str) -> bool:
    """A model name of three characters or fewer ("gt", "c-3"): too easily a word."""
    return len(key.replace(" ", "").replace("-", "")) <= 3


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
    owned: bool = False,
    on_screen: frozenset[str] = frozenset(),
) -> VehicleMention:
    """Pick the make and model named in the message from phrase matches plus fuzzy typos.
    `owned`: the customer's own car ("mi lobo"), where a short name needs no make; `on_screen`: the
    models on screen, which "the" points at ("the Gol looks cute": the Gol listed)."""
    candidates = [(phrase, start, end) for phrase, start, end in spans]
    candidates += list(_fuzzy_spans(vocabulary, tokens, taken, candidates))
    chosen = _longest_first(candidates)
    named = [(vocabulary.phrases[phrase], start, end) for phrase, start, end in chosen]
    makes_said = {name.make for names, _, _ in named for name in names if name.model is None}
    mention = VehicleMention()
    apart_before: tuple[str, str | None] | None = None  # the car named just before, not the model
    for names, start, end in sorted(named, key=lambda item: item[1]):
        before = tokens[start - 1] if start else ""
        if fold(tokens[start]) in SEAT_WORDS and (before.isdigit() or before in SEAT_NOUN_BEFORE):
            continue  # "7 seat SUVs", "a high seat": seats, not the make SEAT
        indefinite = start > 1 and tokens[start - 1] in ONE_CAR and tokens[start] not in NUMERALS
        wished = start > 1 and tokens[start - 2] in WISHES  # not "vi un lobo en el camino"
        offered = start > 1 and tokens[start - 2] in ALTERNATIVE_JOINERS and bool(mention.claimed)
        indefinite = indefinite and (wished or offered)  # "un vocho o un gol": wished too
        near = set(tokens[max(0, start - 2) : start]) | set(tokens[end : end + 2])
        stocked = bool(near & STOCK_ASKED) and tokens[start] not in NUMERALS  # "hay uno"
        indefinite = indefinite or stocked  # "¿y avanza no tienen?"
        article = indefinite or (start > 0 and tokens[start - 1] in CAR_ARTICLES)  # "una avanza"
        like = start > 0 and tokens[start - 1] in GRAMMAR.like_before  # "algo tipo avanza"
        article = article or like
        the = start > 0 and tokens[start - 1] in GRAMMAR.listed_articles
        article = article or (the and any(fold(n.model or "") in on_screen for n in names))
        place = start > 1 and tokens[start - 2] in GRAMMAR.place_before_article
        article = article and not place  # "salir a la sierra": a place, not a GMC
        # "con los 500": an amount; one car is "el 500", "un 500"
        plural = start > 0 and tokens[start - 1] in PLURAL_ARTICLES | OWN_PLURAL
        usable = [
            n
            for n in names
            if (owned and not (plural and (n.model or "").isdigit()))  # "mis 300": money
            or (article and not (plural and (n.model or "").isdigit()) and _pointed(vocabulary, n))
            or not n.needs_make
            or n.make in makes_said
        ]
        if not usable:
            continue
        model_names = [n for n in usable if n.model]
        if mention.others and mention.others[-1][1] is None and mention.claimed[-1][1] == start:
            make = mention.others[-1][0]  # "y el mercedes clase a": the alternative's model
            same = [n for n in model_names if n.make == make]
            if same:
                mention.others[-1] = (make, same[0].model)
                mention.claimed.append((start, end))
                continue
        trims = vocabulary.trim_words
        if mention.claimed and _joined(tokens, mention.claimed[-1][1], start, trims):
            other = _prefer_make(model_names, None) if model_names else usable[0]
            if (other.make, other.model) != (mention.make, mention.model):
                mention.others.append((other.make, other.model))
                mention.claimed.append((start, end))
                continue
            if apart_before is not None and apart_before not in mention.others:
                # "y el serie 3? ¿cuál es mejor, el x1 o el serie 3?": the X1 is the other one
                mention.others.append(apart_before)
                mention.claimed.append((start, end))
                continue
        apart_before = None
        listed = bool(mention.claimed) and mention.claimed[-1][1] == start and mention.model is None
        if listed and not model_names and mention.make and usable[0].make != mention.make:
            mention.others.append((usable[0].make, None))  # "algo premium, mercedes volvo o
            mention.claimed.append((start, end))  # así": makes listed with no joiner, either
            continue
        other_make = mention.make is not None and all(n.make != mention.make for n in model_names)
        if model_names and (mention.model is not None or other_make):  # "¿el peugeot tiene
            # carplay? y el uno?": a car of another make, named apart
            pick = _prefer_make(model_names, None)
            if pick.model != mention.model and (pick.make, pick.model) not in mention.apart:
                mention.apart.append((pick.make, pick.model))
                apart_before = (pick.make, pick.model)
            if mention.model is None:  # the make named first stays the car asked of
                mention.claimed.append((start, end))
                continue
        another_make = bool(mention.make) and usable[0].make != mention.make
        if not model_names and another_make and (usable[0].make, None) not in mention.apart:
            mention.apart.append((usable[0].make, None))  # "la rav4 tiene muchos km. y de honda
            # no hay nada?": a make apart
        if model_names and mention.model is None:
            pick = _prefer_make(model_names, mention.make or _first(makes_said, named))
            mention.model, mention.make = pick.model, pick.make
        elif not model_names and mention.make is None:
            mention.make = usable[0].make
        elif not model_names and mention.model is None:
            mention.make = mention.make or usable[0].make
        mention.claimed.append((start, end))
    models_of_make = [model for make, model in mention.others if model and make == mention.make]
    if mention.model is None and mention.others and len(models_of_make) == len(mention.others):
        # "un honda, cr-v o hr-v": the make, then which of its models
        mention.model = models_of_make[0]
        mention.others = mention.others[1:]
    return mention


CAR_ARTICLES = GRAMMAR.car_articles  # "el figo", "otro clase a"
PLURAL_ARTICLES = GRAMMAR.plural_articles
OWN_PLURAL = GRAMMAR.own_plural  # "se pasa de mis 300": an amount, not a Chrysler
INDEFINITES = GRAMMAR.indefinite_articles  # "un mazda 3, un corolla"
WISHES = GRAMMAR.wishes
STOCK_ASKED = GRAMMAR.stock_asked
SEAT_WORDS = GRAMMAR.seat_words
SEAT_NOUN_BEFORE = GRAMMAR.seat_noun_before
NUMERALS = GRAMMAR.numeral_models  # "un uno" is no Fiat Uno
ONE_CAR = GRAMMAR.one_car  # "busco una avanza": a word-like model after "un"/"una"
COMPARE_JOINERS = GRAMMAR.compare_joiners
ALTERNATIVE_JOINERS = GRAMMAR.alternative_joiners  # "compárame la sportage con la compass"
THAN_WORDS = GRAMMAR.than_words
WEIGHING = GRAMMAR.weighing


YEAR_DIGITS = (2, 4)  # "2017", "del 17"


def _year_like(tokens: list[str]) -> bool:
    return bool(tokens) and tokens[0].isdigit() and len(tokens[0]) in YEAR_DIGITS


def _joined(
    tokens: list[str], last_end: int, start: int, trims: frozenset[str] = frozenset()
) -> bool:
    """ "jetta o (un) vento": a second car offered as an alternative, not a make + model."""
    between = tokens[last_end:start]
    if between[:1] and between[0] in trims:  # "un golf gti o un civic": the first car's version
        between = between[1:]
    while between:  # "la cr-v 2017 con la hr-v", "el aveo del 17 o el mazda": the first car's year
        dated = between[0] in GRAMMAR.year_only_articles and _year_like(between[1:2])
        if not (dated or _year_like(between[:1])):
            break
        between = between[2:] if dated else between[1:]
    if between[:1] == [","] and all(t in CAR_ARTICLES or t in INDEFINITES for t in between[1:3]):
        return len(between) <= 2  # "BMW, Mercedes o Audi", "un mazda 3, un corolla y un sentra"
    if 0 < len(between) <= 3 and between[0] in ALTERNATIVE_JOINERS:
        return True
    # "el cla. compáralo con la x1": the joiner right before the second car (and its article)
    tail = between[-2:] if between[-1:] and between[-1] in CAR_ARTICLES else between[-1:]
    if 0 < len(between) <= 5 and tail[:1] != [] and tail[0] in COMPARE_JOINERS:
        return True
    # "la t-cross es más grande que el kicks": two cars weighed by a comparative
    return (
        0 < len(between) <= 6
        and tail[:1] != []
        and tail[0] in THAN_WORDS
        and bool(set(between[:-1]) & WEIGHING)
    )


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
