"""What the engine runs on (configuration + services), built from files and hot-reloaded safely.

A reload builds a whole new bundle first and swaps it in only if everything validated; a broken
edit keeps the last good bundle serving and the error is kept for /admin/reload and the logs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import dialog.handlers  # noqa: F401 - registers the handlers the YAML names
from dialog.config import DialogConfig, check_intents_routed, load_dialog_config, load_i18n
from dialog.services import Services
from nlu.intents import IntentClassifier
from nlu.labels import check_examples as check_examples_of
from nlu.labels import load_labels
from nlu.lexicon import Lexicon
from nlu.pipeline import Extractor, blank_spanish
from nlu.vehicles import VehicleVocabulary
from tools.catalog import Catalog, CatalogError, load_catalog
from tools.financing import load_financing_config
from tools.knowledge import KnowledgeBase, sections_marked
from tools.yamlio import YamlError, line_at, raise_problems

log = logging.getLogger("dialog.runtime")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RuntimePaths:
    """The files a bundle is built from; each can be pointed elsewhere (tests, CATALOG_PATH)."""

    config_dir: Path = ROOT / "config"
    catalog: Path = ROOT / "data" / "catalog.csv"
    knowledge: Path = ROOT / "data" / "knowledge.yml"

    def watched(self) -> list[Path]:
        names = ("dialog.yml", "intents.yml", "financing.yml")
        return [self.config_dir / name for name in names] + [self.knowledge, self.catalog]


@dataclass(frozen=True)
class Bundle:
    config: DialogConfig
    services: Services
    catalog_mtime: float = 0.0


@dataclass
class ReloadReport:
    ok: bool
    error: str = ""
    reloaded_at: float = field(default_factory=time.time)


def build_bundle(
    paths: RuntimePaths, llm=None, previous: Bundle | None = None, check_examples: bool = True
) -> Bundle:
    """Load and validate everything; raises YamlError/CatalogError naming the file and line
    (every problem of the intents and topics at once, with `check_examples` each YAML example
    read back through the NLU)."""
    catalog, catalog_mtime = _catalog(paths, previous)
    nlp = previous.services.extractor.nlp if previous else None
    config = load_dialog_config(paths.config_dir / "dialog.yml", i18n=False)
    knowledge = KnowledgeBase.load(paths.knowledge)
    labels = load_labels(paths.config_dir / "intents.yml", paths.knowledge)
    extractor = Extractor(
        nlp or blank_spanish(),
        VehicleVocabulary.build(catalog, Lexicon.load()),
        Lexicon.load(),
        IntentClassifier(labels.labels, labels.settings),
        labels.context,
        phrase_sets={**config.phrase_sets(), **knowledge.phrase_sets()},
        before_search=sections_marked(knowledge.data.entries, "before_search"),
        pattern_sets=knowledge.pattern_sets(),
        asked_beside=sections_marked(knowledge.data.entries, "asked_beside"),
    )
    check_intents_routed(
        config, {label.intent for label in labels.labels}, set(extractor.classifier.labels)
    )
    config.i18n = load_i18n(config)  # after the routes were checked against the intents
    _check_pack_topics(config, knowledge)
    _check_with_car(paths.knowledge, knowledge)
    if check_examples:
        raise_problems(check_examples_of(extractor, labels, catalog))
    services = Services(
        catalog=catalog,
        extractor=extractor,
        knowledge=knowledge,
        financing=load_financing_config(paths.config_dir / "financing.yml"),
        llm=llm,
    )
    if llm is not None:  # the grounding guard knows every make and model the NLU knows
        from tools.llm import LLMLimits

        llm.set_vocabulary(extractor.names)
        llm.configure(LLMLimits(**config.llm.model_dump(include=set(LLMLimits.model_fields))))
    return Bundle(config=config, services=services, catalog_mtime=catalog_mtime)


def _check_pack_topics(config: DialogConfig, knowledge: KnowledgeBase) -> None:
    """A language pack's `knowledge_answers` name topics and sections of data/knowledge.yml."""
    for language, pack in config.i18n.items():
        file = Path(config.source).parent / "i18n" / f"{language}.yml"
        for topic, entry in (pack.get("knowledge_answers") or {}).items():
            known = knowledge.entries.get(topic)
            if known is None:
                raise YamlError(file, f"'{topic}' is not a topic of data/knowledge.yml; known: "
                                f"{', '.join(sorted(knowledge.entries))}",
                                line_at(pack, ("knowledge_answers", topic)))  # fmt: skip
            names = {section.name for section in known.sections}
            names |= {  # a window's answers: "Devolución:within", "Devolución:km_past"
                f"{section.name}:{side}"
                for section in known.sections
                if section.window is not None
                for side in section.window.sides()
            }
            for section in (entry or {}).get("sections") or {}:
                if section not in names:
                    where = ("knowledge_answers", topic, "sections", section)
                    message = f"'{section}' is not a section of topic '{topic}'; known: "
                    raise YamlError(file, message + ", ".join(sorted(names)), line_at(pack, where))


def _check_with_car(path: Path, knowledge: KnowledgeBase) -> None:
    """A topic's `with_car` uses only the chosen car's placeholders ({title}, {price}...)."""
    from dialog.cars import CAR_PLACEHOLDERS
    from dialog.render import placeholders_of
    from tools.knowledge import load_knowledge_file

    for topic, entry in knowledge.entries.items():
        unknown = placeholders_of(entry.with_car) - CAR_PLACEHOLDERS if entry.with_car else set()
        if unknown:
            _, raw = load_knowledge_file(path)
            index = next(i for i, e in enumerate(raw["entries"]) if e.get("topic") == topic)
            names = ", ".join("{" + name + "}" for name in sorted(unknown))
            known = ", ".join(sorted(CAR_PLACEHOLDERS))
            message = f"with_car of '{topic}' uses {names}; a car has {known}"
            raise YamlError(path, message, line_at(raw, ("entries", index, "with_car")))


def _catalog(paths: RuntimePaths, previous: Bundle | None) -> tuple[Catalog, float]:
    mtime = _mtime(paths.catalog)
    if previous is not None and previous.catalog_mtime == mtime:
        return previous.services.catalog, mtime
    return load_catalog(paths.catalog), mtime


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


class Runtime:
    """Holds the current bundle; reloads it on demand or when a watched file changes."""

    def __init__(self, paths: RuntimePaths | None = None, llm=None, check_every: float = 2.0):
        self.paths = paths or RuntimePaths()
        self.llm = llm
        self.check_every = check_every
        self._lock = threading.Lock()
        self._bundle = build_bundle(self.paths, llm)
        self._stamps = self._read_stamps()
        self._next_check = time.monotonic() + check_every
        self.last_report = ReloadReport(ok=True)

    @property
    def current(self) -> Bundle:
        return self._bundle

    def reload(self) -> ReloadReport:
        """Rebuild from the files; keep serving the last good bundle if anything is wrong."""
        with self._lock:
            stamps = self._read_stamps()
            try:
                bundle = build_bundle(self.paths, self.llm, previous=self._bundle)
            except (YamlError, CatalogError) as error:
                log.error("configuration reload failed, keeping the last good one: %s", error)
                self.last_report = ReloadReport(ok=False, error=str(error))
            else:
                self._bundle = bundle
                self.last_report = ReloadReport(ok=True)
                log.info("configuration reloaded")
            self._stamps = stamps
            return self.last_report

    def reload_if_changed(self) -> ReloadReport | None:
        """Cheap check (a few stat calls, at most every `check_every` seconds)."""
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + self.check_every
        if self._read_stamps() == self._stamps:
            return None
        return self.reload()

    def _read_stamps(self) -> tuple[float, ...]:
        return tuple(_mtime(path) for path in self.paths.watched())
