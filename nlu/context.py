"""Reading a message against the conversation: what was just shown, the car in focus, the
question pending, the last request. The dialog passes a DialogContext; these rules change the
intent the message alone would get, and say so (stage "context").

- a pending form question that the message answers: `inform` ("Ana López" when asked the name);
- after a list: a superlative or a name/year of a shown car picks it ("la del 2018", "el jetta");
- with a car in focus: "¿es automático?" asks about that car, not for a new search;
- a short follow-up carrying only slots of the last request keeps it ("¿y en Monterrey?").
Cue words live in config/intents.yml under `context:`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field

from nlu.financing import MAX_TERM_MONTHS, MAX_TERM_YEARS
from nlu.ordinals import HIGHEST as ORDINAL_HIGHEST
from nlu.text import fold

SEARCH = "search_cars"
SELECT = "select_car"
DETAILS = "car_details"
FINANCING = "financing"
PICK_AS_PERCENT = (5, 90)  # "el 10 entonces" after a plan, with fewer cars shown: 10% down
QUESTION = "car_question"
AFTER_SALE = "knowledge/warranty_returns"  # a fault of a car bought from Kavak
ADVICE = "advice"
COMPARE = "compare_cars"
INFORM = "inform"
LEAD_UPDATE = "lead_update"  # after the lead: what the advisor gets, or a note for them
AFFIRM = "affirm"
COMPLAINT = "complaint"
SHORT_DOWN = "context:short_down"  # "no tengo para el enganche": what they can put down
MIDDLE = 0  # the position data/nlu/ordinals.yml gives "el de en medio"
# while a form asks, these readings of a message that fills its question are just the answer
ANSWERS = frozenset({SEARCH, "greet", "thanks", INFORM, "human_agent", COMPLAINT})
CONTACT = ("name", "phone", "email", "contact_time")
ABOUT_CARS = frozenset({SEARCH, SELECT, DETAILS, QUESTION})
SEARCH_CRITERIA = frozenset(
    {
        "make",
        "model",
        "year_min",
        "year_max",
        "price_min",
        "price_max",
        "km_max",
        "body_type",
        "seats_min",
        "transmission",
        "fuel",
    }
)
NAMING = ("make", "model", "year_min", "year_max", "body_type", "transmission", "fuel", "seats_min")


class ShownCar(BaseModel):
    """What the customer saw of one car (enough to point at it by name, year or version)."""

    stock_id: int
    make: str
    model: str
    year: int
    price: float = 0.0
    km: int = 0
    version: str = ""
    body_type: str | None = None
    transmission: str | None = None
    fuel: str | None = None
    seats: int = 5


class DialogContext(BaseModel):
    """The conversation as the NLU needs it; empty for a first message or offline extraction."""

    shown: list[ShownCar] = Field(default_factory=list)
    focus: ShownCar | None = None
    chosen: list[ShownCar] = Field(default_factory=list)  # cars in focus before this one
    last_label: str | None = None  # "financing", "knowledge/locations"
    asking: list[str] = Field(default_factory=list)  # slots the pending question takes
    last_money: tuple[str, float] | None = None  # the last amount said: ("monthly_budget", 6000)
    # the amounts the conversation holds: {"monthly_budget": 4500, "down_payment": 40000}
    amounts: dict[str, float] = Field(default_factory=dict)
    lead_open: bool = False  # a lead was registered: contact data now corrects it
    own_car: str | None = None  # the customer's own car, said before ("Nissan Versa 2016")
    offered: bool = False  # the last reply offered one thing: a bare "sí" takes it (the dialog's)
    lead_phone: str | None = None  # the phone the lead has: "termina en 67" corrects its end
    after_sale: bool = False  # the customer's car was bought from Kavak ("compré uno y falló")
    compared: bool = False  # cars on screen were compared side by side
    plan_payment: float | None = None  # the monthly payment of the plan shown last

    def flags(self) -> set[str]:
        found = set()
        if self.shown:
            found.add("shown")
        if self.focus is not None:
            found.add("focus")
        if self.asking:
            found.add("asking")
        if self.lead_open:
            found.add("lead")  # a lead was sent: "agrégala a mi solicitud" adds to it
        return found


class ContextSettings(BaseModel):
    """`context:` of config/intents.yml."""

    model_config = ConfigDict(extra="forbid")

    search_words: list[str] = Field(default_factory=list)  # "otras", "busco": a new search
    pointing_words: list[str] = Field(default_factory=list)  # "el", "ese": pointing at a car
    question_words: list[str] = Field(default_factory=list)  # "cuánto": asks a car's data
    opinion_words: list[str] = Field(default_factory=list)  # "por litro": not a catalog datum
    follow_up_words: list[str] = Field(default_factory=list)  # "y", "entonces"
    own_car_words: list[str] = Field(default_factory=list)  # "mi carro", "tengo un": their car
    no_own_car_words: list[str] = Field(default_factory=list)  # "no tengo ningún": none
    bought_car_words: list[str] = Field(default_factory=list)  # "compré un": bought, not to sell
    similar_words: list[str] = Field(default_factory=list)  # "tipo", "parecido a": like a model
    same_size_words: list[str] = Field(default_factory=list)  # "del tamaño de una crv"
    reset_words: list[str] = Field(default_factory=list)  # "empecemos de nuevo": drop old criteria
    any_make_words: list[str] = Field(default_factory=list)  # "de cualquier marca"
    other_makes_words: list[str] = Field(default_factory=list)  # "¿y de otras marcas?"
    cheaper_ok_words: list[str] = Field(default_factory=list)  # "cheaper is fine": no floor
    pointed_amount_words: list[str] = Field(default_factory=list)  # "con esos 6 mil"
    any_year_words: list[str] = Field(default_factory=list)  # "del año que sea": no year limit
    not_required_words: list[str] = Field(default_factory=list)  # "no tiene que ser 2018"
    any_price_words: list[str] = Field(default_factory=list)  # "el precio que sea": no price limit
    stretch_price_words: list[str] = Field(default_factory=list)  # "si se pasa tantito"
    any_km_words: list[str] = Field(default_factory=list)  # "sin importar el kilometraje"
    any_transmission_words: list[str] = Field(default_factory=list)  # "cualquier transmisión"
    any_size_words: list[str] = Field(default_factory=list)  # "no importa el tamaño"
    # "el más caro que tienen", "de todo el inventario": a superlative over the whole stock
    whole_stock_words: list[str] = Field(default_factory=list)
    of_those_words: list[str] = Field(default_factory=list)  # "de esos": within the list shown
    more_words: list[str] = Field(default_factory=list)  # "enséñame las demás": the next page
    # ... and words that ask for the next page only when they are the whole message ("más")
    more_alone_words: list[str] = Field(default_factory=list)
    other_words: list[str] = Field(default_factory=list)  # "otras opciones": next page or others
    other_one_words: list[str] = Field(default_factory=list)  # "¿y la otra?": the other car
    sort_words: list[str] = Field(default_factory=list)  # "ordénalos": the same cars, reordered
    plural_pick_words: list[str] = Field(default_factory=list)  # "los de menos km": a list
    same_plan_words: list[str] = Field(default_factory=list)  # "¿y la tiguan igual?"
    haggle_words: list[str] = Field(default_factory=list)  # "¿me lo dejas en 400?"
    sort_by: dict[str, list[str]] = Field(default_factory=dict)  # superlative -> "por km"
    # a soft wish that orders the cars without a sort word: "low mileage", "que no sea tan vieja"
    soft_sort_by: dict[str, list[str]] = Field(default_factory=dict)
    cheaper_words: list[str] = Field(default_factory=list)  # "algo más barato": below the list
    fewer_km_words: list[str] = Field(default_factory=list)  # "con menos km": below the list's
    cheap_words: list[str] = Field(default_factory=list)  # "algo barato" with nothing shown
    newer_words: list[str] = Field(default_factory=list)  # "una más nueva": newer than the list
    negation_words: list[str] = Field(default_factory=list)  # "no quiero la duster": not a pick
    broaden_words: list[str] = Field(default_factory=list)  # "no nomás vento": not only that one
    negation_after_words: list[str] = Field(default_factory=list)  # "el corolla no me gusta"
    # "what about the X3, does that have it?": the detail asked last, of another car
    same_detail_words: list[str] = Field(default_factory=list)
    # "dije 2017 pero quería decir 2016": what follows these replaces what was said before
    meant_words: list[str] = Field(default_factory=list)
    # "nooo, la journey te dije": the "no" refuses the last answer, the car named is wanted
    insisting_words: list[str] = Field(default_factory=list)
    # ... unless what follows the "no" asks about the car: "¿y el 208 no hay?", "¿no lo tienen?"
    asks_after_no_words: list[str] = Field(default_factory=list)
    correction_words: list[str] = Field(default_factory=list)  # "está mal": fixing given data
    judged_words: list[str] = Field(default_factory=list)  # "¿es mucho?": a figure judged
    open_words: list[str] = Field(default_factory=list)  # "¿están abiertos?": the branches' hours
    # a price or km said within this share of a listed car's is that car's, said back ("139 mil
    # x un aveo": $138,999), no ceiling
    echo_share: float = Field(default=0.02, ge=0, lt=1)
    # the monthly payment just shown, said back rounded up ("ufff casi 6 mil" of $5,721.78):
    # within this share above it (or echo_share below), a reaction to the plan, no budget
    payment_echo_share: float = Field(default=0.1, ge=0, lt=1)
    short_down_words: list[str] = Field(default_factory=list)  # "no tengo para el enganche"
    added_words: list[str] = Field(default_factory=list)  # "le agrego 50 mil": added to the down
    not_asked_words: list[str] = Field(default_factory=list)  # "no te pregunté sucursales"
    colour_words: list[str] = Field(default_factory=list)  # "el rojo": the catalog has no colour
    focus_slots: list[str] = Field(default_factory=list)  # attributes asked of the car in focus
    # an amount up to this, said while talking financing, is a monthly payment, not a car price
    monthly_max: float = 30_000
    time_labels: list[str] = Field(default_factory=list)  # "horario" beside a contact time
    # answers after which a place named like a car ("Santa Fe") needs no "en" before it
    place_labels: list[str] = Field(default_factory=list)
    # a note for the advisor ("ponle que quiero verla el sábado") says a time of the call only
    # with one of these ("ponle que me llamen el sábado")
    call_words: list[str] = Field(default_factory=list)
    max_follow_up_words: int = Field(7, ge=1)
    # "¿y el peugeot?" after a detail question: a car named alone, this short, asks the same detail
    named_follow_up_words: int = Field(4, ge=1)
    # a datum of the car in focus named ("the height of the car") beats nearest examples this weak
    weak_examples_below: float = Field(0.45, ge=0, le=1)
    # "y si en vez de 30 son 45 mil?": the amount after these is the one replaced
    instead_words: list[str] = Field(default_factory=list)
    carry: dict[str, list[str]] = Field(default_factory=dict)  # label -> slots that carry it
    affirm_means: dict[str, str] = Field(default_factory=dict)  # "sí" after label -> label


@dataclass(frozen=True, slots=True)
class Reading:
    """What the context rules need of one message besides its slots (a dataclass: built once
    per message, it needs no validation)."""

    label: str
    stage: str
    by_slots_only: bool  # the label's only evidence was slots ("2019" -> a search)
    score: float  # the decision's score (examples below a threshold are weak)
    words: int
    said: frozenset[str] = frozenset()  # "context:search", "context:pointing", "context:follow_up"
    details_asked: bool = False  # a phrase of car_details was in the message
    data_asked: bool = False  # that, or a data keyword in a question ("¿cuánto km tiene?")
    generic_car: bool = False  # "un jetta": any Jetta, not the one in focus
    several_cars: bool = False  # "el audi a1 y el clase a": more than one car named
    other_model: bool = False  # one of the other cars is named by its model ("y el uno")
    bare_number: float | None = None  # the one number that meant nothing by itself: "¿y a 5?"
    article_numbers: tuple[int, ...] = ()  # numbers after "el"/"del" that meant nothing: "del 23"
    bare_numbers: tuple[float, ...] = ()  # every number that meant nothing by itself: "30 a 6"
    replaced: tuple[float, ...] = ()  # amounts said after "en vez de": the ones replaced
    free_words: tuple[str, ...] = ()  # words no rule read ("touring" in "el touring")
    weak: bool = False  # only weak phrases decided ("ya te dije, en el sur": no complaint)
    worded: str | None = None  # a request the words made besides the label decided
    second: str | None = None  # the second request read before the conversation was weighed
    first_words: int = 0  # the words of its first sentence ("¿y con diez mil? esq no…": 4)
    km_bound: bool = False  # the km were said as a bound ("menos de 60 mil km"): a wish
    price_bound: bool = False  # so was the price ("máximo 8 mil", "hasta 300 mil")


COURTESY = frozenset({"thanks", "greet"})  # said before a question, never its answer


def apply_context(
    reading: Reading, slots: dict[str, object], context: DialogContext, settings: ContextSettings
) -> tuple[str, str | None] | None:
    """(label, second) when the conversation changes the reading, else None."""
    down, ceiling = slots.get("down_payment"), slots.get("price_max")
    both_parts = False
    if (
        isinstance(down, int | float)
        and isinstance(ceiling, int | float)
        and settings.monthly_max < ceiling < down  # (a small one is a monthly payment: later)
    ):
        del slots["price_max"]  # "170 mil en total (120 del sentra + 50 cash)": a part of it
        if ADDED in reading.said:  # "me dan 60 mil por el tsuru y yo pongo otros 40": the two
            slots["down_payment"] = down + ceiling  # parts make the down payment
            both_parts = True
    named_only = not ({"context:question", "context:search"} & reading.said)  # no own ask
    named_only = named_only and not reading.generic_car  # "un honda, cr-v o hr-v": a search
    named_only = named_only and reading.label in ABOUT_CARS  # "pásame un asesor… el x y el y"
    if context.last_label == COMPARE and reading.several_cars and named_only:
        return COMPARE, None  # "el sentra 2019 y el corolla 2020" after "¿cuáles comparo?"
    if context.last_label in (COMPARE, ADVICE) and context.compared and _use_told(reading, slots):
        return COMPARE, None  # "¿cuál te conviene? depende de tu uso" ... "lo uso pa uber":
        # the two compared, weighed for that use
    terms_said = {"financing:longest_term", "financing:shortest_term"} & reading.said
    if context.last_label == FINANCING and terms_said and context.focus is not None:
        return FINANCING, None  # "¿y lo más largo que se pueda?" after a plan: its longest term
    last_money = context.last_money
    bare = reading.bare_numbers[0] if len(reading.bare_numbers) == 1 else None
    if (  # "si al final me dan menos x el march, digamos 70, ¿cuánto sube?": their car's value,
        slots.get("own_car")  # bare, after a plan with it as the down payment
        and last_money is not None
        and last_money[0] == "down_payment"
        and bare is not None
        and not any(key in slots for key in MONEY)
        and context.focus is not None
        and last_money[1] / SAME_SIZE <= bare * 1000 <= last_money[1] * SAME_SIZE
    ):
        slots["down_payment"] = bare * 1000
        return FINANCING, None
    saved = slots.get("price_max")
    if (
        "money:savings" in reading.said
        and context.last_label == FINANCING
        and context.focus is not None
        and isinstance(saved, int | float)
        and not (slots.get("make") or slots.get("model"))
        and saved < context.focus.price
    ):  # "tengo 70 mil ahorrados, ¿con eso?" after the plan of the car in focus: its down payment
        slots["down_payment"] = slots.pop("price_max")
        return FINANCING, None
    if _amount_of_the_plan(reading, slots, context, settings) and "term_months" not in slots:
        return FINANCING, None  # "son 100 mil en total: 60 del tsuru + 40 míos": that plan
    detail_said = any(name.startswith("details:") for name in reading.said)
    weak = reading.stage == "none" or (
        reading.stage == "examples" and reading.score < settings.weak_examples_below
    )
    if weak and context.focus is not None and detail_said:
        return DETAILS, None  # "I asked about the height of the car": the car in focus's
    last = context.last_label or ""
    courtesy = reading.label in COURTESY and "context:question" in reading.said
    if (reading.stage != "rule" or courtesy) and last.startswith("knowledge/") and not slots:
        # ("Thanks. How long does it take to get the money?": the question, not the thanks)
        part = f"section:{last.split('/', 1)[1]}:"
        if any(name.startswith(part) for name in reading.said):
            return last, None  # "no me contestaste si me regresan todo el dinero" after the
            # warranty: its part, not the reservation's refund that shares the words
    named_only = bool(slots) and set(slots) <= {"make", "model"}
    # "¿el peugeot tiene carplay? ¿y el uno?" ... "¿y el peugeot?": the detail asked last, of it
    short_follow_up = "context:follow_up" in reading.said
    short_follow_up = short_follow_up and reading.words <= settings.named_follow_up_words
    same = SAME_DETAIL in reading.said or (short_follow_up and not reading.details_asked)
    if context.last_label == DETAILS and same and named_only:
        return DETAILS, None  # "what about the X3, does that have it?": the detail asked last
    if slots.get("ordinal") == MIDDLE and context.shown:  # "¿y el de en medio?" of five: the 3rd
        slots["ordinal"] = (len(context.shown) + 1) // 2
    if reading.label == AFFIRM and not slots:
        if context.offered:
            return AFFIRM, None  # "¿te lo aparto?" ... "sí": the dialog knows what was offered
        accepted = settings.affirm_means.get(context.last_label or "")
        return (accepted, None) if accepted else None  # "sí" to "¿quieres ver planes?"
    replaced = INSTEAD in reading.said and _replaced_money(reading, slots, context)
    if replaced and context.focus is not None and "down_payment" in slots:
        return FINANCING, None  # "y si en vez de 30 son 45 mil?": the plan again
    if (
        "context:follow_up" in reading.said
        and _asked_words(reading) <= settings.max_follow_up_words
    ):
        _same_money(slots, context)  # "¿y con 30 mil?" after a down payment: another one
        _bare_same_money(reading, slots, context)  # "¿me alcanza con 6 mil?" ... "¿y con 5?"
    _same_amount_pointed(reading, slots, context)
    _bare_after_percent(reading, slots, context)
    if _same_amount_again(reading, slots, context) and context.focus is not None:
        return FINANCING, None  # "se pasa de mis 4500, ¿qué hago pa que baje?": the plan again
    _small_price_is_monthly(reading, slots, context, settings)
    searching = "context:search" in reading.said
    if "context:another_kind" in reading.said and reading.label in (DETAILS, QUESTION):
        return SEARCH, None  # "algo 4x4 más barato" with a car chosen: not "¿es 4x4?"
    if PLURAL_KIND in reading.said and reading.label == SEARCH:
        return SEARCH, None  # "¿y automáticos baratos?" with a car chosen: cars of that kind
    if _term_after_plan(reading, slots, context):  # "a 6. pásame un asesor, Raúl 55…"
        return FINANCING, reading.label if reading.label not in (FINANCING, None) else None
    call_said = set(reading.free_words) & set(settings.call_words)
    if OPEN_ASKED in reading.said and "contact_time" in slots and not call_said:
        del slots["contact_time"]  # "¿hoy domingo están abiertos?": the branches' day, no call's
    answers = context.asking and any(slot in slots for slot in context.asking)
    corrects = context.lead_open and any(slot in slots for slot in CONTACT)
    noted = corrects and reading.label == LEAD_UPDATE and reading.stage == "rule"
    if noted and "contact_time" in slots and not set(reading.free_words) & set(settings.call_words):
        del slots["contact_time"]  # "ponle que quiero verla el sábado": a note, not the call's time
        return None
    fixing = corrects and "context:correction" in reading.said
    if (answers or corrects) and (reading.stage != "rule" or reading.label in ANSWERS or fixing):
        other = reading.worded if reading.worded not in ANSWERS else None
        if _said_of_the_call(other, slots, settings):
            other = None  # "el horario no es el lunes, es hoy": the call's time, not the branches'
        if other is None and reading.data_asked:
            other = DETAILS  # "Alejandro Garza. Pero primero, ¿cuántos km tiene el X1?"
        if other is None and reading.label == COMPLAINT and reading.stage == "rule":
            other = COMPLAINT  # "Daniela Fuentes. ya se los di en la página…": heard too
        return INFORM, other  # "5534567890. ¿y puedo pasar el apartado?": both
    if answers and reading.label not in ANSWERS:
        if _said_of_the_call(reading.label, slots, settings):
            return INFORM, None  # "el horario no es el lunes, es hoy": the call's time
        return INFORM, reading.label  # "Oscar Peña, ¿hay sucursal en Puebla?": both
    if _pick_is_a_percent(reading, slots, context) or _percent_and_term(reading, slots, context):
        # "¿qué seguro me recomiendan? ¿y a 6 años con el 10?": the plan, and the other question
        other = reading.label if reading.label.startswith(("knowledge/", "policy")) else None
        return FINANCING, other
    if both_parts and context.focus is not None:
        return FINANCING, None
    if not both_parts and _added_to_down(reading, slots, context):
        return FINANCING, None
    bought = "context:bought_car" in reading.said and reading.label in (DETAILS, QUESTION)
    if bought and context.focus is None and not context.shown and not slots.get("model"):
        return AFTER_SALE, None  # "compré un carro con ustedes y ya trae una falla en el motor"
    pointed = slots.get("superlative") is not None or slots.get("ordinal") is not None
    beyond = _criteria_beyond(slots, ("superlative", "ordinal"))
    if JUDGED in reading.said and context.shown and pointed and not beyond:
        return ADVICE, None  # "la más barata tiene muchos km, ¿no?": that car's km judged
    if _km_judged(reading, slots, context):  # "103k km is a lot. anything newer than 2019?":
        wished = (SEARCH_CRITERIA - {"make", "model", "year_min", "year_max"}) & slots.keys()
        floor = slots.get("year_min") is not None and slots.get("year_max") is None  # "newer than"
        if wished or floor:
            return ADVICE, SEARCH  # the km judged, then cars wished
        topics = [
            name.split(":")[1] for name in sorted(reading.said) if name.startswith("section:")
        ]
        return ADVICE, f"knowledge/{topics[0]}" if topics else NO_SECOND  # "¿qué garantía trae?"
    in_sight = (
        [context.focus] if context.focus else context.shown if len(context.shown) == 1 else []
    )
    own_km = bool(in_sight) and "km_max" in slots and not reading.km_bound
    its_km = own_km and km_pointed(in_sight, {"km_max": slots["km_max"]})  # whatever car is named
    if its_km and "context:search" not in reading.said:
        del slots["km_max"]  # "ufff casi 100 mil km" of the RAV4 with 98,570: its km, no wish
        if set(slots) == {"ordinal"}:
            return SELECT, None  # "ya te dije, el de 19 mil km!! el 4" of the one in focus
        asked = reading.second or ""
        naming = ("make", "model", "year_min", "year_max")
        # "trae casi 100 mil km, ¿no saldrá con fallas? ¿qué revisan?": the question is the request
        asked_alone = asked.startswith("knowledge/") and not _criteria_beyond(slots, naming)
        if reading.label == SEARCH and asked_alone:
            return asked, NO_SECOND
        if reading.label == SEARCH and not _criteria_beyond(slots, naming):
            return DETAILS, None  # "solo 18 mil km? q raro": its km, said back, asked of
    lifted = LIFTED & reading.said
    searched = context.shown or context.focus is not None
    car_talk = reading.stage != "rule" or reading.weak or reading.label in CAR_LABELS
    if lifted and searched and car_talk:
        return SEARCH, None  # "quita el año" after a list: the same search, any year
    colour = _colour(reading, slots, context)
    if colour is not None and not searching:
        return colour
    versus_other = COMPARE in (reading.label, reading.second) and reading.stage == "rule"
    if versus_other and "context:other_one" in reading.said and len(context.shown) == 2:
        return COMPARE, None  # "el más barato. ¿cuál es la diferencia con el otro?": the two
    if not searching and (context.focus is not None or context.shown):
        about = _about_a_car(reading, slots, context, settings)
        if about is not None:
            return about
    about = reading.data_asked and reading.label in ABOUT_CARS and not reading.generic_car
    # "¿el peugeot tiene carplay? ¿y el uno?": cars named, one by its model ("premium" names
    # makes only: a search)
    models = slots.get("model") or (slots.get("make") and reading.other_model)
    two_models = reading.several_cars and models and not slots.get("superlative")
    if context.shown and not searching and about and two_models:
        return COMPARE, None  # "¿cuánto mide la t-cross y la kicks?": both, side by side
    if context.shown and not searching and about:
        named = {key: value for key, value in slots.items() if key in NAMING}
        by_name = _names_the_car(slots) or _year_said(slots)  # "el que es automático" picks
        if by_name and listed_matches(named, context) and not _criteria_beyond(slots, NAMING):
            return DETAILS, None  # "el sentra, ¿cuántos km tiene?" of the Sentra listed
    one_car = not reading.several_cars and not slots.get("superlative")
    of_model = reading.label != QUESTION or reading.stage != "rule"  # "¿cuánto gasta?" is not
    one_named = one_car and _names_the_car(slots) and not _criteria_beyond(slots, NAMING)
    if about and not searching and one_named and of_model:
        return DETAILS, None  # "¿cuántos km tiene la cx-5?": the catalog's CX-5s answer
    unpicked = "context:other_one" in reading.said and context.shown and context.focus is None
    guessed = reading.stage != "rule" and reading.label not in (*CAR_LABELS, COMPARE)
    if unpicked and not (slots.keys() - {"ordinal"}) and guessed:
        slots.pop("ordinal", None)  # "dijiste 6, ¿cuál es la otra?": the car not listed yet
        return SEARCH, None
    if "context:other_one" in reading.said and context.shown and context.focus is not None:
        car_talk = reading.label in CAR_LABELS or reading.stage != "rule" or reading.weak
        if reading.label == FINANCING or (car_talk and not _criteria_beyond(slots, NAMING)):
            second = DETAILS if reading.details_asked else None
            second = FINANCING if reading.label == FINANCING else second
            return SELECT, second  # "¿y la otra?": the other car of the two, the dialog says
    if context.shown and not searching and _step_from_focus(reading, slots, context):
        return SELECT, DETAILS if reading.details_asked else None  # "¿y el de arriba?"
    if context.shown and not searching and _long_list_pick(reading, slots, context):
        return SELECT, DETAILS if reading.details_asked else None  # "el 14" of 15 shown
    if context.shown and not searching and _short_year(reading, slots, context):
        reading = replace(reading, stage="none")  # "la del 23": a year pointed at
    if context.shown and not searching and "context:negation" not in reading.said:
        picked = _picks_shown(reading, slots, context)
        if picked is not None:
            return picked
    if not context.shown and slots.get("ordinal") is not None and reading.words <= 3:
        return SELECT, None  # "el segundo" with nothing shown: the dialog says so
    if reading.label == SEARCH and slots.get("superlative") and reading.data_asked:
        return SEARCH, DETAILS  # "¿cuántos km tiene la odyssey más nueva?": find it, then answer
    chosen = [car for car in context.chosen if car_matches(car, slots)]
    names_unshown = _names_the_car(slots) and not listed_matches(slots, context) and not chosen
    if reading.label == SELECT and slots.get("ordinal") is None and names_unshown:
        return SEARCH, None  # "me interesa el corolla" with no Corolla listed
    current = _current_topic_section(reading, slots, context)
    if current is not None:
        return current
    return _follow_up(reading, slots, context, settings)


# labels a question about a part of the topic being talked about may look like ("¿cuál opción
# me conviene?" after the ways Kavak pays for a car is not buying advice)
SECTION_RIVALS = frozenset({"advice", "policy_question", "car_question", "car_details"})


def _current_topic_section(
    reading: Reading, slots: dict[str, object], context: DialogContext
) -> tuple[str, None] | None:
    """ "¿qué papeles necesito?" while talking about selling a car: a part of the topic being
    talked about wins over another topic that has no such part; so does "¿y cuánto cuesta al
    mes?" after Kavak Total over a plan for no car."""
    last, label = context.last_label or "", reading.label
    no_plan = label == FINANCING and context.focus is None and not context.shown
    no_plan = no_plan and not any(key in slots for key in (*FINANCING_SLOTS, "monthly_budget"))
    unread = reading.stage == "none" and not slots  # "¿tengo que llevarlo o van ustedes?"
    about = label.startswith("knowledge/") or label in SECTION_RIVALS or no_plan or unread
    if not last.startswith("knowledge/") or not about or last == label:
        return None
    if _names_the_car(slots) and not label.startswith("knowledge/"):
        return None  # "mejor el X3, ¿cuánto cuesta?" after Kavak Total: the X3's price
    sections = {name.split(":")[1] for name in reading.said if name.startswith("section:")}
    topic = label.split("/", 1)[1] if "/" in label else ""
    follow_up = "context:follow_up" in reading.said  # "¿y si me arrepiento?" continues the topic
    # ... unless the new topic is named, or a part of it said in words of its own ("¿y cuánto
    # tarda la aprobación del crédito?" after the reservation's 3 days)
    apart = {"topic:named", "topic:part_apart"} & reading.said
    follow_up = follow_up and not (topic in sections and apart)
    named = "topic:named_apart" in reading.said  # "hablo del APARTADO, ¿se devuelve?": a word
    # of that topic alone, over a part of the last one
    if last.split("/", 1)[1] in sections and (topic not in sections or follow_up) and not named:
        return last, None
    return None


# a limit lifted ("cualquier marca", "del año que sea", "no importa el tamaño"): the same search
LIFTED = frozenset(
    {"context:any_make", "context:any_year", "context:any_price", "context:any_transmission"}
    | {"context:any_size", "context:any_km", "context:other_makes"}
)
COLOUR_WORDS = 5  # "¿lo tienen en blanco?": a short message about a colour
CAR_LABELS = frozenset({SEARCH, SELECT, DETAILS, QUESTION})


def _colour(reading: Reading, slots: dict[str, object], context: DialogContext):
    """The catalog has no colours: "el rojo" of a list shown picks nothing (the dialog says
    so) and "¿viene en rojo?" asks it of the car in focus."""
    if "context:colour" not in reading.said:
        return None
    if reading.words > COLOUR_WORDS and reading.stage != "none":  # (nothing else read: "oye y
        return None  # de verdad no sabes si es rojo? es lo más importante pa mí")
    if _criteria_beyond(slots, NAMING):
        return None
    if reading.stage == "rule" and not reading.weak and reading.label not in CAR_LABELS:
        return None  # "¿tienen sucursal en el centro?": another request decided by its words
    if context.shown and "context:pointing" in reading.said and not reading.details_asked:
        named = {key: value for key, value in slots.items() if key in NAMING}
        if named and len(listed_matches(named, context)) == 1:
            return SELECT, DETAILS  # "el vento es blanco?": that car, and its colour answered
        return SELECT, None
    if context.focus is not None:
        return DETAILS, None
    return None


USE_SAID = "form:guided_search:use:"  # the guided search's use options, said anywhere
USE_SLOTS = frozenset({"seats_min", "body_type", "size"})  # "es pa la familia, somos 5"


def _use_told(reading: Reading, slots: dict[str, object]) -> bool:
    """The message tells what the car is for and asks nothing else: "lo uso pa uber, diario como
    200 km", "ya te dije q es pa la familia, 5 personas"."""
    if not any(name.startswith(USE_SAID) for name in reading.said):
        return False
    if set(slots) - USE_SLOTS or "context:search" in reading.said:
        return False
    return reading.stage != "rule" or reading.label == SEARCH


def _about_a_car(
    reading: Reading, slots: dict[str, object], context: DialogContext, settings: ContextSettings
) -> tuple[str, str | None] | None:
    """ "¿es automático?" of the car in focus; "¿el tercero es estándar?" of a listed car."""
    pointed = slots.get("ordinal") is not None or slots.get("superlative") is not None
    if reading.details_asked and pointed and context.shown:
        return DETAILS, None
    if context.focus is not None and reading.stage == "none" and reading.data_asked:
        return DETAILS, None  # "¿qué tracción tiene?": a datum of the car in focus
    short = reading.words <= DATUM_WORDS and reading.stage == "examples"
    if context.focus is not None and short and reading.data_asked:
        return DETAILS, None  # "¿y la transmisión?": its datum, not a question like an example
    if context.focus is None or reading.label not in {SEARCH, SELECT, DETAILS, QUESTION}:
        return None
    if reading.label == QUESTION and reading.stage == "rule":
        return None  # "¿cuántos km por litro da?" is a question about the model
    asked = set(slots) - {"make", "model", "city"}  # "vivo cerca de zacatecas": theirs
    if reading.label == DETAILS and not pointed:
        return None  # already about the car in focus

    if reading.generic_car or not _about_focus(slots, context):
        return None
    if reading.details_asked or (
        reading.label != QUESTION and asked and asked <= set(settings.focus_slots)
    ):
        return DETAILS, None  # "¿cuántos km tiene el jetta?" of the jetta in focus
    return None


def _picks_shown(reading: Reading, slots: dict[str, object], context: DialogContext):
    if reading.label == FINANCING and not any(key in slots for key in NAMING):
        version = _version_pointed(reading, context)  # "M2 it is. ¿cuánto al mes con 30%?"
        if version is not None:
            slots["ordinal"] = version
            return SELECT, FINANCING
    car_priced = reading.label == FINANCING and "price:car" in reading.said  # "el de 236 a 4 años"
    if (
        reading.label not in {SEARCH, SELECT, DETAILS}
        and reading.stage != "none"
        and not car_priced
    ):
        return None  # "¿la tiguan da lata?" asks about the model, it does not pick
    if {"context:more", "context:other"} & reading.said:
        return None  # "¿hay más trocas o nomás esa?": more of them, not the one listed
    asked = reading.details_asked or reading.label == DETAILS or "context:colour" in reading.said
    second = DETAILS if asked else None  # "el vento es blanco?": picked, and the colour answered
    if second is None and any(key in slots for key in (*FINANCING_SLOTS, "monthly_budget")):
        second = FINANCING  # "el del 23, ¿cuánto al mes con 20% a 3 y a 5 años?"
    if second is None and reading.data_asked:
        second = DETAILS  # "la barata, ¿cabe en mi estacionamiento?"
    if second is None and (reading.second or "").startswith("knowledge/"):
        second = reading.second  # "la 2015. ¿cuánto me dan x mi aveo?": the pick, then selling
    plural = PLURAL_PICK in reading.said and (second is None or "ordinal" not in slots)
    if slots.get("superlative") and plural:  # "de esos, ¿cuáles son automáticos y con menos km?"
        return SEARCH, None  # "show me the ones with the lowest km": the list in that order
    if slots.get("superlative") and not _criteria_beyond(slots, ("superlative",)):
        return SELECT, second
    if slots.get("superlative") and not _criteria_beyond(slots, (*NAMING, "superlative")):
        named = {key: value for key, value in slots.items() if key in NAMING}
        if len(listed_matches(named, context)) > 1:
            return SELECT, second  # "la odyssey más nueva" of two shown Odysseys
    priced = [] if "price:bound" in reading.said else price_pointed(context.shown, slots)
    if len(priced) == 1 and not _criteria_beyond(slots, (*NAMING, "price_max")):
        return SELECT, second  # "the 2018 one for 238k", "la de 211 mil"
    several = len(priced) > 1 and asked and not _criteria_beyond(slots, (*NAMING, "price_max"))
    if several and "price:car" in reading.said:
        return COMPARE, None  # "el de 265 mil, ¿cuántos km tiene?" of two at $265,999: both
    if not slots and len(reading.bare_numbers) == 1 and reading.words <= POINTING_WORDS:
        thousands = reading.bare_numbers[0] * 1000  # "el de 238": the one at $238,999
        priced = price_pointed(context.shown, {"price_max": thousands}) if thousands >= 1e5 else []
        if len(priced) == 1:
            slots["price_max"] = thousands
            return SELECT, second
    version = _version_pointed(reading, context) if not slots else None
    if version is not None:  # "el touring", "la gt line": a word only one car's version has
        slots["ordinal"] = version
        return SELECT, second
    pointing = "context:pointing" in reading.said
    if pointing and not slots and reading.words <= POINTING_ONLY and reading.stage != "rule":
        return SELECT, second  # "ese quiero", "ese carro": one of the cars on screen
    if not _points(slots) or _criteria_beyond(slots, NAMING):
        return None
    if (slots.get("year_min") is None) != (slots.get("year_max") is None):
        return None  # "mejor 2019 en adelante", "include 2020": a floor or a ceiling, a search
    if not _names_the_car(slots) and not _year_said(slots) and not pointing:
        return None  # "y en automático?" refines the search; "el que es automático" points
    if (pointing or reading.words <= 4) and listed_matches(slots, context):
        return SELECT, second
    return None


DATUM_WORDS = 4  # "¿y la transmisión?": a datum word in a short message of a car in focus
POINTING_ONLY = 3  # words of a message that only points ("ese me late")
POINTING_WORDS = 6  # a short message can point by a price or a version word


def _version_pointed(reading: Reading, context: DialogContext) -> int | None:
    """The 1-based position of the one shown car whose version has a word of the message."""
    if reading.words > POINTING_WORDS or not reading.free_words:
        return None
    versions = [set(fold(car.version).replace("-", " ").split()) for car in context.shown]
    found = {
        i
        for word in reading.free_words
        if sum(word in version for version in versions) == 1
        for i, version in enumerate(versions)
        if word in version
    }
    return found.pop() + 1 if len(found) == 1 else None


PRICE_POINT = (2000.0, 0.01)  # a price said points at a car within $2,000 or 1% of it
PRICE_POINT_EXACT = 500.0  # ... and a price said to the peso within $500


def price_pointed(cars: list, slots: dict[str, object]) -> list:
    """The cars a price said points at ("la de 238 mil" is the one at $238,999)."""
    price = slots.get("price_max")
    if not isinstance(price, int | float) or "price_min" in slots:
        return []
    named = {key: value for key, value in slots.items() if key in NAMING}
    margin = max(PRICE_POINT[0], PRICE_POINT[1] * price)
    if price % 1000:  # "el de 249,999" said to the peso: that price, not one $2,000 off
        margin = PRICE_POINT_EXACT

    def priced(traits: dict[str, object]) -> list:
        return [
            car for car in cars if car_matches(car, traits) and abs(car.price - price) <= margin
        ]

    found = priced(named)
    if not found and "body_type" in named:  # "el de 249 mil, el hatchback": a Rio filed as a
        found = priced({k: v for k, v in named.items() if k != "body_type"})  # sedan: the price
    return found  # names it, the body word is the customer's


KM_POINT = (1000, 0.03)  # km said point at a car within 1,000 km or 3% of its odometer


def km_pointed(cars: list, slots: dict[str, object]) -> list:
    """The cars the km said point at ("el rio de 19 mil km" is the one with 19,000 km)."""
    km = slots.get("km_max")
    if not isinstance(km, int | float):
        return []
    named = {key: value for key, value in slots.items() if key in NAMING}
    margin = max(KM_POINT[0], KM_POINT[1] * km)
    return [car for car in cars if car_matches(car, named) and abs(car.km - km) <= margin]


def _year_said(slots: dict[str, object]) -> bool:
    """A year that can point at a listed car: "la del 2019" (a floor, "2019 en adelante", is a
    search criterion)."""
    return slots.get("year_min") is not None and slots.get("year_max") is not None


def _points(slots: dict[str, object]) -> bool:
    return any(slots.get(key) is not None for key in NAMING)


def _names_the_car(slots: dict[str, object]) -> bool:
    return any(slots.get(key) for key in ("make", "model"))


def _criteria_beyond(slots: dict[str, object], allowed: tuple[str, ...]) -> bool:
    """Search criteria besides the ones that point at a car ("el de menos km a 5 años" points)."""
    return any(key not in allowed and key in SEARCH_CRITERIA for key in slots)


def listed_matches(slots: dict[str, object], context: DialogContext) -> list[ShownCar]:
    """The cars on screen the slots name."""
    return [car for car in context.shown if car_matches(car, slots)]


def car_matches(car: ShownCar, slots: dict[str, object]) -> bool:
    """The car is the one named: same make/model, its year within the years said."""
    make, model = slots.get("make"), slots.get("model")
    if model and fold(car.model) != fold(str(model)):
        return False
    if make and fold(car.make) != fold(str(make)):
        return False
    for trait in ("body_type", "transmission", "fuel"):
        wanted = slots.get(trait)
        if wanted and getattr(car, trait) != wanted:
            return False
    seats = slots.get("seats_min")
    if seats is not None and car.seats < int(seats):  # type: ignore[call-overload]
        return False
    low, high = slots.get("year_min"), slots.get("year_max")
    if low is not None and car.year < int(low):  # type: ignore[arg-type]
        return False
    return high is None or car.year <= int(high)  # type: ignore[arg-type]


def _about_focus(slots: dict[str, object], context: DialogContext) -> bool:
    """No car named, or the car named is the one in focus."""
    if not slots.get("make") and not slots.get("model"):
        return True
    return context.focus is not None and car_matches(context.focus, slots)


MONEY = ("monthly_budget", "down_payment", "price_max", "price_min")
SAME_SIZE = 5.0  # an amount within 5x of the last one said is the same kind of amount
DOWN_AGAIN = 2.0  # an amount within 2x of the down payment just talked about is that one again


def _same_amount_pointed(
    reading: Reading, slots: dict[str, object], context: DialogContext
) -> None:
    """ "¿a 4 años con esos 6 mil, cuánto enganche ocupo?" after "6 mil al mes": the amount said
    before, pointed at again ("esos", "los mismos"), keeps its kind."""
    said = [key for key in MONEY if key in slots]
    if context.last_money is None or len(said) != 1 or POINTED_AMOUNT not in reading.said:
        return
    kind, last = context.last_money
    if said[0] != kind and float(slots[said[0]]) == last:  # type: ignore[arg-type]
        slots[kind] = slots.pop(said[0])


POINTED_AMOUNT = "context:pointed_amount"


def _same_money(slots: dict[str, object], context: DialogContext) -> None:
    """ "¿Me alcanza con 6 mil al mes?" ... "¿y con 2 mil?": the bare amount is monthly too."""
    said = [key for key in MONEY if key in slots]
    if context.last_money is None or len(said) != 1 or said[0] == context.last_money[0]:
        return
    kind, last = context.last_money
    value = float(slots[said[0]])  # type: ignore[arg-type]
    if said[0] == "price_max" and last / SAME_SIZE <= value <= last * SAME_SIZE:
        slots[kind] = slots.pop(said[0])  # (a floor is never bare: "¿y arriba de 400?" after
        # "de menos de 400 mil" is a floor, not that ceiling again)


INSTEAD = "context:instead"
SAME_DETAIL = "context:same_detail"


def _replaced_money(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "y si en vez de 30 son 45 mil?" after a plan with 30 mil down: the amount said replaces
    the one it names (the last amount, said again bare or whole), so it is of the same kind."""
    said = [key for key in MONEY if key in slots]
    if context.last_money is None or len(said) != 1 or said[0] == context.last_money[0]:
        return False
    kind, last = context.last_money
    named = [*reading.bare_numbers, *reading.article_numbers, *reading.replaced]
    if kind not in MONEY or not any(number in (last, last / 1000) for number in named):
        return False
    slots[kind] = slots.pop(said[0])
    return True


FINANCING_SLOTS = ("down_payment", "down_payment_pct", "term_months")


PICK_WORDS = 4  # "el 14 porfa": a short message


def _step_from_focus(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "¿y el siguiente?", "el de arriba" with a listed car in focus: the car next to it."""
    step = (
        1 if "position:next" in reading.said else -1 if "position:previous" in reading.said else 0
    )
    if not step or "ordinal" in slots or context.focus is None:
        return False
    ids = [car.stock_id for car in context.shown]
    if context.focus.stock_id not in ids:
        return False
    index = ids.index(context.focus.stock_id) + step
    if not 0 <= index < len(ids):
        return False
    slots["ordinal"] = index + 1
    return True


def _long_list_pick(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "el 14" with 15 cars shown: a position past 10 (the numbers read as picks by themselves)
    still points at a car when the list is that long; "la del 14" stays a year."""
    if "ordinal" in slots or len(context.shown) <= ORDINAL_HIGHEST or reading.words > PICK_WORDS:
        return False
    if "number:year_article" in reading.said or slots.keys() - {"year_min", "year_max"}:
        return False
    numbers = reading.article_numbers or reading.bare_numbers
    if len(numbers) != 1 or not ORDINAL_HIGHEST < numbers[0] <= len(context.shown):
        return False
    slots.pop("year_min", None), slots.pop("year_max", None)
    slots["ordinal"] = int(numbers[0])
    return True


def _short_year(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "ese, el del 23" with a 2023 car listed: a two-digit year that points at a shown car."""
    if "year_min" in slots or "year_max" in slots or "ordinal" in slots:
        return False
    shown_years = {car.year for car in context.shown}
    for number in reading.article_numbers:
        year = 2000 + number
        if 0 <= number <= 99 and year in shown_years:
            slots["year_min"] = slots["year_max"] = year
            return True
    return False


JUDGED = "context:judged"  # "¿es mucho?", "¿aguanta?": an opinion of a figure said
OPEN_ASKED = "context:open"  # "¿están abiertos?": the branches' hours asked


NO_SECOND = "none"  # a context rule's answer that nothing else was asked
ADDED = "context:added"
DIFFERENCE = "money:difference"  # a difference or a leftover said ("la diferencia", "sobran")
PLURAL_PICK = "context:plural_pick"  # "los de menos km": several cars in an order, no pick
PLURAL_KIND = "context:plural_kind"  # a kind said in plural ("automáticos"): many cars, a search


def _added_to_down(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "¿y si le agrego 50 mil en efectivo aparte del sentra?" after a plan with 120 mil down:
    the down payment is now 170 mil (never a price ceiling of 50 mil)."""
    last = context.last_money
    if ADDED not in reading.said or not last or last[0] != "down_payment":
        return False
    amounts = [key for key in ("price_max", "down_payment", "monthly_budget") if key in slots]
    if len(amounts) != 1:
        return False
    added = slots[amounts[0]]
    if not isinstance(added, int | float):
        return False
    del slots[amounts[0]]
    slots.pop("price_min", None)
    slots["down_payment"] = last[1] + added
    return True


def _km_judged(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "la toyota ya trae casi 100 mil km, ¿es mucho?": the km of a car judged, no wish for
    cars with fewer."""
    if JUDGED not in reading.said or "km_max" not in slots or "context:search" in reading.said:
        return False
    if reading.km_bound:  # "uy, muchos km. ¿algo con menos de 60 mil km?": cars with fewer
        return False
    if not (context.shown or context.focus is not None or _names_the_car(slots)):
        return False
    del slots["km_max"]
    return True


def _pick_is_a_percent(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "el 10 entonces" right after a plan, when no 10th car was shown: the 10 percent down;
    "con el 30" too, which read alone would be an amount, and in a message that asks for a plan
    by its term ("va la x1, a 6 años con el 30")."""
    # a term said beside it asks a plan, whatever the message was read as ("ponle el 10
    # entonces, y a 6 años" with the car chosen)
    plan_wish = reading.label == FINANCING or context.focus is not None
    # "lo puedo pagar a 6 años con el 10?" with 5 cars listed: no 10th car, the 10 percent
    beyond = isinstance(slots.get("ordinal"), int) and slots["ordinal"] > len(context.shown)
    plan_asked = "term_months" in slots and (plan_wish or beyond)
    if not plan_asked and (context.last_label != FINANCING or context.focus is None):
        return False
    bare = reading.bare_number
    low, high = PICK_AS_PERCENT
    if "number:article" in reading.said and bare is not None and low <= bare <= high:
        slots[FINANCING_SLOTS[1]] = float(bare)  # "el 30"
        return True
    pct_said = FINANCING_SLOTS[1] in slots  # "enganche del 20 por ciento": already a percent
    if "number:article" in reading.said and "ordinal" not in slots and not pct_said:
        amounts = [key for key in ("price_max", "monthly_budget") if key in slots]
        value = slots.get(amounts[0]) if len(amounts) == 1 else None
        number = value / 1000 if value else None
        # "del 18 … con los 80 mil": the article's number was a year, not this amount's
        said_so = number in reading.article_numbers or "number:year_article" not in reading.said
        in_range = (
            isinstance(number, int | float) and PICK_AS_PERCENT[0] <= number <= PICK_AS_PERCENT[1]
        )
        if said_so and in_range:
            del slots[amounts[0]]
            slots[FINANCING_SLOTS[1]] = float(number)
            return True
    number = slots.get("ordinal")
    if not isinstance(number, int):
        return False
    low, high = PICK_AS_PERCENT
    if number <= len(context.shown) or not low <= number <= high or FINANCING_SLOTS[1] in slots:
        return False
    slots[FINANCING_SLOTS[1]] = float(slots.pop("ordinal"))
    return True


def _percent_and_term(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "30 a 6" or "el 30 a 6 años" right after a plan of the car in focus: 30% down, 6 years."""
    if context.last_label != FINANCING or context.focus is None:
        return False
    if any(key in slots for key in (*FINANCING_SLOTS[:2], "monthly_budget", "price_max")):
        return False
    low, high = PICK_AS_PERCENT
    numbers = [*reading.article_numbers, *reading.bare_numbers]
    refused = "context:negation" in reading.said and len(numbers) == 2  # "ya te dije q 6 no.
    asked = refused and 1 <= numbers[1] <= MAX_TERM_YEARS and float(numbers[1]).is_integer()
    if asked and "term_months" not in slots:  # ¿y a 5?": the 6 refused, 5 years asked
        slots["term_months"] = int(numbers[1]) * 12
        return True
    if "term_months" not in slots and len(numbers) == 2 and 1 <= numbers[1] <= MAX_TERM_YEARS:
        percent, years = numbers
        if low <= percent <= high and float(years).is_integer():
            slots[FINANCING_SLOTS[1]], slots["term_months"] = float(percent), int(years) * 12
            return True
    pointed = reading.article_numbers  # "el 30 a 6 años"; "en 5 años en vez de 6" is no percent
    if "term_months" in slots and len(pointed) == 1 and low <= pointed[0] <= high:
        slots[FINANCING_SLOTS[1]] = float(pointed[0])
        return True
    return False


def _bare_same_money(reading: Reading, slots: dict[str, object], context: DialogContext) -> None:
    """A bare number the size of the last amount in thousands is another such amount: "¿me
    alcanza con 6 mil al mes?" ... "¿y con 5?" is 5 mil a month."""
    last, bare = context.last_money, reading.bare_number
    if last is None or bare is None or any(key in slots for key in MONEY):
        return
    if "number:after_a" in reading.said:
        return  # "¿y a 72?" after "con 100 mil": 72 months, not 72 mil
    if "term_months" in slots and 1 <= bare <= MAX_TERM_YEARS:
        return  # "¿y en 5 años en vez de 6?": the 6 is the term it replaces, not 6 mil
    kind, value = last
    if kind in MONEY and value >= 1000 and value / SAME_SIZE <= bare * 1000 <= value * SAME_SIZE:
        slots[kind] = bare * 1000


def _same_amount_again(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """An amount the conversation holds said again as a bare number ("se pasa de mis 4500"
    after "puedo pagar 4500 al mes") is that amount again, of the same kind."""
    bare = reading.bare_number
    if bare is None or bare < 1000 or any(key in slots for key in MONEY):
        return False
    held = [context.last_money] if context.last_money else []
    held += list(context.amounts.items())
    kind = next((kind for kind, value in held if kind in MONEY and value == bare), None)
    if kind is None:
        return False
    slots[kind] = bare
    return True


def _bare_after_percent(reading: Reading, slots: dict[str, object], context: DialogContext) -> None:
    """ "¿y con 30?" right after a plan with 20% down: 30 percent, not 30 mil nor a budget."""
    last = context.last_money
    if last is None or last[0] != FINANCING_SLOTS[1] or "money:bare" not in reading.said:
        return
    said = [key for key in ("price_max", "down_payment") if key in slots]
    value = slots.get(said[0]) if len(said) == 1 else None
    low, high = PICK_AS_PERCENT
    if isinstance(value, int | float) and low <= value / 1000 <= high:
        del slots[said[0]]
        slots[FINANCING_SLOTS[1]] = value / 1000


def _small_price_is_monthly(
    reading: Reading, slots: dict[str, object], context: DialogContext, settings: ContextSettings
) -> None:
    """ "con 50 mil de enganche, ¿a cuántos meses me queda en 5 mil?": no car costs 5 mil, and
    the talk is of financing, so it is a monthly payment."""
    price, low = slots.get("price_max"), slots.get("price_min")
    if not isinstance(price, int | float) or price > settings.monthly_max:
        return
    if DIFFERENCE in reading.said:  # "los 18 mil que sobran, ¿me los dan?": what is left over
        del slots["price_max"]  # after their car, no monthly payment
        slots.pop("price_min", None)
        return
    if JUDGED in reading.said and not reading.price_bound and low is None:
        del slots["price_max"]  # "no manches, 8 mil es mucho, ¿a 6 años?": the payment judged
        return
    financing = any(key in slots for key in FINANCING_SLOTS)
    monthly_before = bool(context.last_money) and context.last_money[0] == "monthly_budget"
    plans = reading.label == "financing" or context.last_label == "financing" or monthly_before
    # "unos 3 mil al mes? de enganche casi, como 15 mil": the monthly payment was said, and "a 3
    # años con mis 30 mil" is paid in beside a term: an amount no car costs is put down
    # "¿cuánto me queda al mes con los 25 mil?": asked for the monthly payment, the amount
    # after "con" is paid in, not the monthly payment
    asked = "context:question" in reading.said
    paid_in = "money:con" in reading.said and ("term_months" in slots or asked)
    # "no tengo para el enganche del 10, ¿puedo dar menos? como 10 mil": what they can put down
    short = SHORT_DOWN in reading.said
    if short:
        slots.pop("down_payment_pct", None)  # the 10% they are short of, not the plan's
    down = "monthly_budget" in slots or paid_in or short
    # "tengo unos diez mil de enganche" ... "ya te dije, diez mil": the talk was of the down
    # payment, and an amount of its size is that down payment again, not a monthly payment
    last = context.last_money
    down_before = last is not None and last[0] == "down_payment" and not monthly_before
    down_size = down_before and last[1] / DOWN_AGAIN <= price <= last[1] * DOWN_AGAIN
    if (financing or plans) and (down or down_size) and "down_payment" not in slots:
        slots["down_payment"] = slots.pop("price_max")
        slots.pop("price_min", None)
    elif financing or plans:  # "enséñame camionetas que me queden en 6 mil" after 6 mil al mes
        slots["monthly_budget"] = slots.pop("price_max")
        if isinstance(low, int | float):  # "que me queden en 6 mil": about 6 mil a month
            slots["monthly_budget"] = round((slots.pop("price_min") + price) / 2)


def _said_of_the_call(
    label: str | None, slots: dict[str, object], settings: ContextSettings
) -> bool:
    """A label whose words a contact time shares, with a contact time said: the call's time."""
    return label in settings.time_labels and "contact_time" in slots


def _amount_of_the_plan(
    reading: Reading, slots: dict[str, object], context: DialogContext, settings: ContextSettings
) -> bool:
    """ "me quedo con la opción de 150 mil a 6 años" after the plans of the car in focus: an
    amount below its price said with a term is the down payment, not a ceiling."""
    ceiling, focus = slots.get("price_max"), context.focus
    if focus is None or context.last_label != FINANCING or "down_payment" in slots:
        return False
    own = bool(slots.get("own_car"))  # "son 100 mil en total: 60 del tsuru + 40 míos"
    if not isinstance(ceiling, int | float) or not ("term_months" in slots or own):
        return False
    if "money:bare" in reading.said or ceiling <= settings.monthly_max:
        return False  # "¿y a 5 años con el 20?" a percent; "8 mil es mucho" a monthly payment
    if slots.get("make") or slots.get("model") or not 0 < ceiling < focus.price:
        return False
    slots["down_payment"] = slots.pop("price_max")
    return True


def _term_after_plan(reading: Reading, slots: dict[str, object], context: DialogContext) -> bool:
    """ "a 6" right after a plan, whatever else the message says (a name and phone for the
    advisor): the plan's term, in years (or months), the one plan the advisor gets."""
    if context.last_label != FINANCING or context.focus is None or "term_months" in slots:
        return False
    if "number:after_a" not in reading.said or any(key in slots for key in MONEY):
        return False
    if len(reading.bare_numbers) != 1:
        return False
    term = _bare_term(replace(reading, bare_number=reading.bare_numbers[0]), ["term_months"])
    if term is None:
        return False
    slots["term_months"] = term
    return True


def _bare_term(reading: Reading, carried: list[str]) -> int | None:
    """A bare number after a plan is a term: years up to MAX_TERM_YEARS, else months."""
    value = reading.bare_number
    if value is None or "term_months" not in carried or value != int(value):
        return None
    if 1 <= value <= MAX_TERM_YEARS:
        return int(value) * 12
    if 12 <= value <= MAX_TERM_MONTHS and value % 6 == 0:
        return int(value)
    return None


def _asked_words(reading: Reading) -> int:
    """The size of a follow-up: its first sentence ("¿y con diez mil? esq no juntamos más" is
    "¿y con diez mil?" and the reason for it)."""
    return reading.first_words or reading.words


def _follow_up(
    reading: Reading, slots: dict[str, object], context: DialogContext, settings: ContextSettings
) -> tuple[str, str | None] | None:
    last = context.last_label
    if (
        "context:follow_up" in reading.said
        and _asked_words(reading) <= settings.max_follow_up_words
    ):
        _same_money(slots, context)
    carried = settings.carry.get(last or "")
    too_long = _asked_words(reading) > settings.max_follow_up_words and not reading.weak
    if not last or carried is None or too_long:
        return None
    more = {"context:more", "context:other"} & reading.said  # "muéstrame los otros 5": a page
    term = None if more else _bare_term(reading, carried)
    if term is not None:
        slots["term_months"] = term  # "¿y a 5?" after a plan: 5 years
        return last, None
    weak = reading.stage != "rule" or reading.by_slots_only or reading.weak
    if more and context.shown and not slots and reading.stage != "rule":
        return SEARCH, None  # "más": the next cars of the search shown
    if not weak or reading.label == last:
        return None
    if slots and set(slots) <= set(carried):
        return last, None
    if not slots and "context:follow_up" in reading.said and reading.stage == "none":
        return last, None
    return None
