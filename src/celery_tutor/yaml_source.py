"""YAML read safely, with the line and column of every value kept for error messages.

Lesson files and lab scripts are written by people, so every problem must point at the
place to fix it. PyYAML's safe composer gives a node tree with positions; this module
turns it into :class:`Node` values (plain Python inside, positions alongside) and never
constructs anything but plain scalars, lists and mappings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
"""The largest lesson or script file read (1 MiB): the biggest lesson is ~25 kB. Checked
before a file is read, so a huge or endless file costs nothing."""
MAX_BYTES_TEXT = "1 MiB"
MAX_NODES = 100_000
"""More values than any lesson needs (the biggest has ~1,100). Counted while the file is
parsed, so a huge document stops early, and again while aliases are expanded (alias bombs)."""
MAX_DEPTH = 100
"""Deeper nesting than any lesson needs (they nest ~8 levels)."""


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    """A 1-based line and column."""

    line: int
    col: int


SHORT = 60
"""The most characters of one value a message shows: a name pasted by mistake can be a megabyte."""
SHORT_PATH = 300
"""The most characters of a file's path a message shows (its beginning is cut)."""
MAX_MESSAGE = 1_000
"""The most characters of one message, whatever it holds (the longest useful one is ~300)."""

# A quoted value (a repr) opens after a space or bracket and closes before one, so the
# apostrophes of "can't" or "lesson's" are not taken for quotes; anything else is a word.
_WORD = re.compile(r"""(?<![^\s(\[{=:,])(?:'(?:[^'\\\n]++|\\.)*+'|"(?:[^"\\\n]++|\\.)*+")(?![^\s)\]},;:.])|\S+""")
"""A quoted value, or a word. Runs of plain characters are matched whole (the engine keeps
state per repetition: ~100 bytes a character of a 1 MB value otherwise), and possessively:
a quote that never closes must not make the engine try every way to split the run."""


def short(value: object, limit: int = SHORT) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters with an ellipsis."""
    return _cut(repr(value), limit)


def _cut(word: str, limit: int = SHORT) -> str:
    if len(word) <= limit:
        return word
    quote = word[0] if word[0] in "'\"" and word[-1] == word[0] else ""
    return word[: limit - 1 - len(quote)] + "…" + quote


def shorten(message: str) -> str:
    """A message with every value longer than :data:`SHORT` cut, and at most :data:`MAX_MESSAGE` long."""
    if len(message) <= SHORT:
        return message
    cut = _WORD.sub(lambda match: _cut_word(match.group()), message)
    return _cut(cut, MAX_MESSAGE)


def _cut_word(word: str) -> str:
    if len(word) <= SHORT or word[0] in "'\"":
        return _cut(word)
    body = word.rstrip(":;,.)]}")  # the punctuation after a word is the message's, not the value's
    if "/" in body or os.sep in body:  # a file's path: its end names the file, and paths run long
        cut = body if len(body) <= SHORT_PATH else "…" + body[1 - SHORT_PATH :]
    else:
        cut = _cut(body)
    return cut + word[len(body) :]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file, where it is.

    The message is shortened here, once for every builder: values echoed in it (an unknown
    name, a bad number) are cut to :data:`SHORT` characters.
    """

    path: str
    pos: Pos
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", shorten(self.message))

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
        if self.count > MAX_NODES or depth > MAX_DEPTH:
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


def _too_large(path: str, mark: Any) -> YamlSourceError:
    return YamlSourceError(Problem(path, _pos(mark), f"document too large: more than {MAX_NODES:,} values (the limit)"))


def _too_deep(path: str, mark: Any) -> YamlSourceError:
    return YamlSourceError(Problem(path, _pos(mark), f"document too deeply nested: more than {MAX_DEPTH} levels"))


def _resolved(loader: yaml.SafeLoader, kind: type[yaml.Node], event: Any, value: str | None) -> str:
    tag: str | None = event.tag
    if tag is None or tag == "!":
        return str(loader.resolve(kind, value, event.implicit))
    return tag


def _compose(loader: yaml.SafeLoader, path: str) -> yaml.Node | None:
    """The document's node tree, built from the parser's events one at a time.

    PyYAML's composers build the whole tree before anything can be checked (libyaml's in C,
    the pure one recursively); building it here lets the size and depth limits stop a huge
    or deep document at the first value over the limit. Aliases point at their anchor's
    node, as in PyYAML; expanding them is the builder's job, and counted there.
    """
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        loader.get_event()
        return None
    loader.get_event()  # document start
    anchors: dict[str, yaml.Node] = {}
    open_nodes: list[yaml.CollectionNode] = []
    keys: list[yaml.Node | None] = []  # per open mapping: its key still waiting for a value
    root: yaml.Node | None = None
    count = 0
    while root is None:
        event: Any = loader.get_event()
        if isinstance(event, yaml.CollectionEndEvent):
            finished = open_nodes.pop()
            keys.pop()
            finished.end_mark = event.end_mark
            if not open_nodes:
                root = finished
            continue
        count += 1
        start: Any = event.start_mark  # libyaml's marks are its own type, alike in use
        end: Any = event.end_mark
        if count > MAX_NODES:
            raise _too_large(path, start)
        node: yaml.Node
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", start)
            node = anchors[event.anchor]
        else:
            if event.anchor is not None and event.anchor in anchors:
                raise yaml.composer.ComposerError(
                    f"found duplicate anchor {event.anchor!r}; first occurrence",
                    anchors[event.anchor].start_mark,
                    "second occurrence",
                    start,
                )
            if isinstance(event, yaml.ScalarEvent):
                tag = _resolved(loader, yaml.ScalarNode, event, event.value)
                node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
            elif isinstance(event, yaml.SequenceStartEvent):
                tag = _resolved(loader, yaml.SequenceNode, event, None)
                node = yaml.SequenceNode(tag, [], start, None, flow_style=event.flow_style)
            else:  # the parser yields nothing else between a document's start and end
                tag = _resolved(loader, yaml.MappingNode, event, None)
                node = yaml.MappingNode(tag, [], start, None, flow_style=event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = node
        if open_nodes:
            parent = open_nodes[-1]
            if isinstance(parent, yaml.SequenceNode):
                parent.value.append(node)
            elif keys[-1] is None:
                keys[-1] = node
            else:
                parent.value.append((keys[-1], node))
                keys[-1] = None
        if isinstance(node, yaml.CollectionNode) and not isinstance(event, yaml.AliasEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise _too_deep(path, start)
            open_nodes.append(node)
            keys.append(None)
        elif not open_nodes:
            root = node
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        extra: Any = loader.get_event()
        raise yaml.composer.ComposerError(
            "expected a single document in the stream", root.start_mark, "but found another document", extra.start_mark
        )
    loader.get_event()
    return root


def parse_yaml(text: str, path: str) -> tuple[Node | None, list[Problem]]:
    """Parse one YAML document: its node tree (None when empty) and duplicate-key problems.

    Raises :class:`YamlSourceError` for anything that stops reading (bad syntax, tags, a
    document over the size, value or depth limits).
    """
    if len(text) > MAX_BYTES:
        raise YamlSourceError(
            Problem(path, Pos(1, 1), f"too large: {len(text):,} characters; the limit is {MAX_BYTES_TEXT}")
        )
    try:
        loader = SafeLoader(text)
    except yaml.YAMLError as exc:  # the pure reader checks characters as it is created
        raise YamlSourceError(_problem(text, path, exc)) from None
    try:
        root = _compose(loader, path)
    except yaml.YAMLError as exc:
        raise YamlSourceError(_problem(text, path, exc)) from None
    finally:
        loader.dispose()
    if root is None:
        return None, []
    builder = _Builder(path, loader)
    try:
        node = builder.build(root)
    except RecursionError:  # not reached within MAX_DEPTH; kept so that no input ends in a traceback
        raise YamlSourceError(Problem(path, _pos(root.start_mark), "document too deeply nested")) from None
    return node, builder.problems


def read_text(path: str | Path, what: str) -> str:
    """A file's text; :class:`YamlSourceError` naming the ``what`` when it cannot be read.

    The size is checked before reading, and reading stops at the limit (a pipe or a device
    has no size to check).
    """
    too_large = f"the {what} file is larger than {MAX_BYTES_TEXT}, the limit for a {what}"
    try:
        with open(path, encoding="utf-8") as file:
            if os.fstat(file.fileno()).st_size > MAX_BYTES:
                raise YamlSourceError(Problem(str(path), Pos(1, 1), too_large))
            text = file.read(MAX_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSourceError(Problem(str(path), Pos(1, 1), f"cannot read the {what}: {exc}")) from None
    if len(text) > MAX_BYTES:
        raise YamlSourceError(Problem(str(path), Pos(1, 1), too_large))
    return text
