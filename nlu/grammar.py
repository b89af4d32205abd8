"""The grammar words the extraction rules read (data/nlu/grammar.yml): articles, pointers,
copulas, joiners and clause breaks. Language rather than business vocabulary, but data all the
same: a word added to a set there is read by every rule that uses the set, with no code change.
Loaded once at import, like the spaCy tokenizer rules; a wrong file stops start-up with its line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from nlu.lexicon import DATA_DIR, _Strict
from nlu.text import fold
from tools.yamlio import load_model

GRAMMAR_FILE = DATA_DIR / "grammar.yml"


class Grammar(_Strict):
    articles: frozenset[str]
    car_articles: frozenset[str]
    listed_articles: frozenset[str]
    yes_no: frozenset[str]
    seat_noun_before: frozenset[str]
    origin_not_beside: frozenset[str]
    plural_articles: frozenset[str]
    own_plural: frozenset[str]
    name_articles: frozenset[str]
    year_articles: frozenset[str]
    year_only_articles: frozenset[str]
    indefinite_articles: frozenset[str]
    indefinites: frozenset[str]
    demonstratives: frozenset[str]
    focus_pointers: frozenset[str]
    own_words: frozenset[str]
    own_gap: frozenset[str]
    side_gap: frozenset[str]
    copulas: frozenset[str]
    person_copulas: frozenset[str]
    intensifiers: frozenset[str]
    comparatives: frozenset[str]
    english_superlatives: frozenset[str]
    which: frozenset[str]
    wishes: frozenset[str]
    denials: frozenset[str]
    bridge: frozenset[str]
    contrast: frozenset[str]
    another_kind: frozenset[str]
    described: frozenset[str]
    car_nouns: frozenset[str]
    stock_verbs: frozenset[str]
    other_words: frozenset[str]
    ruled_joiners: frozenset[str]
    another_kind_pairs: frozenset[str]
    trade_value: frozenset[str]
    own_trait_verbs: frozenset[str]
    gerund_endings: frozenset[str]
    clause_breaks: frozenset[str]
    value_clause_end: frozenset[str]
    phone_clause_end: frozenset[str]
    name_clause_marks: frozenset[str]
    question_marks: frozenset[str]
    question_openers: frozenset[str]
    wanted_car_before: frozenset[str]
    shared_comparative_joiners: frozenset[str]
    comparative_markers: frozenset[str]
    like_before: frozenset[str]
    remark_verbs: frozenset[str]
    cylinder_words: frozenset[str]
    relatives: frozenset[str]
    stock_possessives: frozenset[str]
    article_free_superlatives: frozenset[str]
    denial_copulas: frozenset[str]
    yes_or_no: frozenset[str]
    negative_questions: frozenset[str]
    language_neutral: frozenset[str]
    list_joiners: frozenset[str]
    term_joiners: frozenset[str]
    change_of_mind: frozenset[str]
    settling: frozenset[str]
    residence_words: frozenset[str]
    weighing_after: frozenset[str]
    pay_verbs: frozenset[str]
    able_words: frozenset[str]
    wanted_next: frozenset[str]
    condition_openers: frozenset[str]
    trade_for: frozenset[str]
    which_has: frozenset[str]
    paid_with: frozenset[str]
    too_long: frozenset[str]
    cash_words: frozenset[str]
    preference_cues: frozenset[str]
    accepted_after: frozenset[str]
    wish_phrases: frozenset[str]
    asks_not_compares: frozenset[str]
    wish_denials: frozenset[str]
    guess_joiners: frozenset[str]
    debt_words: frozenset[str]
    paid_verbs: frozenset[str]
    amount_range_joiners: frozenset[str]
    plus_words: frozenset[str]
    of_own: frozenset[str]
    total_words: frozenset[str]
    has_verbs: frozenset[str]
    pass_conditions: frozenset[str]
    errand_before: frozenset[str]
    errand_after: frozenset[str]
    no_credit: frozenset[str]
    minus_words: frozenset[str]
    own_after: frozenset[str]
    condition_fillers: frozenset[str]
    year_links: frozenset[str]
    search_turns: frozenset[str]
    same_again: frozenset[str]
    head_count_cues: frozenset[str]
    year_denial_fillers: frozenset[str]
    compare_joiners: frozenset[str]
    alternative_joiners: frozenset[str]
    money_paid_in: frozenset[str]
    length_words: frozenset[str]
    stay_words: frozenset[str]
    compare_words: frozenset[str]
    denied_floor_words: frozenset[str]
    deniable_floors: frozenset[str]
    age_links: frozenset[str]
    person_words: frozenset[str]
    seen_verbs: frozenset[str]
    seen_price_joiners: frozenset[str]
    seen_but_cheaper: frozenset[str]
    difference_words: frozenset[str]
    than_words: frozenset[str]
    plan_words: frozenset[str]
    copula_words: frozenset[str]
    two_words: frozenset[str]
    km_words: frozenset[str]
    distance_words: frozenset[str]
    have_verbs: frozenset[str]
    have_fillers: frozenset[str]
    more_fillers: frozenset[str]
    not_car_after_other: frozenset[str]
    pronoun_one_before: frozenset[str]
    number_articles: frozenset[str]
    order_bridge: frozenset[str]
    percent_list_joiners: frozenset[str]
    copula_skips: frozenset[str]
    than_skips: frozenset[str]
    comparative_words: frozenset[str]
    bigger_words: frozenset[str]
    elliptic_words: frozenset[str]
    choice_openers: frozenset[str]
    this_or_that: frozenset[str]
    where_words: frozenset[str]
    singular_have: frozenset[str]
    confirm_tags: frozenset[str]
    denied_with: frozenset[str]
    remark_before: frozenset[str]
    tag_no_after: frozenset[str]
    tag_no_not_before: frozenset[str]
    third_row: frozenset[str]
    third_row_after: frozenset[str]
    judged_size_before: frozenset[str]
    place_before_article: frozenset[str]
    km_joiners: frozenset[str]
    definite_car: frozenset[str]
    permissive: frozenset[str]
    also_words: frozenset[str]
    not_needed_after: frozenset[str]
    stock_asked: frozenset[str]
    seat_words: frozenset[str]
    numeral_models: frozenset[str]
    one_car: frozenset[str]
    plural_car_nouns: frozenset[str]
    interjections: frozenset[str]
    permission_asks: frozenset[str]
    own_openers: frozenset[str]
    other_person: frozenset[str]
    other_person_also: frozenset[str]
    inability: frozenset[str]
    business_nouns: frozenset[str]
    weighing: frozenset[str]

    @field_validator("*")
    @classmethod
    def _folded(cls, words: frozenset[str]) -> frozenset[str]:
        folded = frozenset(" ".join(fold(word).split()) for word in words)
        if "" in folded:
            raise ValueError("an empty word")
        return folded


MOST_PHRASE_WORDS = 6  # the longest phrase of a set read around a position


def phrase_ends_at(tokens: list[str], i: int, phrases: frozenset[str]) -> bool:
    """One of `phrases` is said right before token `i` ("el que tiene" before "19 mil km")."""
    return any(
        " ".join(tokens[max(0, i - n) : i]) in phrases for n in range(1, MOST_PHRASE_WORDS + 1)
    )


def phrase_starts_at(tokens: list[str], i: int, phrases: frozenset[str]) -> bool:
    """One of `phrases` is said from token `i` on ("es mucho" after "6 años")."""
    return any(" ".join(tokens[i : i + n]) in phrases for n in range(1, MOST_PHRASE_WORDS + 1))


def load_grammar(path: Path | str = GRAMMAR_FILE) -> Grammar:
    return load_model(Grammar, path)


GRAMMAR = load_grammar()
