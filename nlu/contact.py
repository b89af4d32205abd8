"""Contact data a customer gives for an advisor: name, phone, e-mail and a time to call.

Names are read, never taken verbatim: after a cue ("soy", "me llamo") or as a clause of their
own, 1-4 words that are not everyday Spanish words, the first a known first name (or, after a
cue, capitalised by the customer). A question, a complaint or "YA TE DIJE MI NOMBRE" is no name.
Phones are 10 digits in any Mexican writing (+52, 1, spaces, dashes); e-mails are lowercased.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from spacy.lang.es.stop_words import STOP_WORDS

from nlu.grammar import GRAMMAR
from nlu.lexicon import DATA_DIR, read_word_list
from nlu.text import fold
from tools.yamlio import load_model

_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_SEPARATORS = frozenset({"-", ".", "(", ")", "+", "/", ":"})
_CLAUSE_END = GRAMMAR.phone_clause_end
PHONE_DIGITS = 10
COUNTRY = "52"
NANP = "1"  # the US and Canada: "+1" and ten digits
INTERNATIONAL = (11, 13)  # "+" with a 1-3 digit country code and a 10-digit number


class TimePattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str
    say: str
    day: bool = False  # a day ("el lunes", "mañana"), not a time of day
    whole: bool = False  # "lo antes posible": a time that replaces any time said before


class ContactWords(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_cues: list[str]
    surname_cues: list[str] = Field(default_factory=list)
    name_fields: list[str] = Field(default_factory=list)
    name_copulas: list[str] = Field(default_factory=list)
    not_names: list[str]
    max_name_words: int = Field(4, ge=1, le=8)
    times: list[TimePattern]
    # a time right after these is a farewell, not when to call: "nos vemos el domingo"
    farewells: list[str] = Field(default_factory=list)
    # a time right after these, or followed by a "no", is when NOT to call: "que no me hablen en la
    # tarde", "en la tarde no"
    ruled_out_before: list[str] = Field(default_factory=list)
    ruled_out_after: list[str] = Field(default_factory=list)
    # a phone number said in words: "cinco cinco, doce, treinta y cuatro..." (0-99 each)
    spoken_digits: dict[str, int] = Field(default_factory=dict)
    # a day as the lead shows it: "before saturday" -> "antes del sábado"
    day_names: dict[str, str] = Field(default_factory=dict)
    # words inside a name kept lower-case: "Robert and Linda Hughes", "María de la Luz"
    name_links: list[str] = Field(default_factory=list)
    # a first name said in place of the one given (regular expressions with a `name` group)
    name_corrections: list[str] = Field(default_factory=list)
    # the last digits of the phone given (regular expressions with a `digits` group)
    phone_endings: list[str] = Field(default_factory=list)
    laughter: str = "(?!)"  # a word that is laughter, never a name ("jaja", "jeje"): a pattern
    # a time taken back: the times said before these are not meant ("a las 3 am jaja no
    # mentira, a cualquier hora")
    retractions: list[str] = Field(default_factory=list)


class ContactReader:
    """Built once from data/nlu/contact.yml and data/nlu/first_names.txt."""

    def __init__(self, words: ContactWords, first_names: frozenset[str], everyday: frozenset[str]):
        self.cue_phrases = list(words.name_cues)  # matched by the extractor's PhraseMatcher
        self.surname_phrases = list(words.surname_cues)  # ... and these
        self.name_fields = frozenset(fold(word) for word in words.name_fields)
        self.name_copulas = frozenset(fold(word) for word in words.name_copulas)
        self.stop = frozenset(fold(word) for word in words.not_names)  # never in a name
        self.not_names = self.stop | everyday  # never a name's first word
        self.everyday = everyday
        self.first_names = first_names
        self.max_words = words.max_name_words
        self.times = [(re.compile(t.pattern), t.say) for t in words.times]
        self.name_corrections = [re.compile(pattern) for pattern in words.name_corrections]
        self.phone_endings = [re.compile(pattern) for pattern in words.phone_endings]
        self.laughter = re.compile(words.laughter)
        # the says of days and of times of day: a time corrected in part keeps the other part
        self.day_says = frozenset(t.say.split("{")[0].strip() for t in words.times if t.day)
        self.hour_says = frozenset(
            t.say.split("{")[0].strip() for t in words.times if not (t.day or t.whole)
        )
        phrases = sorted(
            {" ".join(fold(p).split()) for p in words.farewells}, key=len, reverse=True
        )
        alternatives = "|".join(re.escape(phrase).replace(r"\ ", r"\s+") for phrase in phrases)
        self.farewell = re.compile(rf"(?:^|\W)(?:{alternatives})\W*$") if phrases else None
        ruled = sorted({" ".join(fold(p).split()) for p in words.ruled_out_before}, key=len)
        ruled_out = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in reversed(ruled))
        # only spaces between: "no, en la tarde" corrects to the afternoon
        self.ruled_out = re.compile(rf"(?:^|\W)(?:{ruled_out})\s*$") if ruled else None
        after = sorted({" ".join(fold(p).split()) for p in words.ruled_out_after}, key=len)
        busy = "|".join(
            # a bare "no" rules the time out only when it closes the clause ("en la tarde no"),
            # not before the time wanted instead ("que sea hoy no mañana")
            r"no(?=\s*(?:$|[,.;!?]|puedo|me\b|estoy|tengo))"
            if p == "no"
            else re.escape(p).replace(r"\ ", r"\s+")
            for p in reversed(after)
        )
        self.busy_after = re.compile(rf"\s*(?:{busy})\b") if after else None
        taken_back = sorted({" ".join(fold(p).split()) for p in words.retractions}, key=len)
        back = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in reversed(taken_back))
        self.retraction = re.compile(rf"(?:^|\W)(?:{back})\b") if taken_back else None
        self.spoken = {fold(word): value for word, value in words.spoken_digits.items()}
        self.days = {fold(word): name for word, name in words.day_names.items()}
        self.name_links = frozenset(fold(word) for word in words.name_links)

    def lead_value(self, current: str | None, slot: str, value: object, said) -> str:
        """What a lead field becomes when the customer gives `value` (a surname keeps the
        first name, a time of day keeps the day said before)."""
        if slot == "name" and SURNAME_ONLY in said and current:
            return self.with_surname(current, str(value))
        if slot == "contact_time" and current:
            return self.merged_time(current, str(value))
        return str(value)

    def with_surname(self, name: str, surname: str) -> str:
        """The first names of `name` with a new surname: ("Fernanda Ruiz", "Ruiz Esparza") ->
        "Fernanda Ruiz Esparza"; ("María José López", "Pérez") -> "María José Pérez"."""
        words = name.split()
        firsts = itertools.takewhile(lambda word: fold(word) in self.first_names, words[1:])
        return " ".join([*words[:1], *firsts, surname])

    def merged_time(self, current: str, new: str) -> str:
        """A contact time corrected in part keeps the other part: "mañana, por la mañana" then
        "in the afternoon instead" -> "mañana, por la tarde"; "el lunes, por la mañana" then
        "mejor el martes" -> "el martes, por la mañana". A `whole` time replaces it all."""

        def kind(part: str) -> str | None:
            if any(part.startswith(day) for day in self.day_says if day):
                return "day"
            if any(part.startswith(hour) for hour in self.hour_says if hour):
                return "hour"
            return None

        old_parts, new_parts = current.split(", "), new.split(", ")
        new_kinds = {kind(part) for part in new_parts}
        if None in new_kinds or any(kind(part) is None for part in old_parts):
            return new
        kept = [part for part in old_parts if kind(part) not in new_kinds]
        return ", ".join(sorted([*kept, *new_parts], key=lambda part: kind(part) != "day"))

    @classmethod
    def load(cls, directory: Path | None = None, vocabulary: frozenset[str] = frozenset()):
        base = directory or DATA_DIR
        words = load_model(ContactWords, base / "contact.yml")
        first_names = read_word_list(base / "first_names.txt")
        everyday = frozenset(fold(word) for word in STOP_WORDS) | vocabulary
        return cls(words, first_names - {"america", "mercedes"}, everyday - first_names)

    def phone(self, tokens: list[str], taken: list[bool]) -> str | None:
        """The first run of digit tokens (and separators) that spells a Mexican phone number,
        in figures or in words ("cinco cinco doce treinta y cuatro...")."""
        i = 0
        while i < len(tokens):
            if taken[i] or not self._digit_like(tokens, i):
                i += 1
                continue
            end, digits = i, ""
            while (
                end < len(tokens)
                and not taken[end]
                and (
                    self._digit_like(tokens, end)
                    or tokens[end] in _SEPARATORS
                    or self._spoken_pause(tokens, end)
                )
            ):
                digits += self._spelled(tokens, end)
                end += 1
            plus = tokens[i].startswith("+") or (i > 0 and tokens[i - 1] == "+")
            number = _national(digits)
            if plus and len(digits) == PHONE_DIGITS + 1 and digits.startswith(NANP):
                number = f"+{NANP} {digits[1:]}"  # "+1 323 555 8812": a US/Canada number, kept
            elif plus and not number and INTERNATIONAL[0] <= len(digits) <= INTERNATIONAL[1]:
                code = digits[: len(digits) - PHONE_DIGITS]  # "+57 310 555 8124": Colombia
                number = f"+{code} {digits[len(code) :]}" if code != COUNTRY else None
            if number:
                start = i - 1 if i and tokens[i - 1] in {"+", "("} else i
                taken[start:end] = [True] * (end - start)
                return number
            i = end
        return None

    def _spoken_pause(self, tokens: list[str], i: int) -> bool:
        """A comma between digits said in words: "siete siete siete, uno dos tres"."""
        return tokens[i] == "," and i + 1 < len(tokens) and tokens[i + 1] in self.spoken

    def _digit_like(self, tokens: list[str], i: int) -> bool:
        """Figures, a number word, or the "y" of "treinta y cuatro" between two of them."""
        token, spoken = tokens[i], self.spoken
        if _digits(token) or token in spoken:
            return True
        if token != "y" or not 0 < i < len(tokens) - 1:
            return False
        return spoken.get(tokens[i - 1], 0) >= 20 and 0 < spoken.get(tokens[i + 1], 0) < 10

    def _spelled(self, tokens: list[str], i: int) -> str:
        """The digits a token adds: "55" -> "55", "cinco" -> "5", "treinta" -> "30" (or "3" when
        "y cuatro" follows), "y" -> ""."""
        token, spoken = tokens[i], self.spoken
        if token not in spoken:
            return "" if token == "y" else re.sub(r"\D", "", token)
        value = spoken[token]
        tens_with_unit = value >= 20 and i + 2 < len(tokens) and tokens[i + 1] == "y"
        if tens_with_unit and 0 < spoken.get(tokens[i + 2], 0) < 10:
            return str(value // 10)  # "treinta y cuatro": the unit word adds the 4
        return str(value)

    def email(self, tokens: list[str], taken: list[bool]) -> str | None:
        for i, token in enumerate(tokens):
            if "@" in token and (match := _EMAIL.search(token)):
                taken[i] = True
                return match.group(0)
        return None

    def contact_time(self, prepared: str, tokens: list[str], taken: list[bool]) -> str | None:
        """Every time said, in the order said: "entre semana, después de las 7"."""
        found: list[tuple[int, str]] = []
        used: list[tuple[int, int]] = []
        for pattern, say in self.times:
            for match in pattern.finditer(prepared):
                span = match.span()
                if any(span[0] < end and start < span[1] for start, end in used):
                    continue  # "después de las 7 de la noche": the hour, not "noche" again
                if self.farewell and self.farewell.search(prepared, 0, span[0]):
                    continue  # "gracias, nos vemos el domingo", "buen fin de semana"
                if self._ruled_out(prepared, span):
                    _claim(tokens, taken, match.group(0))
                    used.append(span)
                    continue  # "que no me hablen en la tarde", "en la tarde NO"
                used.append(span)
                _claim(tokens, taken, match.group(0))
                found.append((span[0], _say(say, match, self.days)))
        retracted = self.retraction and self.retraction.search(prepared)
        if retracted:  # "a las 3 de la mañana jaja no mentira, a cualquier hora": the later one
            found = [(at, text) for at, text in found if at > retracted.start()]
        if not found:
            return None
        said = list(dict.fromkeys(text for _, text in sorted(found)))
        if len(said) > 1 and "lo antes posible" in said:
            said.remove("lo antes posible")  # "sábado a cualquier hora" is the weekend
        return ", ".join(said)

    def _ruled_out(self, prepared: str, span: tuple[int, int]) -> bool:
        before = self.ruled_out and self.ruled_out.search(prepared, 0, span[0])
        # "en la tarde no", "en la tarde cuido a mis nietos"; not "tarde. no sé"
        after = self.busy_after and self.busy_after.match(prepared, span[1])
        return bool(before or after)

    def corrected_name(self, tokens: list[str], raw: str) -> str | None:
        """ "no es karla, es carla con c", "es Carla con C": the first name said in its place
        (one of the lexicon's first names), written as the customer wrote it."""
        text = " ".join(tokens)
        for pattern in self.name_corrections:
            match = pattern.search(text)
            if match and match.group("name") in self.first_names:
                written = _as_written(raw, [match.group("name")])
                return _title(written, frozenset()) if written else match.group("name").title()
        return None

    def phone_ending(self, tokens: list[str]) -> str | None:
        """ "el cel termina en 67 no en 65": the digits the number ends with."""
        text = " ".join(tokens)
        match = next((m for pattern in self.phone_endings if (m := pattern.search(text))), None)
        return match.group("digits") if match else None

    def name(
        self,
        raw: str,
        tokens: list[str],
        taken: list[bool],
        asked: bool,
        cue_ends: set[int],
        contact_nearby: bool = False,
        surname_ends: frozenset[int] = frozenset(),
    ) -> str | None:
        """A name after a cue ("soy", "me llamo": `cue_ends` are the token positions right after
        one), a clause that is only a name, or (when asked, or next to a phone or e-mail) a
        capitalised clause ("Mike Turner, 8112345678")."""
        field = next((i for i, token in enumerate(tokens) if token in self.name_fields), None)
        if field is not None:  # "el nombre quedó mal, es Fernanda Ruiz Esparza"
            cue_ends = cue_ends | {
                i + 1 for i in range(field + 1, len(tokens)) if tokens[i] in self.name_copulas
            }
        cue_ends = cue_ends | surname_ends
        starts = sorted(cue_ends) + [
            i for i in range(len(tokens)) if i == 0 or tokens[i - 1] in CLAUSE_MARKS
        ]
        for start in starts:
            if start in cue_ends and start < len(tokens) and tokens[start] == ".":
                start += 1  # "Sra. Carmen": the title's full stop
                cue_ends = cue_ends | {start}
            if start in cue_ends and start < len(tokens) and tokens[start] in NAME_ARTICLES:
                start += 1  # "soy el Beto Ramírez": the article Mexicans put before a name
                cue_ends = cue_ends | {start}
            words = self._name_words(tokens, taken, start)
            verbs = [w for w in words[1:] if _verb_form(w) and w not in self.first_names]
            if not words or verbs:
                continue  # "nomas ando viendo": a sentence, not a name
            after_cue = start in cue_ends
            end = start + len(words)
            alone = (
                _clause_ends(tokens, end)
                or (  # "Ramiro Treviño 8119876543" (or its first digits: "Gerardo Lopez 3312")
                    contact_nearby and end < len(tokens) and tokens[end][:1].isdigit()
                )
            )
            known_first = words[0] in self.first_names
            as_written = _as_written(raw, words)
            name = _title(as_written, self.name_links)
            if known_first and (after_cue or alone or asked):
                return name
            if start in surname_ends:  # "mi apellido es ruiz esparza"
                return name
            capitalised = all(word[:1].isupper() for word in as_written)
            if after_cue and capitalised:  # "me llamo Xóchitl", "my name is Mark"
                return name
            if known_first and contact_nearby and alone:  # "Tom, 5598765432, mornings"
                return name
            plain = not capitalised and any(word in self.everyday for word in words[1:])
            if asked and alone and len(words) >= 2 and (start == 0 or capitalised) and not plain:
                return name  # not "cual mala experiencia": everyday words, written as such
            if asked and alone and capitalised and (start == 0 or contact_nearby):
                return name  # "Brandon, 33 4455 6677": a first name we do not list
            if contact_nearby and alone and capitalised and len(words) >= 2:
                return name
        return None

    def _name_words(self, tokens, taken, start: int) -> list[str]:
        """The name's words: the first is no everyday word; surnames may be ("Peña", "Flores")."""
        words: list[str] = []
        i = start
        while i < len(tokens) and len(words) < self.max_words + 1:
            token = tokens[i]
            blocked = self.not_names if not words else self.stop
            spelled = token.replace("-", "").replace("'", "")  # "Reyes-Miller", "O'Brien"
            if taken[i] or not spelled.isalpha() or token in blocked or len(token) > 20:
                break
            if self.laughter.fullmatch(token):  # "jaja", "jajaja", "jeje": laughter, no name
                break
            words.append(token)
            i += 1
        if not words or len(words) > self.max_words:
            return []
        return words


NAME_ARTICLES = GRAMMAR.name_articles
CLAUSE_MARKS = GRAMMAR.name_clause_marks  # "paso mis datos: Ana López, 55…"
GERUND_ENDINGS = tuple(sorted(GRAMMAR.gerund_endings))  # "viendo", "buscando": never a surname


def _verb_form(word: str) -> bool:
    return word.endswith(GERUND_ENDINGS) and len(word) > 5


def _say(template: str, match: re.Match[str], days: dict[str, str]) -> str:
    parts = {key: value or "" for key, value in match.groupdict().items()}
    if parts.get("m"):
        parts["m"] = ":" + parts["m"]
    if parts.get("ampm"):
        parts["ampm"] = " " + parts["ampm"]
    if parts.get("d"):
        parts["d"] = days.get(parts["d"], parts["d"])  # "before saturday": "sábado"
    return template.format_map(_Blank(parts)).strip()


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


_FIGURES = re.compile(r"\+?\d[\d-]*")


def _digits(token: str) -> bool:
    return bool(_FIGURES.fullmatch(token))


def _national(digits: str) -> str | None:
    if len(digits) == PHONE_DIGITS + 3 and digits.startswith(COUNTRY + "1"):
        digits = digits[3:]
    elif len(digits) == PHONE_DIGITS + 2 and digits.startswith(COUNTRY):
        digits = digits[2:]
    elif len(digits) == PHONE_DIGITS + 1 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) == PHONE_DIGITS and digits[0] != "0" else None


def _claim(tokens: list[str], taken: list[bool], phrase: str) -> None:
    words = phrase.split()
    for i in range(len(tokens) - len(words) + 1):
        if tokens[i : i + len(words)] == words:
            taken[i : i + len(words)] = [True] * len(words)
            return


def _clause_ends(tokens: list[str], position: int) -> bool:
    return position >= len(tokens) or tokens[position] in _CLAUSE_END


def _as_written(raw: str, folded: list[str]) -> list[str]:
    """The customer's own spelling (accents kept) of folded words found in the raw text."""
    written = re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", raw)  # "O'Connor", "Reyes-Miller"
    written = [word.replace("’", "'") for word in written]
    keys = [fold(word) for word in written]
    for i in range(len(keys) - len(folded) + 1):
        if keys[i : i + len(folded)] == folded:
            return written[i : i + len(folded)]
    return folded


def _title(words: list[str], links: frozenset[str]) -> str:
    return " ".join(
        word.lower()
        if word.lower() in links
        else "-".join(_capital_parts(part) for part in word.split("-"))
        for word in words
    )  # "Robert and Linda Hughes", "María de la Luz", "Reyes-Miller"


def _capital_parts(word: str) -> str:
    """ "o'connor" -> "O'Connor", "d'angelo" -> "D'Angelo": each part after an apostrophe too."""
    return "'".join(part[:1].upper() + part[1:].lower() for part in word.split("'"))


SURNAME_ONLY = "contact:surname"  # said when the name read is a surname alone
