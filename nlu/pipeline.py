"""The extractor: spaCy's blank Spanish tokenizer, one PhraseMatcher for every phrase the rules
know (car names, cue words, intent phrases), then small readers per slot family.

    extractor = Extractor.from_catalog(load_catalog())
    extractor.extract("busco un jeta 2019 de menos de 300 mil").to_json()
    # {'intent': 'search_cars', 'make': 'Volkswagen', 'model': 'Jetta', 'year_min': 2019, ...}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher

from nlu import financing, money, years
from nlu.cues import CueIndex, Unit
from nlu.features import FeatureReader
from nlu.intents import IntentClassifier, load_intents
from nlu.lexicon import Lexicon
from nlu.numbers import NumberReader, Quantity
from nlu.ordinals import OrdinalReader
from nlu.schema import Extraction
from nlu.text import fold, prepare
from nlu.vehicles import VehicleVocabulary, resolve
from tools.catalog import Catalog

MAX_CHARS = 1000  # longer messages are read up to here: a WhatsApp request is a few lines
MAX_AMOUNT = 1e10  # "999999999999999 mil" is not a budget
WORD_CUES = frozenset({"percent_after"})
READERS = (financing.read, money.read_km, years.read, money.read_price)


def blank_spanish() -> Language:
    """spaCy's rule-based Spanish tokenizer; no trained weights are downloaded or needed."""
    return spacy.blank("es")


class Extractor:
    """Text in, Extraction out; deterministic, never raises, built once per catalog."""

    def __init__(
        self,
        nlp: Language,
        vocabulary: VehicleVocabulary,
        lexicon: Lexicon,
        intents: IntentClassifier,
    ):
        self.nlp, self.vocabulary, self.lexicon, self.intents = nlp, vocabulary, lexicon, intents
        self.numbers = NumberReader(lexicon.numbers)
        self.ordinals = OrdinalReader(lexicon.ordinals)
        self.features = FeatureReader(lexicon.features)
        self.matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._keys: dict[int, tuple[str, str]] = {}
        self._add_patterns()

    @classmethod
    def from_catalog(
        cls,
        catalog: Catalog,
        intents_path: Path | str | None = None,
        lexicon_dir: Path | str | None = None,
        nlp: Language | None = None,
    ) -> Extractor:
        lexicon = Lexicon.load(lexicon_dir)
        vocabulary = VehicleVocabulary.build(
            catalog, lexicon, Path(lexicon_dir) if lexicon_dir else None
        )
        intents = IntentClassifier(load_intents(intents_path))
        return cls(nlp or blank_spanish(), vocabulary, lexicon, intents)

    @property
    def intent_names(self) -> list[str]:
        return self.intents.names

    @property
    def names(self) -> list[str]:
        """Canonical makes and models (for the LLM grounding guard)."""
        found = {name.make for names in self.vocabulary.phrases.values() for name in names}
        found |= {name.model for names in self.vocabulary.phrases.values() for name in names}
        return sorted(name for name in found if name)

    def _add_patterns(self) -> None:
        groups: list[tuple[str, str, Iterable[str]]] = []
        for phrase in self.vocabulary.phrases:
            groups.append(("car", phrase, [phrase]))
        for feature, phrases in self.lexicon.features.features.items():
            groups.append(("feature", feature, phrases))
        for label, phrases in self.lexicon.cues.cues.items():
            groups.append(("cue", label, phrases))
        for key, phrases in self.intents.phrase_patterns():
            groups.append(("intent", key, phrases))
        for namespace, name, phrases in groups:
            key = f"{namespace}|{name}"
            self._keys[self.nlp.vocab.strings.add(key)] = (namespace, name)
            docs = list(self.nlp.tokenizer.pipe(prepare(phrase) for phrase in phrases))
            self.matcher.add(key, [doc for doc in docs if len(doc)])

    def extract(self, text: str) -> Extraction:
        prepared = prepare(text[:MAX_CHARS]) if isinstance(text, str) else ""
        if not prepared:
            return Extraction()
        doc = self.nlp.make_doc(prepared)
        tokens = [token.text for token in doc]
        found: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
        for match_id, start, end in self.matcher(doc):
            namespace, name = self._keys[match_id]
            found[namespace].append((name, start, end))
        slots: dict[str, object] = {}
        taken = [False] * len(tokens)
        self._vehicles(tokens, found["car"], taken, slots)
        for label, start, end in found["cue"]:
            if label in WORD_CUES:  # "por ciento" is a unit, not the number 100
                taken[start:end] = [True] * (end - start)
        slots.update(self.features.read(tokens, found["feature"]))
        leftovers, counted = self._numbers(tokens, found["cue"], taken, slots)
        ordinal = self.ordinals.read(tokens, taken, leftovers, counted)
        if ordinal is not None:
            slots["ordinal"] = ordinal
        intent, topic = self.intents.classify(
            prepared, (name for name, _, _ in found["intent"]), slots
        )
        return Extraction(intent=intent, topic=topic, **slots)

    def _vehicles(self, tokens, spans, taken: list[bool], slots: dict[str, object]) -> None:
        mention = resolve(self.vocabulary, spans, tokens, taken)
        for start, end in mention.claimed:
            taken[start:end] = [True] * (end - start)
        if mention.make:
            slots["make"] = mention.make
        if mention.model:
            slots["model"] = mention.model

    def _numbers(
        self, tokens: list[str], cue_spans, taken: list[bool], slots: dict[str, object]
    ) -> tuple[list[Quantity], set[int]]:
        """Read every number and give it a meaning; return the ones left for ordinals."""
        index = CueIndex(tokens, cue_spans, self.lexicon.fillers)
        leftovers: list[Quantity] = []
        counted: set[int] = set()
        for unit in index.group(self.numbers.read(tokens, taken)):
            meaning = _meaning(unit)
            if meaning is None:
                if "count_after" in unit.after:
                    counted.update(quantity.start for quantity in unit.quantities)
                leftovers.extend(unit.quantities)
                continue
            for key, value in meaning.items():
                if value <= MAX_AMOUNT:
                    slots.setdefault(key, value)
        return leftovers, counted


def _meaning(unit: Unit) -> dict[str, float] | None:
    for reader in READERS:
        meaning = reader(unit)
        if meaning is not None:
            return meaning
    return None


def normalise_for_compare(value: object) -> object:
    """Case- and accent-insensitive comparison of strings in regression cases."""
    return fold(value).strip() if isinstance(value, str) else value
