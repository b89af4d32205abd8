"""YAML loading for files people edit by hand: errors name the file, line and field.

Plain PyYAML silently keeps the last of two duplicate keys and reports tabs cryptically; here both
are errors, and every mapping remembers the line of each key so validators can point at it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class YamlError(ValueError):
    """A hand-edited YAML file that cannot be used: where, and what to change."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, field: str = ""):
        self.path, self.line, self.field, self.reason = str(path), line, field, message
        where = self.path + (f":{line}" if line else "")
        what = f" [{field}]" if field else ""
        super().__init__(f"{where}{what}: {message}")


class LineDict(dict):
    """A mapping from YAML that knows the line (1-based) where each key was written."""

    lines: dict[Any, int]
    start_line: int

    def line_of(self, key: Any) -> int | None:
        return self.lines.get(key, self.start_line)


class LineList(list):
    """A sequence from YAML that knows the line of each item."""

    lines: list[int]
    start_line: int

    def line_of(self, index: int) -> int | None:
        return self.lines[index] if 0 <= index < len(self.lines) else self.start_line


# libyaml's parser when PyYAML was built with it (the wheels are): same marks, ~5x faster
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[misc, valid-type]
    """SafeLoader that records lines and refuses duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.lines, result.start_line = {}, node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {result.lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.lines = [child.start_mark.line + 1 for child in node.value]
    result.start_line = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path | str) -> Any:
    """Parse a YAML file into LineDict/LineList values; raise YamlError with the line at fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlError(path, "file not found") from None
    except UnicodeDecodeError as error:
        raise YamlError(path, f"not UTF-8 text ({error.reason})") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path | str = "<text>") -> Any:
    """Parse YAML text; errors carry `path` and the line."""
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip())]
        if "\t" in indent:
            raise YamlError(path, "tab used for indentation; indent with spaces", number)
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(path, error.problem or str(error), line) from None
    except yaml.YAMLError as error:
        raise YamlError(path, str(error)) from None


def line_at(data: Any, location: tuple[Any, ...]) -> int | None:
    """The line of the deepest item of `location` (a pydantic error loc) that has one."""
    line, node = None, data
    for key in location:
        if (isinstance(node, LineDict) and key in node) or (
            isinstance(node, LineList) and isinstance(key, int) and key < len(node)
        ):
            line, node = node.line_of(key), node[key]
        else:
            break
    return line if line is not None else getattr(data, "start_line", None)


def validate_yaml(
    model: type[ModelT], data: Any, path: Path | str, context: dict[str, Any] | None = None
) -> ModelT:
    """Validate parsed YAML against a pydantic model; the first error becomes a YamlError."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        field = ".".join(str(part) for part in location)
        raise YamlError(path, first["msg"], line_at(data, location), field) from None


def load_model(model: type[ModelT], path: Path | str) -> ModelT:
    """Load a YAML file and validate it into `model`, with line-numbered errors."""
    return validate_yaml(model, load_yaml(path), path)


class YamlProblems(YamlError):
    """Several problems in hand-edited files, reported together (each with file:line)."""

    def __init__(self, problems: list[YamlError]):
        self.problems = problems
        first = problems[0]
        super().__init__(first.path, first.reason, first.line, first.field)
        self.args = ("\n".join(str(problem) for problem in problems),)

    def __str__(self) -> str:
        return self.args[0]


def raise_problems(problems: list[YamlError]) -> None:
    """Raise one error for all problems found (none: return)."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise YamlProblems(problems)
