"""The one text normaliser: folding (case, accents, odd characters), the tokens the extractor
reads, whole-word comparison and lemma-like stems. Everything that compares text uses these."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

import snowballstemmer

_ACCENTS = str.maketrans(
    {
        "á": "a", "é": "e", "í": "i", "ó": "o", "ú": "u", "ü": "u", "ñ": "n",
        "à": "a", "è": "e", "ì": "i", "ò": "o", "ù": "u", "â": "a", "ê": "e",
        "î": "i", "ô": "o", "û": "u", "ä": "a", "ë": "e", "ï": "i", "ö": "o",
        "¿": " ", "¡": " ", "“": '"', "”": '"', "‘": "'", "’": "'", "´": "'",
        "\u00a0": " ", "º": "o", "ª": "a", "°": "o", "–": "-", "—": "-",
    }
)  # fmt: skip
# A digit glued to a unit ("300mil", "50k", "20%") is split; ordinal suffixes ("2do", "3ra") stay.
_DIGIT_UNIT = re.compile(
    r"(?<=\d)(?!(?:o|a|er|ero|era|ro|ra|do|da|to|ta|vo|va|no|na|mo|ma)\b)(?=[a-z%])"
)
# "2020+", "300k+": a plus after a figure is a floor ("o más"); "+52 55…" keeps its plus
_PLUS_FLOOR = re.compile(r"(?<=[0-9k])\s*\+(?!\s*\d)")
_DIGIT_DASH = re.compile(r"(?<=\d)\s*[-/]\s*(?=\d)")  # dashes are "-" after _ACCENTS
_DIGIT_WORD_DASH = re.compile(r"(?<=\d)-(?=[a-z])")  # "7-seater", "4-door": the number and its word
_SPACES = re.compile(r"\s+")
_ELONGATED = re.compile(r"([a-z])\1{2,}")  # "holaaa", "siiii": 3+ of a letter -> 1
_COMBINING = re.compile(r"[\u0300-\u036f]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Sí, ¿tienen CR-V?' -> 'si,  tienen cr-v?'."""
    folded = text.casefold().translate(_ACCENTS)
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)  # "３００" -> "300", "é" -> "e" + accent
    # every lexicon entry is ASCII once folded, so any other character only separates words
    return _NON_ASCII.sub(" ", _COMBINING.sub("", decomposed))


def valid_unicode(text: str) -> str:
    """Lone surrogates (JSON allows "\\ud83d" alone) cannot be encoded: make them '?'."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def prepare(text: str) -> str:
    """Folded text with units split from digits, ready for the tokenizer."""
    folded = fold(valid_unicode(text))
    folded = _ELONGATED.sub(r"\1", folded)
    folded = _PLUS_FLOOR.sub(" o mas ", folded)
    folded = _DIGIT_UNIT.sub(" ", folded)
    folded = _DIGIT_DASH.sub(" - ", folded)
    folded = _DIGIT_WORD_DASH.sub(" ", folded)
    return _SPACES.sub(" ", folded).strip()


_WORD = re.compile(r"[a-z0-9]+")
# Pronouns glued to a verb: "devolverlo", "apártalo", "mándamelo", "llámame" (longest first).
_CLITIC = re.compile(
    r"^(?P<verb>[a-z]{3,}?[aei]n?r?)(?:melo|mela|melos|melas|selo|sela|selos|selas|los|las|les|nos|lo|la|le|me|te|se)$"
)
_STEMMER = snowballstemmer.stemmer("spanish")


def words(text: str) -> list[str]:
    """Folded words and numbers, punctuation dropped: '¿Dónde están?' -> [donde, estan]."""
    return _WORD.findall(prepare(text))


# A sentence ends after "?", "!", ";" or a line break, or after a full stop that is no decimal
# point ("4.5 m"); the mark stays with its sentence.
_SENTENCE_END = re.compile(r"(?:(?<=[?!;\n])|(?<=\.)(?!\d))\s*")


def sentences(text: str) -> list[str]:
    """The sentences of a message in its own words, each with its closing mark:
    'Se ve bien. ¿Trae CarPlay? y aceptan dólares?' -> ['Se ve bien.', '¿Trae CarPlay?',
    'y aceptan dólares?']."""
    parts = (part.strip() for part in _SENTENCE_END.split(text))
    return [part for part in parts if words(part)]  # "?!" alone is no sentence; "°" is a word


def normalize(text: str) -> str:
    """Folded words joined by single spaces, for comparing whole phrases."""
    return " ".join(words(text))


@lru_cache(maxsize=32768)
def stem(word: str) -> str:
    """A lemma-like stem: verb clitics and inflection off, so 'devolverlo', 'devolver' and
    'devoluciones' meet more often than not ('cierran' -> 'cierr', 'horarios' -> 'horari')."""
    if not word.isalpha() or len(word) <= 3:
        return word
    match = _CLITIC.match(word)
    if match and len(match.group("verb")) >= 4:
        word = match.group("verb")
    return _STEMMER.stemWord(word)


_DIMINUTIVE = re.compile(r"\b[a-z]{2,}c?it[oa]s?\b")  # "descuentito", "cochecito", "usaditas"
_DIMINUTIVE_STEM = {"c": "qu", "g": "gu", "z": "c"}  # poco -> poquito, largo -> larguito
_DIPHTHONG = re.compile(r"(?:ue|ie)[a-z]$")


def diminutive_map(words: Iterable[str], keep: Iterable[str] = ()) -> dict[str, str]:
    """The diminutives of `words` ("descuento" -> "descuentito", "coche" -> "cochecito",
    "usada" -> "usaditas"), each to its plain word; a form in `keep` (a word the rules or the
    cars already use: "bonito", "ahorita") stays as written."""
    kept = set(keep)
    found: dict[str, str] = {}
    # "-o"/"-a" words first: "nuevecito" is "nuevo" (its "ue" takes "-ecito"), not "nueve"
    for word in sorted(words, key=lambda word: word[-1:] not in ("o", "a")):
        if len(word) < 4 or not word.isalpha() or word.endswith("s"):
            continue
        if word[-1] in "oa":
            stem = word[:-2] + _DIMINUTIVE_STEM.get(word[-2], word[-2])
            forms = {f"{stem}it{word[-1]}": word, f"{stem}it{word[-1]}s": f"{word}s"}
            if _DIPHTHONG.search(word[:-1]):  # "nuevo" -> "nuevecito", "fiesta" -> "fiestecita"
                longer = f"{word[:-1]}ecit{word[-1]}"
                forms |= {longer: word, f"{longer}s": f"{word}s"}
        elif word[-1] in "enrl":
            plural = f"{word}s" if word[-1] == "e" else f"{word}es"
            forms = {f"{word}cit{end}": word for end in "oa"}
            forms |= {f"{word}cit{end}s": plural for end in "oa"}
        else:
            continue
        for form, plain in forms.items():
            if form not in kept and form != plain:
                found.setdefault(form, plain)
    return found


def plain_diminutives(text: str, diminutives: Mapping[str, str]) -> str:
    """ "me hacen un descuentito?" -> "me hacen un descuento?" (`diminutive_map`)."""
    if not diminutives:
        return text
    return _DIMINUTIVE.sub(lambda match: diminutives.get(match.group(0), match.group(0)), text)
