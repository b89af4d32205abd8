"""The example stage: a nearest-example classifier over every YAML example and phrase.

Deterministic and built at load (no trained weights): each text becomes a TF-IDF vector of
lemma-like word stems, stem pairs and character n-grams (for typos); a message takes the label
of its most similar example (cosine), but only when that label is clearly ahead:

    index = ExampleIndex.build([("knowledge/locations", "¿dónde están?"), ...])
    index.rank("a q hora cierran")[:2]  # [("knowledge/locations", 0.61), ("purchase", 0.20)]

Numbers, car names and cities in a message are replaced by placeholders before it is
vectorised, so "¿el versa es confiable?" is near "¿el jetta es bueno?" without listing every car.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process
from spacy.lang.es.stop_words import STOP_WORDS

from nlu.lexicon import load_concepts
from nlu.text import fold, stem

QUESTION_WORDS = {"no", "sin", "como", "donde", "cuando", "cuanto", "cuantos", "cual"}  # they count
SPANISH_STOPWORDS = frozenset(fold(word) for word in STOP_WORDS) - QUESTION_WORDS
EXTRA_STOPWORDS = Path(__file__).resolve().parent.parent / "data" / "nlu" / "stopwords.txt"
STOPWORDS = SPANISH_STOPWORDS | frozenset(
    line.strip()
    for line in EXTRA_STOPWORDS.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)

NGRAM_SIZES = (4,)
CHAR_WEIGHT = 0.35  # character n-grams catch typos; words and pairs carry the meaning
PAIR_WEIGHT = 0.6
# a label scores as its nearest example: an example added in YAML is then understood as written
TOP_CANDIDATES = 40  # nearest examples looked at: enough to rank every label that is close
MIN_KNOWN_SHARE = 0.5  # below it, the message is about something the examples never mention
NEAR_WORD = 80  # a typo of a known word ("grantia") still counts as known


@dataclass(frozen=True)
class Ranked:
    label: str
    score: float


class Concepts:
    """Words read as one meaning (data/nlu/concepts.yml): "nave" and "carro" are both "@auto",
    "inspected" is "@revisar" like "revisión"."""

    def __init__(self, words: dict[str, str] | None = None, stems: dict[str, str] | None = None):
        self.words = words or {}
        self.stems = stems or {}

    @classmethod
    @lru_cache(maxsize=4)
    def load(cls, path: Path | None = None) -> Concepts:
        return cls(*load_concepts(path))

    def meaning(self, token: str) -> str:
        """The concept of a token, else its stem ('#num' and other placeholders as they are)."""
        if token.startswith("#"):
            return token
        found = self.words.get(token)
        if found:
            return found
        word = stem(token)
        return self.stems.get(word, word)


def features(tokens: Sequence[str], concepts: Concepts | None = None) -> Counter[str]:
    """Weighted features of already-normalised tokens (placeholders like '#num' kept as is)."""
    found: Counter[str] = Counter()
    concepts = concepts or Concepts()
    stems = [concepts.meaning(token) for token in tokens]
    for token, word in zip(tokens, stems, strict=True):
        if token not in STOPWORDS:  # "la", "de", "es" say nothing about what is wanted
            found["w:" + word] += 1.0
    for (a, first), (b, second) in zip(
        zip(tokens, stems, strict=True), list(zip(tokens, stems, strict=True))[1:], strict=False
    ):
        if a not in STOPWORDS or b not in STOPWORDS:  # "que_es" says nothing
            found[f"p:{first}_{second}"] += PAIR_WEIGHT
    for token in tokens:
        if token.startswith("#") or len(token) < 3 or token in STOPWORDS:
            continue
        padded = f"<{token}>"
        for size in NGRAM_SIZES:
            for i in range(len(padded) - size + 1):
                found["c:" + padded[i : i + size]] += CHAR_WEIGHT
    return found


class ExampleIndex:
    """Example vectors in an inverted index; scoring is a few numpy calls per message."""

    def __init__(
        self,
        labels: list[str],
        vectors: list[dict[int, float]],
        idf: dict[str, float],
        sources: list[tuple[str, str, bool]] | None = None,
        concepts: Concepts | None = None,
    ):
        self.concepts = concepts or Concepts()
        self.sources = sources or [(label, "", False) for label in labels]  # label, text, example?
        self.label_names = sorted(set(labels))
        label_ids = {name: i for i, name in enumerate(self.label_names)}
        self.example_labels = np.array([label_ids[label] for label in labels], dtype=np.int64)
        self.size = len(labels)
        self.idf = idf
        self.feature_ids = {name: i for i, name in enumerate(idf)}
        postings: dict[int, tuple[list[int], list[float]]] = {}
        for example, vector in enumerate(vectors):
            for feature, weight in vector.items():
                rows, weights = postings.setdefault(feature, ([], []))
                rows.append(example)
                weights.append(weight)
        self.vocabulary = tuple(
            sorted({text for _, text, _ in self.sources for text in _words(text)})
        )
        self.postings = {
            feature: (np.array(rows, dtype=np.int64), np.array(weights, dtype=np.float64))
            for feature, (rows, weights) in postings.items()
        }

    @classmethod
    def build(
        cls,
        examples: Iterable[tuple[str, str, bool, Sequence[str]]],
        concepts: Concepts | None = None,
    ) -> ExampleIndex:
        """`examples`: (label, text, is an example (not a phrase), normalised tokens)."""
        concepts = concepts or Concepts()
        labels: list[str] = []
        counted: list[Counter[str]] = []
        sources: list[tuple[str, str, bool]] = []
        for label, text, is_example, tokens in examples:
            found = features(tokens, concepts)
            if found:
                labels.append(label)
                counted.append(found)
                sources.append((label, text, is_example))
        document_frequency: Counter[str] = Counter()
        for found in counted:
            document_frequency.update(found.keys())
        total = len(counted)
        idf = {
            name: math.log((1 + total) / (1 + df)) + 1.0 for name, df in document_frequency.items()
        }
        feature_ids = {name: i for i, name in enumerate(idf)}
        vectors = [
            _unit({feature_ids[n]: _tf(w) * idf[n] for n, w in found.items()}) for found in counted
        ]
        return cls(labels, vectors, idf, sources, concepts)

    def vector(self, tokens: Sequence[str]) -> dict[int, float]:
        found = features(tokens, self.concepts)
        weights = {
            self.feature_ids[name]: _tf(weight) * self.idf[name]
            for name, weight in found.items()
            if name in self.feature_ids
        }
        if not weights:
            return {}
        # unknown features still count in the norm: an unseen message is far from everything
        unseen = sum((_tf(w) * 2.0) ** 2 for n, w in found.items() if n not in self.feature_ids)
        norm = math.sqrt(sum(value * value for value in weights.values()) + unseen)
        return {feature: value / norm for feature, value in weights.items()}

    def known_share(self, tokens: Sequence[str]) -> float:
        """How many of the message's content words the examples know (a typo counts as known)."""
        words = [t for t in tokens if t.isalpha() and t not in STOPWORDS and len(t) > 2]
        if not words:
            return 0.0  # "el jetta": only a car name, nothing for the examples to compare
        known = sum(self._knows(word) for word in words)
        return known / len(words)

    def _knows(self, word: str) -> bool:
        if "w:" + self.concepts.meaning(word) in self.feature_ids:
            return True
        return _near(word, self.vocabulary)

    def rank(self, tokens: Sequence[str], exclude: int | None = None) -> list[Ranked]:
        """Labels by score, best first; `exclude` leaves one example out (for --loo).
        Nothing when most of the message's words are unknown ("¿cómo se hacen los chilaquiles?")."""
        if self.known_share(tokens) < MIN_KNOWN_SHARE:
            return []
        query = self.vector(tokens)
        if not query or not self.size:
            return []
        rows, weights = [], []
        for feature, value in query.items():
            posting = self.postings.get(feature)
            if posting is not None:
                rows.append(posting[0])
                weights.append(posting[1] * value)
        similarity = np.bincount(
            np.concatenate(rows), weights=np.concatenate(weights), minlength=self.size
        )
        if exclude is not None:
            similarity[exclude] = -1.0
        return self._by_label(similarity)

    def _by_label(self, similarity: np.ndarray) -> list[Ranked]:
        best: dict[int, float] = {}
        count = min(TOP_CANDIDATES, len(similarity))
        top = np.argpartition(-similarity, count - 1)[:count] if count else similarity[:0]
        # best first; of equal scores the example written first in the YAML
        for example in top[np.lexsort((top, -similarity[top]))]:
            score = float(similarity[example])
            if score <= 0:
                break
            best.setdefault(int(self.example_labels[example]), score)
        ranked = [Ranked(self.label_names[label], score) for label, score in best.items()]
        return sorted(ranked, key=lambda item: -item.score)


def _words(text: str) -> list[str]:
    return [word for word in fold(text).split() if word.isalpha() and len(word) > 2]


@lru_cache(maxsize=16384)
def _near(word: str, vocabulary: tuple[str, ...]) -> bool:
    return (
        process.extractOne(word, vocabulary, scorer=fuzz.ratio, score_cutoff=NEAR_WORD) is not None
    )


def _tf(weight: float) -> float:
    return 1.0 + math.log(weight) if weight >= 1 else weight


def _unit(vector: dict[int, float]) -> dict[int, float]:
    norm = math.sqrt(sum(value * value for value in vector.values())) or 1.0
    return {feature: value / norm for feature, value in vector.items()}
