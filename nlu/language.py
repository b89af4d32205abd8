"""Which language a message is in: Spanish by default, English when most words are English
(data/nlu/english.txt). Enough to answer a greeting, the menu or a handoff in the customer's
language (config/i18n/en.yml)."""

from __future__ import annotations

from spacy.lang.es.stop_words import STOP_WORDS

from nlu.text import fold

MIN_ENGLISH_SHARE = 0.6
MIN_ENGLISH_WORDS = 4


class LanguageGuess:
    def __init__(
        self,
        english: frozenset[str],
        spanish: frozenset[str],
        neutral: frozenset[str] = frozenset(),
    ):
        self.english = english - spanish
        self.spanish = spanish
        self.neutral = neutral  # names said the same in both: "Kavak", "Jetta", "Guadalajara"

    @classmethod
    def build(
        cls,
        english: frozenset[str],
        domain_words: frozenset[str],
        neutral: frozenset[str] = frozenset(),
    ) -> LanguageGuess:
        stop = frozenset(fold(word) for word in STOP_WORDS)
        spanish = stop | domain_words
        # a car named by a Spanish function word ("Model Y") still leaves "y" Spanish
        return cls(english, spanish - english - (neutral - stop), neutral - english - stop)

    def guess(self, words: list[str]) -> str | None:
        """'en', 'es', or None when the message says too little to tell (a number, a name)."""
        words = [w for w in words if w.replace("'", "").isalpha() and w not in self.neutral]
        if not words:
            return None
        english = sum(word in self.english for word in words)
        spanish = sum(word in self.spanish for word in words)
        known = english + spanish  # names and typos say nothing: "Mike Johnson, call me"
        mostly = english >= MIN_ENGLISH_SHARE * known and english > spanish
        clearly = english >= MIN_ENGLISH_WORDS and english > 2 * spanish  # long messages
        if english and (mostly or clearly):
            return "en"
        if english and english >= spanish:
            return None  # "and carplay?": as English as Spanish, the conversation's language
        return "es" if spanish else None
