"""What the lesson readers share: a reader that checks a file's nodes by the format's tables, and scopes.

The tables themselves, and the shapes of their values, are :mod:`celery_tutor.course.format`;
each reader declares its part of the format there and checks a file by it here. Every
problem is collected with its place, so a file's problems are all reported at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from celery_tutor.course.format import Key, Keys, Schema, list_of, ref
from celery_tutor.lab.action_parser import StepChecker, parse_step
from celery_tutor.lab.actions import Action, Send, Wait
from celery_tutor.lab.library import LAB_TASKS, HasCheckpoints
from celery_tutor.yaml_source import Node, Pos, Problem

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")

SCRIPT_HELP = "Control steps, run in order on a fresh lab."

DEFINITIONS: dict[str, Schema | Keys] = {
    "id": {"type": "string", "pattern": ID_PATTERN.pattern, "description": "Lowercase letters, digits and dashes."},
    "script": {**list_of(ref("controlStep")), "description": SCRIPT_HELP},
}
"""Definitions the other tables refer to by name; ``controlStep`` is the control vocabulary."""


class Reader:
    """Checks one file's nodes, collecting problems."""

    def __init__(self, path: str, text: str = "") -> None:
        self.path = path
        self.source = text
        """The file's text, to place problems inside code held by a value."""
        self.problems: list[Problem] = []
        self.steps = StepChecker(path, self.problems)

    def problem(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.path, pos, message))

    def mapping(self, node: Node, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> bool:
        """Is ``node`` a mapping with all required keys and no unknown ones? Reports what is wrong."""
        if not node.is_map:
            self.problem(node.pos, f"{what}: expected a mapping with {', '.join(required + optional)}")
            return False
        ok = True
        for key in node.value:
            if key not in required and key not in optional:
                valid = ", ".join(required + optional) or "none"
                self.problem(node.key_pos[key], f"{what}: unknown key {key!r}; valid: {valid}")
                ok = False
        for key in required:
            if key not in node.value:
                self.problem(node.pos, f"{what}: missing required key {key!r}")
                ok = False
        return ok

    def keys(self, node: Node, what: str, table: Keys) -> bool:
        """:meth:`mapping` by a table of the format."""
        return self.mapping(node, what, table.required(), table.optional())

    def text(self, node: Node | None, what: str, required: bool = True) -> str:
        if node is None:
            return ""
        if isinstance(node.value, str) and node.value.strip():
            return node.value
        if isinstance(node.value, bool):
            word = "true" if node.value else "false"
            self.problem(
                node.pos, f"{what}: expected text, got {word} (YAML reads yes/no/on/off as true/false: quote it)"
            )
        elif required or node.value is not None:
            self.problem(node.pos, f"{what}: expected text")
        return ""

    def whole(self, node: Node, what: str, low: int, high: int) -> int | None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(node.pos, f"{what}: expected a whole number from {low} to {high}, got {node.plain()!r}")
            return None
        return value

    def number(self, node: Node, what: str, minimum: float | None = None) -> float | None:
        value = node.value
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or (minimum is not None and value < minimum)
        ):
            bound = f" ≥ {minimum:g}" if minimum is not None else ""
            self.problem(node.pos, f"{what}: expected a number{bound}, got {node.plain()!r}")
            return None
        return float(value)

    def identifier(self, node: Node | None, what: str) -> str:
        text = self.text(node, what)
        if text and not ID_PATTERN.fullmatch(text):
            assert node is not None
            self.problem(node.pos, f"{what}: {text!r} is not an id (lowercase letters, digits and dashes)")
            return ""
        return text

    def items(self, node: Node | None, what: str, minimum: int = 1) -> list[Node]:
        if node is None:
            return []
        if not node.is_list or len(node.value) < minimum:
            self.problem(node.pos, f"{what}: expected a list of at least {minimum}")
            return []
        return list(node.value)

    def texts(self, node: Node | None, what: str, minimum: int = 1) -> tuple[str, ...]:
        return tuple(self.text(item, what) for item in self.items(node, what, minimum))

    def one_kind(self, node: Node, what: str, kinds: tuple[str, ...]) -> str | None:
        """The single key among ``kinds`` that a mapping uses."""
        found = [key for key in node.value if key in kinds]
        if len(found) == 1:
            return found[0]
        if not found:
            self.problem(node.pos, f"{what}: expected one of {', '.join(kinds)}")
        else:
            self.problem(node.key_pos[found[1]], f"{what}: only one of {', '.join(kinds)} per entry")
        return None

    def unknown_keys(self, node: Node, what: str, allowed: tuple[str, ...]) -> None:
        for key in node.value:
            if key not in allowed:
                self.problem(node.key_pos[key], f"{what}: unknown key {key!r}; valid: {', '.join(allowed)}")


@dataclass
class Scope:
    """Names a condition may use: aliases from the step's scripts, and the tasks it may name."""

    aliases: set[str] = field(default_factory=set)
    tasks: Mapping[str, HasCheckpoints] = field(default_factory=lambda: LAB_TASKS)
    """The lab's tasks, and a code step's own."""

    def add_script(self, actions: tuple[Action, ...]) -> None:
        for action in actions:
            if isinstance(action, Send) and action.alias is not None:
                if action.count == 1:
                    self.aliases.add(action.alias)
                else:
                    self.aliases.update(f"{action.alias}-{i + 1}" for i in range(action.count))


def read_script(
    r: Reader, node: Node | None, what: str, tasks: Mapping[str, HasCheckpoints] = LAB_TASKS
) -> tuple[Action, ...]:
    """Control steps naming ``tasks``; a wait may name an alias sent before it in the script, or a task."""
    scope = Scope()
    actions: list[Action] = []
    for item in r.items(node, what):
        action = parse_step(item, r.path, r.problems, tasks)
        if action is None:
            continue
        if isinstance(action, Wait) and action.until is not None and action.until.task is not None:
            task = action.until.task
            if task not in scope.aliases and task not in tasks:
                aliases = ", ".join(sorted(scope.aliases)) or "none"
                r.problem(
                    action.pos, f"wait.until.task: {task!r} is neither an alias sent before ({aliases}) nor a lab task"
                )
        scope.add_script((action,))
        actions.append(action)
    return tuple(actions)


def experiment_key(help: str) -> Key:
    """The ``experiment`` of a predict step, a code step or a measure: a script run on a fresh lab first."""
    return Key("experiment", ref("script"), help, required=True)


def read_experiment(
    r: Reader, node: Node, where: str, tasks: Mapping[str, HasCheckpoints] = LAB_TASKS
) -> tuple[tuple[Action, ...], Scope]:
    """A mapping's ``experiment``, and the scope of what is checked after it: its aliases and ``tasks``."""
    experiment = read_script(r, node.get("experiment"), f"{where}.experiment", tasks)
    scope = Scope(tasks=tasks)
    scope.add_script(experiment)
    return experiment, scope
