"""YAML read safely, with the line and column of every value kept for error messages.

Lesson files and lab scripts are written by people, so every problem must point at the
place to fix it. PyYAML's safe composer gives a node tree with positions; this module
turns it into :class:`Node` values (plain Python inside, positions alongside) and never
constructs anything but plain scalars, lists and mappings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_NODES = 100_000
"""More nodes than any lesson needs: stops alias bombs."""


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    """A 1-based line and column."""

    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file, where it is."""

    path: str
    pos: Pos
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.pos.line}:{self.pos.col}: {self.message}"


class YamlSourceError(Exception):
    """The file is not YAML we can read (syntax, tags, aliases gone wild)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(slots=True)
class Node:
    """A YAML value with its position; mappings and lists hold nodes."""

    value: Any
    pos: Pos
    key_pos: dict[str, Pos] = field(default_factory=dict)

    @property
    def is_map(self) -> bool:
        """A mapping (its value is ``dict[str, Node]``)."""
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        """A sequence (its value is ``list[Node]``)."""
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """The value without positions."""
        if isinstance(self.value, dict):
            return {key: node.plain() for key, node in self.value.items()}
        if isinstance(self.value, list):
            return [node.plain() for node in self.value]
        return self.value

    def get(self, key: str) -> Node | None:
        """A mapping's child, if present."""
        return self.value.get(key) if isinstance(self.value, dict) else None


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


_QUOTE_ME = {"tag:yaml.org,2002:timestamp": "a date", "tag:yaml.org,2002:value": "a special value"}


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def _pos(mark: Any) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, path: str, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader
        self.count = 0
        self.problems: list[Problem] = []

    def fail(self, node: yaml.Node, message: str) -> YamlSourceError:
        return YamlSourceError(Problem(self.path, _pos(node.start_mark), message))

    def build(self, node: yaml.Node, depth: int = 0) -> Node:
        self.count += 1
        if self.count > MAX_NODES or depth > 100:
            raise self.fail(node, "document too large or too deeply nested")
        pos = _pos(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                raise self.fail(node, f"unsupported tag {_short_tag(node.tag)!r}")
            items: dict[str, Node] = {}
            key_pos: dict[str, Pos] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "merge keys (<<) are not supported")
                key = self.build(key_node, depth + 1).value
                if not isinstance(key, str):
                    raise self.fail(key_node, f"keys must be text, got {key!r}")
                if key in items:
                    self.problems.append(Problem(self.path, _pos(key_node.start_mark), f"duplicate key {key!r}"))
                    continue
                items[key] = self.build(value_node, depth + 1)
                key_pos[key] = _pos(key_node.start_mark)
            return Node(items, pos, key_pos)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise self.fail(node, f"unsupported tag {_short_tag(node.tag)!r}")
            return Node([self.build(item, depth + 1) for item in node.value], pos)
        if node.tag in _QUOTE_ME:
            raise self.fail(node, f"{node.value!r} reads as {_QUOTE_ME[node.tag]} in YAML: put it in quotes")
        if node.tag not in _SAFE_SCALAR_TAGS:
            raise self.fail(node, f"unsupported tag {_short_tag(node.tag)!r}")
        try:
            value = self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, IndexError, TypeError, OverflowError) as exc:
            # an explicit tag with a value it cannot hold (!!int x) fails inside PyYAML
            raise self.fail(node, f"bad value for {node.tag.rsplit(':', 1)[-1]}: {node.value!r}") from exc
        return Node(value, pos)


SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (several times faster), else the pure one."""


def _problem(text: str, path: str, exc: yaml.YAMLError) -> Problem:
    """Where and what, for any error PyYAML or libyaml raises."""
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        pos = Pos(before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        return Problem(path, pos, f"invalid YAML: the character {char!r} is not allowed in YAML text")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        pos = _pos(mark) if mark is not None else Pos(1, 1)
        context = exc.context or ""
        if context and exc.context_mark is not None and exc.problem_mark is not None:
            opened = _pos(exc.context_mark)
            if opened != pos:
                context = f"{context} (started at {opened.line}:{opened.col})"
        message = ": ".join(part for part in (context, exc.problem) if part) or "invalid YAML"
        return Problem(path, pos, f"invalid YAML: {message}")
    return Problem(path, Pos(1, 1), f"invalid YAML: {str(exc).splitlines()[0]}")


def parse_yaml(text: str, path: str) -> tuple[Node | None, list[Problem]]:
    """Parse one YAML document: its node tree (None when empty) and duplicate-key problems.

    Raises :class:`YamlSourceError` for anything that stops reading (bad syntax, tags).
    """
    try:
        loader = SafeLoader(text)
    except yaml.YAMLError as exc:  # the pure reader checks characters as it is created
        raise YamlSourceError(_problem(text, path, exc)) from None
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise YamlSourceError(_problem(text, path, exc)) from None
    except RecursionError:  # the pure-Python composer recurses once per nesting level
        raise YamlSourceError(Problem(path, Pos(1, 1), "document too deeply nested")) from None
    finally:
        loader.dispose()
    if root is None:
        return None, []
    builder = _Builder(path, loader)
    try:
        node = builder.build(root)
    except RecursionError:
        raise YamlSourceError(Problem(path, _pos(root.start_mark), "document too deeply nested")) from None
    return node, builder.problems


def read_text(path: str | Path, what: str) -> str:
    """A file's text; :class:`YamlSourceError` naming the ``what`` when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSourceError(Problem(str(path), Pos(1, 1), f"cannot read the {what}: {exc}")) from None
