"""Words that set a slot (data/nlu/values.yml): equipment ("con carplay" -> car_play true,
"sin bluetooth" -> false), body type, transmission, fuel and superlatives ("el más barato").

A superlative needs its article: "el más barato" picks or sorts, "uno más barato" compares
(a new search), and "2018 o más nuevo" is a year bound, not the newest car.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nlu.grammar import GRAMMAR, phrase_starts_at
from nlu.lexicon import Values
from nlu.text import fold

SUPERLATIVE = "superlative"
SUPERLATIVE_PREFIX = "value|superlative|"
POSSESSIVES = GRAMMAR.stock_possessives  # "your cheapest cars" (grammar.yml)
ORDERING_WISHES = GRAMMAR.article_free_superlatives  # "un carro con motor grande"
ORDERING_KEYS = frozenset(f"{SUPERLATIVE_PREFIX}{value}" for value in ORDERING_WISHES)
ALSO_BEST = "also_best:"  # a second superlative asked in the same message, reported in `said`
DROPPED = "dropped:"  # a slot the customer no longer cares about, reported in `said`
ASKED_REACH = 3  # the "?" closes the value within this many words (a negative question)
NEGATED = "negated:"  # a value ruled out ("que no sea pickup"), reported in `said`
ASKED = "asked:"  # which of two values it is, asked ("¿es estándar o automático?"), in `said`
EITHER = "either:"  # a second value wished as well ("sedán o hatchback"), reported in `said`
EITHER_WISHED = frozenset({"body_type", "fuel"})  # slots whose values may be wished together
# grammar words (data/nlu/grammar.yml, where each set says what it is for)
ENGLISH_SUPERLATIVES = GRAMMAR.english_superlatives
ARTICLES = GRAMMAR.articles
WHICH = GRAMMAR.which
WISHES = GRAMMAR.wishes
DENIALS = GRAMMAR.denials
CLAUSE_END = GRAMMAR.value_clause_end
BRIDGE = GRAMMAR.bridge
COMPARATIVES = GRAMMAR.comparatives
COPULAS = GRAMMAR.copulas
PERSON_COPULAS = GRAMMAR.person_copulas
LIST_JOINERS = GRAMMAR.list_joiners
INDEFINITES = GRAMMAR.indefinites
DEMONSTRATIVES = GRAMMAR.demonstratives
INTENSIFIERS = GRAMMAR.intensifiers
DESCRIBED = GRAMMAR.described
WHICH_REACH = 9  # words between "cuál" and the superlative ("cuál de las 16 tiene menos km")
WHICH_STOPS = frozenset({"y", "o", "pero", "que", "than", "and", "or", "but", "?", ",", ".", "!"})
CAR_NOUNS = GRAMMAR.car_nouns
# "puede ser estándar": a kind allowed, not required ("aunque sea sedán" concedes it)
PERMISSIVE = frozenset(tuple(phrase.split()) for phrase in GRAMMAR.permissive)
EITHER_ASKED = frozenset({"transmission"})  # "¿es manual o automático?": a question
ALSO = GRAMMAR.also_words  # "enséñame también los automáticos"
STOCK_VERBS = GRAMMAR.stock_verbs


class ValueReader:
    def __init__(self, values: Values):
        self.negations = [fold(phrase).split() for phrase in values.negations]
        self.drops = [fold(phrase).split() for phrase in values.drops]
        self.not_after = frozenset(fold(word) for word in values.not_after)
        self.generic = frozenset(fold(phrase) for phrase in values.generic)

    @staticmethod
    def phrase_groups(values: Values) -> Iterator[tuple[str, list[str]]]:
        """Matcher keys ('flag|bluetooth', 'value|body_type|suv') and their phrases."""
        for flag, phrases in values.flags.items():
            yield f"flag|{flag}", phrases
        for slot, choices in values.values.items():
            for value, phrases in choices.items():
                yield f"value|{slot}|{value}", phrases

    def read(
        self,
        tokens: list[str],
        spans: Iterable[tuple[str, int, int]],
        named: frozenset[int] = frozenset(),
        disliked: frozenset[int] = frozenset(),
    ) -> dict[str, tuple]:
        """slot -> (value, position) of the first mention; a later one the customer wishes for
        ("¿es estándar? lo quiero automático") replaces it, and a value followed by "no"
        ("estándar no") is not wished for."""
        found: dict[str, tuple] = {}
        compared_size = False  # "algo más grande tipo suv": bigger than theirs, an SUV says it
        dropped_end: dict[str, int] = {}  # where a dropped value ended: "sedán o hatch" both go
        spans = sorted(spans, key=lambda span: span[1])
        spans = [  # "camioneta de carga" is a pickup, no "camioneta" (an SUV) inside it too
            (key, start, end)
            for key, start, end in spans
            if not any(
                other[0].split("|")[:2] == key.split("|")[:2]
                and other[0] != key
                and other[1] <= start
                and end <= other[2]
                and other[2] - other[1] > end - start
                for other in spans
            )
        ]
        spans = [  # "el motor más grande": the engine's order, not "más grande" (the length's)
            (key, start, end)
            for key, start, end in spans
            if not any(
                other[1] <= start and end <= other[2] and other[2] - other[1] > end - start
                for other in spans
                if other[0] in ORDERING_KEYS
            )  # "a big engine": no big car either
        ]
        last_of: dict[str, int] = {}  # where each slot is said last
        described_at: dict[str, tuple] = {}  # a value said of a car, no wish
        for key, start, _ in spans:
            last_of[key.partition("|")[2].partition("|")[0]] = start
        for key, start, end in spans:
            kind, _, rest = key.partition("|")
            slot = rest if kind == "flag" else rest.partition("|")[0]
            of_car = start > 1 and tokens[start - 1] in COPULAS and start - 2 in named  # "the
            # spark and figo are manual": what those cars are
            # "uy es estándar… algo parecido pero automático": what the car is, then the wish
            described_then = start > 0 and tokens[start - 1] in COPULAS
            said_of = _said_of_one(tokens, start) or of_car or described_then
            if slot in EITHER_ASKED and start < last_of[slot] and said_of:
                described_at[slot] = (None, start)
                continue  # "ese es estándar… sedán automático": what it is, then the wish
            listed = slot in dropped_end and set(tokens[dropped_end[slot] : start]) <= LIST_JOINERS
            permissive = tuple(tokens[max(0, start - 2) : start]) in PERMISSIVE
            also = bool(ALSO & set(tokens[max(0, start - 3) : start]))
            earlier = slot in found or f"{DROPPED}{slot}" in found
            kinds = kind != "flag" and slot not in (SUPERLATIVE, "size")
            first = found.get(slot) or described_at.get(slot)
            asked = slot in EITHER_ASKED and _either_of(tokens, start, first)
            if kinds and asked:
                found.pop(slot, None)  # "¿es estándar o automático?": asked, neither wished
                found[f"{ASKED}{slot}"] = (True, start)
                continue
            if kinds and (permissive or (also and earlier)):
                found.pop(slot, None)  # "puede ser estándar", "estándar… y también automáticos":
                listed = True  # either kind, no filter
            dropped_after = _not_needed_after(tokens, end)  # "4x4 isn't a must", "no es necesario"
            accepted = slot in ("transmission", "fuel") and phrase_starts_at(
                tokens, end, GRAMMAR.accepted_after
            )  # "manual is fine actually": either kind
            dropped_after = dropped_after or accepted
            if slot != SUPERLATIVE and (listed or self._dropped(tokens, start) or dropped_after):
                found[f"{DROPPED}{slot}"] = (True, start)  # "olvida el carplay": any
                dropped_end[slot] = end
                continue
            if kind == "flag":
                wanted = not self._negated(tokens, start)
                if not wanted and _denied_after(tokens, end, disliked):
                    wanted = True  # "sin carplay no": without it, no; they want it
                found[rest] = (wanted, start)  # the last word on it: "sin bt no... con bt"
                continue
            slot, _, value = rest.partition("|")
            ordered = value in ORDERING_WISHES and tokens[start] not in COMPARATIVES
            if slot == SUPERLATIVE and not ordered and not _superlative(tokens, start, end, named):
                continue
            if slot == SUPERLATIVE and slot in found and found[slot][0] != value:
                found[f"{ALSO_BEST}{value}"] = (True, start)  # "¿cuál la más barata y cuál la de
                continue  # menos km?": both asked
            described = tokens[start - 2] if start > 1 and tokens[start - 1] in COPULAS else None
            ours = slot == SUPERLATIVE and start and tokens[start - 1] in POSSESSIVES
            if (
                start
                and not ours
                and (tokens[start - 1] in self.not_after or described in self.not_after)
            ):
                continue  # "inspección mecánica" is not a manual car; "mi cochera es chica"
                # ("show me your cheapest cars" orders them)
            # "¿cuál es más chico?" compares; "enséñame más suvs" asks for more of a body type
            if (
                slot not in (SUPERLATIVE, "body_type")
                and start
                and tokens[start - 1] in COMPARATIVES
            ):
                if slot == "size" and start > 1 and tokens[start - 2] in INDEFINITES:
                    found[slot] = (value, start)  # "algo más grande": another search, bigger
                    compared_size = True
                continue  # "¿cuál es más chico?" compares two cars, it asks for no size
            if slot == "size" and _after_copula(tokens, start):
                continue  # "uy, está grandota": what the car is, no wish
            beside = {*tokens[end : end + 1], *tokens[max(0, start - 1) : start]}
            if slot == "size" and beside & GRAMMAR.business_nouns:
                continue  # "I run a small catering business", "un negocio pequeño": no car's size
            judged = tokens[end : end + 1] in ([c] for c in COPULAS) and (
                tokens[end + 1 : end + 2] in ([w] for w in (*INTENSIFIERS, "no"))
            )
            if slot == "body_type" and _errand(tokens, start, end):
                continue  # "same-day pickup", "pick up the car": collecting it, no pickup truck
            if slot == "body_type" and judged:
                continue  # "los sedán son muy bajitos": what they are, no wish
            if slot == "body_type" and _said_of_one(tokens, start):
                continue  # "ese es hatchback y el mío es sedán": what each is, no wish
            if slot == "body_type" and _said_of_named(tokens, start, named):
                continue  # "the Avanza is a minivan, not small": what that car is, no wish
            if self._negated(tokens, start) or _denied_after(tokens, end, disliked):
                found[f"{NEGATED}{slot}:{value}"] = (True, start)  # "aunque no sea pickup"
                continue  # "nada de híbridos", "estándar no": not a wish for one
            held = found.get(slot)
            joined = start > 0 and tokens[start - 1] in EITHER_JOINERS  # "sedán o hatchback"
            joined = joined or (start > 1 and tokens[start - 2] in EITHER_JOINERS)  # "o una pickup"
            near = held is not None and start - held[1] <= 2
            between = tokens[held[1] + 1 : start] if held is not None else []
            if near and not set(between) & EITHER_JOINERS and self._generic(tokens, held[1]):
                found[slot] = (value, start)  # "y camionetas pick up": pickups, not either
                continue  # ("camioneta o minivan": either)
            if held is not None and slot in EITHER_WISHED and held[0] != value and joined:
                found[f"{EITHER}{slot}:{value}"] = (True, start)  # either one is wished
                continue
            if (
                slot in found
                and slot != SUPERLATIVE
                and WISHES & set(tokens[max(0, start - 3) : start])
            ):
                found[slot] = (value, start)
                continue
            first = found.get(slot)
            if first is not None and slot != SUPERLATIVE and self._generic(tokens, first[1]):
                found[slot] = (value, start)  # "camioneta de batea", "camioneta tipo van"
                continue
            if slot in found and slot == "body_type" and start - 1 in named:
                found[slot] = (value, start)  # "algo deportivo... el mazda 3 hatch": its body
                continue
            found.setdefault(slot, (value, start))
        if compared_size and "body_type" in found and found.get("size", (None,))[0] == "large":
            del found["size"]
        return found

    def _generic(self, tokens: list[str], start: int) -> bool:
        return any(
            " ".join(tokens[start : start + len(phrase.split())]) == phrase
            for phrase in self.generic
        )

    def _dropped(self, tokens: list[str], start: int) -> bool:
        if self._before(tokens, start, self.drops):
            return True  # "without the carplay filter"
        while start and tokens[start - 1] in INTENSIFIERS | GRAMMAR.indefinite_articles | ARTICLES:
            start -= 1  # "no tienen que ser tan grandes", "doesn't need to be a pickup", "olvida
            # las vans"
        return self._before(tokens, start, self.drops)

    def _negated(self, tokens: list[str], start: int) -> bool:
        while start and (
            tokens[start - 1] in INTENSIFIERS or tokens[start - 1] in ("a", "an", *ARTICLES)
        ):
            start -= 1  # "que no sea muy grande", "not a manual", "no quiero las camionetas"
        before = " ".join(tokens[max(0, start - 6) : start])
        if any(f"{words} " in f"{before} " for words in GRAMMAR.yes_or_no):
            return False  # "¿la compass sí o no es 4x4?": asked, not ruled out
        asked = "?" in tokens[start : start + ASKED_REACH]  # "¿ese no es automático?": what it
        if asked and " ".join(tokens[max(0, start - 2) : start]) in GRAMMAR.negative_questions:
            return False  # is, asked
        if _unable_before(tokens, start):
            return True  # "no sé manejar de esos de palanca": the one they cannot drive
        return self._before(tokens, start, self.negations)

    @staticmethod
    def _before(tokens: list[str], start: int, phrases: list[list[str]]) -> bool:
        before = tokens[max(0, start - 6) : start]
        return any(
            len(before) >= len(phrase) and before[len(before) - len(phrase) :] == phrase
            for phrase in phrases
        )


UNABLE_REACH = 7  # words between "no sé manejar" and the transmission it rules out


def _unable_before(tokens: list[str], start: int) -> bool:
    """A "no sé manejar" / "can't drive" a few words before, in the same clause."""
    window = tokens[max(0, start - UNABLE_REACH) : start]
    for i in range(len(window)):
        rest = window[i:]
        if GRAMMAR.clause_breaks & set(rest[1:]):
            continue
        text = " ".join(rest)
        if any(text.startswith(phrase) for phrase in GRAMMAR.inability):
            return True
    return False


def _errand(tokens: list[str], start: int, end: int) -> bool:
    """A body word that names collecting the car: "same-day pickup", "pick up the car"."""
    before = " ".join(tokens[max(0, start - 2) : start])
    after = tokens[end : end + 1]
    return any(before.endswith(word) for word in GRAMMAR.errand_before) or (
        bool(after) and after[0] in GRAMMAR.errand_after
    )


def _denied_after(tokens: list[str], end: int, disliked: frozenset[int] = frozenset()) -> bool:
    """ "automático no, estándar": a "no" closing the value's clause; `disliked`: where a phrase
    of dislike starts ("los sedán no me gustan")."""
    if end in disliked or (tokens[end : end + 1] == [","] and end + 1 in disliked):
        return True  # "estándar, no gracias": the dislike after a comma
    tag = end + 1 < len(tokens) and tokens[end + 1] == "?"  # "es más grande, ¿no?": a tag
    return (
        end < len(tokens)
        and tokens[end] in DENIALS
        and (end + 1 == len(tokens) or tokens[end + 1] in CLAUSE_END)
        and not tag
    )


def _after_copula(tokens: list[str], start: int) -> bool:
    """ "está (muy) chica", "es grandota": the word says what a car is; "soy grande ya", "somos
    grandes": what the customer is."""
    i = start - 1
    while i >= 0 and tokens[i] in INTENSIFIERS:
        i -= 1
    return i >= 0 and (tokens[i] in COPULAS or tokens[i] in PERSON_COPULAS)


def _said_of_named(tokens: list[str], start: int, named: frozenset[int]) -> bool:
    """ "the Avanza is a minivan", "la avanza es minivan": a car named, a copula, maybe an
    article, then the body: what that car is."""
    i = start - 1
    if i >= 0 and tokens[i] in ("un", "una", "a", "an"):
        i -= 1
    pointed = i > 1 and tokens[i - 2] in GRAMMAR.definite_car  # "the avanza is", one word named
    asked = bool(GRAMMAR.confirm_tags & set(tokens[start : start + ASKED_REACH]))
    return i > 0 and tokens[i] in COPULAS and (i - 1 in named or pointed) and not asked


def _said_of_one(tokens: list[str], start: int) -> bool:
    """ "ese es hatchback", "el mío es sedán", "¿es una camioneta?": a copula after a pointer or a
    possessive, or opening the clause: what a car is (or is asked to be), no wish."""
    i = start - 1
    if i >= 0 and tokens[i] in ("un", "una", "a", "an"):
        i -= 1
    if i < 0 or tokens[i] not in COPULAS:
        return False
    return i == 0 or tokens[i - 1] in DESCRIBED or tokens[i - 1] in CLAUSE_END


def _superlative(tokens: list[str], start: int, end: int, named: frozenset[int]) -> bool:
    """ "el (de) más barato", "la odyssey más nueva" (`named`: the car's tokens), not "uno más
    barato", "2018 o más nuevo" or "más barato que"."""
    relative = tokens[end + 1 : end + 2] and tokens[end + 1] in STOCK_VERBS  # "...que tengas"
    relative = relative or phrase_starts_at(tokens, end, GRAMMAR.asks_not_compares)  # "la más
    # barata, ¿qué tal está?"
    if end < len(tokens) and tokens[end] in ("que", "than") and not relative:
        return False  # "más barato que el jetta" compares
    if tokens[start] in ENGLISH_SUPERLATIVES:  # "cheapest mazda 3 please"
        return True
    i = start - 1
    while i >= 0 and (tokens[i] in BRIDGE or i in named or tokens[i] in CAR_NOUNS):
        i -= 1  # "la odyssey más nueva", "el carro más nuevo"
    if i >= 2 and tokens[i - 1] in COPULAS and tokens[i - 2] in DEMONSTRATIVES:
        return False  # "esas son las más baratas": what the list is, no wish
    if i >= 0 and (tokens[i] in ARTICLES or tokens[i] in WHICH):
        return True
    between = tokens[i + 1 : start]  # "una suv con menos km" as "una con menos km" ("una suv
    wished = 0 <= i < start - 1 and all(
        token in ORDER_BRIDGE or token in CAR_NOUNS for token in between
    )
    wished = wished and any(token in ORDER_BRIDGE for token in between)  # más grande" compares)
    if wished and tokens[i] in GRAMMAR.indefinites:
        return True  # "prefiero uno con menos km", "algo de menor precio": the list so ordered
    if start > 1 and tokens[start - 1] in ORDER_BRIDGE and tokens[start - 2] in ("y", "and"):
        return True  # "¿cuáles son automáticos y con menos kilometraje?": a trait, then an order
    # "¿cuál de las 16 tiene menos km?", "¿cuál camioneta de menos de 350 tiene menos km?": a
    # "which" earlier in the same clause
    j = i
    while j >= 0 and start - j <= WHICH_REACH and tokens[j] not in WHICH_STOPS:
        if tokens[j] in WHICH:
            return True
        j -= 1
    return False


ORDER_BRIDGE = GRAMMAR.order_bridge  # "uno con menos km": the cars so ordered (grammar.yml)
EITHER_JOINERS = frozenset({"o", "or", "u", "y", "and", "ni"})


def _either_of(tokens: list[str], start: int, first: tuple | None) -> bool:
    """ "¿es manual o automático?", "estándar o automática?": two values of one slot joined by
    "o" ask which it is; neither is a wish."""
    return (
        first is not None
        and start >= 2
        and tokens[start - 1] in {"o", "or"}
        and (first[1] >= start - 3)
    )


# said right after a value, it is not needed any more: "4x4 isn't a must", "el 4x4 no es
# necesario", "carplay doesn't matter"
NOT_NEEDED_AFTER = tuple(tuple(phrase.split()) for phrase in GRAMMAR.not_needed_after)


def _not_needed_after(tokens: list[str], end: int) -> bool:
    return any(tuple(tokens[end : end + len(phrase)]) == phrase for phrase in NOT_NEEDED_AFTER)
