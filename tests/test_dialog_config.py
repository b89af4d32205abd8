"""The dialog YAML as business staff use it: validation with file:line, new intents, hot reload."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialog.config import load_dialog_config
from dialog.engine import Engine
from dialog.runtime import Runtime, RuntimePaths
from dialog.store import MemoryStore
from tools.yamlio import YamlError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def test_shipped_configuration_is_valid():
    config = load_dialog_config(ROOT / "config" / "dialog.yml")
    assert {"search_cars", "financing", "knowledge", "fallback"} <= set(config.routes)


def test_shipped_language_packs_translate_every_route_template():
    """An untranslated template answers an English customer with a Spanish line ("La más
    cercana a Polanco" in an English conversation)."""
    config = load_dialog_config(ROOT / "config" / "dialog.yml")
    for language, pack in config.i18n.items():
        missing = [
            f"{name}.{template}"
            for name, route in config.routes.items()
            for template in route.templates
            if template not in (pack.get(name) or {})
        ]
        assert not missing, f"{language} lacks {missing}"


def test_shipped_language_packs_translate_every_knowledge_answer():
    """A section left untranslated answers an English question with the topic's general text
    ("Can we test drive it on Saturday?" got the whole buying process)."""
    from tools.knowledge import KnowledgeBase

    config = load_dialog_config(ROOT / "config" / "dialog.yml")
    knowledge = KnowledgeBase.load(ROOT / "data" / "knowledge.yml")
    for language, pack in config.i18n.items():
        answers = pack.get("knowledge_answers") or {}
        for topic, entry in knowledge.entries.items():
            translated = answers.get(topic) or {}
            assert translated.get("answer"), f"{language}: topic {topic} has no answer"
            missing = {s.name for s in entry.sections} - set(translated.get("sections") or {})
            assert not missing, f"{language}: {topic} lacks sections {sorted(missing)}"


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [
        ("handler: catalog.select", "handler: catalog.pick", "catalog.pick", "unknown handler"),
        ("      nothing_shown:", "      nothing_shownx:", "nothing_shownx", "has no template"),
        (
            "Solo te mostré *{count}*",
            "Solo te mostré *{cuenta}*",
            "{cuenta}",
            "unknown placeholder",
        ),
        (
            "        fills: [make, model, body_type]",
            "        fills: [marca]",
            "fills: [marca]",
            "unknown slot",
        ),
        (
            "        fills: [name]",
            "        options: {}",
            "- id: name",
            "needs 'fills'",
        ),
    ],
)
def test_mistakes_name_file_line_and_field(config_copy, old, new, marker, message):
    dialog_yml = config_copy / "dialog.yml"
    _edit(dialog_yml, old, new)
    with pytest.raises(YamlError) as caught:
        load_dialog_config(dialog_yml)
    error = caught.value
    assert message in str(error)
    assert error.path == str(dialog_yml)
    assert error.line == _line_of(dialog_yml, marker)


def test_missing_required_template_is_reported(config_copy):
    dialog_yml = config_copy / "dialog.yml"
    text = dialog_yml.read_text(encoding="utf-8")
    start = text.index("      out_of_range:")
    end = text.index("\n", start)
    dialog_yml.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    with pytest.raises(YamlError, match="needs a template 'out_of_range'") as caught:
        load_dialog_config(dialog_yml)
    lines = dialog_yml.read_text(encoding="utf-8").splitlines()
    route = _line_of(dialog_yml, "  select_car:")
    templates = next(n for n in range(route, len(lines)) if lines[n].strip() == "templates:") + 1
    assert caught.value.line == templates


def test_tab_and_duplicate_key_are_reported_with_line(config_copy):
    dialog_yml = config_copy / "dialog.yml"
    _edit(dialog_yml, "results_limit: 5", "results_limit: 5\nresults_limit: 6")
    with pytest.raises(YamlError, match="duplicate key 'results_limit'") as caught:
        load_dialog_config(dialog_yml)
    assert caught.value.line == _line_of(dialog_yml, "results_limit: 5") + 1
    shutil.copy(ROOT / "config" / "dialog.yml", dialog_yml)
    _edit(dialog_yml, "  greet:\n    handler: reply", "  greet:\n\thandler: reply")
    with pytest.raises(YamlError, match="tab"):
        load_dialog_config(dialog_yml)


def test_validate_cli_prints_ok_or_the_error(config_copy):
    command = [sys.executable, "-m", "dialog", "validate"]
    good = subprocess.run(
        [*command, str(ROOT / "config")], capture_output=True, text=True, cwd=ROOT
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "ok"
    _edit(config_copy / "dialog.yml", "handler: catalog.details", "handler: nope")
    bad = subprocess.run([*command, str(config_copy)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    line = _line_of(config_copy / "dialog.yml", "handler: nope")
    assert f"dialog.yml:{line}" in bad.stderr and "unknown handler 'nope'" in bad.stderr


def test_staff_can_add_an_intent_without_python(config_copy):
    """A new intent (patterns in intents.yml, answer in dialog.yml) is recognised and answered."""
    intents_yml = config_copy / "intents.yml"
    text = intents_yml.read_text(encoding="utf-8")
    for phrase in ("seguro de auto, ", "aseguradora,", "el seguro, "):  # staff move them
        text = text.replace(phrase, "", 1)
    intents_yml.write_text(
        text
        + "\n  insurance:\n    priority: 85\n    phrases: [seguro de auto, aseguradora, póliza]\n"
        '    examples: ["¿tienen seguro de auto?", "¿con qué aseguradora trabajan?",\n'
        '      "¿la póliza va incluida?", "quiero cotizar el seguro de auto",\n'
        '      "¿me ayudan con la aseguradora?"]\n',
        encoding="utf-8",
    )
    with (config_copy / "dialog.yml").open("a", encoding="utf-8") as dialog_yml:
        dialog_yml.write(
            "\n  # added by staff\n"
            "  insurance:\n"
            "    handler: reply\n"
            "    templates:\n"
            '      default: "Todos nuestros autos pueden salir asegurados desde la agencia."\n'
        )
    _move_route_block_under_routes(config_copy / "dialog.yml")
    engine = Engine(Runtime(RuntimePaths(config_dir=config_copy)), MemoryStore())
    result = engine.handle("staff", "¿me ayudan con el seguro de auto?")
    assert result.intent == "insurance"
    assert "asegurados" in result.reply


def _move_route_block_under_routes(path: Path) -> None:
    """Appending put the route after `forms:`; move it back under `routes:` like staff would."""
    text = path.read_text(encoding="utf-8")
    marker = "\n  # added by staff\n"
    head, block = text.split(marker)
    head = head.replace("\nforms:\n", "\n" + block.rstrip() + "\n\nforms:\n", 1)
    path.write_text(head, encoding="utf-8")


def test_hot_reload_picks_up_edits_and_keeps_last_good(config_copy):
    runtime = Runtime(RuntimePaths(config_dir=config_copy), check_every=0)
    engine = Engine(runtime, MemoryStore())
    assert "Gracias por escribir a Kavak" in engine.handle("u", "adiós").reply
    dialog_yml = config_copy / "dialog.yml"
    time.sleep(0.01)
    _edit(dialog_yml, "¡Gracias por escribir a Kavak!", "¡Hasta pronto, gracias por escribir!")
    assert "Hasta pronto" in engine.handle("u", "adiós").reply
    _edit(dialog_yml, "handler: reply", "handler: broken.handler")
    reply = engine.handle("u", "adiós").reply
    assert "Hasta pronto" in reply  # the last good configuration keeps serving
    assert not runtime.last_report.ok
    assert "unknown handler 'broken.handler'" in runtime.last_report.error
