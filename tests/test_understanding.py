"""How well the assistant understands customers it was never tuned for, and how the YAML that
teaches it is checked: blind sets, leave-one-out over the examples, the validator's messages."""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dialog.runtime import RuntimePaths, build_bundle
from nlu.evaluation import evaluate, leave_one_out, load_cases
from nlu.examples import Concepts
from nlu.pipeline import Extractor
from nlu.text import fold
from tests.conftest import ROOT
from tools.catalog import load_catalog
from tools.yamlio import YamlError

# The figures reached on each blind set (data/nlu_blind*.yml, written by people who never read
# the rules); the suite keeps them from going down. The files themselves are never edited.
BLIND_FLOORS = {
    "nlu_blind.yml": {"intent": 0.98, "topic": 0.92, "slots": 0.98},
    "nlu_blind2.yml": {"intent": 0.95, "topic": 0.97, "slots": 0.97},
}
# slots a set's writer could not label: the schema gained them after the set was written
NEWER_SLOTS = {
    "nlu_blind.yml": ("contact_time", "seats_min", "own_car", "drive", "size"),
    "nlu_blind2.yml": ("drive", "size"),
}
LOO_FLOOR = 0.95


@cache
def _bundled():
    catalog = load_catalog()
    return catalog, Extractor.build(catalog)


@pytest.mark.parametrize("name", sorted(BLIND_FLOORS))
def test_blind_sets_stay_at_or_above_their_figures(name):
    catalog, extractor = _bundled()
    report = evaluate(extractor, load_cases(ROOT / "data" / name), catalog, NEWER_SLOTS[name])
    floors = BLIND_FLOORS[name]
    assert report.accuracy("intent") >= floors["intent"]
    assert report.accuracy("topic") >= floors["topic"]
    assert report.slot_micro_f1() >= floors["slots"]


def test_leave_one_out_over_the_yaml_examples():
    catalog, extractor = _bundled()
    accuracy, total, _ = leave_one_out(extractor, catalog)
    assert total >= 1100 and accuracy >= LOO_FLOOR


def test_concepts_read_slang_and_english_as_the_spanish_word():
    concepts = Concepts.load()
    assert concepts.meaning("naves") == concepts.meaning("carro") == concepts.meaning("cars")
    assert concepts.meaning("inspected") == concepts.meaning("revision")
    assert concepts.meaning("caro") != concepts.meaning("car")  # Spanish stems, English words


def test_a_word_under_two_concepts_is_reported_with_its_line(tmp_path: Path):
    path = tmp_path / "concepts.yml"
    path.write_text(
        "concepts:\n  auto:\n    es: [carro, nave]\n  dinero:\n    es: [lana, naves]\n",
        encoding="utf-8",
    )
    with pytest.raises(YamlError) as caught:
        Concepts.load(path)
    assert "concepts.yml:5" in str(caught.value) and "'naves'" in str(caught.value)


def test_grammar_words_are_data_read_with_their_line(tmp_path: Path):
    """data/nlu/grammar.yml: an unquoted `no` (YAML reads it as false) or a missing set stops
    start-up with the file and line, not a traceback deep in a rule."""
    from nlu.grammar import GRAMMAR, GRAMMAR_FILE, load_grammar

    assert {"no", "nel"} <= GRAMMAR.denials and "?" in GRAMMAR.clause_breaks
    assert "con los" in GRAMMAR.money_paid_in  # phrases kept as folded phrases
    text = GRAMMAR_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "grammar.yml"
    broken.write_text(text.replace('denials: ["no",', "denials: [no,"), encoding="utf-8")
    with pytest.raises(YamlError) as caught:
        load_grammar(broken)
    line = 1 + text[: text.index("denials:")].count("\n")
    assert caught.value.line == line and "denials" in str(caught.value)
    broken.write_text(text.replace("denials:", "denyals:"), encoding="utf-8")
    with pytest.raises(YamlError, match="denials"):
        load_grammar(broken)


@pytest.fixture
def yaml_copy(tmp_path: Path) -> RuntimePaths:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copy(ROOT / "data" / "knowledge.yml", tmp_path / "knowledge.yml")
    return RuntimePaths(config_dir=tmp_path / "config", knowledge=tmp_path / "knowledge.yml")


def _line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _errors(paths: RuntimePaths) -> str:
    with pytest.raises(YamlError) as caught:
        build_bundle(paths)
    return str(caught.value)


def test_an_faq_is_one_entry_in_one_file(yaml_copy):
    """A business user adds a topic with its answer and examples; it is understood at once."""
    with yaml_copy.knowledge.open("a", encoding="utf-8") as knowledge:
        knowledge.write(
            "\n  - topic: pets\n    title: Mascotas\n"
            '    answer: "Puedes traer a tu mascota a la prueba de manejo 🐶"\n'
            "    phrases: [mascota, mascotas, perro, perrito]\n"
            '    examples: ["¿puedo llevar a mi perro?", "¿aceptan mascotas?",\n'
            '      "voy con mi perrito a ver el auto", "¿dejan entrar mascotas?",\n'
            '      "mi mascota puede ir a la prueba?"]\n'
        )
    bundle = build_bundle(yaml_copy)
    extraction = bundle.services.extractor.extract("¿puedo ir con mi perro a ver el coche?")
    assert (extraction.intent, extraction.topic) == ("knowledge", "pets")
    assert "mascota" in bundle.services.knowledge.answer("pets").text


def test_too_few_examples_name_the_file_and_line(yaml_copy):
    path = yaml_copy.knowledge
    text = path.read_text(encoding="utf-8")
    start = text.index("  - topic: kavak_total")
    examples = text.index("    examples:", start)
    end = text.index("    not_examples:", examples)
    path.write_text(text[:examples] + '    examples: ["¿qué es Kavak Total?"]\n' + text[end:])
    message = _errors(yaml_copy)
    line = _line_of(path, '    examples: ["¿qué es Kavak Total?"]')
    assert f"knowledge.yml:{line}" in message and "E101" in message


def test_the_same_phrase_under_two_labels_is_reported(yaml_copy):
    _replace(
        yaml_copy.config_dir / "intents.yml", "phrases: [gracias,", "phrases: [garantia, gracias,"
    )
    message = _errors(yaml_copy)
    assert "E102 phrase 'garantia'" in message and "'thanks'" in message
    assert "knowledge.yml:" in message or "intents.yml:" in message


def test_a_classifier_setting_naming_no_label_is_reported(yaml_copy):
    path = yaml_copy.config_dir / "intents.yml"
    _replace(
        path, "absorbed_with_car: {knowledge/payment_plans:", "absorbed_with_car: {knowledge/plans:"
    )
    message = _errors(yaml_copy)
    line = _line_of(path, "  absorbed_with_car: {knowledge/plans: financing}")
    assert f"intents.yml:{line}" in message and "E104" in message and "knowledge/plans" in message


def test_an_example_read_as_another_label_is_reported(yaml_copy):
    path = yaml_copy.knowledge
    text = path.read_text(encoding="utf-8")
    start = text.index("  - topic: locations")
    examples = text.index("    examples:\n", start) + len("    examples:\n")
    item = " " * text[examples:].index("-") + '- "quiero hablar con un asesor"\n'
    path.write_text(text[:examples] + item + text[examples:])
    message = _errors(yaml_copy)
    line = _line_of(path, '- "quiero hablar con un asesor"')
    assert f"knowledge.yml:{line}" in message and "E103" in message and "human_agent" in message


def test_an_intent_without_a_route_and_a_route_without_an_intent(yaml_copy):
    dialog_yml = yaml_copy.config_dir / "dialog.yml"
    _replace(
        dialog_yml,
        "  inform:\n    handler: handoff.update",
        "  informs:\n    handler: handoff.update",
    )
    message = _errors(yaml_copy)
    assert "E201 route for intent 'informs'" in message
    assert "E202 intent 'inform' of config/intents.yml has no route" in message
    assert f"dialog.yml:{_line_of(dialog_yml, '  informs:')}" in message


def test_an_open_question_answer_that_names_no_label(yaml_copy):
    dialog_yml = yaml_copy.config_dir / "dialog.yml"
    _replace(dialog_yml, "  answers: [knowledge/locations,", "  answers: [knowledge/branches,")
    message = _errors(yaml_copy)
    assert "E205 open_questions.answers names unknown label 'knowledge/branches'" in message
    assert f"dialog.yml:{_line_of(dialog_yml, '  answers: [knowledge/branches,')}" in message


def test_cases_and_scripts_refuse_unknown_expect_keys(tmp_path: Path):
    cases = tmp_path / "cases.yml"
    cases.write_text('cases:\n  - {text: "hola", expect: {intnet: greet}}\n', encoding="utf-8")
    with pytest.raises(YamlError, match="unknown expect key") as caught:
        load_cases(cases)
    assert caught.value.line == 2
    from tests.test_conversations import EXPECT_KEYS

    scripts = yaml.safe_load((ROOT / "data" / "conversations.yml").read_text(encoding="utf-8"))
    for script in scripts:
        for turn in script["turns"]:
            assert set(turn.get("expect", {})) <= EXPECT_KEYS, (script["name"], turn)


def test_patterns_are_folded_but_keep_their_escapes():
    """Staff write `\\W`, `\\D` in intents.yml patterns; folding the pattern like the text must
    not turn them into `\\w`, `\\d` (the opposite class)."""
    from nlu.intents import fold_pattern

    pattern = re.compile(fold_pattern(r"^\W*Adiós\W+Señor\W*$"))
    assert pattern.search(fold("¡¡ adiós, señor!"))
    assert not pattern.search(fold("adiós, señor x"))


def test_a_message_splits_into_its_sentences_in_its_own_words():
    from nlu.text import sentences

    assert sentences("Se ve bien. ¿Trae CarPlay? y aceptan dólares?") == [
        "Se ve bien.",
        "¿Trae CarPlay?",
        "y aceptan dólares?",
    ]
    assert sentences("¿cabe en una cochera de 4.5 m?? ok...") == [
        "¿cabe en una cochera de 4.5 m?",
        "ok.",
    ]
    assert sentences("hola") == ["hola"]
    assert sentences(" ?! ... ") == []


@given(st.text(max_size=300).map(lambda text: text.replace("+", "")))
def test_sentences_keep_every_word_of_the_message(text):
    """(A "+" after a figure reads as "o más" even across a line break: "2020\n+".)"""
    from nlu.text import sentences, words

    assert [w for part in sentences(text) for w in words(part)] == words(text)
