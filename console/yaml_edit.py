"""Edits of the staff YAML from the console: an example added to an intent or a knowledge topic,
a knowledge answer rewritten. Comments and layout stay as they were, the edit is checked by
building a whole bundle from a copy first, and the running bot is reloaded.

ruamel.yaml reads the file as a round trip (comments, quoting and the position of every node)
and writes the new node: the new example in the quoting of the one before it, the answer as a
literal block. Only those lines are spliced into the file (a full ruamel dump re-wraps every
flow list of config/intents.yml, ~1,400 lines of diff for one example), and the result is read
back with ruamel to check it holds exactly the intended value.
"""

from __future__ import annotations

import difflib
import fcntl
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from api.context import AppContext
from dialog.runtime import RuntimePaths, build_bundle
from nlu.intents import KNOWLEDGE
from tools.catalog import CatalogError
from tools.yamlio import YamlError

MAX_EXAMPLE_CHARS = 300
ROOT = Path(__file__).resolve().parent.parent
_local_lock = threading.Lock()


class EditRefused(ValueError):
    """An edit that was not made: `reason` is a code the page words, or the validator's
    file:line message."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class EditResult:
    path: Path
    diff: str


def add_example(context: AppContext, label: str, text: str) -> EditResult:
    """`label` is an intent ('financing') or a topic ('knowledge/warranty_returns')."""
    text = " ".join(text.split())
    if not text or len(text) > MAX_EXAMPLE_CHARS:
        raise EditRefused("bad_example")
    if label not in {name for name, _, _ in label_choices(context)}:
        raise EditRefused("unknown_label")
    labels = context.runtime.current.services.extractor.classifier.labels
    topic = labels[label].topic
    paths = context.runtime.paths
    if topic:
        return _edit(
            context,
            paths.knowledge,
            lambda lines, data: _append_example(lines, _entry(data, topic)["examples"], text),
        )
    return _edit(
        context,
        paths.config_dir / "intents.yml",
        lambda lines, data: _append_example(lines, data["intents"][label]["examples"], text),
    )


def set_answer(context: AppContext, topic: str, answer: str) -> EditResult:
    answer = "\n".join(line.rstrip() for line in answer.replace("\r\n", "\n").split("\n")).strip()
    if not answer:
        raise EditRefused("empty_answer")

    def change(lines: list[str], data: CommentedMap) -> None:
        _replace_answer(lines, _entry(data, topic), answer)

    return _edit(context, context.runtime.paths.knowledge, change)


def _entry(data: CommentedMap, topic: str) -> CommentedMap:
    for entry in data.get("entries") or []:
        if isinstance(entry, CommentedMap) and entry.get("topic") == topic:
            return entry
    raise EditRefused("unknown_topic")


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _edit(context: AppContext, path: Path, change) -> EditResult:
    """Read, change, check on a copy, write, reload; the file is left as it was on any refusal."""
    try:
        return _edit_locked(context, path, change)
    except OSError as error:  # a read-only file or folder (a container's image), a full disk
        raise EditRefused("not_writable", f"{path}: {error.strerror or error}") from None


def _edit_locked(context: AppContext, path: Path, change) -> EditResult:
    with _edit_lock(Path(context.settings.var_dir)):
        before = path.read_text(encoding="utf-8")
        try:
            data = _round_trip().load(before)
        except YAMLError as error:
            raise EditRefused("unreadable", f"{path}: {error}") from None
        lines = before.splitlines(keepends=True)
        change(lines, data)
        after = "".join(lines)
        _check(context, path, after)
        _write(path, after)
        report = context.runtime.reload()
        if not report.ok:  # another file changed meanwhile and is broken: undo ours
            _write(path, before)
            context.runtime.reload()
            raise EditRefused("invalid", report.error)
    name = shown_path(path)
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), name, name, lineterm="")
    return EditResult(path=path, diff="\n".join(diff))


def shown_path(path: Path | str) -> str:
    """'data/knowledge.yml' inside the project, else the file's name (no server paths shown)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _append_example(lines: list[str], examples: CommentedSeq, text: str) -> None:
    if not isinstance(examples, CommentedSeq) or not examples or examples.fa.flow_style():
        raise EditRefused("no_examples_list")
    if any(" ".join(str(item).split()).casefold() == text.casefold() for item in examples):
        raise EditRefused("duplicate_example")
    last = len(examples) - 1
    line, column = examples.lc.item(last)
    dash_column = _dash_column(lines[line], column)
    end = _block_end(lines, line, dash_column)  # a long plain item goes on at the item's column
    quoted = isinstance(examples[last], DoubleQuotedScalarString) or not _plain_ok(text)
    item = DoubleQuotedScalarString(text) if quoted else text
    lines.insert(end, " " * dash_column + "- " + _dump_scalar(item) + "\n")


def _replace_answer(lines: list[str], entry: CommentedMap, answer: str) -> None:
    if "answer" not in entry:
        raise EditRefused("unknown_topic")
    line, column = entry.lc.key("answer")
    end = _block_end(lines, line, column)
    block = _dump_scalar({"answer": LiteralScalarString(answer)}, mapping=True)
    lines[line:end] = [" " * column + part + "\n" for part in block.splitlines()]


def _block_end(lines: list[str], line: int, column: int) -> int:
    """The index after the node starting at `line`: the lines indented deeper than `column`
    (a block scalar, a folded string) belong to it; blank lines at its end do not."""
    end = line + 1
    while end < len(lines):
        text = lines[end]
        if text.strip() and len(text) - len(text.lstrip(" ")) <= column:
            break
        end += 1
    while end > line + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _dash_column(text: str, item_column: int) -> int:
    """The column of the '- ' before an item that starts at `item_column`."""
    dash = text.rfind("-", 0, item_column)
    return dash if dash >= 0 else max(item_column - 2, 0)


def _plain_ok(text: str) -> bool:
    """A plain scalar that reads back as the same string (no ': ', '#', leading symbols...)."""
    yaml = YAML(typ="safe")
    try:
        return yaml.load(f"- {text}\n") == [text]
    except YAMLError:
        return False


def _dump_scalar(value: object, mapping: bool = False) -> str:
    buffer = io.StringIO()
    yaml = _round_trip()
    yaml.dump(value if mapping else [value], buffer)
    dumped = buffer.getvalue().rstrip("\n")
    return dumped if mapping else dumped.removeprefix("- ")


def _check(context: AppContext, path: Path, after: str) -> None:
    """Build a whole bundle from a copy holding the edit; refuse it with the validator's
    file:line message (naming the real file) if it does not build."""
    paths = context.runtime.paths
    with tempfile.TemporaryDirectory(prefix="console-edit-") as folder:
        copy = RuntimePaths(
            config_dir=Path(folder) / "config",
            catalog=paths.catalog,
            knowledge=Path(folder) / "knowledge.yml",
        )
        shutil.copytree(paths.config_dir, copy.config_dir)
        shutil.copyfile(paths.knowledge, copy.knowledge)
        real = {copy.knowledge: paths.knowledge, copy.config_dir: paths.config_dir}
        target = copy.knowledge if path == paths.knowledge else copy.config_dir / path.name
        target.write_text(after, encoding="utf-8")
        try:
            _round_trip().load(after)
            build_bundle(copy, previous=context.runtime.current)
        except (YamlError, CatalogError, YAMLError) as error:
            message = str(error)
            for temporary, original in real.items():
                message = message.replace(str(temporary), str(original))
            raise EditRefused("invalid", message) from None


def _write(path: Path, text: str) -> None:
    """Atomically, keeping the file's mode: the running bot never reads half a file."""
    draft = path.with_name(f".{path.name}.console-{os.getpid()}")
    draft.write_text(text, encoding="utf-8")
    shutil.copymode(path, draft)
    os.replace(draft, path)


@contextmanager
def _edit_lock(var_dir: Path) -> Iterator[None]:
    """One edit at a time, across threads and the processes of this host."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _local_lock, open(var_dir / "yaml-edit.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def label_choices(context: AppContext) -> list[tuple[str, str, str]]:
    """(label, 'intent' or 'topic', name for people) of every label an example may teach."""
    bundle = context.runtime.current
    titles = {entry.topic: entry.title for entry in bundle.services.knowledge.data.entries}
    classifier = bundle.services.extractor.classifier
    unteachable = {"out_of_scope", *classifier.settings.social}  # small talk is phrases only
    choices = []
    for name, label in classifier.labels.items():
        if name in unteachable:
            continue
        if label.intent == KNOWLEDGE and label.topic:
            choices.append((name, "topic", titles.get(label.topic, label.topic)))
        else:
            choices.append((name, "intent", name))
    return sorted(choices, key=lambda choice: (choice[1], choice[2]))
