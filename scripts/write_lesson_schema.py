"""Write ``schema/lesson.schema.json`` and the reference tables of ``docs/lesson-format.md`` from the code.

Editors read the schema to complete and check lesson files
(``# yaml-language-server: $schema=../schema/lesson.schema.json``). Nothing here lists the
format again: the lesson's mappings are the readers' key tables (``DEFINITIONS`` in
``celery_tutor.course.loader`` and its readers), controls are each action's ``PARAMS``,
settings and task options their value kinds, names (tasks, checkpoints, events…) the lab's.
Only what ties a control's parameters together (``RULES``, code in ``lab/action_parser.py``)
is stated here. ``tests/unit/test_lesson_schema.py`` fails when the committed files differ::

    .venv/bin/python scripts/write_lesson_schema.py          # rewrite the schema and the docs' tables
    .venv/bin/python scripts/write_lesson_schema.py --check  # exit 1 if either is out of date

The schema helps authors; ``celery-tutor check`` stays the judge: unique ids and control
keys, aliases from a step's scripts, duplicate YAML keys, ``max`` not below ``min`` are
beyond a schema.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery_tutor.course import code_step_reader, conditions_reader, loader, questions_reader, reading, steps_reader
from celery_tutor.course.format import Schema, json_schema, ref, summary
from celery_tutor.lab import limits, settings
from celery_tutor.lab.actions import ACTIONS, TASK_STATES, Param, ParamType, Until, Wait
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.library import LAB_TASKS, UNIVERSAL_CHECKPOINTS, all_checkpoints

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schema" / "lesson.schema.json"
DOCS_PATH = ROOT / "docs" / "lesson-format.md"
READERS = (reading, conditions_reader, questions_reader, steps_reader, code_step_reader, loader)
"""The modules whose ``DEFINITIONS`` declare the lesson's mappings."""


# --- names the lab knows ---------------------------------------------------------------------


def enum(description: str, names: Any, descriptions: Any = None) -> Schema:
    """One of some names, each with what it is when there is something to say."""
    schema = {"description": description, "enum": list(names)}
    return {**schema, "enumDescriptions": list(descriptions)} if descriptions is not None else schema


def _knobs(description: str, table: dict[str, settings.Knob]) -> Schema:
    def text(knob: settings.Knob) -> str:
        default = json.dumps(list(knob.default) if isinstance(knob.default, tuple) else knob.default)
        return f"{knob.help[0].upper()}{knob.help[1:]} (default: {default})."

    properties = {name: {**knob.value.json_schema(), "description": text(knob)} for name, knob in table.items()}
    return {"description": description, "type": "object", "properties": properties, "additionalProperties": False}


def names() -> Schema:
    """Every name a lesson may use, from the lab."""
    toggles = [name for name, knob in settings.SETTINGS.items() if isinstance(knob.default, bool)]
    owners = {
        name: [task for task, spec in LAB_TASKS.items() if name in spec.checkpoints] for name in all_checkpoints()
    }
    return {
        "taskName": enum(
            "A lab task (`celery-tutor lab tasks` lists them with their checkpoints).",
            LAB_TASKS,
            (spec.summary for spec in LAB_TASKS.values()),
        ),
        "checkpoint": enum(
            "A named point in a task's code where the lab can crash the worker or kill the pool child. "
            "`task_finished` is reached by every task after its body ended and Celery stored the outcome, "
            "before the worker reports back (a late ack is not sent yet).",
            owners,
            (
                "every task, once its outcome is stored" if name in UNIVERSAL_CHECKPOINTS else "in " + ", ".join(tasks)
                for name, tasks in owners.items()
            ),
        ),
        "exceptionName": enum("An exception the lab can inject.", settings.EXCEPTIONS),
        "eventKind": enum(
            "A kind of lab event (their fields are in src/celery_tutor/lab/events/).",
            EVENT_KINDS,
            (summary(cls.__doc__) for cls in EVENT_KINDS.values()),
        ),
        "taskState": enum("A task's state as the lab observed it.", TASK_STATES),
        "toggleSetting": enum(
            "An on/off Celery setting; the control flips it (the worker restarts to apply it).",
            toggles,
            (settings.SETTINGS[name].help for name in toggles),
        ),
        "settings": _knobs("Celery settings, checked by name and type.", settings.SETTINGS),
        "taskOptions": _knobs("`@app.task` options for one task.", settings.TASK_OPTIONS),
        "taskOptionsByTask": {
            "description": "Task options by task: `{TASK: {OPTION: VALUE}}`, like `{charge_card: {max_retries: 5}}`.",
            "type": "object",
            "propertyNames": ref("taskName"),
            "additionalProperties": ref("taskOptions"),
        },
    }


# --- the control vocabulary ------------------------------------------------------------------


def _bounded(kind: str) -> Callable[[Param], Schema]:
    def schema(p: Param) -> Schema:
        bounds = {"minimum": p.minimum, "maximum": p.maximum}
        return {"type": kind, **{k: int(v) if kind == "integer" else v for k, v in bounds.items() if v is not None}}

    return schema


PARAM_TYPES: dict[ParamType, tuple[str, Callable[[Param], Schema]]] = {
    ParamType.TASK: ("a task", lambda p: ref("taskName")),
    ParamType.TEXT: ("text", lambda p: {"type": "string", "minLength": 1}),
    ParamType.CHECKPOINT: ("a checkpoint", lambda p: ref("checkpoint")),
    ParamType.LIST: ("a list", lambda p: {"type": "array"}),
    ParamType.MAPPING: ("a mapping", lambda p: {"type": "object"}),
    ParamType.WHOLE: ("a whole number", _bounded("integer")),
    ParamType.SECONDS: ("seconds", _bounded("number")),
    ParamType.EXCEPTION: ("an exception", lambda p: ref("exceptionName")),
    ParamType.EVENT: ("an event kind", lambda p: ref("eventKind")),
    ParamType.STATE: ("a task state", lambda p: ref("taskState")),
    ParamType.UNTIL: ("`{task, state}` or `{event, task, count}`", lambda p: ref("until")),
    ParamType.FLAG: ("true or false", lambda p: {"type": "boolean"}),
}
"""For each type of parameter: how the docs say it, and its JSON Schema."""

CUSTOM = {
    "set": ("settings", "Change Celery settings: `{SETTING: VALUE}`."),
    "task_options": ("taskOptionsByTask", "Change tasks' `@app.task` options: `{TASK: {OPTION: VALUE}}`."),
}
"""Controls whose parameters are the settings or task options they change: those, and what they do."""

RULES: dict[str, Schema] = {
    "send": {"if": {"required": ["count"], "properties": {"count": {"not": {"const": 1}}}},
             "then": {"properties": {"countdown": False}}},
    "crash": {"allOf": [{"if": {"type": "object", "required": ["task"]}, "then": {"required": ["at"]}},
                        {"not": {"type": "object", "required": ["at", "worker"]}}]},
    "drop_connection": {"allOf": [{"if": {"type": "object", "required": ["task"]}, "then": {"required": ["at"]}},
                                  {"not": {"type": "object", "required": ["at", "worker"]}}]},
    "wait": {"type": "object", "oneOf": [{"required": ["seconds"]}, {"required": ["until"]}],
             "if": {"required": ["seconds"]}, "then": {"properties": {"timeout": False}}},
    "until": {"type": "object", "oneOf": [
        {"required": ["event"], "properties": {"state": False}},
        {"required": ["task", "state"], "properties": {"event": False, "count": False}}]},
}  # fmt: skip
"""What ties a control's parameters together (``RULES`` of ``lab/action_parser.py``, as schema)."""


def params(name: str, doc: str | None, declared: tuple[Param, ...]) -> Schema:
    """The parameters of one control (or of a wait's ``until``)."""
    required = [p.name for p in declared if p.required]
    schema: Schema = {
        "description": summary(doc),
        "type": "object" if required else ["object", "null"],
        "properties": {p.name: {**PARAM_TYPES[p.type][1](p), "description": p.help} for p in declared},
        **({"required": required} if required else {}),
        "additionalProperties": False,
        **RULES.get(name, {}),
    }
    if {ParamType.CHECKPOINT, ParamType.TASK} <= {p.type for p in declared}:
        schema["allOf"] = [*schema.get("allOf", []), *(_checkpoint_of(task) for task in LAB_TASKS)]
    return schema


def _checkpoint_of(task: str) -> Schema:
    """With a task, ``at`` is one of that task's checkpoints."""
    return {
        "if": {"type": "object", "required": ["task"], "properties": {"task": {"const": task}}},
        "then": {"properties": {"at": {"enum": [*LAB_TASKS[task].checkpoints, *UNIVERSAL_CHECKPOINTS]}}},
    }


def controls() -> Schema:
    """One control step (``- send: {…}``) and the parameters of each control."""
    defs: Schema = {
        "controlStep": {
            "description": "One control, like `- send: {task: add, args: [2, 3]}`.",
            "type": "object",
            "properties": {name: ref(f"params.{name}") for name in ACTIONS},
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        },
        "until": params("until", Until.__doc__, Until.PARAMS),
    }
    for name, cls in ACTIONS.items():
        if name in CUSTOM:
            definition, text = CUSTOM[name]
            defs[f"params.{name}"] = {**ref(definition), "description": text, "minProperties": 1}
        else:
            defs[f"params.{name}"] = params(name, cls.__doc__, cls.PARAMS)
    return defs


def build_schema() -> Schema:
    """The whole schema, from the code's definitions."""
    defs = {name: json_schema(shape) for module in READERS for name, shape in module.DEFINITIONS.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "celery-tutor lesson",
        **loader.LESSON.json_schema(),
        "description": "A lesson of celery-tutor (docs/lesson-format.md). Written by "
        "scripts/write_lesson_schema.py: do not edit by hand. `celery-tutor check` has the last word.",
        "$defs": {**defs, **names(), **controls()},
    }


def render() -> str:
    """The schema file's text."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


# --- the docs' reference tables --------------------------------------------------------------


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def control_table() -> list[str]:
    """Every control and its parameters: what they take, their bounds, what they do."""
    rows = ["| control | parameter | takes | what it does |", "| --- | --- | --- | --- |"]
    for name, cls in ACTIONS.items():
        rows.append(f"| `{name}` | | | {CUSTOM[name][1] if name in CUSTOM else summary(cls.__doc__)} |")
        for prefix, p in [("", p) for p in cls.PARAMS] + [("until.", p) for p in Until.PARAMS if cls is Wait]:
            takes = PARAM_TYPES[p.type][0]
            if p.maximum is not None:
                unit = "" if p.unit in takes else f" {p.unit}"
                takes += f", {_number(p.minimum or 0)} to {_number(p.maximum)}{unit}"
            rows.append(f"| | `{prefix}{p.name}`{' (required)' if p.required else ''} | {takes} | {p.help} |")
    return rows


def limits_table() -> list[str]:
    """The lab's limits, each with the first paragraph of its docstring in ``lab/limits.py``."""
    body = ast.parse(Path(limits.__file__).read_text(encoding="utf-8")).body
    rows = ["| limit | value | what it bounds |", "| --- | --- | --- |"]
    for node, doc in itertools.pairwise(body):
        if isinstance(node, ast.Assign) and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
            name = ast.unparse(node.targets[0])
            text = " ".join(str(doc.value.value).split("\n\n")[0].split()).replace("``", "`")
            rows.append(f"| `{name}` | {_number(getattr(limits, name))} | {text} |")
    return rows


def render_docs(text: str) -> str:
    """The docs with each table between its markers written afresh."""
    for name, table in {"controls": control_table, "limits": limits_table}.items():
        begin, end = f"<!-- {name}: written by scripts/write_lesson_schema.py -->", f"<!-- end of {name} -->"
        head, found, rest = text.partition(begin)
        _, found_end, tail = rest.partition(end)
        if not (found and found_end):
            sys.exit(f"write_lesson_schema: {DOCS_PATH} lacks the markers {begin} … {end}")
        text = "\n".join([head + begin, *table(), end + tail])
    return text


def main(argv: list[str] | None = None) -> int:
    """Write the schema and the docs' tables, or with ``--check`` report whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    wanted = {SCHEMA_PATH: render(), DOCS_PATH: render_docs(DOCS_PATH.read_text(encoding="utf-8"))}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    for path in stale:
        if args.check:
            print(f"{path} is out of date: run scripts/write_lesson_schema.py", file=sys.stderr)
        else:
            path.write_text(wanted[path], encoding="utf-8")
            print(f"wrote {path}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
