"""Read lesson files: every problem reported at once, as ``path:line:col: message``.

Lessons are data, never code: YAML is read with the safe loader only, every key is
checked against the format, and every name (task, checkpoint, setting, control, event,
alias) must resolve before a lesson is used. This module reads the lesson itself (its
lab, its controls); steps, questions and conditions have readers of their own, and each
reader declares its part of the format in tables the JSON Schema is written from.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from celery_tutor.course.conditions_reader import CONDITION_KINDS
from celery_tutor.course.format import OPTIONAL_TEXT, TEXT, Key, Keys, Schema, list_of, ref, summary, whole
from celery_tutor.course.model import MAX_SHORT_LABEL, SCHEMA_VERSION, TOGGLE_STATE_ROOM, Control, LabSetup, Lesson
from celery_tutor.course.pace import pace_warnings
from celery_tutor.course.questions_reader import QUESTION_KEYS, QUESTION_KINDS
from celery_tutor.course.reading import ID_PATTERN, Reader, Scope
from celery_tutor.course.steps_reader import read_steps
from celery_tutor.lab import actions, settings
from celery_tutor.lab.action_parser import parse_settings, parse_step, parse_task_options
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.limits import MAX_WORKERS
from celery_tutor.yaml_file import FileProblems, parse_mapping, read_file
from celery_tutor.yaml_source import Node, Pos

__all__ = [
    "CONDITION_KINDS",
    "CONTROL_ACTIONS",
    "ID_PATTERN",
    "QUESTION_KEYS",
    "QUESTION_KINDS",
    "RESERVED_KEYS",
    "LessonError",
    "describe_action",
    "load_lesson",
    "parse_lesson",
]

RESERVED_KEYS = {
    "q": "quit",
    "?": "help",
    "n": "next step",
    "p": "previous step",
    "h": "hint",
    "l": "lessons",
    "[": "stepping the lab's view back",
    "]": "stepping the lab's view on",
}
"""Keys the app itself uses on a lesson screen; a lesson's controls may not take them."""
CONTROL_ACTIONS = tuple(name for name in actions.CONTROL_NAMES if name != actions.Wait.control)
"""The controls a learner's key can do: every control but a wait."""
MAX_MINUTES = 120

LAB = Keys(
    (
        Key("settings", ref("settings"), "Celery settings the lab starts with."),
        Key("task_options", ref("taskOptionsByTask"), "`@app.task` options the lab's tasks start with."),
        Key("workers", whole(1, MAX_WORKERS), f"How many workers (1 to {MAX_WORKERS}, default 1)."),
        Key("tasks", list_of(ref("taskName")), "The tasks this lesson is about; the first one's source is shown."),
        Key(
            "broker",
            {"enum": list(settings.BROKERS)},
            "The broker: rabbitmq (default: a dead worker's unacked messages go back at once) or redis "
            "(kombu's Redis transport: they go back at a restore scan after `visibility_timeout`).",
        ),
    ),
    help="How the lab starts for this lesson.",
)
_RESERVED = ", ".join(f"{key} ({what})" for key, what in RESERVED_KEYS.items())
CONTROL = Keys(
    (
        Key(
            "key",
            {"type": "string", "pattern": r"^\S$", "not": {"enum": list(RESERVED_KEYS)}},
            f"One character, unique in the lesson; the app keeps {_RESERVED}.",
            required=True,
        ),
        Key("label", OPTIONAL_TEXT, "What the control does, as the learner reads it (default: described)."),
        Key("short", {**TEXT, "maxLength": MAX_SHORT_LABEL}, "A few words for the control row (the label: in full)."),
    ),
    (
        Key("toggle", ref("toggleSetting"), "An on/off setting this control flips, like task_acks_late."),
        *(Key(name, ref(f"params.{name}"), summary(actions.ACTIONS[name].__doc__)) for name in CONTROL_ACTIONS),
    ),
    help="A control the learner presses: a `key`, a `label`, and a `toggle` or one control.",
)
LESSON = Keys(
    (
        Key("schema", {"const": SCHEMA_VERSION}, "The format version.", required=True),
        Key("id", ref("id"), "Stable forever: progress is keyed by it.", required=True),
        Key("title", TEXT, "The lesson's title.", required=True),
        Key("summary", TEXT, "One sentence for the lesson list.", required=True),
        Key(
            "minutes",
            whole(1, MAX_MINUTES),
            "About how long it takes: words read plus lab time (docs/lesson-format.md, Minutes).",
            required=True,
        ),
        Key("steps", list_of(ref("step")), "The steps, in order.", required=True),
        Key("concepts", list_of(TEXT), "Concepts the lesson teaches, like [ack, acks_late]."),
        Key("lab", ref("lab"), "How the lab starts for this lesson."),
        Key("controls", list_of(ref("control")), "What the learner can press."),
    ),
    help="A lesson of celery-tutor (docs/lesson-format.md).",
)

DEFINITIONS: dict[str, Schema | Keys] = {"lab": LAB, "control": CONTROL}


class LessonError(FileProblems):
    """A lesson file that cannot be used: every problem, each with its place."""


def load_lesson(path: str | Path) -> Lesson:
    """Read and check one lesson file (raises :class:`LessonError`)."""
    return parse_lesson(read_file(path, "lesson", LessonError), str(path))


def parse_lesson(text: str, path: str) -> Lesson:
    """Check a lesson's text (raises :class:`LessonError` listing every problem)."""
    root, duplicates = parse_mapping(
        text, path, LessonError, "a lesson is a mapping with schema, id, title, … and steps"
    )
    r = Reader(path, text)
    r.problems.extend(duplicates)
    r.keys(root, "lesson", LESSON)
    schema = root.get("schema")
    if schema is not None and (type(schema.value) is not int or schema.value != SCHEMA_VERSION):
        r.problem(
            schema.pos, f"schema: this version of celery-tutor reads schema {SCHEMA_VERSION}, not {schema.plain()!r}"
        )
    lesson_id = r.identifier(root.get("id"), "id")
    title = r.text(root.get("title"), "title")
    summary_text = r.text(root.get("summary"), "summary")
    minutes_node = root.get("minutes")
    minutes = r.whole(minutes_node, "minutes", 1, MAX_MINUTES) if minutes_node is not None else None
    concepts = r.texts(root.get("concepts"), "concepts") if root.get("concepts") is not None else ()
    lab = _lab_setup(r, root.get("lab"))
    controls = _controls(r, root.get("controls"))
    control_aliases = Scope()
    control_aliases.add_script(tuple(c.action for c in controls if c.action is not None))
    steps = read_steps(r, root.get("steps"), control_aliases)
    if r.problems:
        raise LessonError(sorted(r.problems, key=lambda p: p.pos))
    lesson = Lesson(lesson_id, path, title, summary_text, minutes or 1, concepts, lab, controls, steps)
    return replace(lesson, warnings=pace_warnings(lesson, minutes_node.pos if minutes_node else root.pos))


def _lab_setup(r: Reader, node: Node | None) -> LabSetup:
    if node is None:
        return LabSetup()
    if not r.keys(node, "lab", LAB):
        return LabSetup()
    lab_settings: dict[str, Any] = {}
    if node.get("settings") is not None:
        lab_settings = parse_settings(r.steps, node.value["settings"], "lab.settings") or {}
    options: dict[str, dict[str, Any]] = {}
    if node.get("task_options") is not None:
        options = parse_task_options(r.steps, node.value["task_options"], "lab.task_options") or {}
    workers = 1
    if node.get("workers") is not None:
        workers = r.whole(node.value["workers"], "lab.workers", 1, MAX_WORKERS) or 1
    broker = "rabbitmq"
    if node.get("broker") is not None:
        checked = r.steps.checked(node.value["broker"], "lab.broker", settings.check_broker)
        broker = checked if isinstance(checked, str) else broker
    tasks: list[str] = []
    for item in r.items(node.get("tasks"), "lab.tasks"):
        try:
            settings.pick(LAB_TASKS, item.value, "task")
            tasks.append(item.value)
        except settings.LabConfigError as exc:
            r.problem(item.pos, f"lab.tasks: {exc}")
    return LabSetup(lab_settings, options, workers, tuple(tasks), broker)


def _controls(r: Reader, node: Node | None) -> tuple[Control, ...]:
    controls: list[Control] = []
    used: dict[str, Pos] = {}
    kinds = CONTROL.kind_names()
    for item in r.items(node, "controls") if node is not None else []:
        if not item.is_map:
            r.problem(item.pos, "controls: each control is a mapping like {key: s, send: {task: add}}")
            continue
        r.unknown_keys(item, "control", CONTROL.names())
        kind = r.one_kind(item, "control", kinds)
        key_node = item.get("key")
        key = r.text(key_node, "control.key") if key_node is not None else ""
        if key_node is None:
            r.problem(item.pos, "control: missing required key 'key'")
        elif key and len(key) != 1:
            r.problem(key_node.pos, f"control.key: expected one character, got {key!r}")
        elif key in RESERVED_KEYS:
            r.problem(key_node.pos, f"control.key: {key!r} is the app's key for {RESERVED_KEYS[key]}")
        elif key in used:
            r.problem(key_node.pos, f"control.key: {key!r} is already used by the control on line {used[key].line}")
        elif key:
            used[key] = key_node.pos
        label = r.text(item.get("label"), "control.label", required=False)
        short = _short_label(r, item.get("short"), kind == "toggle")
        if kind is None:
            continue
        if kind == "toggle":
            name = item.value["toggle"].value
            knob = settings.SETTINGS.get(name) if isinstance(name, str) else None
            if knob is None or not isinstance(knob.default, bool):
                toggles = ", ".join(n for n, k in settings.SETTINGS.items() if isinstance(k.default, bool))
                r.problem(
                    item.value["toggle"].pos, f"control.toggle: {name!r} is not an on/off setting; valid: {toggles}"
                )
                continue
            controls.append(Control(key, label or f"toggle {name}", None, toggle=name, short=short))
            continue
        step = Node({kind: item.value[kind]}, item.pos, {kind: item.key_pos[kind]})
        action = parse_step(step, r.path, r.problems)
        if action is not None:
            controls.append(Control(key, label or describe_action(action), action, short=short))
    return tuple(controls)


def _short_label(r: Reader, node: Node | None, toggle: bool) -> str:
    short, room = r.text(node, "control.short", required=False), MAX_SHORT_LABEL - TOGGLE_STATE_ROOM * toggle
    if node is not None and len(short) > room:
        r.problem(node.pos, f"control.short: {len(short)} characters; the control row has room for {room}")
    return short


def describe_action(action: actions.Action) -> str:
    """A default label for a control."""
    if isinstance(action, actions.Send):
        args = ", ".join(repr(a) for a in action.args)
        many = f" ×{action.count}" if action.count > 1 else ""
        return f"send {action.task}({args}){many}"
    if isinstance(action, actions.Crash):
        return f"crash the worker at '{action.at}'" if action.at else "crash the worker now"
    if isinstance(action, actions.KillChild):
        return f"kill the pool child at '{action.at}'" if action.at else "kill the pool child"
    if isinstance(action, actions.FailNext):
        return f"make the next {action.times} run(s) of {action.task} raise {action.exc}"
    if isinstance(action, actions.SetSettings):
        return ", ".join(f"set {k}={v!r}" for k, v in action.changes.items())
    return action.control.replace("_", " ")
