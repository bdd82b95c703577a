"""A YAML file read for checking: its root mapping, or one exception that holds every problem.

Lesson files and ``lab run`` scripts are read the same way: the file's text (a file that
cannot be read is a problem at 1:1), the YAML parsed safely (a syntax error is a problem at
its place), and a root that must be a mapping. What differs is only the exception each
raises and the words for a root of the wrong shape, so that one piece serves both.
"""

from __future__ import annotations

from pathlib import Path

from celery_tutor.yaml_source import Node, Pos, Problem, YamlSourceError, parse_yaml, read_text


class FileProblems(Exception):
    """A file that cannot be used: every problem, each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def read_file(path: str | Path, what: str, error: type[FileProblems]) -> str:
    """The text of the file, or ``error`` with the one problem that stopped reading it."""
    try:
        return read_text(path, what)
    except YamlSourceError as exc:
        raise error([exc.problem]) from None


def parse_mapping(text: str, path: str, error: type[FileProblems], shape: str) -> tuple[Node, list[Problem]]:
    """The root mapping and the duplicate keys found on the way.

    Raises ``error`` when the text is not YAML, or when its root is not a mapping (``shape``
    says what it should be, after any duplicate keys already found).
    """
    try:
        root, problems = parse_yaml(text, path)
    except YamlSourceError as exc:
        raise error([exc.problem]) from None
    if root is None or not root.is_map:
        raise error([*problems, Problem(path, root.pos if root else Pos(1, 1), shape)])
    return root, problems
