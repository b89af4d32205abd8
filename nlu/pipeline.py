"""The extractor: spaCy's blank Spanish tokenizer, one PhraseMatcher for every phrase the product
knows (car names, places, cue words, slot values, intent and topic phrases, the dialog's phrase
sets), small readers per slot family, then the intent stages and the context rules.

    extractor = Extractor.build(load_catalog())
    extractor.extract("busco un jeta 2019 de menos de 300 mil").to_json()
    # {'intent': 'search_cars', 'stage': 'rule', ..., 'make': 'Volkswagen', 'model': 'Jetta', ...}
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from nlu import financing, money, seats, years
from nlu.contact import SURNAME_ONLY, ContactReader
from nlu.context import (
    AFTER_SALE,
    DIFFERENCE,
    LEAD_UPDATE,
    MONEY,
    NO_SECOND,
    OPEN_ASKED,
    PICK_AS_PERCENT,
    PLURAL_KIND,
    PLURAL_PICK,
    ContextSettings,
    DialogContext,
    Reading,
    ShownCar,
    apply_context,
    car_matches,
    km_pointed,
    listed_matches,
)
from nlu.cues import YEAR_RANGE, CueIndex, Unit, is_year
from nlu.examples import STOPWORDS, Concepts, ExampleIndex
from nlu.grammar import GRAMMAR, phrase_ends_at, phrase_starts_at
from nlu.intents import (
    KNOWLEDGE,
    OUT_OF_SCOPE,
    Decision,
    Hits,
    IntentClassifier,
    Label,
    pattern_alternation,
)
from nlu.language import LanguageGuess
from nlu.lexicon import DATA_DIR, Lexicon, read_word_list
from nlu.numbers import NumberReader, Quantity, digit_value
from nlu.ordinals import OrdinalReader
from nlu.places import PlaceIndex
from nlu.schema import Extraction
from nlu.text import diminutive_map, fold, plain_diminutives, prepare
from nlu.values import (
    ALSO_BEST,
    ASKED,
    COMPARATIVES,
    DENIALS,
    DROPPED,
    EITHER,
    NEGATED,
    ORDER_BRIDGE,
    ValueReader,
)
from nlu.vehicles import ALTERNATIVE_JOINERS, CAR_ARTICLES, INDEFINITES, VehicleVocabulary, resolve
from tools.catalog import Catalog, car_name
from tools.search import alternative_parts

LUXURY = "luxury"  # the origin of premium makes (data/vehicles.yml origins)
PERSON_COPULAS = GRAMMAR.person_copulas  # grammar words: data/nlu/grammar.yml
MAX_CHARS = 1000  # longer messages are read up to here: a WhatsApp request is a few lines
MAX_AMOUNT = 1e10  # "999999999999999 mil" is not a budget
WORD_CUES = frozenset({"percent_after"})
READERS = (
    money.read_engine,
    money.read_length,
    financing.read,
    money.read_km,
    seats.read,
    years.read,
    money.read_price,
    money.read_bare_engine,
)
SEARCH_REQUEST = "search_cars"
FINANCING_REQUEST = "financing"
POLICY = "policy_question"
ABLE_WORDS = GRAMMAR.able_words
COMPLAINT = "complaint"
FINANCING_KEYS = frozenset({"down_payment", "down_payment_pct", "term_months"})
# an amount said with a bound ("máximo 5 mil") replaces one said bare in the same message
BOUNDABLE = frozenset({"price_max", "monthly_budget", "km_max"})
OPINION_DETAILS = frozenset({"details:fuel", "details:version", "details:engine"})
CLAUSE_BREAKS = GRAMMAR.clause_breaks
PLACEHOLDERS = {
    "car": "#car",
    "number": "#num",
    "place": "#city",
    "phone": "#phone",
    "email": "#email",
}
CALL_INTENT = "human_agent"
SIMILAR = "context:similar"  # "tipo", "parecido a": a car like the one named
SAME_SIZE = "context:same_size"  # "del tamaño de una crv": like it, by its length too
WANTED_NAMED = "context:wanted_named"  # the car named is the one to get, not theirs
STRETCH_PRICE = "context:stretch_price"  # "no importa si se pasa tantito": a little over
FOCUS_POINTERS = GRAMMAR.focus_pointers
FOCUS_CRITERIA = frozenset(
    {"make", "model", "year_min", "year_max", "price_min", "price_max", "km_max", "fuel"}
    | {"transmission", "seats_min", "superlative", "ordinal"}
)
DETAILS = "car_details"
SELECT = "select_car"
PRICE_BOUND = "price:bound"
BARE_DOWN_PAYMENT = "down_payment:bare"  # a down payment said without "mil", "k" or "$"
BARE_AMOUNT = "money:bare"  # an amount said as a small bare number ("con 30")
OWN_VALUE = "money:own_value"  # an amount said as what the customer's own car is worth
SAVINGS = "money:savings"  # an amount the customer has saved
FOREIGN_MONEY = "money:foreign"  # an amount in another currency: no peso figure
CASH_SAID = "money:cash"  # ... said to be paid in full ("tengo 100 mil cash", "de contado")
MONEY_TAKEN_BACK = "money:taken_back"  # an amount taken back: "olvida lo de los 5 mil"
# "con los/mis/esos 70 mil": an amount paid in
CON_AMOUNT = GRAMMAR.money_paid_in
# what a customer trading in or selling their car wants of the next one: a search too
WANTED_CRITERIA = frozenset(
    {"body_type", "seats_min", "transmission", "size", "fuel", "style", "price_max", "price_min",
     "monthly_budget"}
)  # fmt: skip
WHICH_WORDS = GRAMMAR.which
LENGTH_WORDS = GRAMMAR.length_words
STOCK_VERBS = GRAMMAR.stock_verbs
WEIGHING_AFTER = GRAMMAR.weighing_after
ONE_OVER_OTHER = frozenset({"one", "over", "other"})  # "why would u pick one over the other"
OWN_CAR_REACH = 4
LOCATIONS_LABEL = "knowledge/locations"
STAY_REACH = 6  # words before "N años" that may say it is a stay ("relocating … for 2 years")
STAY_WORDS = GRAMMAR.stay_words
COMPARE_WORDS = GRAMMAR.compare_words
DENIED_FLOOR_WORDS = GRAMMAR.denied_floor_words
DENIABLE_FLOORS = [phrase.split() for phrase in GRAMMAR.deniable_floors]
FLOOR_DENIAL_REACH = 6  # "no quiero gastar más de": the denial a few words before "más de"
SPACED_LIST_MAX = 12
COUNT_MAX = 10  # "los dos", "las 3": how many cars, not an amount
AGE_LINKS = GRAMMAR.age_links
PERSON_WORDS = GRAMMAR.person_words
MONEY_SLOTS = frozenset(MONEY)
THIRD_ROW = "grammar:third_row"  # "con tercera fila": a phrase set of data/nlu/grammar.yml
TERM_REPLACED = "term:replaced"  # "en vez de 3 años": the term said is the one replaced
JUDGED_REACH = 3  # words before a size that judge it: "se me hacen chicas"
SEEN_REACH = 4  # "en mercado libre vi uno igual en 230": a price seen elsewhere, no budget
SEEN_VERBS = GRAMMAR.seen_verbs
PLAN_WORDS = GRAMMAR.plan_words
INTERJECTIONS = GRAMMAR.interjections
# "no quiero pagar 6 años", "no quiero a 6 años": a term refused before it is said
REFUSED_TERM = frozenset(
    {("no", "quiero", "pagar"), ("no", "quiero", "a"), ("no", "quiero", "los"),
     ("no", "pagar", "a"), ("no", "quiero"), ("i", "don't", "want"), ("not",)}
)  # fmt: skip
COPULA_PLURAL = frozenset({"son", "estan", "are"})  # "¿son automáticos?" asks of the cars shown
ORIGIN_REACH = 3  # words between a person's copula and their origin ("soy una gringa jubilada")
DATUM_ALONE = 2  # "km", "el precio": a datum asked by its word alone
DATUM_OPENING = 1  # "la altura de la trax…": the datum's word opens the message
POSSESSIVES = frozenset(
    {"mi", "mis", "my", "nuestro", "nuestra", "nuestros", "nuestras"}
)  # words after their car's name that still describe it
CAR_PRICE_JOINERS = frozenset({"de", "del", "en"})  # "la tiguan de 300 mil", "el rio en 236"
NAMED_WITH_PLACE = frozenset({"make", "model", "year_min", "year_max", "city"})
NAMED_TOPIC = "topic:named"  # the topic's own words, beyond a part another topic shares
NAMED_APART = "topic:named_apart"  # a word of the topic that no part of any topic has
PART_APART = "topic:part_apart"  # a part of the topic said in words no other topic's part shares
THAN_WORDS_OF = frozenset({"context:cheaper", "context:newer", "context:cheap"})
THAN_REACH = 5
COPULA_REACH = 6  # "es más nueva y más barata": the copula before the first comparative
COPULA_WORDS = GRAMMAR.copula_words
TWO_WORDS = GRAMMAR.two_words
KM_WORDS = GRAMMAR.km_words
DISTANCE_WORDS = GRAMMAR.distance_words
HAVE_VERBS = GRAMMAR.have_verbs
HAVE_FILLERS = GRAMMAR.have_fillers
MORE_FILLERS = GRAMMAR.more_fillers
MORE_COUNT_MAX = 10  # "¿qué otros 3 hay?": a count of cars, not an amount
KM_JOINERS = GRAMMAR.km_joiners
YEAR_FLOOR = "year:floor"  # "2019 pa arriba", "2020 en adelante": open to the newest
CAR_KM = "km:car"  # a car named with its odometer: which car, not the most km wanted
PRICE_SEEN = "price:seen"  # a price seen somewhere else: what comes with Kavak's is said
# a listed car's own price or km said back ("¿139 mil x un aveo con 119 mil km? q caro"): which
# car, judged, not a ceiling; a figure within this share of the car's is the car's
FIGURE_ECHOED = "figure:echoed"
PRICE_ECHOED = "figure:price_echoed"  # ... its price: what sets it is asked (config/dialog.yml)
ECHOED_OTHER = "figure:other_car"  # ... of a listed car other than the one in focus
PAYMENT_ECHOED = "figure:payment_echoed"  # the monthly payment just shown, said back
OTHER_PERSON = "contact:other_person"  # after the lead, someone else's data to reach as well
WISH_WORDS = GRAMMAR.wishes  # "quiero", "busco"
TRAIT_PREFERRED = "context:preferred"  # "… mejor automático": a trait wished after a question
KM_POINTING = "km:pointing"  # "el de 19 mil km", "el que tiene 19 mil": the km say which car
DEFINITE_CAR = GRAMMAR.definite_car
CAR_PRICE = "price:car"  # "un carro de 200 mil", "el de 236": a car's price, not a ceiling
MONEY_AFTER_CON = "money:con"  # "con (los) 40 mil": paid in, next to a term it is a down payment
ARTICLE_NUMBER = "number:article"  # a bare number after "el"/"la" ("con el 30")
BOUND_CUES = frozenset({"max_before", "max_after", "min_before", "min_after", "age_limit_before"})
COMPARE = "compare_cars"
RETURNS = "warranty_returns"  # the trial, returns and warranty topic
ADVICE = "advice"
CAR_SCREEN_LABELS = frozenset({DETAILS, SELECT, COMPARE})  # about a car shown or chosen
PICK_MAX = 10  # "el 3": a position in a list is small
POINTING = frozenset({"ordinal", "superlative"})
CLAUSE_PLACES = frozenset({"city"})  # "¿todo es en línea? Vivo en Puebla": the Puebla branches
PLACES_LABEL = "knowledge/locations"  # the branches: asked where, with a city, beside a topic
# a clause that says a term or an amount asks for a plan: "busco un jetta y ¿cuánto a 48 meses?"
CLAUSE_PLAN = frozenset({"term_months", "down_payment", "down_payment_pct", "monthly_budget"})
# what a clause asks for by itself: a search ("sedanes 2019 o más nuevos. ¿se puede sin enganche?")
CLAUSE_CARS = frozenset(
    {"make", "model", "year_min", "year_max", "price_min", "price_max", "km_max", "body_type",
     "seats_min", "transmission", "fuel", "style"}
)  # fmt: skip
NAMES = frozenset({"make", "model"})
ENGINE_KEYS = frozenset({"engine_min", "engine_max"})
CLAUSE_TRAITS = frozenset(
    {"year_min", "year_max", "km_max", "body_type", "seats_min", "transmission", "fuel"}
)
INDEFINITE = GRAMMAR.indefinite_articles
CLAIMS = frozenset(
    {"car", "place", "phone", "email"}
)  # words that name a thing, not a wish  # a clause of its own may be just a pick


def blank_spanish() -> Language:
    """spaCy's rule-based Spanish tokenizer; no trained weights are downloaded or needed."""
    return spacy.blank("es")


# spaCy keeps every word it ever tokenised (about 1 KB each, never freed): names, phone numbers
# and typos would grow a long-running worker without end. Messages are tokenised by a tokenizer
# of their own, replaced by a fresh one (~25 ms) once it has learnt this many words; the
# PhraseMatcher matches by the words' hashes, which do not depend on the vocabulary.
READER_NEW_WORDS = 20_000


@dataclass
class Analysis:
    """One message read: tokens, what each token was claimed as, slots and phrase matches."""

    raw: str
    prepared: str
    tokens: list[str]
    kinds: list[str | None]
    slots: dict[str, object] = field(default_factory=dict)
    slot_at: dict[str, int] = field(default_factory=dict)  # token where each slot was said
    labels: list[tuple[str, bool, int, int]] = field(default_factory=list)  # label, strong, span
    said: set[str] = field(default_factory=set)
    said_spans: list[tuple[str, int, int]] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)  # numbers that meant nothing: "¿y a 5?"
    picks: list[int] = field(default_factory=list)  # every ordinal: "el 1 con el 3"
    odometer: int | None = None  # the km of a car named ("el sentra 2019 con 18 mil km")
    km_pointer: tuple[int, int] | None = None  # the tokens of "19 mil km" in "el de 19 mil km"
    income: float | None = None  # what the customer earns a month ("gano 18 mil"): no slot
    elapsed_days: int | None = None  # time since it happened: "lo compré hace 2 meses" -> 60
    driven_km: int | None = None  # km driven since the purchase: "ya le metí 600 km"
    reference: str | None = None  # "más grande que la cx-5": 'Mazda|CX-5', the car measured by
    owed: float | None = None  # what is still owed on their car: "le debo como 80 mil al banco"
    owed_payments: int | None = None  # ... or how many payments: "le faltan 8 mensualidades"
    own_offer: float | None = None  # what they were offered for it: "en otro lado me dan 180"
    own_km: int | None = None  # their car's km said with it: "un sentra 2015 con 120 mil km"
    # the top of an approximate band -> the amount said ("unos 20 mil" -> 22,000: 20,000)
    approx: dict[float, float] = field(default_factory=dict)
    listed_pcts: list[float] = field(default_factory=list)  # "con 10 y 30%": percents, no picks
    taken_back: list[int] = field(default_factory=list)  # values dropped or ruled out
    unbounded: set[str] = field(default_factory=set)  # amounts said without "máximo", "hasta"
    alternatives: list[str] = field(default_factory=list)  # "jetta o vento": 'Volkswagen|Vento'
    # other cars named apart from the first ("the Lincoln has fewer km than the X5"): a
    # comparison compares them too
    apart: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)  # every single year: "la del 2015 y la 2016"
    # every term and down payment said: "a 3 y a 5 años", "con 60 mil, y con 90 mil"
    cities: list[str] = field(default_factory=list)  # every place named, in order
    article_numbers: list[int] = field(default_factory=list)  # bare numbers after "el"/"del"
    replaced: list[float] = field(default_factory=list)  # "en vez de 45 mil, 60": the 45 mil
    terms: list[int] = field(default_factory=list)
    down_payments: list[float] = field(default_factory=list)
    down_payment_pcts: list[float] = field(default_factory=list)  # "con 20 y 30% de enganche"
    # every amount of money (price_max read), in order: (first token, end token, pesos, cues)
    amounts: list[tuple[int, int, float, frozenset[str]]] = field(default_factory=list)
    meanings_at: dict[int, dict[str, float]] = field(default_factory=dict)  # by first token

    @cached_property
    def unasked(self) -> set[int]:
        """Positions of what the customer says they did not ask (read once per message)."""
        return _not_asked(self)

    @cached_property
    def whole(self) -> frozenset[str]:
        """'pass!' when a phrase of the set 'pass' is the whole message ("me da igual")."""
        words = [i for i, token in enumerate(self.tokens) if token.isalnum()]
        if not words:
            return frozenset()
        first, last = words[0], words[-1]
        whole = {
            f"{name}!" for name, start, end in self.said_spans if start <= first and last < end
        }
        # "cualquiera q no gaste mucha gasolina": any, on a condition said after it
        whole.update(
            f"{name}!"
            for name, start, end in self.said_spans
            if start <= first
            and self.tokens[end : end + 1]
            and self.tokens[end] in GRAMMAR.pass_conditions
            and len("".join(self.tokens[start:end])) > SHORT_PASS  # "no, que sea rojo": no pass
        )
        return frozenset(whole)

    def drop(self, *slots: str) -> None:
        for slot in slots:
            self.slots.pop(slot, None)
            self.slot_at.pop(slot, None)

    def put(self, slot: str, value: object, position: int) -> None:
        if slot not in self.slots:
            self.slots[slot] = value
            self.slot_at[slot] = position

    def example_tokens(self, skip: frozenset[int] = frozenset()) -> list[str]:
        """Tokens for the example stage: claimed spans become placeholders, punctuation goes."""
        found: list[str] = []
        for i, (token, kind) in enumerate(zip(self.tokens, self.kinds, strict=True)):
            if i in skip:
                continue
            if kind is not None:
                placeholder = PLACEHOLDERS.get(kind)
                if placeholder and (not found or found[-1] != placeholder):
                    found.append(placeholder)
            elif token.isalnum():
                found.append(token)
        return found


class Extractor:
    """Text (and the conversation's context) in, Extraction out; deterministic, never raises."""

    def __init__(
        self,
        nlp: Language,
        vocabulary: VehicleVocabulary,
        lexicon: Lexicon,
        classifier: IntentClassifier,
        context: ContextSettings,
        phrase_sets: Mapping[str, Iterable[str]] | None = None,
        data_dir: Path | None = None,
        before_search: Iterable[str] = (),
        pattern_sets: Mapping[str, Iterable[str]] | None = None,
        asked_beside: Iterable[str] = (),
    ):
        """`before_search`: the knowledge sections asked before a car's search (`section:…`);
        `pattern_sets`: regular expressions that say a name as its phrases do (a section's);
        `asked_beside`: the sections asked beside another request, answered after it."""
        self.nlp, self.vocabulary, self.lexicon = nlp, vocabulary, lexicon
        self.said_patterns = {
            name: pattern_alternation(list(patterns))
            for name, patterns in (pattern_sets or {}).items()
            if patterns
        }
        self.classifier, self.context_settings = classifier, context
        self.numbers = NumberReader(lexicon.numbers)
        self.ordinals = OrdinalReader(lexicon.ordinals)
        self.values = ValueReader(lexicon.values)
        self.places = PlaceIndex(lexicon.places)
        # labels about the customer's own car (config/intents.yml): a seller's lead, their car
        self.own_car_labels = frozenset(classifier.settings.own_car_labels)
        # labels whose phrases count only where a message opens (config/intents.yml)
        self.opening_only = frozenset(
            name for name, label in classifier.labels.items() if label.evidence.opening_only
        )
        self.before_search = frozenset(before_search)
        self.asked_beside = frozenset(asked_beside)
        domain = self._domain_words()
        cars = frozenset(word for phrase in vocabulary.phrases for word in phrase.split())
        places = frozenset(  # "Guadalajara", "Monterrey": one word, said alike in both
            fold(name)
            for _, names in self.places.phrase_groups()
            for name in names
            if " " not in name.strip()
        )
        english = read_word_list((data_dir or DATA_DIR) / "english.txt")
        # never a name ("I'm SELLING", "soy VENDEDOR"): the domain's, cars', places' and
        # everyday English words (a first name listed in data/ still is one)
        self.contact = ContactReader.load(data_dir, domain | cars | places | english)
        neutral = cars | places | GRAMMAR.language_neutral
        self.language = LanguageGuess.build(english, domain, neutral)
        self.shorthand = lexicon.shorthand_pattern(self._car_words_after_shorthand())
        self.matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._reader = blank_spanish()  # tokenises messages; self.nlp the YAML phrases
        self._reader_words = len(self._reader.vocab)
        self._keys: dict[int, tuple[str, str]] = {}
        self._pattern_words: set[str] = set()
        self._add_patterns(phrase_sets or {})
        used = domain | lexicon.known_words | self._pattern_words  # a form the rules use stays
        kept = used | cars | places | english | vocabulary.skip_fuzzy | self.contact.first_names
        self.diminutives = diminutive_map(used, kept)
        classifier.index = ExampleIndex.build(
            (
                (label, text, is_example, self._example_tokens(text, is_example))
                for label, text, is_example in classifier.examples()
            ),
            Concepts.load((data_dir or DATA_DIR) / "concepts.yml"),
        )

    def _example_tokens(self, text: str, is_example: bool) -> list[str]:
        """Examples are read like messages (car names become '#car'); phrases are just words."""
        if is_example:
            return self.analyse(text, light=True).example_tokens()
        words = self._expand(prepare(text)).split()
        return ["#num" if word.isdigit() else word for word in words if word.isalnum()]

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        labels: list[Label] | None = None,
        intents_path: Path | str | None = None,
        knowledge_path: Path | str | None = None,
        lexicon_dir: Path | str | None = None,
        nlp: Language | None = None,
        phrase_sets: Mapping[str, Iterable[str]] | None = None,
    ) -> Extractor:
        from nlu.labels import load_labels  # labels read knowledge.yml too
        from tools.knowledge import KnowledgeBase, sections_marked

        lexicon = Lexicon.load(lexicon_dir)
        data_dir = Path(lexicon_dir) if lexicon_dir else None
        vocabulary = VehicleVocabulary.build(catalog, lexicon, data_dir)
        loaded = load_labels(intents_path, knowledge_path)
        classifier = IntentClassifier(labels or loaded.labels, loaded.settings)
        knowledge = KnowledgeBase(loaded.knowledge)
        return cls(
            nlp or blank_spanish(),
            vocabulary,
            lexicon,
            classifier,
            loaded.context,
            {**knowledge.phrase_sets(), **(phrase_sets or {})},
            data_dir,
            sections_marked(loaded.knowledge.entries, "before_search"),
            knowledge.pattern_sets(),
            sections_marked(loaded.knowledge.entries, "asked_beside"),
        )

    from_catalog = build

    @property
    def intent_names(self) -> list[str]:
        return [*self.classifier.intent_names, KNOWLEDGE]

    @property
    def names(self) -> list[str]:
        """Canonical makes and models (for the LLM grounding guard)."""
        found = {name.make for names in self.vocabulary.phrases.values() for name in names}
        found |= {name.model for names in self.vocabulary.phrases.values() for name in names}
        return sorted(name for name in found if name)

    def _expand(self, prepared: str) -> str:
        """WhatsApp shorthand written out: 'q onda x favor' -> 'que onda por favor'."""
        longer = self.lexicon.shorthand_words
        expanded = self.shorthand.sub(lambda match: longer[match.group(0)], prepared)
        return plain_diminutives(expanded, self.diminutives)  # "un descuentito" -> "descuento"

    def _car_words_after_shorthand(self) -> set[str]:
        """'trail' in 'x trail': car names whose first word looks like shorthand stay as written."""
        short = self.lexicon.shorthand_words
        return {
            words[1]
            for phrase in self.vocabulary.phrases
            if len(words := phrase.split()) > 1 and words[0] in short
        }

    def _domain_words(self) -> frozenset[str]:
        """Every word of the YAML phrases: never part of a person's name."""
        texts = [text for _, text, is_example in self.classifier.examples() if not is_example]
        return frozenset(word for text in texts for word in re.findall(r"[a-z]+", fold(text)))

    def _origin(
        self,
        analysis: Analysis,
        found: list[tuple[str, int, int]],
        taken: list[bool],
        negated: bool = False,
    ) -> None:
        """ "autos alemanes de menos de 400 mil": any make of that origin in stock (the first one
        is the make, the others its alternatives); "de lujo, alemán": the makes both name;
        "nada lujoso", "que no sea chino": each of them ruled out."""
        name, start, _ = found[0]
        makes = self.vocabulary.origins.get(name) or []
        for other, _, _ in found[1:]:  # "algo de lujo, alemán de preferencia"
            both = [make for make in makes if make in (self.vocabulary.origins.get(other) or [])]
            makes = both or makes
        if not makes:
            return
        for _, first, last in found:
            taken[first:last] = [True] * (last - first)
            analysis.kinds[first:last] = ["car"] * (last - first)  # "cuál de los alemanes"
        if negated:
            analysis.put("exclude_car", makes[0], start)
            analysis.said.update(f"{EXCLUDED_TOO}{make}" for make in makes[1:])
            return
        analysis.put("make", makes[0], start)
        analysis.alternatives = [f"{make}|" for make in makes[1:]]
        before = analysis.tokens[start - 1] if start else ""
        if (
            name == LUXURY
            and before in GRAMMAR.comparatives
            and "superlative" not in analysis.slots
        ):
            analysis.put("superlative", "most_expensive", start - 1)  # "lo más lujoso": the
            # premium makes, the dearest first

    def _add_patterns(self, phrase_sets: Mapping[str, Iterable[str]]) -> None:
        groups: list[tuple[str, str, Iterable[str]]] = []
        for phrase in self.vocabulary.phrases:
            groups.append(("car", phrase, [phrase]))
        for name, words in self.vocabulary.origin_words.items():
            groups.append(("origin", name, words))
        for key, phrases in ValueReader.phrase_groups(self.lexicon.values):
            groups.append(("value", key, phrases))
        for key, phrases in self.places.phrase_groups():
            groups.append(("place", key, phrases))
        for label, phrases in self.lexicon.cues.cues.items():
            groups.append(("cue", label, phrases))
        for label, strong, phrases in self.classifier.phrase_groups():
            groups.append(("label", f"{label}|{'strong' if strong else 'weak'}", phrases))
        settings = self.context_settings
        for name, phrases in (
            ("context:search", settings.search_words),
            ("context:pointing", settings.pointing_words),
            ("context:question", settings.question_words),
            ("context:opinion", settings.opinion_words),
            ("context:follow_up", settings.follow_up_words),
            ("context:own_car", settings.own_car_words),
            (NO_OWN_CAR, settings.no_own_car_words),
            ("context:bought_car", settings.bought_car_words),
            (SIMILAR, settings.similar_words),
            (SAME_SIZE, settings.same_size_words),
            ("context:reset", settings.reset_words),
            ("context:any_make", settings.any_make_words),
            ("context:other_makes", settings.other_makes_words),
            ("context:cheaper_ok", settings.cheaper_ok_words),
            ("context:pointed_amount", settings.pointed_amount_words),
            ("context:any_year", settings.any_year_words),
            (NOT_REQUIRED, settings.not_required_words),
            ("context:any_price", settings.any_price_words),
            (STRETCH_PRICE, settings.stretch_price_words),
            ("context:any_transmission", settings.any_transmission_words),
            ("context:any_km", settings.any_km_words),
            ("context:any_size", settings.any_size_words),
            ("context:whole_stock", settings.whole_stock_words),
            ("context:of_those", settings.of_those_words),
            ("context:more", settings.more_words),
            ("context:more_alone", settings.more_alone_words),
            ("context:other", settings.other_words),
            ("context:other_one", settings.other_one_words),
            ("context:sort", settings.sort_words),
            (PLURAL_PICK, settings.plural_pick_words),
            ("context:same_plan", settings.same_plan_words),
            ("context:haggle", settings.haggle_words),
            *((f"sort:{order}", phrases) for order, phrases in settings.sort_by.items()),
            *((f"soft_sort:{order}", phrases) for order, phrases in settings.soft_sort_by.items()),
            ("context:cheaper", settings.cheaper_words),
            ("context:fewer_km", settings.fewer_km_words),
            ("context:cheap", settings.cheap_words),
            ("context:newer", settings.newer_words),
            ("context:negation", [*settings.negation_words, *settings.reset_words]),
            ("context:broaden", settings.broaden_words),
            ("context:also", sorted(GRAMMAR.also_words)),
            (THIRD_ROW, sorted(GRAMMAR.third_row)),
            ("context:negation_after", settings.negation_after_words),
            ("context:asks_after_no", settings.asks_after_no_words),
            ("context:insisting", settings.insisting_words),
            ("context:instead", settings.instead_words),
            ("context:meant", settings.meant_words),
            ("context:same_detail", settings.same_detail_words),
            ("context:correction", settings.correction_words),
            ("context:judged", settings.judged_words),
            (OPEN_ASKED, settings.open_words),
            ("context:short_down", settings.short_down_words),
            ("context:added", settings.added_words),
            ("context:colour", settings.colour_words),
            ("context:not_asked", settings.not_asked_words),
            ("contact:name_cue", self.contact.cue_phrases),
            ("contact:surname_cue", self.contact.surname_phrases),
            *self.classifier.unless_groups(),
            *phrase_sets.items(),
        ):
            groups.append(("said", name, phrases))
        for namespace, name, phrases in groups:
            key = f"{namespace}|{name}"
            self._keys[self.nlp.vocab.strings.add(key)] = (namespace, name)
            docs = list(self.nlp.tokenizer.pipe(prepare(phrase) for phrase in phrases))
            self.matcher.add(key, [doc for doc in docs if len(doc)])
            self._pattern_words.update(token.text for doc in docs for token in doc)

    def analyse(
        self,
        text: str,
        asking: Iterable[str] = (),
        light: bool = False,
        places: bool = False,
        own_told: bool = False,
        listed: frozenset[str] = frozenset(),
    ) -> Analysis:
        """Tokens, claims and slots of a message (no intent yet); `light` skips what the example
        stage does not use (contact data, slot values, picks); `places`: the places were just
        talked of, so "Santa Fe" alone is the place; `own_told`: their own car was just talked
        of, so "es un cx-5 2019" at the start names it."""
        raw = self.lexicon.words_for_emoji(text[:MAX_CHARS]) if isinstance(text, str) else ""
        prepared = self._expand(prepare(raw))
        doc = self._tokenise(prepared)
        tokens = [token.text for token in doc]
        analysis = Analysis(raw, prepared, tokens, [None] * len(tokens))
        if not tokens:
            return analysis
        found: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
        for match_id, start, end in self.matcher(doc):
            namespace, name = self._keys[match_id]
            found[namespace].append((name, start, end))
        for name, start, end in found["label"]:
            label, _, strength = name.rpartition("|")
            analysis.labels.append((label, strength == "strong", start, end))
        starts = [token.idx for token in doc]
        for name, pattern in self.said_patterns.items():  # "le faltan 8 mensualidades"
            for match in pattern.finditer(prepared):
                first = bisect_right(starts, match.start()) - 1
                last = max(first + 1, bisect_left(starts, match.end()))
                found["said"].append((name, first, last))

        compared = [  # "la 2016 es más nueva y más barata que la otra": said of a car, no wish
            (name, start, end)  # ("¿algo más barato que el jetta?" wishes for one)
            for name, start, end in found["said"]
            if name in THAN_WORDS_OF
            and _than_follows(analysis.tokens, end)
            and set(analysis.tokens[max(0, start - COPULA_REACH) : start]) & COPULA_WORDS
        ]
        found["said"] = [span for span in found["said"] if span not in compared]
        found["said"] = [  # "oye otra cosa, …", "la otra semana": no other car asked for
            (name, start, end)
            for name, start, end in found["said"]
            if name not in ("context:search", "context:other_one")
            or analysis.tokens[end : end + 1] == []
            or analysis.tokens[end] not in GRAMMAR.not_car_after_other
        ]
        # "¿es el plazo más largo?": the term's, no car's length asked
        found["said"] = _without_inside(found["said"], "details:", "financing:")
        found["said"] = [  # "¿uno más nuevo? tipo 2020 o 2021": about those years, no "like a"
            (name, start, end)
            for name, start, end in found["said"]
            if name != SIMILAR or not tokens[end : end + 1] or not tokens[end][:1].isdigit()
        ]
        # "¿cuál es la diferencia con el otro?": the other car, no search
        found["said"] = _without_inside(found["said"], "context:search", "context:other_one")
        found["said"] = _comparative_shared(tokens, found["said"])
        found["said"] += [(SIMILAR, s, e) for name, s, e in found["said"] if name == SAME_SIZE]
        analysis.said = {name for name, _, _ in found["said"]}
        analysis.said_spans = found["said"]
        if "context:more_alone!" in analysis.whole or _more_among_fillers(analysis):
            analysis.said.add("context:more")  # "más" alone, "¿qué otras hay?": the next page
        patterned = self.classifier.pattern_spans(prepared)
        if not light:  # "quiero que me llame alguien hoy": a call asked by a pattern too
            calls = any(label == CALL_INTENT for label, _, _ in patterned)
            self._contact(analysis, found, set(asking) | ({"lead"} if calls else set()))
        self._claims(analysis, found, light, places, own_told, listed)
        for name, start, end in analysis.said_spans:  # "algo tipo mini cooper": one reference
            if name == SIMILAR and end < len(tokens) and analysis.kinds[end] == "car":
                analysis.kinds[start:end] = ["car"] * (end - start)
        if _car_after(tokens, analysis.kinds, GRAMMAR.wanted_car_before):
            analysis.said.add(WANTED_NAMED)  # "dar a cuenta de un x-trail": the car wanted
        claimed = {i for i, kind in enumerate(analysis.kinds) if kind in CLAIMS}
        analysis.labels = [  # "serie" inside "BMW Serie 3" is a car, not a TV series
            (label, strong, start, end)
            for label, strong, start, end in analysis.labels
            if claimed.isdisjoint(range(start, end))
        ]
        if any(label in self.opening_only for label, *_ in analysis.labels):
            opening = _leading_interjections(tokens) | {
                i for i, t in enumerate(tokens) if not t.isalnum()
            }
            analysis.labels = [  # "y lo del crédito ¿qué onda?": no greeting after the opening
                (label, strong, start, end)
                for label, strong, start, end in analysis.labels
                if label not in self.opening_only or all(i in opening for i in range(start))
            ]
        for label, first, last in patterned:
            start = bisect_right(starts, first) - 1
            end = max(start + 1, bisect_left(starts, last))
            analysis.labels.append((label, True, start, end))
        if analysis.taken_back:  # "no me importa si es estándar" asks nothing of a car
            analysis.labels = [
                (label, strong, start, end)
                for label, strong, start, end in analysis.labels
                if label != DETAILS or not any(start <= at < end for at in analysis.taken_back)
            ]
        return analysis

    def _tokenise(self, text: str) -> Doc:
        reader = self._reader
        if len(reader.vocab) > self._reader_words + READER_NEW_WORDS:
            reader = self._reader = blank_spanish()  # what it learnt goes with the old one
        return reader.make_doc(text)

    def _contact(self, analysis: Analysis, found, asking: set[str]) -> None:
        tokens = analysis.tokens
        taken = [kind is not None for kind in analysis.kinds]
        email = self.contact.email(tokens, taken)
        _mark(analysis, taken, "email" if email else None)
        phone = self.contact.phone(tokens, taken)
        _mark(analysis, taken, "phone" if phone else None)
        if email:
            analysis.put("email", email, _first(analysis, "email"))
        if phone:
            analysis.put("phone", phone, _first(analysis, "phone"))
        calling = bool(email or phone or asking & {"contact_time", "name", "phone", "lead"})
        calling = calling or any(label == CALL_INTENT for label, *_ in analysis.labels)
        if calling:
            when = self.contact.contact_time(analysis.prepared, tokens, taken)
            if when:
                _mark(analysis, taken, "time")
                analysis.put("contact_time", when, _first(analysis, "time"))
                timed = {i for i, kind in enumerate(analysis.kinds) if kind == "time"}
                analysis.labels = [  # "después de la comida" is a time, no talk of food
                    hit
                    for hit in analysis.labels
                    if hit[0] != OUT_OF_SCOPE or not timed & set(range(hit[2], hit[3]))
                ]
        cue_ends = {end for key, _, end in found["said"] if key == "contact:name_cue"}
        # "Mike Turner, 8112345678": a capitalised clause is a name; so before a number that
        # tried to be a phone ("Gerardo Lopez 3312", "Jose Luis Ibarra 33 3390 12")
        nearby = bool(email or phone) or _phone_attempt(tokens, taken)
        wished = list(taken)  # "pickup sin importar precio": a car wished for is no name
        for _, start, end in found["value"]:  # (a make may be a first name: "Mercedes Ruiz")
            wished[start:end] = [True] * (end - start)
        surname_ends = frozenset(
            end for key, _, end in found["said"] if key == "contact:surname_cue"
        )
        name = self.contact.name(
            analysis.raw, tokens, wished, "name" in asking, cue_ends, nearby, surname_ends
        )
        if name:
            position = _claim_words(analysis, fold(name).split(), "name")
            analysis.put("name", name, position)
            if position in surname_ends:
                analysis.said.add(SURNAME_ONLY)  # the first name given before is kept
        corrected = self.contact.corrected_name(tokens, analysis.raw) if asking else None
        if corrected:  # "no es karla, es carla con c": that name, whatever else was read
            analysis.slots["name"] = corrected
            analysis.slot_at.setdefault("name", 0)

    def _claims(
        self,
        analysis: Analysis,
        found,
        light: bool = False,
        places: bool = False,
        own_told: bool = False,
        listed: frozenset[str] = frozenset(),
    ) -> None:
        tokens = analysis.tokens
        taken = [kind is not None for kind in analysis.kinds]
        place = self.places.read(tokens, found["place"], taken, places)
        if place:
            _mark(analysis, taken, "place")
            analysis.put("city", place, _first(analysis, "place"))
            analysis.cities.append(place)
            while (other := self.places.read(tokens, found["place"], taken, places)) is not None:
                _mark(analysis, taken, "place")  # "¿hay en Cuernavaca? ¿y en Mérida?"
                if other not in analysis.cities:
                    analysis.cities.append(other)
        cars = [(phrase, s, e) for phrase, s, e in found["car"] if not any(taken[s:e])]
        own_cues = [end for key, _, end in found["said"] if key == "context:own_car"]
        if own_told:  # "¿me lo compran aunque lo deba?" ... "es un mazda cx-5 2019": theirs,
            # at the start of a sentence ("ok gracias. el carro es un jetta 2019 por si sirve")
            starts = [0] + [i + 1 for i, token in enumerate(tokens) if token in SENTENCE_ENDS]
            for start in starts:
                opening = start + len(_leading_interjections(tokens[start:]))
                own_cues += [
                    opening + len(phrase.split())
                    for phrase in GRAMMAR.own_openers
                    if tokens[opening : opening + len(phrase.split())] == phrase.split()
                ]
        own = [  # ("es" in "mi carro es un aveo" is a verb, not the Lexus ES)
            car
            for car in cars
            if (
                _owned(tokens, car[1], own_cues)
                or _owned_after(tokens, car[2])
                or _traded_for(tokens, car[1], car[2])
            )
            and not all(token in OWN_GAP for token in tokens[car[1] : car[2]])
            and not all(token in GRAMMAR.numeral_models for token in tokens[car[1] : car[2]])
        ]  # ("el mazda es uno que les compré": "uno" is the Mazda, no Fiat)
        own += [  # "my 2019 Mazda CX-5": the model right after an owned make is theirs too
            car for car in cars if car not in own and any(car[1] == o[2] for o in own)
        ]
        if own:  # "por mi versa me dan 90 mil": their car, not what they want
            self._own_car(analysis, own, taken)
            cars = [car for car in cars if car not in own]
        denied = [end for key, _, end in found["said"] if key == NO_OWN_CAR]
        if denied:  # "yo no tengo ningún chrysler": no car of theirs, nor one wished
            not_had = [car for car in cars if _owned(tokens, car[1], denied)]
            for _, start, end in not_had:
                taken[start:end] = [True] * (end - start)
            cars = [car for car in cars if car not in not_had]
        asking = {start for key, start, _ in found["said"] if key == "context:asks_after_no"}
        after = [  # "el swift no?", "¿y el 208 no hay?" ask about the car: not a "no"
            start
            for key, start, end in found["said"]
            if key == "context:negation_after"
            and tokens[end : end + 1] != ["?"]
            and end not in asking
            and not (  # "la x5 no la x3": the X3 is the one ruled out
                tokens[end : end + 1]
                and tokens[end] in CAR_ARTICLES
                and any(car[1] == end + 1 for car in cars)
            )
        ]
        insisting = any(key == "context:insisting" for key, _, _ in found["said"])
        for cue, slot in (("context:negation", "exclude_car"), ("context:broaden", None)):
            ends = [
                end
                for key, start, end in found["said"]
                if key == cue
                and not (
                    insisting
                    and tokens[start] == "no"
                    and (end - start > 1 or tokens[end : end + 1] in (["la"], ["el"]))
                )
                and not _tag_no(tokens, start, end)
            ]  # "nooo la journey te dije": no to the answer, yes to the Journey ("NO nissan
            # dije" insists on the no)
            ruled = [car for car in cars if _after_cue(tokens, car[1], ends)]
            for car in cars:  # "olvida el figo y el march": each car listed after a ruled one
                if car not in ruled and any(_listed_after(tokens, r[2], car[1]) for r in ruled):
                    ruled.append(car)
            if slot:  # "el corolla no me gusta"
                ruled += [car for car in cars if car[2] in after and car not in ruled]
            if ruled:  # "olvida el vento": not a wish; "no nomás vento": not only that one
                self._side_car(analysis, ruled, taken, slot, cue)
                cars = [car for car in cars if car not in ruled]
                resets = [end for key, _, end in found["said"] if key == "context:reset"]
                if resets and all(
                    any(_after_cue(tokens, c[1], [e]) for c in ruled) for e in resets
                ):
                    analysis.said.discard("context:reset")  # "olvida el vento" forgets the Vento
        cars = _after_change_of_mind(tokens, cars, found["said"], taken)
        mention = resolve(self.vocabulary, cars, tokens, taken, on_screen=listed)
        for start, end in mention.claimed:
            taken[start:end] = [True] * (end - start)
        _mark(analysis, taken, "car")
        car_at = min((start for start, _ in mention.claimed), default=0)
        before = set(tokens[max(0, car_at - THAN_REACH - 2) : car_at])
        bigger = bool(before & BIGGER_WORDS)  # ("más barato que el jetta" may be a Jetta too)
        if mention.make and not mention.others and bigger and _than_before(tokens, mention.claimed):
            analysis.reference = f"{mention.make}|{mention.model or ''}"  # "algo más grande que
            analysis.said.update((THAN_CAR, THAN_BIGGER))  # la cx-5": the CX-5 measures
            mention.make = mention.model = None
        if mention.make:
            analysis.put("make", mention.make, car_at)
            if not mention.model and car_at and tokens[car_at - 1] in OTHER_WORDS:
                analysis.said.add(OTHER_MODEL)  # "¿tienen algún otro Toyota?": not the Corolla
        if mention.model:
            analysis.put("model", mention.model, car_at)
        analysis.alternatives = [f"{make}|{model or ''}" for make, model in mention.others]
        analysis.apart = [f"{make}|{model or ''}" for make, model in mention.apart]
        if (
            mention.apart
            and not mention.others
            and (
                _between_two(tokens)
                or _same_again(tokens, mention.claimed[1:])
                or _this_or_that(tokens, mention.claimed[1:])
            )
        ):
            analysis.alternatives = [f"{make}|{model or ''}" for make, model in mention.apart]
            if _said_again(tokens, mention.claimed[1:]):
                analysis.said.add(EACH_CAR)  # "¿cuál es el bmw más barato y el audi más barato?"
        elif len(mention.apart) == 1 and _asked_of_the_later(tokens, mention):
            make, model = mention.apart[0]  # "la rav4 tiene muchos km, la murano q tal? es 4x4?":
            at = mention.claimed[1][0]  # a remark on one car, then a question about the other
            analysis.slots.update(make=make, model=model)
            analysis.slot_at.update(make=at, model=at)
            if model is None:  # "... y de honda no hay nada?": any Honda
                analysis.drop("model")
        origins = [  # "mi novia es gringa": a person's origin, no cars wanted
            (name, start, end)
            for name, start, end in found["origin"]
            if not set(tokens[max(0, start - ORIGIN_REACH) : start]) & PERSON_COPULAS
            and not set(tokens[max(0, start - 2) : end + 2]) & GRAMMAR.origin_not_beside
        ]  # "I am a retired American": the person, a few words after "am"; "american plates"
        if not (mention.make or mention.model) and origins:
            negated = [end for key, _, end in found["said"] if key == "context:negation"]
            self._origin(analysis, origins, taken, _after_cue(tokens, origins[0][1], negated))
        for label, start, end in found["cue"]:
            if label in WORD_CUES:  # "por ciento" is a unit, not the number 100
                taken[start:end] = [True] * (end - start)
        if light:
            self._numbers(analysis, found["cue"], taken)
            return
        values = [(key, s, e) for key, s, e in found["value"] if not any(taken[s:e])]
        named = frozenset(i for i, kind in enumerate(analysis.kinds) if kind == "car")
        disliked = frozenset(  # "los sedán no me gustan": config/intents.yml negation_after_words
            start
            for key, start, end in found["said"]
            if key == "context:negation_after" and tokens[start:end] != ["no"]
        )
        for slot, (value, position) in self.values.read(tokens, values, named, disliked).items():
            if slot.startswith((ALSO_BEST, ASKED, EITHER)):
                analysis.said.add(slot)  # (EITHER: "sedán o hatchback", both wished)
                continue
            if slot.startswith((DROPPED, NEGATED)):
                analysis.said.add(slot)  # "olvida el carplay", "que no sea pickup": not asked
                analysis.taken_back.append(position)
                name, _, ruled_out = slot[len(NEGATED) :].partition(":")
                other = self.lexicon.values.opposites.get(name, {}).get(ruled_out)
                if other and slot.startswith(NEGATED):  # "que no sea estándar": automatic
                    analysis.put(name, other, position)
                continue
            analysis.put(slot, value, position)
        if _indefinite_ordered(tokens, analysis.slot_at.get("superlative")):
            analysis.said.add("context:sort")  # "algo con menos km": the same cars, so ordered
        leftovers, counted = self._numbers(analysis, found["cue"], taken)
        if "model" in analysis.slots:  # "el motor turbo de la tiguan": that model's engine
            analysis.slots.pop("style", None)
        _third_row(analysis, found["said"])
        _size_judged(analysis)
        if _no_credit(analysis):
            analysis.said.add(NO_CREDIT)  # "yo lo pago de contado, no quiero crédito"
        if GRAMMAR.difference_words & set(tokens):
            analysis.said.add(DIFFERENCE)  # "los 18 mil que sobran": a leftover, no budget
        _price_minus(analysis)  # "el sentra de 268,999 menos 90 mil del aveo"
        _savings_then_price(analysis)  # "tengo unos 70 mil. busco algo como de 220"
        _insisted_amount(analysis)  # "¿por qué 21 mil de enganche? yo dije 25 mil"
        _own_car_plus_cash(analysis)  # "mi audi vale 200 y pongo 150 más": both, before
        _own_car_value(analysis)  # the car's value alone is read as the down payment
        picks = self.ordinals.read_all(tokens, taken, leftovers, counted)
        picks = [pick for pick in picks if pick[1] not in analysis.listed_pcts]  # "con 10 y 30%"
        if not picks and (step := self.ordinals.relative_step(tokens, taken)):
            analysis.said.add(NEXT_CAR if step > 0 else PREVIOUS_CAR)  # "¿y el de arriba?"
        picks = _picks_asked(tokens, picks)
        ordinal = picks[0] if picks else None
        analysis.picks = [value for _, value in picks]
        if ordinal is not None:
            analysis.put("ordinal", ordinal[1], ordinal[0])
        else:
            analysis.bare = [
                q.value
                for q in leftovers
                if not q.multiplied and not q.money and not _head_count(tokens, q.start)
            ]
            if any(q.start and tokens[q.start - 1] == "a" for q in leftovers):
                analysis.said.add(AFTER_A)  # "¿y a 72?": a term, not another amount
        _term_after_a(analysis, leftovers)
        _year_of_one_car(analysis)
        _amount_paid_how(analysis)

    def _side_car(self, analysis: Analysis, spans, taken, slot: str | None, cue: str) -> None:
        """A car named to rule it out or to widen the search: claimed, never a criterion."""
        only = [True] * len(analysis.tokens)
        for _, start, end in spans:
            only[start:end] = [False] * (end - start)
        mention = resolve(self.vocabulary, spans, analysis.tokens, only)
        if not mention.claimed:
            return
        for start, end in mention.claimed:
            taken[start:end] = [True] * (end - start)
            for i in range(start, end):
                analysis.kinds[i] = analysis.kinds[i] or "car"
        name = mention.model or mention.make
        if slot and name:
            analysis.put(slot, name, min(s for s, _ in mention.claimed))
            for make, model in mention.others:  # "que no sea chevrolet ni nissan": both
                analysis.said.add(f"{EXCLUDED_TOO}{model or make}")
        analysis.said.add(f"{cue}:car")

    def _own_car(self, analysis: Analysis, spans, taken: list[bool]) -> None:
        """The customer's own car ("tengo un versa 2016"), with its year when it follows."""
        tokens = analysis.tokens
        only = [True] * len(tokens)  # no typo search beyond the own car's words
        for _, start, end in spans:
            only[start:end] = [False] * (end - start)
        mention = resolve(self.vocabulary, spans, tokens, only, owned=True)
        if not mention.claimed:
            return
        end = max(e for _, e in mention.claimed)
        start = min(s for s, _ in mention.claimed)
        parts = [car_name(mention.make, mention.model)]
        trim = end + 1 < len(tokens) and _YEAR.fullmatch(tokens[end + 1])
        trim = trim and tokens[end].isalnum() and len(tokens[end]) <= TRIM_CHARS and not taken[end]
        if end < len(tokens) and _YEAR.fullmatch(tokens[end]):
            parts.append(tokens[end])
            end += 1
        elif trim:  # "un golf gti 2017": a trim between the model and its year
            parts.append(tokens[end + 1])
            end += 2
        elif start > 0 and _YEAR.fullmatch(tokens[start - 1]):  # "my 2019 Mazda CX-5"
            parts.append(tokens[start - 1])
            start -= 1
        taken[start:end] = [True] * (end - start)
        for i in range(start, end):
            analysis.kinds[i] = analysis.kinds[i] or "car"
        analysis.put("own_car", " ".join(part for part in parts if part), start)

    def _numbers(
        self, analysis: Analysis, cue_spans, taken: list[bool]
    ) -> tuple[list[Quantity], set[int]]:
        """Read every number and give it a meaning; return the ones left for ordinals."""
        tokens = analysis.tokens
        index = CueIndex(tokens, cue_spans, self.lexicon.fillers)
        leftovers: list[Quantity] = []
        counted: set[int] = set()
        previous: tuple | None = None
        meant_at = next(  # "dije 2017 pero quería decir 2016": the figures after it win
            (end for key, _, end in analysis.said_spans if key == "context:meant"), None
        )
        instead_ends = {end for key, _, end in analysis.said_spans if key == "context:instead"}
        for unit in index.group(self.numbers.read(tokens, taken)):
            for quantity in unit.quantities:
                for i in range(quantity.start, quantity.end):
                    analysis.kinds[i] = analysis.kinds[i] or "number"
            meaning = {} if _relative(tokens, unit) else _meaning(unit)
            if "foreign_after" in unit.after:
                analysis.said.add(FOREIGN_MONEY)  # "tengo 10 mil dólares": asked in pesos
            if meaning and _length_not_litres(tokens, unit, meaning):
                meaning = {"length_max": round(unit.last.value * 1000)}  # "suvs que quepan,
                # máximo 4.4 pa que sobre espacio": metres of the car, no engine
            lacking = unit.before == {"lacking_before"}  # "no tengo 45 mil, te dije 25"
            if "forget_before" in unit.before or lacking:  # "olvida lo de los 5 mil": no amount
                analysis.said.add(MONEY_TAKEN_BACK)
                meaning = {}
            if unit.cue("income_before", "income_after") and analysis.income is None:
                analysis.income = money.pesos(unit.last)  # "gano 18" is 18 mil
            payments = "months_unit" in unit.after  # "le faltan 8 mensualidades": a count
            if unit.cue("owed_before", "owed_after") and analysis.owed is None and not payments:
                analysis.owed = money.pesos(unit.last)  # "le debo como 80 mil al banco"
            left = payments and unit.cue("owed_before", "remaining_after")
            if left and analysis.owed_payments is None and unit.last.value == int(unit.last.value):
                analysis.owed_payments = int(unit.last.value)
            start = unit.first.start
            since = tokens[max(0, start - 2) : start] in (["a", "los"], ["a", "las"])
            since = since and "years_unit" not in unit.after  # "a los 3 días ya le metí 600 km"
            elapsed = unit.cue("elapsed_before", "elapsed_after") or since
            elapsed = elapsed and analysis.elapsed_days is None
            known = tokens[start - 1 : start] in (["los"], ["las"], ["the"]) and not since
            if "driven_before" in unit.before and "km_after" in unit.after:
                analysis.driven_km = int(unit.last.value * (1000 if unit.last.multiplied else 1))
            if elapsed and not known:  # "ya pasaron los 7 días": the period known, no time told
                analysis.elapsed_days = _elapsed_days(unit)  # "hace 2 meses": 60 days ago
            if _own_value_in_thousands(unit):
                meaning = {"price_max": unit.last.value * 1000}  # "mi sentra vale unos 150"
            if DENIED_TERM in analysis.said and _bare_term_years(unit, meaning or {}):
                meaning = {"term_months": unit.last.value * 12}  # "a 6 años no, máximo 4"
            last = unit.last
            bare = _bare_small(last)
            dated = (
                tokens[last.end + 1 : last.end + 2] and tokens[last.end + 1] in self.ordinals.months
            )
            if dated and tokens[last.end] == "de":
                continue  # "¿abren el 16 de septiembre?": a date, no year, pick nor amount
            if bare and "pick_before" in unit.before and len(unit.quantities) == 1:
                analysis.said.add(ARTICLE_NUMBER)  # "con el 30": a percent, after a plan
                if meaning is None and last.value == int(last.value):
                    analysis.article_numbers.append(int(last.value))  # "el del 23": a year?
                    if last.start and tokens[last.start - 1] in YEAR_ONLY_ARTICLES:
                        analysis.said.add(YEAR_ARTICLE)  # "la del 16" is a year, not a position
                        _car_of_year(analysis, last)  # "el aveo del 17 o el mazda": its year
            both = len(unit.quantities) == 1 and bare and last.value <= COUNT_MAX
            both = both and bool(last.start) and tokens[last.start - 1] in GRAMMAR.plural_articles
            if both:
                continue  # "las mensualidades de las dos": a count of cars, no amount
            _record_amount(analysis, unit, meaning)
            if meaning is None:
                if "count_after" in unit.after:
                    counted.update(quantity.start for quantity in unit.quantities)
                leftovers.extend(unit.quantities)
                continue
            if not unit.is_range and meaning.keys() == {"price_min", "price_max"}:
                analysis.approx[meaning["price_max"]] = money.pesos(last)  # "unos 20 mil"
            elif meaning.keys() == {"price_max"} and unit.cue("approx_before", "approx_after"):
                analysis.approx[meaning["price_max"]] = money.pesos(last)  # "budget is around
                # 400k": a ceiling with room, and the amount the cars should be near
            if set(meaning) == {"price_min"} and _denied_floor(tokens, unit):
                meaning = {"price_max": meaning["price_min"]}  # "no quiero gastar más de 200
                unit.before.add("max_before")  # mil", "not more than 300k": a ceiling
            if _denied_year(tokens, unit, meaning) or _year_ruled_out(analysis, unit, meaning):
                continue  # "la del 2013 no, muy vieja": not a year they want
            if _year_ruled_out(analysis, unit, meaning, NOT_REQUIRED):
                analysis.said.add(ANY_YEAR)  # "no tiene que ser 2018": any year, not that one
                continue
            if _year_and_older_denied(analysis, unit, meaning):  # "no quiero algo del 2015":
                meaning = {"year_min": int(meaning["year_max"]) + 1}  # the year after on
            if _denied_amount(tokens, unit):
                continue  # "el enganche son 15 mil, no 13 mil": the 13 is what it is not
            described = "km_max" in meaning and not (unit.before | unit.after) & BOUND_CUES
            if described and _points_by_km(tokens, unit):
                analysis.said.add(KM_POINTING)  # "el de 19 mil km": which listed car
                analysis.km_pointer = (unit.first.start, unit.last.end + 1)
            judged_km = "context:judged" in analysis.said and set(tokens) & KM_WORDS
            judged_km = judged_km and not unit.before & BOUND_CUES  # "... anything under 200k"
            judged_km = judged_km and "money_after" not in unit.after  # "200k pesos"
            if set(meaning) == {"price_max"} and not unit.last.money and judged_km:
                meaning = {"km_max": meaning["price_max"]}  # "tiene muchos km, ¿119 mil es mucho?"
            if set(meaning) == {"km_max"} and _a_distance(tokens, unit):
                continue  # "me la tengo que llevar a Monterrey? son como 1000 km": a distance
            if set(meaning) == {"price_max"} and not unit.last.money and _after_have(tokens, unit):
                analysis.said.add(CAR_KM)  # "ese es estándar y tiene 100 mil": a car "has" km,
                continue  # not a price
            if described and _after_definite_car(analysis, unit.first.start):
                analysis.said.add(CAR_KM)
                analysis.odometer = int(meaning["km_max"])
                continue  # "el sentra 2019 con 18 mil km": the car's odometer, no ceiling
            if "price_max" in meaning and _seen_elsewhere(tokens, unit):
                analysis.said.add(PRICE_SEEN)
                continue  # "en mercado libre vi uno igual en 230": their price, not a budget
            if bare and "price_max" in meaning and _persons_age(tokens, unit):
                continue  # "mi hijo es menor de 25": an age, no budget
            if "term_months" in meaning and _denied_term(tokens, unit, self.lexicon.term_units):
                analysis.said.add(DENIED_TERM)
                continue  # "a 6 años no, máximo 4": not the term they want
            if "term_months" in meaning and _years_of_driving(tokens, analysis, unit):
                continue  # "90 mil km en 5 años": how long it was driven, not a plan
            if unit.first.start in instead_ends and "term_months" in meaning:
                analysis.said.add(TERM_REPLACED)  # "en vez de 3 años, a 4": the 3 years go
                continue
            if unit.first.start in instead_ends and meaning.keys() & MONEY_SLOTS:
                analysis.replaced.extend(float(v) for v in meaning.values())  # "en vez de 45
                continue  # mil, 60 mil": the 45 mil is the amount replaced, not wanted
            bounded = bool((unit.before | unit.after) & BOUND_CUES)
            for key, value in meaning.items():
                if value > MAX_AMOUNT:
                    continue
                meant = meant_at is not None and unit.first.start >= meant_at
                if meant and key in analysis.slots and analysis.slot_at[key] < meant_at:
                    if key == "year_min" and analysis.slots[key] in analysis.years:
                        analysis.years.remove(int(analysis.slots[key]))  # type: ignore[arg-type]
                    analysis.slots[key], analysis.slot_at[key] = value, unit.first.start
                elif key == "seats_min" and value > analysis.slots.get(key, value):
                    analysis.slots[key] = value  # "family of 6, 7 seats ideally": room for all
                elif bounded and key in analysis.unbounded:  # "¿6 mil 800? yo dije 5 mil máximo"
                    analysis.slots[key], analysis.slot_at[key] = value, unit.first.start
                    analysis.unbounded.discard(key)
                elif key not in analysis.slots:
                    analysis.put(key, value, unit.first.start)
                    if not bounded and key in BOUNDABLE:
                        analysis.unbounded.add(key)
            self._remember_plans(analysis, unit, meaning, _listed_before(tokens, leftovers, unit))
            if "down_payment_pct" in meaning:
                self._listed_percents(analysis, unit, previous, leftovers)
            previous = (unit, meaning)
            if "price_max" in meaning and (unit.before | unit.after) & BOUND_CUES:
                analysis.said.add(
                    PRICE_BOUND
                )  # "de menos de 200 mil": a ceiling, not a car's price
            if "price_max" in meaning and (
                "car_price_before" in unit.before or _after_car_name(analysis, unit.first.start)
            ):
                analysis.said.add(CAR_PRICE)  # "el de 236", "el rio 2019 de 249,999"
            floor = {"min_after", "min_before"} & (unit.before | unit.after)
            if "year_min" in meaning and "year_max" not in meaning and floor:
                analysis.said.add(YEAR_FLOOR)  # "2019 pa arriba": no newest year any more
            if "down_payment" in meaning and bare:
                analysis.said.add(BARE_DOWN_PAYMENT)  # "con 20 de enganche": mil or %?
            if bare and meaning.keys() & {"price_max", "down_payment"}:
                analysis.said.add(BARE_AMOUNT)  # "¿y con 30?": mil, or a percent after one
            if "price_max" in meaning and "own_value" in unit.before | unit.after:
                analysis.said.add(OWN_VALUE)  # "mi versa vale como 120 mil"
            if "price_max" in meaning and unit.cue("savings"):
                analysis.said.add(SAVINGS)  # "tengo 60 mil ahorrados"
                if set(tokens) & GRAMMAR.cash_words:
                    analysis.said.add(CASH_SAID)  # "tengo 100 mil cash": to pay in full
            if meaning.get("year_min") is not None and meaning.get("year_min") == meaning.get(
                "year_max"
            ):
                analysis.years.append(int(meaning["year_min"]))
        _terms_listed_after(analysis, leftovers, self.lexicon.term_units)
        years = analysis.slots.get("year_min"), analysis.slots.get("year_max")
        if YEAR_FLOOR in analysis.said and years[0] is not None and years[0] == years[1]:
            del analysis.slots["year_max"]  # "Only 2018 ones? I said 2018 or newer": the floor
        # "vivo a 5 metros": a distance, no car's length; "suv de menos de 4.5 m" is a car's
        described = "body_type" in analysis.slots or bool(set(tokens) & GRAMMAR.car_nouns)
        if "length_max" in analysis.slots and not (set(tokens) & LENGTH_WORDS or described):
            del analysis.slots["length_max"]
        low, high = analysis.slots.get("price_min"), analysis.slots.get("price_max")
        if isinstance(low, float | int) and isinstance(high, float | int) and low > high:
            del analysis.slots["price_min"]  # "¿como de 900 mil? no, de 400 o menos": the ceiling
        return leftovers, counted

    def _has_branch(self, city: object) -> bool:
        """A city with branches; a neighbourhood near one ("near Pedregal") is worth naming it."""
        named = isinstance(city, str) and self.places.area_of(city) is not None
        return named and self.places.branch_near(city) is None

    def _topic_with_section(
        self, decision: Decision, hits: Hits, analysis: Analysis, flags: set[str]
    ) -> Decision:
        """ "¿qué papeles llevo pa vender?": document words belong to several topics; the topic
        the message names by its own words (selling) and whose part it asks (its documents) wins
        over the one that only has the shared words (the credit application)."""
        if decision.topic is None or decision.stage != "rule":
            return decision
        sections = {name.split(":")[1] for name in analysis.said if name.startswith("section:")}
        if decision.topic in sections:
            return decision
        rivals = [
            name
            for name in hits.strong
            if name.startswith(f"{KNOWLEDGE}/")
            and name.split("/", 1)[1] in sections
            and _named_beyond_section(analysis, name)
            and self.classifier.allowed(name, analysis.slots, flags)
        ]
        if len(rivals) != 1:
            return decision
        label = self.classifier.labels[rivals[0]]
        return Decision(label.intent, label.topic, "rule", 1.0, decision.ranked)

    def _seller_part(
        self, decision: Decision, analysis: Analysis, flags: set[str], context: DialogContext
    ) -> Decision:
        """With the customer's own car on the table (selling it, trading it in), words of a
        part of that topic ("¿qué papeles llevo a la inspección?", "¿pasan por él?") ask that
        part, unless the message names another topic by words of its own ("pal crédito")."""
        parts_said = {name.rsplit(":", 1)[0] for name in analysis.said}
        own = [
            label
            for label in self.own_car_labels
            if f"section:{label.split('/', 1)[1]}" in parts_said
        ]
        decided = _label(decision.intent, decision.topic) or ""
        if not own or decided in self.own_car_labels or decided in self.classifier.settings.social:
            return decision
        if decided == SEARCH_REQUEST:
            return decision  # a car described after selling: `_seller_follow_up` reads it
        label = context.last_label if context.last_label in own else own[0]
        parts = f"section:{label.split('/', 1)[1]}:"
        if decision.stage == "rule" and _strong_beyond(analysis, decided, parts):
            return decision
        if decided in CREDIT_FAMILY and _named_beyond(analysis, CREDIT_FAMILY, parts):
            return decision  # "¿qué papeles llevo para lo del crédito?": the credit's papers
        if not self.classifier.allowed(label, analysis.slots, flags):
            return decision
        taker = self.classifier.labels[label]
        return Decision(taker.intent, taker.topic, "context", 1.0, decision.ranked)

    def _seller_requests(
        self, analysis: Analysis, decision: Decision, requests: list[str]
    ) -> list[str]:
        """Selling their car: "Can I get paid right away? And what papers do I need?" asks two
        parts of selling, not the credit's papers (a request whose words are all a part's)."""
        parts = f"section:{(decision.topic or '')}:"
        # "vender mi jetta y comprar otro, ¿qué papeles necesito para el crédito?": the credit
        # named, its papers are asked
        credit = any(hit == FINANCING_REQUEST for hit, _, _, _ in analysis.labels)
        kept = [
            label
            for label in requests
            if label == decision.label
            or label in self.own_car_labels
            or not label.startswith(f"{KNOWLEDGE}/")  # "the 2018 one. can I trade in my Fit?"
            or credit
            or _strong_beyond(analysis, label, parts)
        ]
        return kept if len(kept) > 1 else []

    @staticmethod
    def _listed_percents(analysis: Analysis, unit, previous, leftovers) -> None:
        """ "con 20 y 30% de enganche": the 20 shares the percent (not 20 mil a month)."""
        # "con 10 y con 30%": the "con" said again joins them too
        joiners = LIST_JOINERS | PERCENT_LIST_JOINERS
        found = [q.value for q in _listed_before(analysis.tokens, leftovers, unit, joiners)]
        if previous is not None:
            before, meaning = previous
            last = before.last
            between = analysis.tokens[last.end : unit.first.start]
            if (
                _bare_small(last)
                and between
                and not set(between) - LIST_JOINERS
                and len(before.quantities) == 1
            ):
                for key in meaning:
                    if analysis.slot_at.get(key) == before.first.start:
                        del analysis.slots[key], analysis.slot_at[key]
                found.append(last.value)
        pcts = [*found, unit.last.value]
        said = analysis.slots.get("down_payment_pct")  # "con el 30% cuánto, ¿y con el 10%?"
        if isinstance(said, float | int) and analysis.slot_at.get("down_payment_pct", 0) < (
            unit.first.start
        ):
            pcts.append(said)
        if len(set(pcts)) > 1:
            analysis.down_payment_pcts = sorted(set(pcts))
            analysis.listed_pcts.extend(found)  # "con 10 y con 30%": the 10 is no pick

    def _seller_follow_up(
        self, context: DialogContext, analysis: Analysis, intent: str | None, label: str | None
    ) -> str | None:
        """Right after talking about selling or trading in their car, a car described without
        a word that asks for cars ("busco", "otra") is the customer's own."""
        last = context.last_label or ""
        # "es estándar" with no car of ours in focus is not asked of one
        told = intent == DETAILS and context.focus is None and "?" not in analysis.tokens
        # "roughly how much could I get for it? 60,000 km": its km, beside a part of selling
        selling = label in self.own_car_labels and bool(context.own_car)
        bare_traits = selling and _own_traits(analysis, verb=False)
        if intent != SEARCH_REQUEST and not (told and _own_traits(analysis)) and not bare_traits:
            return None
        # their car's traits told after its lead was sent ("y es estándar, tiene 85 mil km")
        later = context.lead_open and bool(context.own_car) and "?" not in analysis.tokens
        if later and last not in self.own_car_labels and _own_traits(analysis):
            last = SELLING
        # "la mía es 2019 con 60 mil km", "mine is a 2019 XLE" after a search: their car told
        mine = "context:own_car" in analysis.said and bool(context.own_car)
        if mine and last not in self.own_car_labels and _own_traits(analysis):
            last = SELLING
        if last not in self.own_car_labels:
            return None
        slots = analysis.slots
        if slots.keys() & {"term_months", "monthly_budget"}:
            return None  # "el tracker; si mi sentra vale 150, ¿cuánto al mes?": a plan
        named = bool(slots.get("make") or slots.get("model"))
        described = named and "km_max" in slots
        # "es un vocho 2003, ¿cuánto me dan?": a car said with a part of selling it
        part = f"section:{last.split('/', 1)[-1]}:"
        described = described or (named and any(n.startswith(part) for n in analysis.said))
        # "tiene 90 mil km": the km of their car (a buyer says "con menos de 90 mil km")
        km_alone = "km_max" in analysis.unbounded and len(slots) == 1
        described = described or km_alone
        # "tiene 80 mil km y es estándar", "it has 45,000 km btw", "60,000 km, EX trim": their
        # car by its traits
        traits = not named and (bare_traits or km_alone or _own_traits(analysis))
        # "tienen una igualita en 414 mil, ¿me darían eso?": what they would get for theirs
        offered = bool(TRADE_VALUE & set(analysis.tokens)) and "price_max" in slots
        told = described or traits or offered
        if not (told or slots.get("own_car")) or last not in self.classifier.labels:
            return None
        asks = [
            start
            for name, start, end in analysis.said_spans
            if name == "context:search"
            and not GRAMMAR.not_car_after_other & set(analysis.tokens[end : end + 1])
        ]  # "otra vez la misma", "en otro lado me ofrecieron 180": no other car
        if asks:
            return None
        wish = _wish_beside_own(analysis)
        if wish:  # "mi civic tiene 110 mil km. quiero un hatchback 2021 de hasta 380": their car
            return None  # told, and the car they want asked
        if context.own_car and (traits or offered) and not named:
            analysis.put("own_car", context.own_car, 0)  # told of the car they sell, for the
            analysis.said.add(OWN_CAR_TOLD)  # advisor
            if offered and "price_min" not in slots:
                analysis.own_offer = slots.pop("price_max")  # an offer, no budget
                analysis.slot_at.pop("price_max", None)
        return last

    def _own_car_part(self, intent: str, slots: dict[str, object], analysis, context):
        """A part of selling or trading in their car said with no car wished ("¿y los 18 mil que
        sobran me los dan en efectivo?" after a search): that topic, not the search again."""
        if intent != SEARCH_REQUEST or not context.own_car or SEARCH_CRITERIA_KEYS & slots.keys():
            return None
        if "context:search" in analysis.said:
            return None
        for label in self.own_car_labels:
            part = f"section:{label.split('/', 1)[1]}:"
            if label in self.classifier.labels and any(n.startswith(part) for n in analysis.said):
                return self.classifier.labels[label]
        return None

    def _condition_of_ours(
        self, intent: str, topic: str | None, slots: dict[str, object], analysis, context
    ):
        """ "¿y la cx5 tiene algún detalle?", "la mazda que ustedes venden tiene rayones" while
        they sell their CR-V: the state of a car we sell, asked in the words of a seller's car
        (intents.yml `condition_of_ours`), unless they speak of their own ("mi crv tiene…")."""
        wanted = self.classifier.settings.condition_of_ours
        if wanted is None or wanted not in self.classifier.labels or not context.own_car:
            return None
        worded = bool(set(self.classifier.settings.condition_said) & analysis.said)
        if not worded or "context:own_car" in analysis.said or "own_car" in slots:
            return None
        named = " ".join(str(slots[key]) for key in ("make", "model") if slots.get(key))
        ours = bool(named) and fold(named) not in fold(context.own_car)
        ours = ours or (not named and context.focus is not None)
        asked = _label(intent, topic) in self.own_car_labels or intent in (SELECT, DETAILS)
        return self.classifier.labels[wanted] if ours and asked else None

    @staticmethod
    def _remember_plans(analysis: Analysis, unit, meaning: dict[str, float], pending) -> None:
        """Every term and down payment said, to compare plans: "a 3 y a 5 años" (one unit, two
        values), "con 60 mil de enganche, ¿y con 90 mil?" (an amount after "con" once a down
        payment was said)."""
        term = meaning.get("term_months")
        if term is not None:
            years = "years_unit" in unit.after or term == unit.last.value * 12
            values = [q.value for q in pending if q.value == int(q.value)] + [term]
            for value in values:  # "a 3 y a 5 años": the 3 waited for its unit
                months = int(value * 12 if years and value != term else value)
                if months not in analysis.terms and months >= financing.MIN_TERM_MONTHS:
                    analysis.terms.append(months)
        down = meaning.get("down_payment")
        start = unit.first.start
        before = analysis.tokens[max(0, start - 2) : start]
        paid_with = bool(before) and before[-1] in GRAMMAR.paid_with
        after_con = paid_with or " ".join(before) in CON_AMOUNT
        paid_in = after_con and set(meaning) == {"price_max"}
        if paid_in:
            analysis.said.add(MONEY_AFTER_CON)  # "a 6 años con los 40 mil": a down payment?
        priced = analysis.slot_at.get("price_max")
        if down is None and paid_in and CAR_PRICE in analysis.said and priced != start:
            down = meaning["price_max"]  # "el de 236 con mis 70 mil": the car's price, paid in
            if "down_payment" not in analysis.slots:
                analysis.put("down_payment", down, start)
        elif down is None and analysis.down_payments and paid_in:
            down = meaning["price_max"]
            del analysis.slots["price_max"]  # "¿y con 90 mil?": another down payment
        if down is not None and down not in analysis.down_payments:
            analysis.down_payments.append(down)

    def extract(
        self, text: str, context: DialogContext | None = None, exclude: int | None = None
    ) -> Extraction:
        """`exclude` leaves one YAML example out of the example stage (leave-one-out)."""
        context = context or DialogContext()
        asking = [*context.asking, "lead"] if context.lead_open else context.asking
        places = context.last_label in self.context_settings.place_labels
        # their car just talked of, or the one they bought ("compré uno y falló … el carro es
        # un jetta 2019"): "es un <car>" names it
        own_told = context.last_label in self.own_car_labels or context.after_sale
        seen = [*context.shown, *([context.focus] if context.focus else []), *context.chosen]
        listed = frozenset(fold(car.model) for car in seen if car.model)  # "the Gol" listed
        analysis = self.analyse(text, asking, places=places, own_told=own_told, listed=listed)
        if not analysis.tokens:
            return Extraction()
        _closing_tag_no(analysis)
        if context.lead_phone:
            _phone_ending(analysis, context.lead_phone, self.contact.phone_ending(analysis.tokens))
        if context.focus is not None:
            _body_word_is_the_focus(analysis)
            _another_kind_wished(analysis)
        said_own = analysis.slots.get("own_car")
        if isinstance(said_own, str) and not context.own_car:  # "tengo un aveo 2016 y lo quiero
            _own_car_named_again(analysis, said_own)  # dar a cuenta... ¿cuánto me toman el aveo?"
        if context.own_car:
            _own_car_named_again(analysis, context.own_car)
            _own_car_plus_cash(analysis)  # "por el march me dan 90k, más mis 80k"
            _own_car_value(analysis, own_known=True)
            seller = context.last_label in self.own_car_labels
            if seller and context.focus is None and _body_word_pointed(analysis):
                _their_car(analysis, context.own_car, analysis.slot_at.pop("body_type"))
                del analysis.slots["body_type"]  # "¿dónde llevo la camioneta?": theirs
        slots = analysis.slots
        flags = context.flags() | _vetoes(analysis) | (analysis.said & self.classifier.unless_said)
        if analysis.alternatives and not _indefinite_car(analysis):
            flags.add(TWO_CARS)  # "compara el jetta y el vento" with nothing listed ("un versa
            # y un sentra, ¿cuál tienen?" asks for any such cars: a search)
        decision, hits = self._decide(analysis, flags, exclude)
        decision = self._topic_with_section(decision, hits, analysis, flags)
        if context.own_car:
            decision = self._seller_part(decision, analysis, flags, context)
        rereads = self.classifier.settings.reread_after
        reread = rereads.get(context.last_label or "", {})
        if context.after_sale and decision.label not in reread:  # a fault of the car they bought
            reread = rereads.get(AFTER_SALE, {})
        if decision.label in reread:  # "¿tengo que ir yo o vienen?" after selling their car
            taker = self.classifier.labels[reread[decision.label]]
            decision = Decision(taker.intent, taker.topic, "context", 1.0, decision.ranked)
        intent, topic, stage, score = (
            decision.intent,
            decision.topic,
            decision.stage,
            decision.score,
        )
        requests = self._requests(analysis, decision, flags)
        own_car = context.own_car or analysis.slots.get("own_car")  # "I want to sell my CR-V"
        if own_car and decision.label in self.own_car_labels:
            requests = self._seller_requests(analysis, decision, requests)
        second = requests[1] if len(requests) > 1 else None
        leading = [label for label in requests if label in self.classifier.settings.leading]
        if leading:  # a complaint is answered first, whatever else the message asks
            requests = [leading[0], *[label for label in requests if label != leading[0]]]
        if requests and requests[0] != decision.label:  # answered in the order asked
            first = self.classifier.labels[requests[0]]
            intent, topic, stage, score = first.intent, first.topic, "rule", 1.0
        named = slots.get("make") or slots.get("model")
        if intent == COMPLAINT and second is None and named and _car_wished(analysis):
            second = SEARCH_REQUEST  # "me dijeron que me iban a llamar y nada. quiero el mazda 3
            # 2021": the apology first, and the car still looked for
        of_focus = context.focus is not None and car_matches(context.focus, slots)
        if second is None and intent == KNOWLEDGE and named and not of_focus:
            if stage == "examples" and SEARCH_REQUEST in hits.weak:
                # only the examples' guess of a topic, and a car named the way a search names
                # it ("vi un sportage en su página, ¿todavía lo tienen?"): the car comes first;
                # the guess is a second request only of a question ("I would like a mini
                # cooper" asks nothing of a warranty)
                asks = _asks(analysis) or _opens_with(analysis.tokens, GRAMMAR.question_openers)
                second = _label(intent, topic) if asks else None
                intent, topic, stage, score = SEARCH_REQUEST, None, "rule", 0.5
            elif (
                _listed(context, slots)
                and _data_asked(analysis, DETAILS in hits.worded)
                and not _figure_said(analysis.tokens, KM_WORDS)  # "103k km..." is told, not asked
            ):
                # "la captur se ve bien, ¿tiene pocos km? ¿y qué garantía tiene?": the listed
                # car's datum, asked first, then the topic
                second = _label(intent, topic)
                intent, topic, stage, score = DETAILS, None, "context", 1.0
            else:
                second = SEARCH_REQUEST  # "¿tienen garantía? me interesa la CX-5": the CX-5s too
        if second in CAR_SCREEN_LABELS and context.focus is None and not context.shown:
            second = None  # "¿qué es Kavak Total y cuánto cuesta?": no car to say it of
        absorbed = self.classifier.settings.absorbed_with_car
        first_label = _label(intent, topic) or ""
        # the plan topic asked first, or second after a question about the car ("el aveo,
        # ¿cuántos km tiene? y ¿el enganche mínimo?")
        plan_topic = first_label if first_label in absorbed else second
        with_car = absorbed.get(plan_topic or "")
        # "¿el enganche mínimo cuánto es?" of the chosen car: its plan's words ask for its plan
        plan_words_said = any(name.startswith(f"{with_car}:") for name in analysis.said)
        asks_taker = (second == with_car and plan_topic == first_label) or plan_words_said
        # "ok la trax. ¿el enganche mínimo y a 3 años?": a listed car named now is the car the
        # plan is of; so is a car named with its year and the plan's words ("me interesa el X3
        # 2019, ¿cuánto de enganche mínimo?")
        exact = bool(slots.get("model") and slots.get("year_min") and plan_words_said)
        at_hand = context.focus is not None or bool(named and context.shown) or exact
        if with_car is not None and asks_taker and at_hand:
            taker = self.classifier.labels[with_car]  # the plan of the car in focus says it all
            # ... but not a part of the topic it has no figure for ("¿cobran multa si me atraso?")
            part = f"section:{plan_topic.split('/', 1)[-1]}:" if plan_topic else None
            kept = plan_topic if part and any(n.startswith(part) for n in analysis.said) else None
            # "¿y si adelanto pagos se reduce el interés? ¿o me penalizan?": the other question
            other = second if second not in (None, with_car, plan_topic) else None
            intent, topic, second = taker.intent, taker.topic, kept or other
            if plan_words_said and of_focus and _data_asked(analysis, DETAILS in hits.worded):
                second = DETAILS  # "el aveo, ¿cuántos km tiene? y ¿el enganche mínimo?"
        without = self.classifier.settings.absorbed_without_car
        no_car = context.focus is None and not context.shown and not named
        no_car = no_car and not (FINANCING_KEYS | {"monthly_budget"}) & slots.keys()
        first_label = _label(intent, topic) or ""
        if no_car and second and without.get(first_label) == second:
            taker = self.classifier.labels[second]  # "¿me financian? ¿cómo funcionan los planes?"
            intent, topic, second = taker.intent, taker.topic, None
        elif no_car and second and without.get(second) == first_label:
            second = None  # "¿cómo funciona? ¿aun así me financian?": the text on plans says it
        names_focus = context.focus is not None and car_matches(
            context.focus, {key: slots[key] for key in ("make", "model") if key in slots}
        )  # "el vento es automático?" names the Vento; the transmission is asked, not wanted
        # ... or a car named now: "el fiat palio, ¿tiene bluetooth? ¿y a cuánto con 30 mil?"
        named_now = bool(slots.get("model"))
        plan_first = intent == FINANCING_REQUEST and second is None and named
        plan_first = plan_first and (names_focus or named_now)
        own = _own_clause(analysis, DETAILS, FINANCING_REQUEST) or _datum_clause(analysis)
        if plan_first and own:
            second = DETAILS  # "el vento es automático, ¿verdad? y ¿a 4 años?": both
        if NO_OWN_CAR in analysis.said and second in self.own_car_labels:
            second = None  # "no tengo auto para dar a cuenta": no trade-in to explain
        where = bool(GRAMMAR.where_words & set(analysis.tokens)) and "city" in slots
        if where and second is None and topic and _label(intent, topic) != PLACES_LABEL:
            second = PLACES_LABEL  # "¿dónde llevo la camioneta a inspección en monterrey?"
        own_car_label = _label(intent, topic) in self.classifier.settings.own_car_labels
        # "...y también busco una camioneta": words that ask for cars, not only the car described
        other_car = bool(slots.get("own_car") and named)  # "vender mi aveo y comprar un jetta"
        wants_cars = "context:search" in analysis.said or SEARCH_REQUEST in hits.worded or other_car
        own_at = analysis.slot_at.get("own_car", -OWN_CAR_REACH)
        wished = any(  # "mi jetta 2017 automático", "mi camioneta 2017": their own car
            key in slots
            and not 0 <= analysis.slot_at.get(key, 0) - own_at <= OWN_CAR_REACH
            and analysis.tokens[max(0, analysis.slot_at.get(key, 0) - 1)] not in POSSESSIVES
            for key in WANTED_CRITERIA
        )
        wished = wished and OWN_VALUE not in analysis.said
        # "…kia forte 2020 que ya compré": only their car's own data, no car wished
        their_car = own_car_label or (bool(slots.get("own_car")) and not wished)
        if their_car and second == SEARCH_REQUEST and not wants_cars:
            second = None  # "¿en cuánto lo compran? tiene 120 mil km": their car's km
        wanted = wished or WANTED_NAMED in analysis.said  # "…a cuenta de un x-trail"
        # "necesito cambiar mi carro, ¿sirve un versa o un vento?": cars offered as options are
        # wished (one's own car is one car)
        wanted = wanted or (bool(analysis.alternatives) and not slots.get("own_car"))
        if own_car_label and second is None and wanted and not context.asking:
            second = SEARCH_REQUEST  # "doy mi versa a cuenta de una camioneta de 7 pasajeros"
        label_now = _label(intent, topic) or ""
        if (
            topic
            and label_now in self.classifier.labels
            and _named_beyond_section(analysis, label_now)
        ):
            analysis.said.add(NAMED_TOPIC)  # "si la aparto, ¿me regresan el dinero?": the topic's
            # own word, not only words a part of the last topic shares
        if topic and label_now in self.classifier.labels and _named_apart(analysis, label_now):
            analysis.said.add(NAMED_APART)  # "hablo del APARTADO": a word of no other topic's part
        if topic and _part_apart(analysis, topic):  # "y cuánto tarda la aprobación del crédito"
            analysis.said.add(PART_APART)  # after the reservation: the credit's part, not its
        if context.shown:
            _year_of_a_listed_car(analysis, context)
        if context.shown and _car_first(analysis):
            analysis.said.add(CAR_FIRST)  # "el altima. lo quiero de contado pero…": that car
        reading = Reading(
            label=_label(intent, topic) or "",
            stage=stage,
            score=score if score is not None else 0.0,
            by_slots_only=_by_slots_only(decision.label, analysis, hits),
            words=sum(token.isalnum() for token in analysis.tokens),
            first_words=_first_sentence_words(analysis),
            said=frozenset(analysis.said),
            details_asked=DETAILS in hits.worded,
            data_asked=_data_asked(analysis, DETAILS in hits.worded),
            generic_car=_indefinite_car(analysis),
            several_cars=bool(analysis.alternatives),
            other_model=any(alternative_parts(other)[1] for other in analysis.alternatives),
            bare_number=analysis.bare[0] if len(analysis.bare) == 1 and not slots else None,
            article_numbers=tuple(analysis.article_numbers),
            bare_numbers=tuple(analysis.bare),
            replaced=tuple(analysis.replaced),
            free_words=tuple(
                token
                for token, kind in zip(analysis.tokens, analysis.kinds, strict=True)
                if kind is None and token.isalpha() and len(token) > 2 and token not in STOPWORDS
            ),
            weak=stage == "rule" and score is not None and score < 1.0,
            worded=self._worded_request(hits, decision.label, flags, slots),
            second=second,
            km_bound="km_max" in slots and "km_max" not in analysis.unbounded,
            price_bound="price_max" in slots and "price_max" not in analysis.unbounded,
        )
        if context.shown and FINANCING_KEYS & slots.keys():
            _percent_among_picks(analysis, len(context.shown))
        approx = slots.get("price_max") in analysis.approx
        if approx and {NO_CREDIT, CASH_SAID} & analysis.said:  # "unos 175 mil de contado": the
            slots["price_max"] = analysis.approx[slots["price_max"]]  # money they have, a
            slots.pop("price_min", None)  # ceiling with no band above it
            analysis.said.add("price:bound")
        band = slots.get("price_max") in analysis.approx and "price_min" in slots
        if band and "context:added" in analysis.said:  # "si dan unos 40 mil por el tsuru y le
            slots["price_max"] = analysis.approx[slots["price_max"]]  # sumo los 60": 40 mil
            del slots["price_min"]  # added to the down payment, no band around it
        if _unlisted_asked(analysis, reading.free_words):
            analysis.said.add(UNLISTED_ASKED)  # "¿tiene adeudos?": a thing no listing says
            reading = replace(reading, said=frozenset(analysis.said))
        changed = apply_context(reading, slots, context, self.context_settings)
        if changed is not None and changed[0] == reading.label:
            second = changed[1] or second
        elif changed is not None:
            label = self.classifier.labels.get(changed[0])
            if label is not None:
                intent, topic, stage, score = label.intent, label.topic, "context", 1.0
                second = changed[1] or second
        if second is not None and second == _label(intent, topic):
            # "la land rover, ¿cuántos km tiene? ¿y a crédito con 100k a 3 años?": the car named
            # was its details, the request after them comes second
            later = [label for label in requests if label not in (second, reading.label)]
            second = later[0] if later else second
        if second == NO_SECOND:
            second = None
        wished_car = slots.get("make") or slots.get("model")
        year_said = slots.get("year_min") is not None and slots.get("year_min") == slots.get(
            "year_max"
        )
        own_named = "own_car" in analysis.slot_at  # named in this message ("mi sentra es…")
        own_named = own_named and "context:search" not in analysis.said  # "…y busco algo 2019"
        own_named = own_named and not str(slots.get("own_car", ""))[-4:].isdigit()  # its year said
        if (
            slots.get("own_car")
            and year_said
            and not wished_car
            and own_named
            and intent == SEARCH_REQUEST
        ):
            for key in ("year_min", "year_max"):  # "sigue diciendo 2015, mi sentra es modelo
                slots.pop(key)  # 2016": their car's year put right, no search
                analysis.slot_at.pop(key, None)
            own_label = context.last_label if context.last_label in self.own_car_labels else None
            label = self.classifier.labels.get(
                INFORM
                if context.lead_open
                else own_label or self.classifier.settings.own_car_as_down_payment or ""
            )
            if label is not None:
                intent, topic, stage, second = label.intent, label.topic, "context", None
        own_at, km_at = analysis.slot_at.get("own_car"), analysis.slot_at.get("km_max")
        told_km = own_at is not None and km_at is not None and "km_max" in analysis.unbounded
        told_km = told_km and bool(slots.get("make") or slots.get("model"))  # a car wished too
        # "my civic has 110,000 km. I'd like a hatchback": their car's km, no search ceiling
        own_then_wish = own_at is not None and km_at is not None and _wish_beside_own(analysis)
        told_km = told_km or (own_then_wish and "km_max" in analysis.unbounded)
        if (
            told_km
            and 0 < km_at - own_at <= OWN_CAR_REACH
            and (intent != SEARCH_REQUEST or own_then_wish)
        ):
            analysis.own_km = int(slots.pop("km_max"))  # "tenemos un sentra 2015 con 120 mil km
            analysis.slot_at.pop("km_max", None)  # …lo pueden tomar a cuenta?": their car's km
        planned = (
            "down_payment" in slots or "down_payment_pct" in slots
        ) and "term_months" in slots
        if (
            intent == SEARCH_REQUEST
            and planned
            and slots.get("model")
            and not analysis.alternatives
            and not GRAMMAR.stock_asked & set(analysis.tokens)  # "¿tienen mazda 3 2018? y…"
            and "context:search" not in analysis.said
        ):
            intent, topic, stage = FINANCING_REQUEST, None, "rule"  # "I still want the X1…
            # 200k for the CX-3, what would the X1 monthly be over 3 years?": that car's plan
        if intent == DETAILS and planned and second in (None, SEARCH_REQUEST):
            second = FINANCING_REQUEST  # "el swift, ¿es estándar? ¿cuánto al mes con 30% a 5 años?"
        plan_said = (FINANCING_KEYS | {"monthly_budget"}) & slots.keys()
        theirs = context.lead_open or context.own_car or slots.get("own_car")
        if analysis.owed_payments and intent == FINANCING_REQUEST and theirs and not plan_said:
            # "no son 8 mil, son 8 mensualidades que faltan": their loan, told for the advisor
            label = self.classifier.labels.get(LEAD_UPDATE if context.lead_open else SELLING)
            if label is not None:
                intent, topic, stage, second = label.intent, label.topic, "context", None
        if context.focus is not None or context.shown:
            _figures_of_listed_cars(analysis, context, self.context_settings.echo_share)
        if context.lead_open and _other_person(analysis):
            analysis.said.add(OTHER_PERSON)  # "mi hermano… ¿le hablan a él también? Héctor 55…"
        if context.plan_payment:
            _payment_said_back(analysis, context.plan_payment, self.context_settings)
            echoed_only = (
                PAYMENT_ECHOED in analysis.said and not SEARCH_CRITERIA_KEYS & slots.keys()
            )
            if echoed_only and intent in (SEARCH_REQUEST, FINANCING_REQUEST):
                intent, topic = FINANCING_REQUEST, None  # "ufff casi 6 mil": the plan's payment
                second = None if second == SEARCH_REQUEST else second
        preferred = intent == DETAILS and second is None and _trait_preferred(analysis)
        if preferred:
            analysis.said.add(TRAIT_PREFERRED)
            second = SEARCH_REQUEST  # "el spark es estándar verdad? mi hijo apenas aprende,
            # mejor automático": its trait answered, and the ones with the one preferred
        asked_of_pick = bool({"asked:transmission", "details:transmission"} & analysis.said)
        asked_of_pick = asked_of_pick and "ordinal" in slots  # ("el segundo… ¿y es automático?")
        if asked_of_pick and intent == SEARCH_REQUEST and "context:search" not in analysis.said:
            intent, topic, second = DETAILS, None, None  # "el primero. ¿es estándar o automático?
            # xq no sé manejar estándar": asked of the car picked, the need is the reason (no
            # filter of the list the number points into)
            analysis.said.add("details:transmission")
        echoed = FIGURE_ECHOED in analysis.said and "context:search" not in analysis.said
        echoed = echoed and len(set(analysis.years)) < 2  # "la 2017 está en 414 y la 2016 en
        # 287??": two cars side by side
        picked = "ordinal" in slots or second == SELECT
        if echoed and intent == SEARCH_REQUEST and picked:
            intent, topic, stage, second = SELECT, None, "context", None  # "ya te dije, el de
            # 19 mil km!! el 4": the car its km and its number point at
            if DETAILS in hits.worded and "ordinal" in slots:
                intent = DETAILS  # "el de 60 mil km, ¿es automático?": asked of that one
        elif echoed and intent == SEARCH_REQUEST and not _criteria_beyond_naming(slots):
            # "139 mil x un aveo con 119 mil km?? q caro": the listed car its figures point at,
            # judged; no search. "tiene casi cien mil km, ¿cómo sé que no está chocada?": the
            # question beside it is the request
            asked = self.classifier.labels.get(second or "")
            named_other = ECHOED_OTHER in analysis.said and bool(slots.get("model"))
            if named_other:  # "let's focus on the Clase A 2018. It has 93k km, a lot, no?":
                intent, topic = SELECT, None  # that car now, and the question beside it
                second = second if asked is not None and second != SEARCH_REQUEST else None
            elif asked is not None and second != SEARCH_REQUEST:
                intent, topic, second = asked.intent, asked.topic, None
            else:
                intent, topic, second = DETAILS, None, None
            stage = "context"
        elif echoed and intent == SELECT and PRICE_ECHOED in analysis.said and _asks(analysis):
            intent, topic, stage = DETAILS, None, "context"  # "460 mil por una touareg del
            # 2018, ¿por qué tan caro?": its price asked about, no pick
        if context.shown and 0 in analysis.picks:  # "compara el de en medio con el último"
            analysis.picks = [
                (len(context.shown) + 1) // 2 if p == 0 else p for p in analysis.picks
            ]
        if context.shown and len(analysis.picks) > 1 and _only_picks(analysis.tokens):
            intent, topic, stage, second = COMPARE, None, "context", None  # "2 y 3"
        if _asks_between_shown(analysis, slots, context):
            intent, topic, stage, second = COMPARE, None, "context", None
        elif intent in (SEARCH_REQUEST, SELECT, DETAILS) and _asks_which_named(analysis):
            intent, topic, stage, second = ADVICE, None, "context", None  # side by side, a word
        elif intent in (SEARCH_REQUEST, SELECT, DETAILS) and _asks_which_pointed(analysis, context):
            intent, topic, stage, second = ADVICE, None, "context", None  # "¿cuál está mejor,
            # esa o la cx5?": the car in sight and the one named
        seen = [*context.shown, *([context.focus] if context.focus is not None else [])]
        naming = {key: slots[key] for key in ("make", "model") if key in slots}
        odometer = slots.get("km_max") if "km_max" in analysis.unbounded else None
        by_km = km_pointed(seen, slots) if odometer else []
        pointed_km = bool(by_km)
        fewer = slots.get("superlative") == "lowest_km"  # "tiene casi 100 mil km, ¿otra con
        # "the 2016 one, with 95k km": the listed car of that year and those km
        its_year = any(slots.get("year_min") == car.year == slots.get("year_max") for car in by_km)
        if pointed_km and (
            intent != SEARCH_REQUEST or naming or fewer or its_year
        ):  # menos km?": its km
            # "the pathfinder is cheap but 103k km... any accidents?": that car's km, no filter
            analysis.odometer = int(slots.pop("km_max"))
            analysis.said.add(CAR_KM)
        years_of_one = "model" in naming and len(set(analysis.years)) > 1
        if years_of_one and set(analysis.tokens) & WHICH_WORDS and intent in (
            SEARCH_REQUEST, ADVICE, SELECT
        ):  # fmt: skip
            intent, topic, stage, second = COMPARE, None, "rule", None  # "¿cuál me conviene,
            # la odyssey 2016 o la 2015?": those two, side by side
        traits = slots.keys() & {"drive", "transmission", "fuel", "bluetooth", "car_play"}
        data_asked = any(  # (not "¿cuánto cuesta el envío?": a price of something else)
            name.startswith("details:") and name != "details:price" for name in analysis.said
        )
        if intent in (POLICY, KNOWLEDGE) and second is None and naming and (traits or data_asked):
            second = DETAILS  # "me interesa la frontier 2022, ¿tiene 4x4? ¿se puede negociar?"
            # "te pregunté si el sentra es versión advance y si el km es real"
        of_seen = bool(naming) and any(car_matches(car, naming) for car in seen)
        if second == SEARCH_REQUEST and DETAILS in hits.worded and of_seen and not preferred:
            second = DETAILS  # "¿descuento de contado? ¿y el Vento tiene Bluetooth?"
        criteria = slots.keys() & {"transmission", "year_min", "price_max", "body_type", "fuel"}
        plural_cars = set(analysis.tokens) & GRAMMAR.plural_car_nouns and not naming
        if plural_cars and criteria and SIMILAR not in analysis.said:
            analysis.said.add("context:any_make")  # "NO. automatic cars, 2019 or newer": any
            # make, not the models named before
        either = any(name.startswith(ASKED) for name in analysis.said)
        if (
            either
            and intent in (ADVICE, SEARCH_REQUEST)
            and (naming or context.focus)
            and not (COMPARE_WORDS & set(analysis.tokens) - {"o"})
        ):
            intent, topic, stage, second = DETAILS, None, "rule", None  # "¿el spark es
            # estándar o automático?": which it is, of that car
        alike = SIMILAR in analysis.said and (context.focus or context.shown)
        if alike and intent in (DETAILS, SELECT) and second in (SEARCH_REQUEST, DETAILS, None):
            intent, topic, stage, second = SEARCH_REQUEST, None, "rule", None  # "ese es
            # estándar; algo parecido pero automático": what it is said, the search asked
        chosen = naming and ("ordinal" in slots or CAR_PRICE in analysis.said)
        if intent == COMPLAINT and chosen and not FINANCING_KEYS & slots.keys():
            intent, topic, stage, second = SELECT, None, "rule", None  # "WTF, si acabas de
            # poner el sentra de 268,999, ese quiero": the car, whatever the tone
        planned = FINANCING_KEYS & slots.keys() and (naming or context.focus is not None)
        if intent == COMPLAINT and planned:
            intent, topic, stage, second = FINANCING_REQUEST, None, "rule", None  # "ya me
            # cansé, nomás dime cuánto al mes el mazda 3 con 70 mil a 5 años": the plan
        own_down = self.classifier.settings.own_car_as_down_payment
        unvalued = TRADE_IN_PLUS in analysis.said and OWN_VALUED not in analysis.said
        if unvalued and own_down and intent in (FINANCING_REQUEST, SEARCH_REQUEST, SELECT):
            # "lo pago con mi audi + 150 mil": how their car counts, and the plan with the cash
            label = self.classifier.labels[own_down]
            intent, topic, stage, second = label.intent, label.topic, "rule", FINANCING_REQUEST
        figures = (FINANCING_KEYS | {"monthly_budget", "price_max"}) & slots.keys()
        figures = figures or OWN_VALUE in analysis.said  # "si mi versa vale como 120k": a plan
        plan_worded = FINANCING_REQUEST in hits.worded  # the plan's words said now, not inherited
        asks_own = slots.get("own_car") and plan_worded and not figures
        if intent == FINANCING_REQUEST and asks_own and own_down:
            label = self.classifier.labels[own_down]  # "¿mi civic puede ser el enganche?"
            intent, topic, stage, second = label.intent, label.topic, "rule", None
        plans_of_both = FINANCING_REQUEST in hits.worded
        plans_of_both = plans_of_both and not set(analysis.tokens) & COMPARE_WORDS
        if intent == COMPARE and plans_of_both and not analysis.picks:
            intent, topic, stage, second = FINANCING_REQUEST, None, "rule", None  # "¿y las
            # mensualidades de las dos?": the plan of each, not the comparison again
        timed = context.lead_open and "contact_time" in slots and not slots.get("city")
        places = _label(intent, topic) == LOCATIONS_LABEL
        if timed and places and "?" not in analysis.tokens:
            label = self.classifier.labels.get(LEAD_UPDATE)  # "horario: hoy. punto." after the
            if label is not None:  # lead: the call's time corrected, not the branches' hours
                intent, topic, stage, second = label.intent, label.topic, "context", None
        if intent == SELECT and _others_asked_after(analysis, context):
            others = [*analysis.apart, *analysis.alternatives]  # "q caro la frontier. ¿y una
            make, model, _ = alternative_parts(others[0])  # tacoma o ranger más baratas?": those
            slots.update(make=make or None, model=model or None)
            analysis.alternatives[:] = others[1:]
            analysis.apart.clear()
            intent, topic, stage, second = SEARCH_REQUEST, None, "context", None
        figures_said = (FINANCING_KEYS | {"monthly_budget"}) & slots.keys()
        selling = _label(intent, topic) == SELLING  # their car sold: an amount is an offer
        if (
            selling
            and "price_max" in slots
            and not {"context:search", "price:bound"} & analysis.said
        ):
            analysis.own_offer = slots.pop("price_max")  # "la de 95 era pago inmediato, ¿a
            analysis.drop("price_max", "price_min")  # consignación me dan más?": their offer
            second = None if second == SEARCH_REQUEST else second
        if topic == RETURNS and second == FINANCING_REQUEST and not figures_said:
            second = None  # "¿me regresan el enganche completo?": the refund's, no plan asked
        if intent == COMPARE and second == SEARCH_REQUEST and "context:search" not in analysis.said:
            second = None  # "compáralo con el mazda 3 2021, ¿cuál tiene menos km?": the gaps of
            # the two compared answer it, no search for the car named
        if second == COMPARE and intent in (SEARCH_REQUEST, SELECT) and context.shown:
            intent, topic, stage, second = COMPARE, None, "context", None  # "la 2017 está en 414
            # y la 2016 en 287, ¿por qué tanta diferencia?": the cars said are compared
        quote = (
            intent == FINANCING_REQUEST and not (FINANCING_KEYS | {"monthly_budget"}) & slots.keys()
        )
        if OWN_CAR_AGAIN in analysis.said and quote and SELLING in self.classifier.labels:
            label = self.classifier.labels[SELLING]  # "¿cómo le hago pa que me cotizen el versa?"
            intent, topic, stage, second = label.intent, label.topic, "context", None
        if ANOTHER_KIND_SAID in analysis.said and intent == SEARCH_REQUEST and second == DETAILS:
            second = None  # "¿y en sedán? quiere cajuela": a trunk wished, not the chosen car's
        plan_words = intent == FINANCING_REQUEST or "term_months" in slots
        # "¿y con 100 mil?" right after a plan of the chosen car: another down payment
        plan_words = plan_words or (context.last_label == FINANCING_REQUEST and context.focus)
        paid_in = MONEY_AFTER_CON in analysis.said and PRICE_BOUND not in analysis.said
        if paid_in and plan_words and "down_payment" not in slots and "price_max" in slots:
            slots["down_payment"] = slots.pop("price_max")  # "a 6 años con los 40 mil"
            slots.pop("price_min", None)
            intent, topic = FINANCING_REQUEST, None
        if intent == SELECT and second == SEARCH_REQUEST and FINANCING_KEYS & slots.keys():
            second = FINANCING_REQUEST  # "el 1, el onix. enganche de 40 mil, 6 años"
        ceiling = "price_max" in slots and "price_max" not in analysis.unbounded  # "que no pase
        kind_wished = slots.get("body_type") and ceiling and not named  # de 350", not "de 300"
        if intent == FINANCING_REQUEST and context.focus is None and kind_wished:
            intent, topic, stage, second = SEARCH_REQUEST, None, "context", FINANCING_REQUEST
            # "¿qué camioneta me recomiendas que no pase de 350 y pagar poquito al mes?": those
            # cars first, then which one's plan
        asked = sorted(self.before_search & analysis.said)
        if intent == SEARCH_REQUEST and asked:  # "can you source a hilux for me?": that part
            topic = asked[0].split(":")[1]  # first, the car's search after it
            intent, stage, second = KNOWLEDGE, "rule", SEARCH_REQUEST
        if intent == SELECT and slots.get("city") and second is None:
            second = LOCATIONS_LABEL  # "ok la 2019. quiero ir a verla a santa fe": the branch
        if context.shown and intent == SEARCH_REQUEST and _page_beside_datum(analysis):
            second = DETAILS  # "¿cuáles son los otros 2? y el serie 3 es sedán, ¿verdad?"
            analysis.said.add(PAGE_ONLY)
        seller = self._seller_follow_up(context, analysis, intent, _label(intent, topic))
        if seller is not None:  # "dame un número aprox, es una jetta 2017 con 80 mil km"
            label = self.classifier.labels[seller]
            intent, topic, stage, score, second = label.intent, label.topic, "context", 1.0, None
        # "olvida el carplay", "los sedán no me gustan": a criterion taken back is a search
        dropped = any(name.startswith((DROPPED, NEGATED)) for name in analysis.said)
        # "the Fiat Uno - is it automatic? I can't drive stick": the need is why a listed car's
        # datum is asked, no search
        dropped = dropped and not (of_seen and DETAILS in hits.strong)
        # "el primero. ¿es estándar o automático? xq no sé manejar estándar": of the car picked
        dropped = dropped and not (asked_of_pick and intent == DETAILS)
        if dropped and stage != "rule" and intent != SEARCH_REQUEST:
            intent, topic, stage = SEARCH_REQUEST, None, "rule"  # "olvida el carplay"
        same_plan = "context:same_plan" in analysis.said and context.last_label == FINANCING_REQUEST
        # "other SUVs in the same price": the same price of a search, no plan
        same_plan = same_plan and not {"context:search", "context:similar"} <= analysis.said
        if (
            same_plan
            and named
            and not FINANCING_KEYS & slots.keys()
            and intent != FINANCING_REQUEST
            and not (stage == "rule" and intent in (KNOWLEDGE, POLICY))  # "¿la garantía aplica
        ):  # igual en los chinos?": the topic asked, "igual" is no plan
            intent, topic, stage, second = (
                FINANCING_REQUEST,
                None,
                "context",
                None,
            )  # "¿y la tiguan igual?"
        if "context:haggle" in analysis.said and (context.focus or named):
            slots.pop("price_max", None)  # an offer for the car, not a ceiling for a search
            slots.pop("price_min", None)
            # "la frontier, ¿tiene 4x4? ¿negocian?", "el vento, ¿cuánto tiene de km? ¿negocian?"
            # (the price is what a haggle is about: "¿el precio es negociable?" asks no datum)
            data = traits or any(
                name.startswith("details:") and name not in OPINION_DETAILS | {"details:price"}
                for name in analysis.said
            )
            asked = DETAILS if data and naming else None
            if intent == SEARCH_REQUEST and naming and not of_seen and asked is None:
                second = POLICY  # "vi una compass en su página, ¿sigue disponible? ¿negocian?":
                # the Compass shown first, then the haggling answered
            elif asked and _asked_first(analysis, DETAILS, "context:haggle"):
                intent, topic, stage, second = DETAILS, None, "rule", POLICY  # in the order asked
            else:
                intent, topic, stage, second = POLICY, None, "rule", asked
        order = _sort_order(analysis)
        softly = _soft_wish(analysis)
        sorting = "context:sort" in analysis.said
        if order is not None and sorting:
            slots["superlative"] = order  # "ordénalos por km": the same search, another order
            intent, topic, stage, second = SEARCH_REQUEST, None, "rule", None
        elif order is not None and softly and intent == SEARCH_REQUEST:
            slots.setdefault("superlative", order)  # "camioneta, que no sea tan vieja": the
            # newest first
        small = [int(n) for n in analysis.bare if n.is_integer() and 1 <= n <= 10]
        numbers = analysis.picks or (small if len(small) == len(analysis.bare) else [])
        beyond = bool(context.shown) and len(set(numbers)) > 1
        beyond = beyond and min(numbers) > len(context.shown)
        if beyond and intent != COMPARE and not FINANCING_KEYS & slots.keys():
            analysis.said.add("context:more")  # "6, 7 y 8, ¿cuáles son?": the next page
            intent, topic, stage, second = SEARCH_REQUEST, None, "context", None
            slots.pop("ordinal", None)
        if intent == SELECT and len(set(analysis.picks)) > 1 and context.shown:
            intent, second = COMPARE, None  # "¿cuál está mejor, el 3 o el 5?": side by side
        asks_difference = COMPARE in hits.strong or second == COMPARE
        if intent in (SELECT, SEARCH_REQUEST) and asks_difference and named and context.shown:
            naming = {key: slots[key] for key in ("make", "model") if key in slots}
            if sum(car_matches(car, naming) for car in context.shown) > 1:
                intent, topic, second = COMPARE, None, None  # "hay dos rio, ¿qué diferencia?"
        # "me mudo a Monterrey, busco una SUV": the city where they are, not a question about
        # branches (a city with none still gets the nearest ones and buying online)
        here = [_label(intent, topic), second]
        city = slots.get("city")
        city_only = LOCATIONS_LABEL in here and LOCATIONS_LABEL not in hits.worded
        if city_only and second == LOCATIONS_LABEL and SEARCH_REQUEST in requests[2:]:
            here = [_label(intent, topic), SEARCH_REQUEST, LOCATIONS_LABEL]  # "do you speak
            # English? I just moved to CDMX and need a small car": the car wished is asked too
            second = SEARCH_REQUEST
        near = any(self.places.branch_near(place) for place in analysis.cities)
        if city_only and SEARCH_REQUEST in here and not near:
            if _label(intent, topic) == LOCATIONS_LABEL:
                intent, topic, stage = SEARCH_REQUEST, None, "rule"
            # a city with no branch: the cars first, then that there is none (and the nearest)
            if second != SEARCH_REQUEST or intent == SEARCH_REQUEST:
                second = None if self._has_branch(city) else LOCATIONS_LABEL
        other = [label for label in here if label and label != LOCATIONS_LABEL]
        searching = SEARCH_REQUEST in here  # (a search near where they live is read above)
        # "a foreigner living in CDMX, can I get financing?": no branches asked
        if city_only and other and not searching and _lives_in(analysis):
            if _label(intent, topic) == LOCATIONS_LABEL:
                first = self.classifier.labels[other[0]]
                intent, topic = first.intent, first.topic
            second = None
        if intent == COMPARE and second == SEARCH_REQUEST and not named:
            second = None  # "¿cuál de las dos? la 2015 es más cara": a year of the two, no search
        if intent == COMPARE and len(set(analysis.picks)) > 1:
            slots.pop("ordinal", None)  # several cars: `picks`, not one ordinal
        apart = analysis.apart and not analysis.alternatives and _cars_in_clauses(analysis)
        if intent == ADVICE and named and apart:
            intent, topic = COMPARE, None  # "el sentra suena bien, pero el corolla es mejor
            # marca no? ¿cuál me recomiendas?": the two weighed
        if intent == COMPARE and named and analysis.apart and not analysis.alternatives:
            analysis.alternatives = list(analysis.apart)  # "the Lincoln has way fewer km than
            # the X5. compare those two": both
        only_named = named and set(slots) <= NAMED_WITH_PLACE
        whole = "context:whole_stock" in analysis.said and slots.get("superlative")
        if whole and not named and intent in (SELECT, SEARCH_REQUEST, ADVICE):
            intent, topic, stage, second = SEARCH_REQUEST, None, "context", None  # "el más caro
            slots.pop("ordinal", None)  # que tienen": over every car, not the list on screen
        fits = "length_max" in slots and not named and intent != SEARCH_REQUEST
        fits = fits and not POINTING & slots.keys()  # "¿el 2 cabe en mi cochera?": that one
        year = slots.get("year_min") if slots.get("year_min") == slots.get("year_max") else None
        fits = fits and not (year and sum(car.year == year for car in context.shown) == 1)
        # "la del 2018, ¿cuánto mide? mi cochera es de 4.5 m": the listed 2018 measured
        if fits and (context.focus is None or set(analysis.tokens) & WHICH_WORDS):
            intent, topic, stage, second = SEARCH_REQUEST, None, "context", None  # "de los 9
            # cuál cabe en mi cochera de 4.5 m": the same search, the ones that fit
        asked = ""
        if intent in (SELECT, SEARCH_REQUEST) and only_named and (of_focus or intent == SELECT):
            unnamed = {key: value for key, value in slots.items() if key not in NAMES}
            asked = self._worded_request(hits, decision.label, flags, unnamed) or ""
        if asked.startswith(f"{KNOWLEDGE}/"):
            label = self.classifier.labels[asked]  # "¿y la ubicación de la honda?" of the Honda
            if of_focus:  # chosen: the question is about it
                intent, topic, stage, second = label.intent, label.topic, "context", None
            elif intent == SELECT and second is None:  # "la honda. ¿se puede ver en midtown?"
                second = asked
        asked_of_car = any(name.startswith("details:") for name in analysis.said)
        criteria = slots.keys() & (SEARCH_CRITERIA_KEYS - {"make", "model"})
        of_car = second == SEARCH_REQUEST and intent in (SELECT, DETAILS) and asked_of_car
        asked_trait = of_car and criteria and criteria <= DETAIL_FLAGS and not preferred
        if asked_trait:  # "the second one, is it the sedan or coupe?": asked, not wished
            second = DETAILS if intent == SELECT else None
        if _details_only_in_values(analysis):  # "la más barata de 7 pasajeros, 2018 pa arriba"
            if intent == SEARCH_REQUEST and second == DETAILS:
                second = None  # a search only
            elif intent == DETAILS and not named and slots.keys() & SEARCH_ONLY_CRITERIA:
                intent, topic, stage, second = SEARCH_REQUEST, None, "context", None
        seats_only = set(slots) - NAMES == {"seats_min"} and context.focus is not None
        if seats_only and intent == SEARCH_REQUEST and _opens_with_copula(analysis.tokens):
            intent, topic, stage, second = DETAILS, None, "context", None  # "¿es de 7
            # asientos?" of the car in focus
        cylinders = set(analysis.tokens) & GRAMMAR.cylinder_words and intent == SEARCH_REQUEST
        if cylinders and context.focus is None and not slots.get("superlative"):
            slots["superlative"] = "largest_engine"  # "algo V8": cylinders are not on file
        litres = set(slots) - NAMES <= ENGINE_KEYS and "engine_min" in slots
        if litres and intent in (SEARCH_REQUEST, SELECT) and (context.focus or named):
            at = analysis.slot_at.get("engine_min", 0)
            if (
                asked_of_car
                or _after_copula(analysis.tokens, at)
                or _after_copula(analysis.tokens, at - 1)
            ):  # "¿es el 4.0 biturbo?"
                intent, topic, stage, second = DETAILS, None, "context", None  # "la captiva
                # es 1.5 verdad?": its engine asked, no search for 1.5-litre cars
        plan_only = slots.keys() & FINANCING_KEYS and not named and not analysis.picks
        if intent == COMPARE and context.focus is not None and plan_only:
            intent, topic, stage, second = FINANCING_REQUEST, None, "context", None  # "a ver
            # compara a 3 años con treinta por ciento" after the chosen car's plan: that plan
        if intent == COMPARE and second == FINANCING_REQUEST and not slots.keys() & CLAUSE_PLAN:
            second = None  # "el de 268, ¿por qué tan caro vs el 2018?": a price that points
        car_end = analysis.slot_at.get("model", analysis.slot_at.get("make", len(analysis.tokens)))
        stock_later = set(analysis.tokens[car_end + 1 :]) & GRAMMAR.stock_asked
        if intent == DETAILS and second is None and analysis.alternatives and stock_later:
            second = SEARCH_REQUEST  # "¿cuánto cuesta el mini? ¿y tienen audi a3?": both
        if intent == DETAILS and _stock_of_body_asked(analysis, car_end):
            intent, topic, stage, second = SEARCH_REQUEST, None, "context", None  # "el figo es
            # hatchback, uber pide sedán. ¿tienes sedanes en ese rango?": that kind, searched;
            analysis.drop("make", "model")  # the car remarked on is no criterion
            analysis.alternatives.clear()
        told = "phone" in slots and "?" not in analysis.raw and stage == "context"
        if told and intent == KNOWLEDGE and INFORM in self.classifier.labels:
            intent, topic, second = INFORM, None, None  # "Patricia Gomez, 777…, el compass es
            # latitude 2019 con 70 mil km": their data given, no question asked again
        whole_stock = "context:whole_stock" in analysis.said and slots.get("superlative")
        if intent == KNOWLEDGE and whole_stock and not named and second is None:
            second = _label(intent, topic)  # "mis papás me ayudan con el enganche. lo más
            intent, topic, stage = SEARCH_REQUEST, None, "context"  # económico que tengan"
        own_part = self._own_car_part(intent, slots, analysis, context)
        if own_part is not None:  # "¿y los 18 mil que sobran me los dan?" after trading in
            intent, topic, stage, second = own_part.intent, own_part.topic, "context", None
        ours = self._condition_of_ours(intent, topic, slots, analysis, context)
        if ours is not None:
            intent, topic, stage, second = ours.intent, ours.topic, "context", None
        if intent == DETAILS and "ordinal" in slots and "details:transmission" in analysis.said:
            slots.pop("transmission", None)  # "el segundo… ¿es automático? no sé manejar de
            # palanca": the transmission is asked of the car the number points at, no filter
        beside = [name.split(":")[1] for name in sorted(self.asked_beside & analysis.said)]
        if beside and second is None and topic != beside[0]:  # "tengo 17 años, ¿puedo
            second = f"{KNOWLEDGE}/{beside[0]}"  # sacarlo a crédito?" beside the car's plan
        for key in ("down_payment", "monthly_budget"):  # "de enganche, unos veinte mil": 20 mil,
            if slots.get(key) in analysis.approx:  # not the top of a price band around it
                slots[key] = analysis.approx[slots[key]]
        return Extraction(
            intent=intent,
            topic=topic,
            stage=stage,  # type: ignore[arg-type]
            score=score,
            second=second if second != _label(intent, topic) else None,
            language=self.language.guess(_language_words(analysis)),
            said=frozenset(analysis.said) | analysis.whole,
            picks=tuple(analysis.picks),
            years=tuple(analysis.years),
            odometer=analysis.odometer,
            income=analysis.income,
            elapsed_days=analysis.elapsed_days,
            driven_km=analysis.driven_km,
            reference=analysis.reference,
            owed=analysis.owed,
            owed_payments=analysis.owed_payments,
            own_offer=analysis.own_offer,
            own_km=analysis.own_km,
            price_target=analysis.approx.get(slots.get("price_max")),  # type: ignore[arg-type]
            terms=tuple(analysis.terms),
            cities=tuple(analysis.cities),
            down_payments=tuple(analysis.down_payments),
            down_payment_pcts=tuple(analysis.down_payment_pcts),
            alternatives=tuple(analysis.alternatives),
            **slots,
        )

    def nearest_topics(self, text: str, k: int = 3) -> list[str]:
        """The knowledge topics whose examples are nearest the text (context for the LLM)."""
        index = self.classifier.index
        if index is None:
            return []
        ranked = index.rank(self.analyse(text, light=True).example_tokens())
        topics = [self.classifier.labels[item.label].topic for item in ranked]
        return [topic for topic in topics if topic][:k]

    def _decide(
        self, analysis: Analysis, flags: set[str], exclude: int | None = None
    ) -> tuple[Decision, Hits]:
        unasked = analysis.unasked
        social = set(self.classifier.settings.social)
        small_talk_spans = [(s, e) for label, _, s, e in analysis.labels if label in social]
        phrase_hits = [  # "luego te escribo" refuses the form's data and still says goodbye
            (label, strong)
            for label, strong, start, end in analysis.labels
            if (start not in unasked or label in social)
            and (  # "luego te busco": the search word is part of the farewell
                label in social
                or not any(
                    s <= start and end <= e and e - s > end - start for s, e in small_talk_spans
                )
            )
        ]
        own_car = "context:own_car" in analysis.said  # "tengo un aveo 2016": their car, not a wish
        hits = self.classifier.hits(phrase_hits, analysis.slots, own_car)
        small_talk = frozenset(
            i
            for label, _, start, end in analysis.labels
            if label in social
            for i in range(start, end)
        )
        small_talk |= {i for i, token in enumerate(analysis.tokens) if token in STOPWORDS}
        small_talk |= _leading_interjections(analysis.tokens)
        decision = self.classifier.decide(
            hits,
            analysis.slots,
            analysis.example_tokens(frozenset(unasked)),  # what they did not ask is no example
            flags,
            exclude,
            content=analysis.example_tokens(small_talk | unasked),
            asks=_asks(analysis),
        )
        named = analysis.slots.keys() & {"make", "model"}
        about_car = decision.label in ("car_question", "advice", DETAILS)  # opinions of a car
        if decision.stage == "examples" and DETAILS in hits.strong and named and not about_car:
            # "¿cuántos km tiene el X1?": the data words of a car named outweigh a guess; the
            # search finds it, and the context answers of it when it is on screen
            decision = Decision(SEARCH_REQUEST, None, "rule", 0.5, decision.ranked)
        return decision, hits

    def _requests(self, analysis: Analysis, decision: Decision, flags: set[str]) -> list[str]:
        """The requests of a message in the order asked, one per clause with strong evidence:
        "¿tienen garantía? y ¿aceptan tarjeta?" -> [knowledge/warranty_returns, policy_question]."""
        clauses = _comma_joined(
            analysis,
            _clauses(analysis.tokens),
            lambda start, end: self._clause_label(analysis, start, end, flags) is None,
        )
        if len(clauses) < 2:
            return []
        found: list[str] = []
        tokens = analysis.tokens
        for number, (start, end) in enumerate(clauses):
            if number + 1 < len(clauses) and _condition_clause(tokens, start, end):
                continue  # "If I pay cash for the Pathfinder, can I return it?": the return
            label = self._clause_label(analysis, start, end, flags, decision.label)
            if label is not None and label not in found:
                found.append(label)
        absorbed = self.classifier.settings.absorbed_by
        kept = [label for label in found if absorbed.get(label) not in found]
        if len(kept) < len(found):  # the request that took the other in decides
            return kept if len(kept) > 1 or kept[0] != decision.label else []
        if len(found) < 2:
            return []
        if decision.label not in found:
            found.insert(0, decision.label)
        return found

    def _worded_request(self, hits: Hits, decided: str, flags, slots) -> str | None:
        """The request the words asked when slots decided ("5534567890, ¿puedo pasar el
        apartado?": the phone answers a question, the words ask about the reservation)."""
        social = self.classifier.settings.social
        worded = [  # in the order the evidence was found: between equal priorities the first
            name  # said, whatever order a set would give (the same reply on every run)
            for name in hits.strong
            if name != decided
            and name not in social
            and name in hits.worded
            and self.classifier.allowed(name, slots, flags)
        ]
        if not worded:
            return None
        return max(worded, key=lambda name: self.classifier.labels[name].priority)

    def _clause_label(
        self, analysis: Analysis, start: int, end: int, flags, decided: str | None = None
    ) -> str | None:
        """The request of one clause: only words count, or a pointing slot ("el 3, ...");
        between equals, the label the whole message was read as."""
        unasked = analysis.unasked
        phrases = [
            (label, True)
            for label, strong, s, e in analysis.labels
            if strong and start <= s and e <= end and s not in unasked
        ]
        slots = {
            key: value
            for key, value in analysis.slots.items()
            if start <= analysis.slot_at[key] < end
            and (
                key in POINTING or key in CLAUSE_CARS or key in CLAUSE_PLACES or key in CLAUSE_PLAN
            )
        }
        evidence = POINTING | CLAUSE_PLACES | CLAUSE_PLAN
        hits = self.classifier.hits(phrases, {k: v for k, v in slots.items() if k in evidence})
        social = self.classifier.settings.social  # "hola, ¿tienen swift?": a greeting beside it
        if not (hits.strong.keys() - social) and self._clause_searches(analysis, start, end, slots):
            hits.strong[SEARCH_REQUEST] = 1  # "¿tienen jettas? ¿y qué garantía dan?"
        if not hits.strong and slots.keys() & CLAUSE_PLACES and not phrases:
            hits.strong.update(hits.weak)  # a clause that only says where: "Vivo en Puebla."
        here = {k: v for k, v in analysis.slots.items() if start <= analysis.slot_at[k] < end}
        allowed = [
            name
            for name in hits.strong
            if name not in social and self.classifier.allowed(name, analysis.slots, flags, here)
        ]
        if not allowed and DETAILS in hits.strong and slots.keys() & NAMES:
            return SEARCH_REQUEST  # "mejor el X3, ¿cuánto cuesta?": the X3s answer
        if not allowed:
            return None
        return max(  # the highest priority; between equals, the more evidence
            allowed,
            key=lambda name: (
                self.classifier.labels[name].priority,
                hits.strong[name],
                name == decided,
            ),
        )

    def _clause_searches(self, analysis: Analysis, start: int, end: int, slots) -> bool:
        """A clause that asks for cars by itself: a trait ("sedanes 2019 o más nuevos") or a
        model with a search word ("hola, ¿tienen swift?"), not the customer's own car."""
        inside = [(name, s, e) for name, s, e in analysis.said_spans if start <= s and e <= end]
        social = self.classifier.settings.social
        if any(name == "context:own_car" for name, _, _ in inside) or any(
            strong and start <= s and e <= end and label not in social
            for label, strong, s, e in analysis.labels
        ):
            return False
        described = {  # "entonces no es de 3 filas": what a car is, no cars asked for ("es 2022"
            key  # of a listed car points at it: a year is no such trait)
            for key in slots.keys() & CLAUSE_TRAITS - {"year_min", "year_max"}
            if _after_copula(analysis.tokens, analysis.slot_at[key])
        }
        if slots.keys() & CLAUSE_TRAITS - described:
            return True
        searching = any(
            label == SEARCH_REQUEST and start <= s and e <= end
            for label, _, s, e in analysis.labels
        )
        return bool(slots.keys() & NAMES) and searching


def _mark(analysis: Analysis, taken: list[bool], kind: str | None) -> None:
    """Tokens newly taken get their kind."""
    if kind is None:
        return
    for i, is_taken in enumerate(taken):
        if is_taken and analysis.kinds[i] is None:
            analysis.kinds[i] = kind


def _claim_words(analysis: Analysis, words: list[str], kind: str) -> int:
    tokens = analysis.tokens
    for i in range(len(tokens) - len(words) + 1):
        if tokens[i : i + len(words)] == words:
            for j in range(i, i + len(words)):
                analysis.kinds[j] = analysis.kinds[j] or kind
            return i
    return 0


def _first(analysis: Analysis, kind: str) -> int:
    return next((i for i, found in enumerate(analysis.kinds) if found == kind), 0)


CONTRAST = GRAMMAR.contrast


LIST_JOINERS = GRAMMAR.list_joiners
PERCENT_LIST_JOINERS = GRAMMAR.percent_list_joiners  # "con 10 y con el 30%"
TERM_JOINERS = LIST_JOINERS | GRAMMAR.question_marks | GRAMMAR.term_joiners
CHANGE_OF_MIND = CLAUSE_BREAKS | GRAMMAR.change_of_mind  # before "mejor": "o no, mejor el versa"
SEARCH_TURNS = GRAMMAR.search_turns
SETTLING = GRAMMAR.settling
UNASKED_ENDS = CLAUSE_BREAKS | GRAMMAR.name_clause_marks  # "no te pregunté eso... ocupo saber"
SAME_AGAIN = GRAMMAR.same_again
HEAD_COUNT = GRAMMAR.head_count_cues
YEAR_DENIAL_FILLERS = GRAMMAR.year_denial_fillers
YEAR_DENIAL_REACH = 3  # words between "no quiero" and the year: "no quiero algo del 2015"


def _named_beyond_section(analysis: Analysis, label: str) -> bool:
    """The topic has a strong phrase of its own outside the words of its section ("pa vender"
    besides "papeles"): the message names the topic, not only the part."""
    return _strong_beyond(analysis, label, f"section:{label.split('/', 1)[1]}:")


def _named_apart(analysis: Analysis, label: str) -> bool:
    """The topic has a strong phrase that no part of any topic covers ("apartado" beside the
    "devolver" of the returns part): the customer names that topic, whatever came before."""
    return _strong_beyond(analysis, label, "section:")


COMPARATIVE_REACH = 3  # "más chico y barato": the "más" of the first adjective, this far back


def _comparative_shared(tokens: list[str], spans: list[tuple[str, int, int]]):
    """ "algo más chico y barato": one "más" for both adjectives, so "barato" is cheaper than
    what was shown, not merely cheap."""
    shared = []
    for name, start, end in spans:
        joined = start >= 2 and tokens[start - 1] in GRAMMAR.shared_comparative_joiners
        before = tokens[max(0, start - 1 - COMPARATIVE_REACH) : start - 1]
        if name == "context:cheap" and joined and GRAMMAR.comparative_markers & set(before):
            name = "context:cheaper"
        shared.append((name, start, end))
    return shared


def _part_apart(analysis: Analysis, topic: str) -> bool:
    """A part of `topic` is said in words no other topic's part covers ("tarda la aprobación"
    beside the "cuánto tiempo" a reservation's part shares)."""
    own = f"section:{topic}:"
    spans = [(s, e) for name, s, e in analysis.said_spans if name.startswith(own)]
    others = [
        (s, e)
        for name, s, e in analysis.said_spans
        if name.startswith("section:") and not name.startswith(own)
    ]
    return any(not any(start < e and s < end for s, e in others) for start, end in spans)


CREDIT_FAMILY = frozenset(
    {FINANCING_REQUEST, "knowledge/credit_application", "knowledge/payment_plans"}
)


def _named_beyond(analysis: Analysis, labels: frozenset[str], parts_named: str) -> bool:
    """A phrase (strong or weak) of one of `labels` that overlaps none of the parts named."""
    parts = [(s, e) for name, s, e in analysis.said_spans if name.startswith(parts_named)]
    return any(
        not any(start < e and s < end for s, e in parts)
        for hit, _, start, end in analysis.labels
        if hit in labels
    )


def _strong_beyond(analysis: Analysis, label: str, parts_named: str) -> bool:
    """A strong phrase of `label` that overlaps none of the phrases named `parts_named…`."""
    parts = [(s, e) for name, s, e in analysis.said_spans if name.startswith(parts_named)]
    return any(
        not any(start < e and s < end for s, e in parts)
        for hit, strong, start, end in analysis.labels
        if hit == label and strong
    )


def _years_of_driving(tokens: list[str], analysis: Analysis, unit) -> bool:
    """ "90 mil km en 5 años": a km figure right before "en N años"; "I'm relocating to
    Monterrey for 2 years", "voy a vivir 2 años en Puebla": a stay, not a plan; "debo tenencias
    de dos años": years owed."""
    start = unit.first.start
    at = analysis.slot_at.get("km_max")
    if start >= 2 and tokens[start - 1] == "en" and at is not None and at < start:
        return True
    before = set(tokens[max(0, start - STAY_REACH) : start])
    if before & PLAN_WORDS:
        return False
    end = unit.last.end + 1  # "for 2 years in Monterrey", "2 años en Puebla": a stay there
    after = [i for i in range(end, min(end + 3, len(tokens))) if tokens[i] not in ("en", "in")]
    placed = bool(after) and analysis.kinds[after[0]] == "place"
    return bool(before & (STAY_WORDS | GRAMMAR.debt_words)) or placed  # ("debo tenencias de
    # dos años": years owed)


def _denied_year(tokens: list[str], unit, meaning: dict[str, float]) -> bool:
    """A single year followed by a "no" that closes its clause ("la del 2013 no, ...")."""
    year = meaning.get("year_min")
    if year is None or year != meaning.get("year_max"):
        return False
    end = unit.last.end
    before = tokens[max(0, unit.first.start - 3) : unit.first.start]
    corrected = before[:2] == ["no", "es"] or before[-2:] == ["no", "es"]  # "no es la 2018!!
    return corrected or (  # es la 2021": the one it is not
        end < len(tokens)
        and tokens[end] in DENIALS
        and (end + 1 == len(tokens) or tokens[end + 1] in CLAUSE_BREAKS)
    )


def _seen_elsewhere(tokens: list[str], unit) -> bool:
    """A price a car was seen at somewhere else: "vi uno igual en 230", "I saw one for 250k"."""
    start = unit.first.start
    if start and tokens[start - 1] in GRAMMAR.paid_verbs:
        return True  # "el rio me costó 249,999": what they paid, no ceiling
    if start == 0 or tokens[start - 1] not in GRAMMAR.seen_price_joiners:
        return False
    if GRAMMAR.seen_but_cheaper & set(tokens):
        return False  # "vi un jetta en 200, ¿lo tienen más barato?": then it is a ceiling
    return bool(set(tokens[max(0, start - 1 - SEEN_REACH) : start - 1]) & SEEN_VERBS)


def _persons_age(tokens: list[str], unit) -> bool:
    """A bare number a few words after a person ("mi hijo es menor de 25", "my son is 19")."""
    at = unit.first.start - 1
    while at >= 0 and tokens[at] in AGE_LINKS:
        at -= 1
    return unit.last.value < 100 and at >= 0 and tokens[at] in PERSON_WORDS


def _denied_floor(tokens: list[str], unit) -> bool:
    """ "no quiero gastar más de 200 mil", "sin pasar de", "not more than": a denied floor."""
    start = unit.first.start
    before = tokens[max(0, start - FLOOR_DENIAL_REACH) : start]
    floor = any(before[-len(words) :] == words for words in DENIABLE_FLOORS)
    return floor and bool(set(before) & DENIED_FLOOR_WORDS)


def _denied_amount(tokens: list[str], unit) -> bool:
    """An amount right after a "no" that opens its clause: "15 mil, no 13 mil"."""
    start = unit.first.start
    if start > 1 and tokens[start - 2] in DENIALS and tokens[start - 1] in DENIED_WITH:
        return True  # "era con el enganche mínimo, no con 20%": the 20 is what it was not
    if start > 1 and " ".join(tokens[start - 2 : start]) in GRAMMAR.denial_copulas:
        start -= 1  # "no son 18 meses, mi hija tiene 18 años": what it is not
    if start == 0 or tokens[start - 1] not in DENIALS:
        return False
    return start == 1 or tokens[start - 2] in CLAUSE_BREAKS


def _year_ruled_out(
    analysis: Analysis, unit, meaning: dict[str, float], cue: str = "context:negation"
) -> bool:
    """A single year right after a negation ("no quiero comprar el 2018", "que no sea 2015"), or
    after another `cue` ("no tiene que ser 2018")."""
    year = meaning.get("year_min")
    if year is None or year != meaning.get("year_max"):
        return False
    start = unit.first.start
    if start and analysis.tokens[start - 1] in YEAR_ARTICLES:
        start -= 1
    return any(key == cue and end == start for key, _, end in analysis.said_spans)


NOT_REQUIRED = "context:not_required"  # "no tiene que ser 2018": that year is not a must
ANY_YEAR = "context:any_year"


YEAR_ARTICLES = GRAMMAR.year_articles
YEAR_ONLY_ARTICLES = GRAMMAR.year_only_articles
YEAR_ARTICLE = "number:year_article"
AFTER_A = "number:after_a"
NEXT_CAR, PREVIOUS_CAR = "position:next", "position:previous"
TWO_CARS = "two_cars"
EXCLUDED_TOO = "exclude_car:"  # more cars ruled out with the one in `exclude_car`, in `said`
OWN_CAR_AGAIN = "context:own_car_again"
OWN_CAR_TOLD = "context:own_car_told"  # a trait or an offer of the car they sell, no question
# what a seller's car can be told by after talking of selling it ("tiene 80 mil km, es estándar")
OWN_TRAITS = frozenset({"km_max", "transmission", "fuel", "drive", "year_min", "year_max"})
# before their own car named again in a search: what it pays ("hasta 400 mil ya con lo del aveo")
OWN_CAR_MONEY = frozenset(
    {("lo", "del"), ("lo", "de"), ("por", "el"), ("por", "la"), ("por", "mi")}
)
SELLING = "knowledge/selling_car"
OTHER_WORDS = GRAMMAR.other_words
OTHER_MODEL = "context:other_model"
OWN_VALUE_THOUSANDS = (20, 999)  # "vale unos 150": what a car is worth, said in thousands


def _own_value_in_thousands(unit) -> bool:
    last = unit.last
    low, high = OWN_VALUE_THOUSANDS
    bare = not (last.multiplied or last.money) and low <= last.value <= high
    return bare and "own_value" in unit.before and len(unit.quantities) == 1


DENIED_TERM = "context:denied_term"


def _denied_term(tokens: list[str], unit, term_units: frozenset[str]) -> bool:
    """ "a 6 años no", "no a 6 años": a term the customer rules out."""
    end = unit.last.end
    while end < len(tokens) and tokens[end] in term_units:
        end += 1
    closes = end + 1 == len(tokens) or (end + 1 < len(tokens) and tokens[end + 1] in CLAUSE_BREAKS)
    tag = tokens[end + 1 : end + 2] == ["?"]  # "¿y a 4 años no?": a question, not a denial
    after = end < len(tokens) and tokens[end] in DENIALS and closes and not tag
    start = unit.first.start
    before = tokens[max(0, start - 2) : start]
    before3 = tokens[max(0, start - 3) : start]  # "no quiero pagar 6 años", "no quiero 6 años"
    refused = any(tuple(before3[i:]) in REFUSED_TERM for i in range(len(before3)))
    judged = phrase_starts_at(tokens, end, GRAMMAR.too_long)  # "6 años es mucho, máximo 4"
    return after or before == ["no", "a"] or before[-1:] == ["no"] or refused or judged


def _terms_listed_after(
    analysis: Analysis, leftovers: list[Quantity], term_units: frozenset[str]
) -> None:
    """ "¿a 3 años y a 4?": a bare number joined to a term said in years is another term."""
    if not analysis.terms or "term_months" not in analysis.slot_at:
        return
    tokens = analysis.tokens
    end = analysis.slot_at["term_months"]
    unit_at = next(  # "a cuatro años": past the number in words too
        (i for i in range(end, min(end + 4, len(tokens))) if tokens[i] in term_units), None
    )
    if unit_at is not None:
        end = unit_at
    while end < len(tokens) and not tokens[end].isalpha():
        end += 1  # past the number
    while end < len(tokens) and tokens[end] in term_units:
        end += 1
    for quantity in leftovers:
        between = tokens[end : quantity.start]
        bare = not (quantity.multiplied or quantity.money)
        value = quantity.value
        years = 1 <= value <= financing.MAX_TERM_YEARS
        # "¿a 48 meses? ¿y a 72?": a number a term in months can be is months
        months_said = value.is_integer() and value % 6 == 0
        months_said = (
            months_said and financing.MIN_TERM_MONTHS * 2 <= value <= financing.MAX_TERM_MONTHS
        )
        # "¿a 5 años? ¿y a 4?", "a 3 años y cuánto a 5": a question between them joins them too
        if between and not set(between) - TERM_JOINERS and bare and (years or months_said):
            months = int(value * 12) if years else int(value)
            if months not in analysis.terms:
                analysis.terms.append(months)
            end = quantity.end


def _bare_term_years(unit, meaning: dict[str, float]) -> bool:
    """A bare number of years a term can be ("máximo 4", "mejor a 5") after a term ruled out."""
    last = unit.last
    small = not (last.multiplied or last.money) and 1 <= last.value <= financing.MAX_TERM_YEARS
    return small and len(unit.quantities) == 1 and not ({"term_months"} & meaning.keys())


def _bare_small(quantity: Quantity) -> bool:
    """A number said without "mil", "k" or "$" that could be a percent ("con 20", "el 30")."""
    return not (quantity.multiplied or quantity.money) and quantity.value <= financing.MAX_PCT


def _listed_before(
    tokens: list[str], leftovers: list[Quantity], unit, joiners: frozenset[str] = LIST_JOINERS
) -> list[Quantity]:
    """Bare numbers right before `unit`, joined to it only by "y", "o", "a" or commas ("a 3, 4
    o 5 años"): they share its unit."""
    found: list[Quantity] = []
    end = unit.first.start
    for quantity in reversed(leftovers):
        between = tokens[quantity.end : end]
        if quantity.multiplied or quantity.money or set(between) - joiners:
            break
        if set(between) & (joiners - LIST_JOINERS) and not set(between) & LIST_JOINERS:
            break  # "el 2 con 20%": a pick, then the percent ("con 10 y con 30%" lists two)
        if not between and quantity.value > SPACED_LIST_MAX:
            break  # "3 4 5 y 6 años": small numbers listed with spaces only
        found.insert(0, quantity)
        end = quantity.start
    return found


def _not_asked(analysis: Analysis) -> set[int]:
    """Token positions of what the customer says they did not ask ("no te pregunté sucursales,
    pregunté si hacen visita a domicilio"): up to the end of that clause."""
    found: set[int] = set()
    for name, start, end in analysis.said_spans:
        if name != "context:not_asked" and not name.endswith(":refuse"):
            continue  # ... or what they refuse: "no me pidas datos" asks for nothing
        found.update(range(start, end))  # the phrase too: "no he apartado nada" asks nothing
        i = end  # up to the clause's end, or to what they want instead ("no quiero asesor,
        tokens = analysis.tokens  # quiero que me digan si lo puedo regresar")
        while i < len(tokens) and tokens[i] not in UNASKED_ENDS and tokens[i] not in WANTED_NEXT:
            found.add(i)
            i += 1
    return found


WANTED_NEXT = GRAMMAR.wanted_next


def _soft_wish(analysis: Analysis) -> bool:
    """ "y low mileage", "que no sea tan vieja": a soft wish; "tiene bien poquitos km", "is it
    low mileage?" say what a car is."""
    tokens = analysis.tokens
    for name, start, _ in analysis.said_spans:
        if not name.startswith("soft_sort:"):
            continue
        i = start - 1
        while i >= 0 and tokens[i] in GRAMMAR.intensifiers:
            i -= 1
        if i < 0 or tokens[i] not in GRAMMAR.have_verbs | GRAMMAR.copulas | REMARK_BEFORE:
            return True
    return False


REMARK_BEFORE = GRAMMAR.remark_before


def _indefinite_ordered(tokens: list[str], at: int | None) -> bool:
    """ "uno con menos km", "algo de menor precio": an indefinite, a bridge word, then the
    superlative asks for the cars so ordered, not one picked."""
    if at is None:
        return False
    i = at - 1
    while i >= 0 and (tokens[i] in ORDER_BRIDGE or tokens[i] in GRAMMAR.car_nouns):
        i -= 1  # "otra suv con menos km" as "otra con menos km"
    bridged = any(token in ORDER_BRIDGE for token in tokens[i + 1 : at])  # not "otra suv más
    return 0 <= i < at - 1 and tokens[i] in GRAMMAR.indefinites and bridged  # barata"


def _sort_order(analysis: Analysis) -> str | None:
    """The order asked with a sort word: "ordénalos por km" -> lowest_km, "ordénalos del más
    barato" -> cheapest (a superlative said with it)."""
    soft = sorted(name.split(":", 1)[1] for name in analysis.said if name.startswith("soft_sort:"))
    soft = soft if _soft_wish(analysis) else []
    if "context:sort" not in analysis.said and not soft:
        return None
    asked = [name[5:] for name in analysis.said if name.startswith("sort:")] + soft
    superlative = analysis.slots.get("superlative")
    return asked[0] if asked else superlative if isinstance(superlative, str) else None


def _term_after_a(analysis: Analysis, leftovers: list[Quantity]) -> None:
    """ "¿y si pongo cien mil de enganche a 4?": next to a down payment, "a 4" is the term."""
    slots = analysis.slots
    paid = {"down_payment", "down_payment_pct"} & slots.keys()
    if "term_months" in slots or not (paid or TERM_REPLACED in analysis.said):
        return
    for quantity in leftovers:
        value = quantity.value
        after_a = quantity.start > 0 and analysis.tokens[quantity.start - 1] == "a"
        if not after_a or quantity.money or not value.is_integer():
            continue
        if financing.MIN_TERM_MONTHS <= value * 12 <= financing.MAX_TERM_MONTHS:
            slots["term_months"] = int(value * 12)
        elif financing.MIN_TERM_MONTHS <= value <= financing.MAX_TERM_MONTHS and value % 6 == 0:
            slots["term_months"] = int(value)
        else:
            continue
        analysis.slot_at["term_months"] = quantity.start
        analysis.terms.append(slots["term_months"])
        return


def _own_car_value(analysis: Analysis, own_known: bool = False) -> None:
    """ "cuánto quedaría la t-cross si mi versa vale como 120 mil": what their own car is worth
    goes in as the down payment, it is not a price ceiling. `own_known`: the conversation has
    the customer's own car ("say the Fit is worth 120k" after "my 2015 Honda Fit")."""
    slots = analysis.slots
    banded = slots.get("price_max") in analysis.approx and "price_min" in slots
    if SAVINGS in analysis.said and banded:  # "tengo ahorrado como 60 mil": what they have,
        slots["price_max"] = analysis.approx[slots["price_max"]]  # no band around it
        del slots["price_min"]
        analysis.slot_at.pop("price_min", None)
    plan = any(key in slots for key in ("make", "model", "term_months", "monthly_budget"))
    plan = plan or any(
        label == FINANCING_REQUEST for label, *_ in analysis.labels
    )  # "¿cuánto al mes?"
    rest = DIFFERENCE in analysis.said
    # "si la X5 vale 450, ¿cuánto pongo de diferencia?": what is left after their car
    own = OWN_VALUE in analysis.said and (own_known or bool(slots.get("own_car")) or rest)
    ceiling = "price_max" in slots and "price_min" not in slots and "down_payment" not in slots
    monthly = any(key in slots for key in ("term_months", "monthly_budget"))
    # "tengo 60 mil ahorrados, ¿me alcanza con 5?", "how much is the down payment for the Tracker?
    # I got 50k saved": savings beside a plan or a car are what they put down
    asked = any(label == FINANCING_REQUEST for label, *_ in analysis.labels)
    saved = SAVINGS in analysis.said and (monthly or asked)
    valued = [value for _, _, value, cues in analysis.amounts if "own_value" in cues]
    pointed = CAR_PRICE in analysis.said  # the other amount is the price of the car pointed at
    if own and plan and pointed and len(valued) == 1 and len(analysis.amounts) > 1:
        # "el de 199 mil. si mi jetta lo toman en unos 130…": the car's price points at it,
        # the amount their car brings is the down payment
        if analysis.approx.get(slots.get("price_max")) == valued[0]:
            analysis.drop("price_max", "price_min")
        slots["down_payment"] = valued[0]
        analysis.slot_at["down_payment"] = analysis.slot_at.get("price_max", 0)
        return
    if (own or saved) and plan and ceiling:  # a plan paid in with their car or their savings
        slots["down_payment"] = slots.pop("price_max")
        analysis.slot_at["down_payment"] = analysis.slot_at.pop("price_max", 0)
    elif own and plan and slots.get("price_max") in analysis.approx and "down_payment" not in slots:
        # "me pueden dar unos 150 mil por ella": the amount their car brings, not a price band
        slots["down_payment"] = analysis.approx[slots.pop("price_max")]
        slots.pop("price_min", None)
        analysis.slot_at["down_payment"] = analysis.slot_at.pop("price_max", 0)
        analysis.slot_at.pop("price_min", None)


AMOUNT_SLOTS = frozenset({"price_max", "down_payment", "monthly_budget"})


def _record_amount(analysis: Analysis, unit: Unit, meaning: dict[str, float] | None) -> None:
    """Every amount of money in order, with its cues and meaning, for the stages that weigh two
    amounts together: one read as money, or a figure in thousands no cue gave a meaning ("y
    pongo 150 mil más", which a sum with their car may give one)."""
    if unit.is_range:
        return
    money_read = bool(meaning) and bool(meaning.keys() & AMOUNT_SLOTS)
    bare_thousands = not meaning and unit.last.multiplied and not unit.cue("km_after")
    if not (money_read or bare_thousands):
        return
    cues = frozenset(unit.before | unit.after)
    analysis.amounts.append((unit.first.start, unit.last.end, money.pesos(unit.last), cues))
    if meaning:
        analysis.meanings_at[unit.first.start] = dict(meaning)


TRADE_IN_PLUS = "money:own_car_plus"  # their car given in plus an amount: one down payment
OWN_VALUED = "money:own_car_valued"  # ... and what the car is worth was said with it
PLUS_REACH = 3  # tokens between their car and the amount added to it ("mi audi + 150 mil")


SHORT_PASS = 2  # "no", "x": pass words too short to open an answer with a condition


MIN_CAR_PRICE = 20_000  # a figure written in full this big before "menos" is a car's price


def _price_minus(analysis: Analysis) -> None:
    """ "el sentra 2019 de 268,999 menos 90 mil del aveo = ¿cuánto pago?": a car's price less an
    amount put in; the price points at the car, the amount is what is put in (no ceiling)."""
    if not analysis.amounts or "down_payment" in analysis.slots:
        return
    second, _, put_in, _ = analysis.amounts[-1]
    tokens = analysis.tokens
    if second < 2 or tokens[second - 1] not in GRAMMAR.minus_words:
        return
    price = digit_value(tokens[second - 2])  # "268,999 menos 90 mil"
    if price is None or price < MIN_CAR_PRICE:
        return
    analysis.drop("price_max", "price_min")
    analysis.put("price_max", price, second - 2)
    analysis.put("down_payment", put_in, second)
    analysis.said.add(CAR_PRICE)
    analysis.said.discard(PRICE_BOUND)


def _savings_then_price(analysis: Analysis) -> None:
    """ "tengo unos setenta mil. busco algo tipo hatchback como de 220": the money they have,
    then the car's price; the price is the search's, the money is put down (no ceiling)."""
    if len(analysis.amounts) != 2 or "down_payment" in analysis.slots:
        return
    (first, _, saved, cues), (second, *_) = analysis.amounts
    later = analysis.meanings_at.get(second, {})
    if "savings" not in cues or analysis.slot_at.get("price_max") != first:
        return
    if not later.keys() & {"price_max", "price_min"} or later.keys() - {"price_max", "price_min"}:
        return
    analysis.drop("price_max", "price_min")
    for key, value in later.items():
        analysis.put(key, value, second)
    analysis.put("down_payment", saved, first)


INSISTED_REACH = 2  # "yo dije 25 mil", "te dije que 250": the amount this close after "dije"


def _insisted_amount(analysis: Analysis) -> None:
    """ "¿por qué 21 mil de enganche? yo dije 25 mil", "50 mil?? dije 250 mil": the amount said
    after "dije" is the one meant; it takes the place of the amount quoted before it (the same
    kind of money: a down payment stays a down payment)."""
    spans = [(start, end) for name, start, end in analysis.said_spans if name == INSISTING]
    denials = GRAMMAR.wish_denials
    denied = [end for start, end in spans if start and analysis.tokens[start - 1] in denials]
    ends = [end for _, end in spans if end not in denied]
    if denied:  # "yo no dije q tengo 100 mil de enganche... tengo como 40 mil"
        _amount_taken_back(analysis, denied)
    if not ends or len(analysis.amounts) < 2 or "price_min" in analysis.slots:
        return
    after = [a for a in analysis.amounts if any(0 <= a[0] - end <= INSISTED_REACH for end in ends)]
    if len(after) != 1:
        return
    start, _, value, _ = after[0]
    quoted = [a for a in analysis.amounts if a[0] < start]
    if not quoted:
        return

    slot, own = _money_slot_at(analysis, quoted[-1][0]), _money_slot_at(analysis, start)
    if slot is None:
        return
    analysis.drop(slot)
    if own not in (None, "price_max"):  # "6 mil?? te dije máximo 4 mil al mes": its own kind
        analysis.taken_back.append(quoted[-1][0])
        return
    if own is not None:
        analysis.drop(own)
    analysis.put(slot, value, start)
    analysis.down_payments[:] = [value] if slot == "down_payment" else analysis.down_payments
    analysis.taken_back.append(quoted[-1][0])


def _money_slot_at(analysis: Analysis, position: int) -> str | None:
    """The money slot an amount said at `position` was read as."""
    return next(
        (key for key, at in analysis.slot_at.items() if key in MONEY_SLOTS and at == position),
        None,
    )


def _amount_taken_back(analysis: Analysis, ends: list[int]) -> None:
    """ "yo no dije q tengo 100 mil de enganche, eso era de los km. tengo como 40 mil": the
    amount right after "no dije" is taken back; another amount of that kind said is the one."""

    denied = [a for a in analysis.amounts if any(0 <= a[0] - end <= INSISTED_REACH for end in ends)]
    for start, _, value, _ in denied:
        slot = _money_slot_at(analysis, start)
        analysis.taken_back.append(start)
        if slot is None:
            continue
        analysis.drop(slot)
        if slot == "down_payment":
            analysis.down_payments[:] = [d for d in analysis.down_payments if d != value]
        others = [a for a in analysis.amounts if a[0] != start and a[2] != value]
        if others:  # the amount said instead, of the kind taken back ("it's 30k": down)
            other_slot = _money_slot_at(analysis, others[-1][0])
            if other_slot is not None and other_slot != slot:
                analysis.drop(other_slot)
            analysis.put(slot, others[-1][2], others[-1][0])


INSISTING = "context:insisting"
NO_CREDIT = "money:no_credit"  # paid in full: "de contado", "sin crédito", "no quiero crédito"


def _no_credit(analysis: Analysis) -> bool:
    """Paid in full said, and not denied ("no voy a pagar de contado" is a plan)."""
    tokens = analysis.tokens
    return any(
        phrase_starts_at(tokens, at, GRAMMAR.no_credit)
        and not set(tokens[max(0, at - NO_CREDIT_REACH) : at]) & DENIALS
        for at in range(len(tokens))
    )


NO_CREDIT_REACH = 4  # "no voy a pagar de contado": a denial this close before it


UNLISTED_ASKED = "context:unlisted_asked"  # a thing asked of a car that no rule reads
HAS_REACH = 2  # "¿tiene algún adeudo?": the thing this close after "tiene"


def _unlisted_asked(analysis: Analysis, free: tuple[str, ...]) -> bool:
    """ "solo dime si el vento tiene adeudos o no": a thing asked of a car with "tiene"/"trae"
    that no rule read (the answer says the listing does not have it, not the whole card)."""
    if not free or any(name.startswith("details:") for name in analysis.said):
        return False
    tokens = analysis.tokens
    for at, token in enumerate(tokens):
        if token in GRAMMAR.has_verbs:
            after = tokens[at + 1 : at + 1 + HAS_REACH + 1]
            if any(word in free for word in after):
                return True
    return False


SHORT_YEAR = 2000  # "del 17" is 2017


def _car_of_year(analysis: Analysis, quantity) -> None:
    """ "el aveo del 17": a car named right before "del" + two digits is of that year."""
    at = quantity.start - 1
    if at < 1 or analysis.kinds[at - 1] != "car" or quantity.value >= 100:
        return
    year = SHORT_YEAR + int(quantity.value)
    if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1] or "year_min" in analysis.slots:
        return
    analysis.put("year_min", year, quantity.start)
    analysis.put("year_max", year, quantity.start)
    analysis.years.append(year)


def _own_car_plus_cash(analysis: Analysis) -> None:
    """ "lo pago con mi audi + 150 mil", "150k en efectivo + mi audi", "110k de mi jetta más 30k
    cash", "si mi audi vale 200 mil y pongo 150 mil más", "por el march me dan 90k, más mis 80k":
    their car given in and an amount added to it are one down payment (the car's value counted
    when said), not a price ceiling."""
    if TRADE_IN_PLUS in analysis.said or len(analysis.amounts) > 2:
        return
    if GRAMMAR.total_words & set(analysis.tokens):
        return  # "enganche de 170 mil en total (120 del sentra + 50 cash)": the sum is said
    tokens, own_at = analysis.tokens, analysis.slot_at.get("own_car")
    own_end = own_at
    while own_end is not None and own_end < len(tokens) and analysis.kinds[own_end] == "car":
        own_end += 1

    def worth(end: int, cues: frozenset[str]) -> bool:  # what their car is worth
        if "own_value" in cues:
            return True
        between = tokens[end:own_at] if own_at is not None else []
        return 0 < len(between) <= 2 and between[0] in GRAMMAR.of_own  # "110k de mi jetta"

    def added(start: int, end: int) -> bool:  # an amount joined to their car by a plus word
        near = set(tokens[max(0, start - PLUS_REACH) : start] + tokens[end : end + 1])
        if valued:  # "vale 200 mil y pongo 150 mil más": the plus word by the amount
            return bool(GRAMMAR.plus_words & near)
        if own_at is None or own_end is None:
            return False
        gap = tokens[own_end:start] if own_end <= start else tokens[end:own_at]
        return bool(GRAMMAR.plus_words & (near | set(gap))) and len(gap) <= PLUS_REACH + 2

    valued = [value for _, end, value, cues in analysis.amounts if worth(end, cues)]
    if own_at is None and not valued:
        return
    cash = [
        value
        for start, end, value, cues in analysis.amounts
        if not worth(end, cues) and added(start, end)
    ]
    if len(cash) != 1 or len(valued) > 1:
        return
    analysis.drop("price_max", "price_min", "down_payment")
    analysis.down_payments.clear()
    analysis.put("down_payment", cash[0] + sum(valued), analysis.amounts[0][0])
    analysis.said.add(TRADE_IN_PLUS)
    if valued:
        analysis.said.add(OWN_VALUED)


def _percent_among_picks(analysis: Analysis, shown: int) -> None:
    """ "el último, cuánto al mes con el 10 a 3 años" with five cars shown: the 10 is the percent
    down, not a tenth car to compare with."""
    low, high = PICK_AS_PERCENT
    slots = analysis.slots
    beyond = [p for p in analysis.picks if p > shown and low <= p <= high]
    if len(analysis.picks) < 2 or len(beyond) != 1 or "down_payment_pct" in slots:
        return
    analysis.picks.remove(beyond[0])
    slots["down_payment_pct"] = float(beyond[0])
    slots["ordinal"] = analysis.picks[0]


DETAIL_FLAGS = frozenset(
    {"body_type", "transmission", "fuel", "bluetooth", "car_play", "drive", "seats_min"}
)
SEARCH_CRITERIA_KEYS = frozenset(
    {"make", "model", "year_min", "year_max", "price_min", "price_max", "km_max", "body_type",
     "transmission", "fuel", "bluetooth", "car_play", "drive", "style", "seats_min", "size",
     "length_max", "engine_min", "engine_max"}
)  # fmt: skip
SEARCH_ONLY_CRITERIA = frozenset({"superlative", "year_min", "year_max", "price_max", "km_max"})


def _details_only_in_values(analysis: Analysis) -> bool:
    """ "la más barata de 7 pasajeros": every detail's word is inside a value the customer
    wants (the seats a search asks for), so no detail of a car is asked."""
    at = set(analysis.slot_at.values())
    details = [(s, e) for name, s, e in analysis.said_spans if name.startswith("details:")]
    return bool(details) and all(  # a figure right before it: "7 pasajeros" (not "bluetooth",
        start - 1 in at and analysis.kinds[start - 1] == "number" for start, _ in details
    )  # the value and the detail at once)


RESIDENCE = GRAMMAR.residence_words
PAY_VERBS = GRAMMAR.pay_verbs
POLICY = "policy_question"


def _amount_paid_how(analysis: Analysis) -> None:
    """ "en efectivo, billetes, ¿se puede pagar así trescientos mil?": an amount paid, said with
    how it is paid, asks the way to pay; it is no price ceiling (a bound, "hasta 300 mil", is)."""
    at = analysis.slot_at.get("price_max")
    if at is None or "price_max" not in analysis.unbounded:
        return
    if not any(label == POLICY and strong for label, strong, _, _ in analysis.labels):
        return
    tokens = analysis.tokens
    verb = next((i for i in range(max(0, at - 2), at) if tokens[i] in PAY_VERBS), None)
    if verb is None or set(tokens[max(0, verb - 2) : verb]) & ABLE_WORDS:
        return  # "puedo pagar 300 mil de contado": what they can pay, a budget
    if not {label for label, strong, _, _ in analysis.labels if strong} - {POLICY}:
        del analysis.slots["price_max"], analysis.slot_at["price_max"]
        analysis.unbounded.discard("price_max")


def _lives_in(analysis: Analysis) -> bool:
    """The city is said as where the customer lives ("vivo en Puebla", "living in CDMX")."""
    at = analysis.slot_at.get("city")
    if at is None:
        return False
    before = analysis.tokens[max(0, at - 3) : at]
    return any(" ".join(before[i:]) in RESIDENCE for i in range(len(before)))


YEAR_LINKS = GRAMMAR.year_links


def _year_of_one_car(analysis: Analysis) -> None:
    """ "el fiat uno y el spark 2021": cars said each with its article, and one year right
    after one of them, is that car's year only (each alternative then carries its own)."""
    slots = analysis.slots
    year = slots.get("year_min")
    if not analysis.alternatives or year is None or slots.get("year_max") != year:
        return
    tokens, kinds = analysis.tokens, analysis.kinds
    runs: list[tuple[int, int]] = []
    for i, kind in enumerate(kinds):
        if kind != "car":
            continue
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    if len(runs) != 1 + len(analysis.alternatives):
        return
    articles = CAR_ARTICLES | INDEFINITES
    if not all(start and tokens[start - 1] in articles for start, _ in runs):
        return  # "un jetta o vento 2019": the year of both
    own = [_year_after(tokens, end) for _, end in runs]
    if sum(found is not None for found in own) > 1:  # "el corolla 2020 y el mazda 3 2021":
        first, rest = own[0], own[1:]  # each car its own year
        for key in ("year_min", "year_max"):
            if first is None:
                slots.pop(key, None)
                analysis.slot_at.pop(key, None)
            else:
                slots[key] = first
        analysis.alternatives = [
            f"{alternative}|{found or ''}"
            for alternative, found in zip(analysis.alternatives, rest, strict=True)
        ]
        return
    at = analysis.slot_at.get("year_min", -1)
    owner = next(
        (
            n
            for n, (_, end) in enumerate(runs)
            if end == at or (end + 1 == at and tokens[end] in YEAR_LINKS)
        ),
        None,
    )
    if owner is None:
        return
    alternatives = [f"{alternative}|" for alternative in analysis.alternatives]
    if owner > 0:
        alternatives[owner - 1] += str(year)
        for key in ("year_min", "year_max"):
            slots.pop(key, None)
            analysis.slot_at.pop(key, None)
    analysis.alternatives = alternatives


def _year_after(tokens: list[str], end: int) -> int | None:
    """The year said right after a car's name ("el mazda 3 2021", "el vento del 2020")."""
    at = end + 1 if end < len(tokens) and tokens[end] in YEAR_LINKS else end
    token = tokens[at] if at < len(tokens) else ""
    return int(token) if _YEAR.fullmatch(token) else None


def _without_inside(
    spans: list[tuple[str, int, int]], inner: str, outer: str
) -> list[tuple[str, int, int]]:
    """The phrase spans but those named `inner…` lying inside a span named `outer…` ("largo"
    inside "el plazo más largo", "otro" inside "el otro")."""
    covers = [(s, e) for name, s, e in spans if name.startswith(outer)]
    return [
        (name, start, end)
        for name, start, end in spans
        if not name.startswith(inner)
        or not any(s <= start and end <= e and (s, e) != (start, end) for s, e in covers)
    ]


def _car_wished(analysis: Analysis) -> bool:
    """A wish word ("quiero", "busco") up to two words before the car named."""
    at = min(analysis.slot_at.get(key, len(analysis.tokens)) for key in ("make", "model"))
    return bool(set(analysis.tokens[max(0, at - 2) : at]) & GRAMMAR.wishes)


def _vetoes(analysis: Analysis) -> set[str]:
    """ "unless:human_agent" when the message rules the request out ("no me marquen"), but not
    when it asked for it first and the rule-out is a condition ("que me contacte alguien pero
    nomás por whats, no me marquen")."""
    found = {name for name in analysis.said if name.startswith("unless:")}
    for name, start, _ in analysis.said_spans:
        if name not in found:
            continue
        label = name.removeprefix("unless:")
        asked = [
            s for hit, strong, s, _ in analysis.labels if hit == label and strong and s < start
        ]
        if asked and CONTRAST & set(analysis.tokens[min(asked) : start]):
            found.discard(name)
    return found


def _figures_of_listed_cars(analysis: Analysis, context: DialogContext, share: float) -> None:
    """A price or km said with no bound that is, give or take `share`, the figure of the car
    in focus or of a listed car the message names: that car's figure said back ("139 mil x un
    aveo con 119 mil km?? q caro", "trae casi 100 mil km, ¿no saldrá con fallas?"), no ceiling."""
    if "context:search" in analysis.said or "context:judged" in analysis.said:
        return  # "busco otro de 139 mil": a search by that amount; "¿98 mil km es mucho?" is
        # the judged figure's own rule
    slots = analysis.slots
    named = {key: slots[key] for key in ("make", "model") if key in slots}
    # "el amg… 880 x un 2017": the make is enough, the model may be said as a version
    brand = {"make": named["make"]} if "make" in named else named
    cars = [car for car in (context.focus, *context.shown) if car is not None]
    for key, name in (("price_max", "price"), ("km_max", "km")):
        value = slots.get(key)
        if not isinstance(value, int | float) or key not in analysis.unbounded:
            continue
        if value in analysis.approx or (key == "price_max" and "price_min" in slots):
            continue  # "unos 140 mil", "entre 130 y 140": a budget
        if key == "price_max" and CAR_PRICE in analysis.said:
            continue  # "el de 238": the price that picks the car, read as such

        def nearest(car: ShownCar, name: str = name, value: float = value) -> tuple[bool, float]:
            return car is not context.focus, abs(float(getattr(car, name) or 0) - value)

        for car in sorted(cars, key=nearest):  # the car in focus, then the nearest listed one:
            # "76 mil km" is the one at 76,000, not the one at 77,400
            figure = float(getattr(car, name) or 0)
            pointed = car is context.focus or not named or car_matches(car, brand)
            if pointed and figure and abs(figure - value) <= share * figure:
                del slots[key]
                analysis.unbounded.discard(key)
                analysis.said.add(FIGURE_ECHOED)
                if key == "price_max":
                    analysis.said.add(PRICE_ECHOED)
                analysis.said.add(CAR_KM)
                analysis.odometer = car.km  # which car: the one whose figure it is
                if context.focus is not None and car.stock_id != context.focus.stock_id:
                    analysis.said.add(ECHOED_OTHER)  # a listed car, not the one in focus
                pointing = key == "km_max" and KM_POINTING in analysis.said
                if pointing and car in context.shown and "ordinal" not in slots:
                    analysis.put("ordinal", context.shown.index(car) + 1, 0)  # "el de 19 mil
                    # km, ¿cuánto a 4 años?": that one, picked as by its number
                    _km_not_asked(analysis)
                break


def _other_person(analysis: Analysis) -> bool:
    """Contact data of a relative or friend to reach as well, not the customer's own."""
    contact = ("name", "phone", "email")
    given = [analysis.slot_at.get(key, 0) for key in contact if key in analysis.slots]
    tokens = analysis.tokens
    relative = next(
        (
            i
            for i in range(len(tokens))
            if any(tokens[i : i + len(p.split())] == p.split() for p in GRAMMAR.other_person)
        ),
        None,
    )  # their data said before the relative ("nombre Iván…, y aparte mi hermano…") is theirs
    if not given or relative is None or min(given) < relative:
        return False
    text = f" {' '.join(tokens)} "
    return any(f" {words} " in text for words in GRAMMAR.other_person_also)


def _payment_said_back(analysis: Analysis, payment: float, settings: ContextSettings) -> None:
    """A monthly amount with no bound, at or a little above the plan's payment just shown
    ("ufff casi 6 mil" of $5,721.78, "¿5,700 al mes?"): the payment said back, no budget."""
    low, high = payment * (1 - settings.echo_share), payment * (1 + settings.payment_echo_share)
    bare = {"monthly_budget", "price_max"} & analysis.unbounded  # read as a price at first
    for key in ("monthly_budget", "price_max"):
        value = analysis.slots.get(key)
        if isinstance(value, int | float) and bare and low <= value <= high:
            del analysis.slots[key]
            analysis.unbounded -= bare
            analysis.said.add(PAYMENT_ECHOED)


def _wish_beside_own(analysis: Analysis) -> bool:
    """A wish word ("quiero", "I'd like") before search criteria of a car that is not theirs."""
    tokens = analysis.tokens
    wish_at = [
        i
        for i, token in enumerate(tokens)
        if token in WISH_WORDS or phrase_ends_at(tokens, i + 1, GRAMMAR.wish_phrases)
    ]  # "I'd like a hatchback", not "sold one just like it"
    if not wish_at:
        return False
    own_at = analysis.slot_at.get("own_car", -1)
    return any(
        key in analysis.slots and analysis.slot_at.get(key, -1) > max(wish_at[0], own_at)
        for key in WANTED_CRITERIA | {"year_min"}
    )


def _trait_preferred(analysis: Analysis) -> bool:
    """A trait said right after "mejor"/"prefiero" in a clause after the first: wished; or the
    transmission asked of a car, then ruled out ("is it manual? I can't drive stick")."""
    asked = analysis.slots.get("transmission")
    if asked in OTHER_TRANSMISSION and f"{NEGATED}transmission:{asked}" in analysis.said:
        analysis.slots["transmission"] = OTHER_TRANSMISSION[asked]
        return True
    for key in ("transmission", "fuel", "body_type"):
        at = analysis.slot_at.get(key)
        if key in analysis.slots and at and analysis.tokens[at - 1] in GRAMMAR.preference_cues:
            return any(token in CLAUSE_BREAKS for token in analysis.tokens[: at - 1])
    return False


OTHER_TRANSMISSION = {"manual": "automatic", "automatic": "manual"}


def _km_not_asked(analysis: Analysis) -> None:
    """The km word of "el de 19 mil km, ¿tiene bluetooth?" says which car; its km are not asked
    unless a km word is said elsewhere too."""
    start, end = analysis.km_pointer or (0, 0)
    kms = [(s, e) for name, s, e in analysis.said_spans if name == "details:km"]
    if kms and all(start <= s and e <= end for s, e in kms):
        analysis.said.discard("details:km")
        analysis.said_spans = [span for span in analysis.said_spans if span[0] != "details:km"]


def _points_by_km(tokens: list[str], unit: Unit) -> bool:
    """The km are said to say which car: "el de 19 mil km", "el que tiene 19 mil"."""
    if "car_price_before" in unit.before:
        return True
    return phrase_ends_at(tokens, unit.first.start, GRAMMAR.which_has)


def _criteria_beyond_naming(slots: dict[str, object]) -> bool:
    """Search criteria besides the make, model and year that name a car."""
    naming = {"make", "model", "year_min", "year_max"}
    return any(key in FOCUS_CRITERIA and key not in naming for key in slots)


def _body_word_is_the_focus(analysis: Analysis) -> None:
    """ "crédito pa la troca" with a car chosen: "la troca" is that car, not a search for
    pickups (no other criterion, no "busco"/"otra")."""
    if _body_word_pointed(analysis):
        del analysis.slots["body_type"], analysis.slot_at["body_type"]


def _body_word_pointed(analysis: Analysis) -> bool:
    """A body word after "la"/"esa" with no other criterion and no word that asks for cars: a
    car already talked of ("la troca", "¿dónde llevo la camioneta?")."""
    at = analysis.slot_at.get("body_type")
    if at is None or at == 0 or analysis.tokens[at - 1] not in FOCUS_POINTERS:
        return False
    return not ("context:search" in analysis.said or FOCUS_CRITERIA & analysis.slots.keys())


ANOTHER_KIND = GRAMMAR.another_kind
ANOTHER_KIND_SAID = "context:another_kind"
ANOTHER_KIND_PAIRS = frozenset(tuple(pair.split()) for pair in GRAMMAR.another_kind_pairs)
SKIPPED_BEFORE_TRAIT = COMPARATIVES | GRAMMAR.intensifiers | GRAMMAR.copulas
KINDS = ("body_type", "drive", "style", "size", "transmission", "fuel", "seats_min")
PLURAL_KINDS = ("body_type", "style", "size", "transmission", "fuel")  # "automáticos", "sedanes"
PLURAL_MIN = 3  # "gas" is no plural


def _another_kind_wished(analysis: Analysis) -> None:
    """ "algo 4x4 más barato", "mejor algo chiquito", "¿y en sedán?" with a car chosen: a kind of
    car wished (a search), not a question about the chosen car's traits ("¿es 4x4?")."""
    tokens = analysis.tokens
    asks_which = bool(set(tokens) & WHICH_WORDS)  # "¿cuáles son automáticos?": of those shown
    cheaper = "context:cheaper" in analysis.said and not set(tokens) & GRAMMAR.copulas
    if cheaper and any(slot in analysis.slot_at for slot in KINDS):
        analysis.said.update(("context:search", ANOTHER_KIND_SAID))  # "anything cheaper? hybrid
        return  # maybe": a cheaper car of that kind, not the chosen car's trait
    for slot in KINDS:
        at = analysis.slot_at.get(slot)
        if at is None:
            continue
        plural = slot in PLURAL_KINDS and tokens[at].endswith("s") and len(tokens[at]) > PLURAL_MIN
        if plural and not asks_which and (at == 0 or tokens[at - 1] not in GRAMMAR.copulas):
            analysis.said.update(("context:search", ANOTHER_KIND_SAID, PLURAL_KIND))  # "¿y hay
            # automáticos?"
            return  # many cars of a kind: a search, not a trait of the car in focus
        i = at - 1
        while i >= 0 and tokens[i] in SKIPPED_BEFORE_TRAIT:
            i -= 1  # "algo más chico", "¿cuáles son automáticos?"
        described = i > 0 and tokens[i - 1] in GRAMMAR.copulas  # "¿es una camioneta?"
        described = described or (i >= 0 and analysis.kinds[i] == "car")  # "el fiat uno es
        # automático?": the car named is described ("uno" is its name, no "one")
        if (
            i >= 0
            and not described
            and (
                tokens[i] in ANOTHER_KIND
                or tuple(tokens[max(0, i - 1) : i + 1]) in ANOTHER_KIND_PAIRS
            )
        ):
            analysis.said.update(("context:search", ANOTHER_KIND_SAID))
            return


def _only_picks(tokens: list[str]) -> bool:
    """ "2 y 3", "1, 3 y 5": numbers and joiners only."""
    return all(not t.isalnum() or t.isdigit() or t in LIST_JOINERS for t in tokens)


def _listed_after(tokens: list[str], end: int, start: int) -> bool:
    """ "el figo y el march", "el figo, el march": only joiners and articles between two cars."""
    between = tokens[end:start]
    joiners = LIST_JOINERS | GRAMMAR.car_articles | GRAMMAR.ruled_joiners  # "ni nissan"
    # "en vez de la rav4 la cr-v": an article alone between them starts the car wanted instead
    joined = any(token in LIST_JOINERS | GRAMMAR.ruled_joiners for token in between)
    return 0 < len(between) <= 3 and all(token in joiners for token in between) and joined


PAGE_ONLY = "context:page_only"  # the next page; the car named is another sentence's subject
PAGING = ("context:more", "context:other")


def _page_beside_datum(analysis: Analysis) -> bool:
    """One clause asks for the next page and names nothing ("¿cuáles son los otros 2?"), another
    asks a datum of a car it names ("y el serie 3 es sedán, ¿verdad?"): the page, then the datum;
    the car is no new search."""
    clauses = _clauses(analysis.tokens)
    at = set(analysis.slot_at.values())
    paging = {s for name, s, _ in analysis.said_spans if name in PAGING}
    pages = [
        (start, end)
        for start, end in clauses
        if any(start <= s < end for s in paging) and not any(start <= p < end for p in at)
    ]
    car_at = [analysis.slot_at[key] for key in ("make", "model") if key in analysis.slot_at]
    datum = [
        (start, end)
        for start, end in clauses
        if any(start <= p < end for p in car_at)
        and any(label == DETAILS and start <= s < end for label, _, s, _ in analysis.labels)
    ]
    return bool(pages and datum) and not set(pages) & set(datum)


def _own_traits(analysis: Analysis, verb: bool = True) -> bool:
    """Only traits a car has, said as it has them ("tiene 80 mil km y es estándar"), not wished
    ("con menos de 80 mil km") nor asked of the stock ("¿tienen automáticos?"); `verb=False`:
    beside a part of selling their car, the bare figure is theirs ("60,000 km, EX trim")."""
    traits = analysis.slots.keys() - {"city"}  # "…automático. ¿lo pueden ir a ver a cuernavaca?"
    if not traits or not traits <= OWN_TRAITS:
        return False
    slots = analysis.slots
    if "km_max" in slots and "km_max" not in analysis.unbounded:
        return False
    return not verb or bool(GRAMMAR.own_trait_verbs & set(analysis.tokens))


def _own_car_named_again(analysis: Analysis, own_car: str) -> None:
    """ "¿cómo le hago pa que me cotizen el versa?" after "mi versa vale como 120": the customer's
    own car named again is that car, not one to buy (unless they search: "busco otro versa")."""
    ruled = analysis.slots.get("exclude_car")  # "¿y si el aveo no pasa la inspección?": theirs
    if isinstance(ruled, str) and fold(ruled) in fold(own_car):
        del analysis.slots["exclude_car"]
        _their_car(analysis, own_car, analysis.slot_at.pop("exclude_car", 0))
    model = analysis.slots.get("model")
    if not isinstance(model, str):
        return
    at = analysis.slot_at.get("model", 0)
    paid_with = tuple(analysis.tokens[max(0, at - 2) : at]) in OWN_CAR_MONEY  # "con lo del aveo"
    if "context:search" in analysis.said and not paid_with:
        return
    tokens = analysis.tokens
    near = tokens[max(0, at - STOCK_REACH) : at] + tokens[at + 1 : at + 1 + STOCK_REACH]
    if set(near) & (GRAMMAR.stock_asked | SOLD_WORDS):
        return  # "¿ustedes venden jettas 2018 en cuánto?", "los versa que venden ustedes": theirs
    start = analysis.slot_at.get("make", at)  # for sale, not the customer's
    if start and tokens[start - 1] in GRAMMAR.plural_articles:
        return  # "quiero ver los nissan versa": the ones in stock (theirs is one car)
    if fold(model) not in fold(own_car).split() and fold(model) not in fold(own_car):
        return
    analysis.slot_at.pop("model", 0)
    del analysis.slots["model"]
    analysis.slots.pop("make", None), analysis.slot_at.pop("make", None)
    _their_car(analysis, own_car, at)


STOCK_REACH = 3  # "¿tienen jetta 2018 a la venta?": a stock word this close before the model
SOLD_WORDS = frozenset({"venden", "vende", "vendan", "sell"})  # "ustedes venden jettas…"


def _their_car(analysis: Analysis, own_car: str, at: int) -> None:
    """The customer's own car, named again where slot `at` was."""
    analysis.put("own_car", own_car, at)
    analysis.said.update(("context:own_car", OWN_CAR_AGAIN))


def _language_words(analysis: Analysis) -> list[str]:
    """The words that can tell a language: not a car's name ("Seat"), a number or the word of a
    slot value ("suv" alone is as Spanish as it is English)."""
    values = set(analysis.slot_at.values())
    return [
        token
        for i, (token, kind) in enumerate(zip(analysis.tokens, analysis.kinds, strict=True))
        if kind is None and i not in values
    ]


def _clauses(tokens: list[str]) -> list[tuple[int, int]]:
    clauses, start = [], 0
    for i, token in enumerate(tokens):
        if token in CLAUSE_BREAKS:
            if i > start:
                clauses.append((start, i))
            start = i + 1
    if start < len(tokens):
        clauses.append((start, len(tokens)))
    return clauses


def _condition_clause(tokens: list[str], start: int, end: int) -> bool:
    """A clause that opens with "si"/"if" (after "fine", "ok", "what"...) and ends in a comma:
    the condition of the question after it, no request of its own ("If I pay cash for the
    Pathfinder, can I return it?"); "¿y si adelanto pagos…?" closed by a "?" asks."""
    words = [word for word in tokens[start:end] if word not in GRAMMAR.condition_fillers]
    closed_by_comma = end < len(tokens) and tokens[end] == ","
    return bool(words) and words[0] in GRAMMAR.condition_openers and closed_by_comma


def _comma_joined(
    analysis: Analysis, clauses: list[tuple[int, int]], asks_nothing
) -> list[tuple[int, int]]:
    """A clause that names a car and asks nothing (`asks_nothing(start, end)`), cut by a comma
    from the next, is its subject: "vi una jeep compass en su página, ¿sigue disponible?" asks
    whether that Compass is (while "la 2019 grand touring, how much per month…" picks a car,
    then asks)."""
    joined: list[tuple[int, int]] = []
    for start, end in clauses:
        if joined:
            before_start, before_end = joined[-1]
            names = any(
                before_start <= analysis.slot_at[key] < before_end
                for key in NAMES & analysis.slots.keys()
            )
            silent = names and asks_nothing(before_start, before_end)
            if silent and analysis.tokens[before_end] == "," and start == before_end + 1:
                joined[-1] = (before_start, end)
                continue
        joined.append((start, end))
    return joined


def _cars_in_clauses(analysis: Analysis) -> bool:
    """The first two cars named are in clauses of their own ("el sentra suena bien, pero el
    corolla…"), not side by side ("el spark o el uno")."""
    runs: list[tuple[int, int]] = []
    for i, kind in enumerate(analysis.kinds):
        if kind == "car" and runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        elif kind == "car":
            runs.append((i, i + 1))
    if len(runs) < 2:
        return False
    return any(token in CLAUSE_BREAKS for token in analysis.tokens[runs[0][1] : runs[1][0]])


SENTENCE_ENDS = frozenset({".", "?", "!"})


def _picks_asked(tokens: list[str], picks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """ "The first one has a lot of km. What about the third one, does it have bluetooth?": of
    listed cars named in several sentences, the ones of the only sentence that asks."""
    if len(picks) < 2:
        return picks
    bounds, start = [], 0
    for i, token in enumerate(tokens):
        if token in SENTENCE_ENDS and (i + 1 == len(tokens) or tokens[i + 1] not in SENTENCE_ENDS):
            bounds.append((start, i + 1, "?" in tokens[start : i + 1]))
            start = i + 1
    if start < len(tokens):
        bounds.append((start, len(tokens), False))
    sentence = [next(n for n, (a, b, _) in enumerate(bounds) if a <= at < b) for at, _ in picks]
    if len(set(sentence)) < 2:
        return picks
    asking = {n for n in sentence if bounds[n][2]}
    if len(asking) != 1:
        return picks
    again = set(GRAMMAR.same_again)  # "la segunda a 6 años? y la primera igual": both asked
    asking |= {n for n in sentence if again & set(tokens[bounds[n][0] : bounds[n][1]])}
    return [pick for pick, n in zip(picks, sentence, strict=True) if n in asking]


def _relative(tokens: list[str], unit) -> bool:
    """ "cuesta 13 mil más", "20 mil menos": a difference between prices, never a price
    ("300 mil o más" and "200 mil más o menos" are prices)."""
    end = unit.last.end
    if end >= len(tokens) or tokens[end] not in COMPARATIVES:
        return False
    if all(is_year(quantity) for quantity in unit.quantities):
        return False  # "otro rio 2019 más caro": a model year, no difference of 2,019 pesos
    # "más o menos"; "2019 menos de 220 mil": the bound of the next number
    approximate = end + 1 < len(tokens) and tokens[end + 1] in {"o", "or", "de", "than"}
    return not approximate and tokens[unit.first.start - 1 : unit.first.start] != ["o"]


def _asks_between_shown(analysis: Analysis, slots, context: DialogContext) -> bool:
    """ "el spark y el figo, ¿cuál es más chico?": a question between cars on screen compares
    them (never a search: "busca jetta o vento")."""
    if not analysis.alternatives or not context.shown or "context:search" in analysis.said:
        return False
    if (FINANCING_KEYS | {"monthly_budget"}) & slots.keys():
        return False  # "¿y el sentra y el versa en cuánto quedan con 25 mil a 5 años?": plans
    if "context:question" not in analysis.said and "?" not in analysis.raw:
        return False
    named = [(slots.get("make"), slots.get("model"))] + [
        (make or None, model or None)
        for make, model, _ in map(alternative_parts, analysis.alternatives)
    ]
    return all(
        model and any(car_matches(car, {"make": make, "model": model}) for car in context.shown)
        for make, model in named
    )


def _asks_which_pointed(analysis: Analysis, context: DialogContext) -> bool:
    """ "¿cuál está mejor, esa o la cx5 2019?": which of the car in sight and one named."""
    if not analysis.slots.get("model") or not (context.focus or len(context.shown) == 1):
        return False
    tokens = analysis.tokens
    pointer_or = any(
        token in GRAMMAR.definite_car - GRAMMAR.articles and tokens[i + 1 : i + 2] == ["o"]
        for i, token in enumerate(tokens)
    )
    return pointer_or and bool(set(tokens) & WHICH_WORDS)


def _asks_which_named(analysis: Analysis) -> bool:
    """ "el spark 2021 o el fiat uno, ¿cuál es más seguro?", "el peugeot o el swift, why would u
    pick one over the other": which of two cars named, listed or not, is a comparison (not "un
    versa y un sentra, ¿cuál tienen?", which asks for stock)."""
    if not analysis.alternatives or {"context:search", EACH_CAR} & analysis.said:
        return False
    tokens = set(analysis.tokens)
    words = analysis.tokens
    models = bool(analysis.slots.get("model")) and all(
        alternative_parts(alternative)[1] for alternative in analysis.alternatives
    )  # two models weighed; "¿cuál de los alemanes tiene menos km?" is the best of several
    which_clauses = [
        (start, end) for start, end in _clauses(words) if set(words[start:end]) & WHICH_WORDS
    ]
    stock = any(  # "¿cuál tiene más equipo?" weighs them; "¿cuál tienen?" asks for stock; a
        # verb in another sentence asks something else ("¿cuál es más grande? ¿y tienen carplay?")
        token in STOCK_VERBS
        and not (models and words[i + 1 : i + 2] and words[i + 1] in WEIGHING_AFTER)
        # "el peugeot o el seat, ¿cuál tiene menos km?": one of the two has it (singular)
        and not (i and words[i - 1] in WHICH_WORDS and token in GRAMMAR.singular_have)
        and any(start <= i < end for start, end in which_clauses)
        for i, token in enumerate(words)
    )
    if stock or _indefinite_car(analysis):
        return False
    if tokens >= ONE_OVER_OTHER:
        return True
    asked = "context:question" in analysis.said or "?" in analysis.raw
    return asked and bool(tokens & WHICH_WORDS)


def _own_clause(analysis: Analysis, label: str, other: str) -> bool:
    """Whether a clause of the message has strong words of `label` and none of `other`."""
    for start, end in _clauses(analysis.tokens):
        inside = {name for name, strong, s, e in analysis.labels if strong and start <= s < end}
        if label in inside and other not in inside:
            return True
    return False


def _after_change_of_mind(tokens: list[str], cars, said_spans, taken: list[bool]):
    """ "mejor el vento. o no, mejor el versa 2020": the cars named before a correction that
    starts a clause are no longer wanted (claimed, so no typo search reads them)."""
    fixes = [
        start
        for key, start, end in said_spans
        if key == "context:correction"
        and (start == 0 or tokens[start - 1] in CHANGE_OF_MIND)
        and (tokens[end - 1] not in GRAMMAR.copulas or any(end <= c[1] <= end + 2 for c in cars))
    ]  # "no es el vento, es el jetta" corrects; "la x5, no es mucho para una bmw?" does not
    searches = [start for key, start, _ in said_spans if key == "context:search"]
    fixes += [  # "el sentra me late pero también enséñame toyotas": no search asked the Sentra
        start
        for start in searches
        if start and tokens[start - 1] in SEARCH_TURNS and not any(s < start for s in searches)
    ]
    fixes += [  # "uy la durango está carísima. ok la journey": the car settled on
        start - 2
        for _, start, _ in cars
        if start >= 2
        and tokens[start - 1] in CAR_ARTICLES
        and tokens[start - 2] in SETTLING
        and (start == 2 or tokens[start - 3] in CLAUSE_BREAKS)
    ]
    if len(cars) < 2 or not fixes:
        return cars
    last = max(fixes)
    later = [car for car in cars if car[1] > last]
    earlier = [car for car in cars if car[2] <= last]
    if not later or not earlier:
        return cars
    for _, start, end in earlier:
        taken[start:end] = [True] * (end - start)
    return later


def _datum_clause(analysis: Analysis) -> bool:
    """A clause that asks a datum of the car and no plan: "¿tiene bluetooth?" before "¿y a cuánto
    me sale con 30 mil?"."""
    for start, end in _clauses(analysis.tokens):
        data = any(
            name.startswith("details:") and name not in OPINION_DETAILS and start <= s < end
            for name, s, _ in analysis.said_spans
        )
        plan = any(
            label == FINANCING_REQUEST and start <= s < end for label, _, s, _ in analysis.labels
        )
        if data and not plan and analysis.tokens[end : end + 1] == ["?"]:
            return True
    return False


def _by_slots_only(label: str, analysis: Analysis, hits: Hits) -> bool:
    return label not in hits.worded


def _figure_said(tokens: list[str], words: frozenset[str]) -> bool:
    """A figure right before one of `words` ("103k km"): the customer says it."""
    return any(
        token in words and any(ch.isdigit() for ch in "".join(tokens[max(0, i - 2) : i]))
        for i, token in enumerate(tokens)
    )


def _listed(context: DialogContext, slots: dict[str, object]) -> bool:
    """The car the message names is on the list on screen."""
    named = {key: slots[key] for key in ("make", "model") if key in slots}
    return bool(named) and bool(listed_matches(named, context))


def _data_asked(analysis: Analysis, details_phrase: bool) -> bool:
    """ "¿cuánto km tiene?": a keyword of dialog.yml `details` in a question."""
    if "context:opinion" in analysis.said:  # "¿cuántos km por litro da?" is no catalog datum
        return False
    if details_phrase:
        return True
    keyword = any(  # "¿qué motor trae?" asks an opinion, not the version
        name.startswith("details:") and name not in OPINION_DETAILS for name in analysis.said
    )
    if keyword and ("context:question" in analysis.said or "?" in analysis.raw):
        return True
    # "km", "la altura de la trax y de la captur": the datum alone or opening the message
    opening = [
        start
        for name, start, _ in analysis.said_spans
        if name.startswith("details:") and name not in OPINION_DETAILS
    ]
    words = sum(token.isalnum() for token in analysis.tokens)
    return bool(opening) and (words <= DATUM_ALONE or min(opening) <= DATUM_OPENING)


OWN_WORDS = GRAMMAR.own_words  # "mi versa", "por mi lobo"
TRADE_VALUE = GRAMMAR.trade_value
OWN_GAP = GRAMMAR.own_gap  # "tengo un", "mi carro es un"
TRIM_CHARS = 4  # "gti", "gli", "ex": a trim word between an own car's model and its year
_YEAR = re.compile(r"(19[89]\d|20[0-4]\d)")


SIDE_GAP = GRAMMAR.side_gap


def _after_cue(tokens: list[str], start: int, cue_ends: list[int]) -> bool:
    """A car right after a cue, articles allowed between ("olvida el vento")."""
    return any(
        end <= start and start - end <= 2 and all(t in SIDE_GAP for t in tokens[end:start])
        for end in cue_ends
    )


def _owned_after(tokens: list[str], end: int) -> bool:
    """ "el tsuru es el que tenemos": a car said to be theirs right after its name."""
    return phrase_starts_at(tokens, end, GRAMMAR.own_after)


TRADED_REACH = 3  # "por el versa nos dan 120": the verb of the offer right after the car


def _traded_for(tokens: list[str], start: int, end: int) -> bool:
    """ "por el versa nos dan unos 120 mil": the car named after "por el" with an offer's verb
    right after it is the one they hand over."""
    before = " ".join(tokens[max(0, start - 2) : start])
    return before in GRAMMAR.trade_for and bool(TRADE_VALUE & set(tokens[end : end + TRADED_REACH]))


def _owned(tokens: list[str], start: int, cue_ends: list[int]) -> bool:
    """A car named right after "mi" or an own-car cue ("tengo un", "mi carro es un")."""
    before = tokens[max(0, start - 2) : start]
    if before and (
        before[-1] in OWN_WORDS or (_YEAR.fullmatch(before[-1]) and before[0] in OWN_WORDS)
    ):
        return True  # "mi versa", "my 2019 CX-5"
    traded = TRADE_VALUE & set(tokens[max(0, start - 7) : start])
    if " ".join(before) in GRAMMAR.trade_for and traded:
        return True  # "si me dan 150 por el jetta": the car they hand over
    for end in cue_ends:
        gap = tokens[end:start]  # "I have a 2017 Honda Civic": the year said before it too
        if end <= start and all(token in OWN_GAP or _YEAR.fullmatch(token) for token in gap):
            return True
    return False


CAR_KINDS = ("make", "model", "body_type", "fuel", "transmission", "drive")
VALUE_KINDS = ("body_type", "fuel", "transmission", "drive")


def _indefinite_car(analysis: Analysis) -> bool:
    """ "¿cuánto cuesta un jetta?": a car named with "un/una" is any such car; so is a kind
    ("¿algún híbrido?")."""
    at = min(
        (analysis.slot_at[key] for key in CAR_KINDS if key in analysis.slot_at),
        default=None,
    )
    if at is None:
        return False
    if at > 0 and analysis.tokens[at - 1] in INDEFINITE:
        return True
    # "automáticos baratos": a kind in the plural, not asked of one car ("¿son automáticos?")
    kinds = [analysis.slot_at[key] for key in VALUE_KINDS if key in analysis.slot_at]
    if not kinds or analysis.slots.get("make") or analysis.slots.get("model"):
        return False  # "la t-cross y la kicks": names, not kinds
    word = analysis.tokens[min(kinds)]
    asked = "?" in analysis.raw or COPULA_PLURAL & set(analysis.tokens)
    return word.endswith("s") and len(word) > 3 and not asked


def _pick(unit: Unit) -> bool:
    quantity = unit.first
    units = ("years_unit", "years_and_half", "months_unit", "percent_after", "km_after")
    return (
        not unit.is_range
        and quantity.plain
        and quantity.value <= PICK_MAX
        and "pick_before" in unit.before
        and not unit.cue(*units)
        and "down_payment" not in unit.after  # "con el 10 de enganche": 10 percent
        and not financing.down_payment_percent(unit)  # "enganche del 10": 10 percent
    )


def _label(intent: str | None, topic: str | None) -> str | None:
    return f"{KNOWLEDGE}/{topic}" if intent == KNOWLEDGE and topic else intent


OTHER_SIZE = {"small": "large", "large": "small"}
RELATIVES = GRAMMAR.relatives  # "las que se ven grandes" (grammar.yml)


def _size_judged(analysis: Analysis) -> None:
    """ "esas se ven chicas": the cars shown judged small, bigger ones wished (and the reverse)."""
    size = analysis.slots.get("size")
    at = analysis.slot_at.get("size", 0)
    if size not in OTHER_SIZE:
        return
    before = analysis.tokens[max(0, at - JUDGED_REACH) : at]
    for i in range(len(before)):
        if " ".join(before[i:]) not in GRAMMAR.judged_size_before:
            continue
        if i and before[i - 1] in RELATIVES:
            return  # "me gustan las que se ven grandes": the size wished, no judgement
        analysis.slots["size"] = OTHER_SIZE[size]
        return


PHONE_END_DROPS = ("price_max", "price_min", "km_max", "down_payment", "monthly_budget", "ordinal")


def _phone_ending(analysis: Analysis, phone: str, digits: str | None) -> None:
    """ "el cel termina en 67 no en 65" with a lead's phone: that phone with those last digits
    (the figures were never prices or picks)."""
    if not digits or len(digits) >= len(phone):
        return
    for slot in PHONE_END_DROPS:
        analysis.slots.pop(slot, None)
    analysis.put("phone", phone[: -len(digits)] + digits, 0)


def _opens_with_copula(tokens: list[str]) -> bool:
    """ "¿es de 7 asientos?", "y es de 7?": a trait asked of a car, not a wish."""
    words = [token for token in tokens if token.isalnum() and token not in LIST_JOINERS]
    return bool(words) and words[0] in GRAMMAR.copulas


def _after_copula(tokens: list[str], at: int) -> bool:
    """A trait right after a copula ("es de 3 filas", "no es automático", "son de 7"), over
    "de" and an article: it says what a car is."""
    i = at - 1
    while i >= 0 and tokens[i] in COPULA_SKIPS:
        i -= 1
    return i >= 0 and tokens[i] in GRAMMAR.copulas


COPULA_SKIPS = GRAMMAR.copula_skips


def _third_row(analysis: Analysis, said: list[tuple[str, int, int]]) -> None:
    """ "con tercera fila": seats for seven (a seats figure said wins); "¿cabe un adulto en la
    tercera fila?" asks about a car."""
    for name, start, _ in said:
        if name == THIRD_ROW and start and analysis.tokens[start - 1] in GRAMMAR.third_row_after:
            analysis.put("seats_min", seats.ROW_SEATS[3], start)
            return


NEGATIONS = ("context:negation", "context:negation_after")


def _closing_tag_no(analysis: Analysis) -> None:
    """ "la más barata tiene muchos km, no?": a "no?" closing a clause asks for agreement, it
    rules nothing out (the "no" of "el swift no?" after a car is read where cars are)."""
    tokens = analysis.tokens
    spans = [(s, e) for name, s, e in analysis.said_spans if name in NEGATIONS]
    verbs = GRAMMAR.have_verbs | GRAMMAR.copulas
    if spans and all(_closing_tag(tokens, s, e, verbs) for s, e in spans):
        analysis.said.difference_update(NEGATIONS)


def _closing_tag(tokens: list[str], start: int, end: int, verbs: frozenset[str]) -> bool:
    """A lone "no" right before "?" that closes a clause with a verb ("tiene muchos km no?")."""
    if tokens[start:end] != ["no"] or tokens[end : end + 1] != ["?"]:
        return False
    clause = start
    while clause > 0 and tokens[clause - 1] not in CLAUSE_BREAKS:
        clause -= 1
    return start - clause >= 2 and bool(set(tokens[clause:start]) & verbs)


def _tag_no(tokens: list[str], start: int, end: int) -> bool:
    """ "¿sigue disponible o no el a1?": a yes-or-no question, nothing ruled out."""
    return (
        tokens[start] == "no"
        and start > 0
        and tokens[start - 1] in GRAMMAR.tag_no_after
        and start + 1 < len(tokens)
        and tokens[start + 1] not in CLAUSE_BREAKS
        and tokens[start + 1] not in GRAMMAR.tag_no_not_before
    )


def _more_among_fillers(analysis: Analysis) -> bool:
    """'otras' or 'más' with nothing but question words and stock verbs around it."""
    spans = [(s, e) for name, s, e in analysis.said_spans if name == "context:more_alone"]
    if not spans:
        return False
    inside = {i for start, end in spans for i in range(start, end)}
    return all(
        i in inside or token in MORE_FILLERS or not token.isalnum() or _small_count(token)
        for i, token in enumerate(analysis.tokens)
    )


def _small_count(token: str) -> bool:
    """ "¿qué otros 3 hay?": how many more, not an amount."""
    return token.isdigit() and int(token) <= MORE_COUNT_MAX


def _than_before(tokens: list[str], claimed: list[tuple[int, int]]) -> bool:
    """The one car named comes right after a comparative and "que"/"than" ("algo más grande que
    la cx-5", "something bigger than the CX-5", "más barato que un jetta"): it is the measure."""
    if len(claimed) != 1:
        return False
    i = claimed[0][0] - 1
    while i >= 0 and tokens[i] in THAN_SKIPS:
        i -= 1
    if i < 1 or tokens[i] not in GRAMMAR.than_words:
        return False
    before = tokens[max(0, i - THAN_REACH) : i]
    return bool(set(before) & (GRAMMAR.weighing | COMPARATIVE_WORDS))


THAN_SKIPS = GRAMMAR.than_skips
COMPARATIVE_WORDS = GRAMMAR.comparative_words
INFORM = "inform"  # contact data given: the advisor's form takes it
THAN_CAR = "context:than_car"  # a car named after a comparative: the measure, not the wish
THAN_BIGGER = "context:than_bigger"  # ... and the wish is a bigger car
BIGGER_WORDS = GRAMMAR.bigger_words


def _than_follows(tokens: list[str], end: int) -> bool:
    """ "más barata que la otra", "más nueva y más barata que…": "que" before the clause ends."""
    for token in tokens[end : end + THAN_REACH]:
        if token in GRAMMAR.than_words:
            return True
        if token in CLAUSE_BREAKS and token not in ("y", "and"):  # "más nueva y más barata que"
            return False
    return False


def _year_and_older_denied(analysis: Analysis, unit, meaning: dict[str, float]) -> bool:
    """A year denied a few filler words after a denial of more than one word ("no quiero algo
    del 2015", "que no sea 2016 o más viejo"): it and older are ruled out (a bare "no" before a
    year is a correction: "no, la del 2015")."""
    high = meaning.get("year_max")  # "no quiero algo del 2015 o 2016": both, and older
    if high is None:
        return False
    at, tokens = unit.first.start, analysis.tokens
    return any(
        name == "context:negation"
        and end - start >= 2
        and 0 <= at - end <= YEAR_DENIAL_REACH
        and all(token in YEAR_DENIAL_FILLERS for token in tokens[end:at])
        for name, start, end in analysis.said_spans
    )


def _head_count(tokens: list[str], start: int) -> bool:
    """ "somos 6 en la casa", "we are 5", "a family of 5": people, not a car picked."""
    before = tokens[max(0, start - 2) : start]
    return bool(before) and (before[-1] in HEAD_COUNT or " ".join(before) in HEAD_COUNT)


def _this_or_that(tokens: list[str], later: list[tuple[int, int]]) -> bool:
    """ "la tracker tiene poquitos km. esa o la trax, ¿cuál es mejor?": "esa" joined to a later
    car, in a question, weighs the car named before against it."""
    for start, _ in later:
        at = start - 1 if start and tokens[start - 1] in CAR_ARTICLES else start
        joined = at > 1 and tokens[at - 1] in ALTERNATIVE_JOINERS
        if joined and tokens[at - 2] in GRAMMAR.this_or_that and "?" in tokens[start:]:
            return True
    return False


def _same_again(tokens: list[str], later: list[tuple[int, int]]) -> bool:
    """ "¿la x-trail a 5 años? y la hr-v igual": a later car, in a clause of its own, asked the
    same as the first; "…a 4 años con 50 mil de enganche? y el rio 2019": a clause that is only
    "y", the car and its year, after a plan asked, asks that plan of it."""
    for start, end in _clauses(tokens):
        opening = start  # the breaks that open the clause: "…? y también civic"
        while opening and tokens[opening - 1] in CLAUSE_BREAKS:
            opening -= 1
        words = set(tokens[opening:end]) | {" ".join(tokens[i : i + 2]) for i in range(start, end)}
        inside = [(s, e) for s, e in later if start <= s < end]
        if words & SAME_AGAIN and inside:
            return True
        elliptic = inside and bool(ADDING & set(tokens[opening : start + 1]))
        planned = set(tokens[:start]) & GRAMMAR.plan_words  # a plan asked before: its car's too
        if elliptic and planned and _only_the_car(tokens, start, end, inside):
            return True
        stock = set(tokens[start:end]) & GRAMMAR.stock_asked  # "…? y tienen audi a3?"
        if elliptic and stock and _only_the_car(tokens, start, end, inside, stock):
            return True
        asked_before = "?" in tokens[max(0, start - 2) : start]  # "¿el peugeot tiene carplay?
        if elliptic and asked_before and _only_the_car(tokens, start, end, inside):  # y el uno?"
            return True
    return _said_again(tokens, later)


def _said_again(tokens: list[str], later: list[tuple[int, int]]) -> bool:
    """ "el bmw más barato y el audi más barato": the words said of the first car, said again
    of a later one in a clause added with "y": the same asked of each, none weighed."""
    for start, end in _clauses(tokens):
        opening = start
        while opening and tokens[opening - 1] in CLAUSE_BREAKS:
            opening -= 1
        inside = [(s, e) for s, e in later if start <= s < end]
        added = inside and bool(ADDING & set(tokens[opening : start + 1]))
        if added and _only_the_car(tokens, start, end, inside, frozenset(tokens[:opening])):
            return True
    return False


EACH_CAR = "context:each_car"  # the same asked of each car named: "el más barato de bmw y de audi"
CAR_FIRST = "context:car_first"
DENIED_WITH = GRAMMAR.denied_with  # "no con 20%": the amount it was not
NO_OWN_CAR = "context:no_own_car"  # "no tengo auto para dar a cuenta": their car is none


def _first_sentence_end(tokens: list[str]) -> int | None:
    """Where the first of several sentences ends; None for a message of one sentence."""
    end = next((i for i, token in enumerate(tokens) if token in SENTENCE_ENDS), None)
    if end is None or not any(token.isalnum() for token in tokens[end + 1 :]):
        return None
    return end


def _car_first(analysis: Analysis) -> bool:
    """The message opens with a sentence that is only a car ("el altima. lo quiero de contado
    pero antes…"): the car spoken of, chosen, whatever the rest asks."""
    end = _first_sentence_end(analysis.tokens)
    if not end:
        return False
    cars = [(i, i + 1) for i in range(end) if analysis.kinds[i] == "car"]
    return bool(cars) and _only_the_car(analysis.tokens, 0, end, cars, CHOICE_OPENERS)


CHOICE_OPENERS = GRAMMAR.choice_openers  # "pues la trax."


def _asked_of_the_later(tokens: list[str], mention) -> bool:
    """Two cars in two sentences: the first told ("la rav4 tiene muchos km,"), the later asked
    ("la murano q tal? es 4x4?"): a question mark after the later car, none before it."""
    if len(mention.claimed) < 2 or mention.others:
        return False
    first_end, later_start = mention.claimed[0][1], mention.claimed[1][0]
    between = tokens[first_end:later_start]
    told = not {"?", "!"} & set(tokens[:later_start])
    breaks = "," in between or "." in between
    remark = between[:1] and between[0] in GRAMMAR.remark_verbs  # what the first car is or has
    before = [t for t in between[-3:] if t not in CAR_ARTICLES and t not in GRAMMAR.listed_articles]
    chosen = bool(before) and before[-1] in GRAMMAR.choice_openers  # "A1 is tiny. ok the X1"
    return bool(told and breaks and remark) and ("?" in tokens[later_start:] or chosen)


def _first_sentence_words(analysis: Analysis) -> int:
    """The words of a first sentence that opens with a follow-up word ("¿y con diez mil? esq no
    juntamos más": 4), when more sentences follow; else 0."""
    tokens = analysis.tokens
    opening = next((i for i, token in enumerate(tokens) if token.isalnum()), None)
    spans = [start for name, start, _ in analysis.said_spans if name == "context:follow_up"]
    end = _first_sentence_end(tokens)
    if opening is None or opening not in spans or end is None:
        return 0
    return sum(token.isalnum() for token in tokens[:end])


def _year_of_a_listed_car(analysis: Analysis, context: DialogContext) -> None:
    """ "uff la 2017 está cara. ¿y rav4?": "la 2017", alone in a sentence before the car named,
    points at the listed car of that year (another model); the RAV4 is wished of any year."""
    slots, tokens = analysis.slots, analysis.tokens
    year, model = slots.get("year_min"), slots.get("model")
    at, car_at = analysis.slot_at.get("year_min"), analysis.slot_at.get("model")
    if year is None or slots.get("year_max") != year or not model or at is None or car_at is None:
        return
    if not 0 < at < car_at or tokens[at - 1] not in CAR_ARTICLES:
        return
    if not SENTENCE_ENDS & set(tokens[at:car_at]):
        return  # "el 2018 de la rav4": the year of the car named
    pointed = [car for car in context.shown if car.year == year]
    if not pointed or any(car_matches(car, {"model": model}) for car in pointed):
        return
    for key in ("year_min", "year_max"):
        del slots[key]
        analysis.slot_at.pop(key, None)


def _only_the_car(
    tokens: list[str], start: int, end: int, cars: list[tuple[int, int]], also=frozenset()
) -> bool:
    """The clause is "y", an article, the car and maybe its year (and `also`): nothing else."""
    rest = [
        token
        for i, token in enumerate(tokens[start:end], start)
        if not any(s <= i < e for s, e in cars)
    ]
    return all(token in ELLIPTIC_WORDS | also or _YEAR.fullmatch(token) for token in rest)


ELLIPTIC_WORDS = GRAMMAR.elliptic_words
ADDING = ELLIPTIC_WORDS & CLAUSE_BREAKS  # "y", "and", "también": a clause added to the last


def _between_two(tokens: list[str]) -> bool:
    """ "¿cuál de las 2 es más grande?", "which of the two": a question between two cars."""
    words = set(tokens)
    return bool(words & WHICH_WORDS) and bool(words & TWO_WORDS)


def _a_distance(tokens: list[str], unit) -> bool:
    """ "son como 1000 km", "queda a 300 km", "manejar 500 km": a distance, no odometer wish."""
    return _unbound_after(tokens, unit, DISTANCE_WORDS)


def _after_have(tokens: list[str], unit) -> bool:
    """ "tiene 100 mil", "ya trae casi 90 mil": a figure the car has (its odometer)."""
    return _unbound_after(tokens, unit, HAVE_VERBS)


def _unbound_after(tokens: list[str], unit, words: frozenset[str]) -> bool:
    """A figure with no bound cue right after one of `words`, fillers between ("casi", "ya")."""
    if (unit.before | unit.after) & BOUND_CUES:
        return False
    i = unit.first.start - 1
    while i >= 0 and tokens[i] in HAVE_FILLERS:
        i -= 1
    return i >= 0 and tokens[i] in words


def _after_definite_car(analysis: Analysis, start: int) -> bool:
    """ "el sentra 2019 con 18 mil km", "la tracker de 15 mil km": one car, by its odometer
    ("un jetta con 50 mil km" wishes for one)."""
    if not _after_car_name(analysis, start, KM_JOINERS):
        return False
    i = start - 2
    while i > 0 and (analysis.kinds[i - 1] == "car" or _YEAR.fullmatch(analysis.tokens[i])):
        i -= 1
    return i > 0 and analysis.tokens[i - 1] in DEFINITE_CAR


def _after_car_name(analysis: Analysis, start: int, joiners=None) -> bool:
    """ "la tiguan de 300 mil", "el rio 2019 de 249,999": a car named, then its price."""
    tokens, kinds = analysis.tokens, analysis.kinds
    i = start - 1
    if i < 1 or tokens[i] not in (joiners or CAR_PRICE_JOINERS):
        return False
    i -= 1
    if _YEAR.fullmatch(tokens[i]) and i > 0:
        i -= 1  # the car's year between its name and its price
    return kinds[i] == "car"


# days in one of each time unit (cues.yml days_unit…years_unit) and the longest time read as
# one since a purchase: "tengo 30 años" is an age
DAYS_PER_UNIT = {"year": 365, "month": 30, "week": 7, "day": 1}  # longest first
UNIT_DAYS = {f"{unit}s_unit": days for unit, days in DAYS_PER_UNIT.items()}  # cues.yml labels
MAX_ELAPSED_DAYS = 20 * 365


def _elapsed_days(unit: Unit) -> int | None:
    """ "hace 2 meses" -> 60, "ya pasaron 5 días" -> 5; None without a time unit."""
    per = next((days for label, days in UNIT_DAYS.items() if label in unit.after), None)
    if per is None or unit.is_range or unit.last.multiplied:
        return None
    days = round(unit.last.value * per)
    return days if 0 < days <= MAX_ELAPSED_DAYS else None


def _length_not_litres(tokens: list[str], unit: Unit, meaning: dict[str, float]) -> bool:
    """A bare figure with one decimal read as litres, in a message about room or length and
    with no word of an engine: the car's length in metres."""
    if not meaning.keys() <= ENGINE_KEYS or unit.cue("engine_before", "engine_after"):
        return False
    low, high = money.LENGTH_METRES
    return bool(set(tokens) & LENGTH_WORDS) and low <= unit.last.value <= high


def _meaning(unit: Unit) -> dict[str, float] | None:
    if _pick(unit):
        return None  # "la mensualidad del 3": the third car, not 3 mil
    if unit.cue("income_before", "income_after", "owed_before", "owed_after"):
        return {}  # "gano 15 mil al mes": a salary, not what they would pay
    if "foreign_after" in unit.after:
        return {}  # "20 mil dólares (son como 340 mil pesos)": no peso amount
    if "interest_after" in unit.after:
        return {}  # "75 mil de puro interés": what a plan costs in interest, no budget
    if "idiom_before" in unit.before and not unit.last.multiplied:
        return {}  # "jala al 100", "está de 10": how well it runs, no amount
    for reader in READERS:
        meaning = reader(unit)
        if meaning is not None:
            return meaning
    return None


PHONE_ATTEMPT_DIGITS = 4  # digits in a row (spaced or not) that try to be a phone


def _phone_attempt(tokens: list[str], taken: list[bool]) -> bool:
    """Digits in a row no other slot took, as many as a phone's start: "3312", "33 3390 12"."""
    run = 0
    for token, claimed in zip(tokens, taken, strict=True):
        if token.isdigit() and not claimed:
            run += len(token)
            if run >= PHONE_ATTEMPT_DIGITS:
                return True
        else:
            run = 0
    return False


def _leading_interjections(tokens: list[str]) -> set[int]:
    """The "ok va sale," a message opens with: small talk, whatever the words after it ask."""
    lead: set[int] = set()
    for i, token in enumerate(tokens):
        if token not in INTERJECTIONS and token not in GRAMMAR.name_clause_marks:
            break
        lead.add(i)
    return lead


def _asked_first(analysis: Analysis, label: str, cue: str) -> bool:
    """A strong phrase of `label` comes before the first `cue` said."""
    starts = [s for name, s, _ in analysis.said_spans if name == cue]
    hits = [s for hit, strong, s, _ in analysis.labels if hit == label and strong]
    return bool(starts and hits) and min(hits) < min(starts)


def _car_after(tokens: list[str], kinds: list[str | None], phrases: frozenset[str]) -> bool:
    """A car is named right after one of `phrases` ("a cuenta de un x-trail")."""
    starts = [
        i for i, kind in enumerate(kinds) if kind == "car" and (i == 0 or kinds[i - 1] != "car")
    ]
    return any(" ".join(tokens[max(0, i - n) : i]) in phrases for i in starts for n in (2, 3, 4))


OTHERS_WISHED = frozenset(
    {"context:cheaper", "context:cheap", "context:search", "context:newer", "context:other"}
)


def _others_asked_after(analysis: Analysis, context: DialogContext) -> bool:
    """The car on screen named in a remark, then other cars asked for in a question of their own
    ("q caro la frontier. ¿y una tacoma o ranger más baratas?")."""
    if not (analysis.apart or analysis.alternatives) or "model" not in analysis.slots:
        return False
    if not OTHERS_WISHED & analysis.said or TRADE_VALUE & set(analysis.tokens):
        return False  # "…y el jetta q compré, ¿en cuánto me lo tomarían?": their own car
    named = {"make": analysis.slots.get("make"), "model": analysis.slots["model"]}
    if not any(car_matches(car, named) for car in context.shown):
        return False
    tokens, at = analysis.tokens, analysis.slot_at.get("model", 0)
    ends = [i for i, token in enumerate(tokens) if token in SENTENCE_ENDS and i > at]
    return len(ends) >= 1 and tokens[-1] == "?" and ends[0] < len(tokens) - 1


def _stock_of_body_asked(analysis: Analysis, car_end: int) -> bool:
    """After the car named, a stock verb right before the body type said in the plural
    ("¿tienes sedanes?", "¿hay camionetas?"): cars of that kind asked for."""
    at = analysis.slot_at.get("body_type")
    tokens = analysis.tokens
    if at is None or at <= car_end or not 0 < at < len(tokens):
        return False
    body = tokens[at]  # "sedan" said first, "sedanes" after the verb
    for i in range(car_end + 1, len(tokens) - 1):
        if tokens[i] not in GRAMMAR.stock_asked:
            continue
        for word in tokens[i + 1 : i + 3]:
            if word.endswith("s") and word.startswith(body) and len(word) - len(body) <= 2:
                return True
    return False


def _asks(analysis: Analysis) -> bool:
    """The message asks: a "?" or a question word ("cuánto", "how much"); a "¿se puede?" after
    a sentence only asks leave for it."""
    if "context:question" in analysis.said:
        return True
    tokens, begun = analysis.tokens, 0
    for i, token in enumerate(tokens):
        if token == "?" and " ".join(tokens[begun:i]) not in GRAMMAR.permission_asks:
            return True
        if token in SENTENCE_ENDS or token in ("¿", ","):
            begun = i + 1
    return False


def _opens_with(tokens: list[str], phrases: frozenset[str]) -> bool:
    """The message's first words are one of `phrases` ("por que", "que")."""
    return any(" ".join(tokens[:n]) in phrases for n in (1, 2, 3))
