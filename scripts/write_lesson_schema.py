"""Write ``schema/lesson.schema.json`` and the reference tables of ``docs/lesson-format.md`` from the code.

Editors (VS Code with the YAML extension, anything using yaml-language-server) read the
schema to complete and check lesson files::

    # yaml-language-server: $schema=../schema/lesson.schema.json

Nothing here lists the format again: the lesson's mappings come from the readers' key
tables (``DEFINITIONS`` in ``celery_tutor.course.loader`` and its readers), the controls
from each action's ``PARAMS``, settings and task options from their value kinds, and the
names (tasks, checkpoints, events…) from the lab. Only what ties a control's parameters
together (``RULES``, checked in code by ``lab/action_parser.py``) is stated here.
``tests/unit/test_lesson_schema.py`` fails when the committed files differ from what
this script writes. Run it after changing the format::

    .venv/bin/python scripts/write_lesson_schema.py          # rewrite the schema and the docs' tables
    .venv/bin/python scripts/write_lesson_schema.py --check  # exit 1 if either is out of date

The schema helps authors; ``celery-tutor check`` stays the judge. What a schema cannot
say (unique step and question ids, unique control keys, aliases defined by a step's
scripts, duplicate YAML keys, ``max`` not below ``min``) only ``check`` reports.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery_tutor.course import conditions_reader, loader, questions_reader, reading, steps_reader
from celery_tutor.course.reading import Key, Keys, Schema, ref, summary
from celery_tutor.lab import limits, settings
from celery_tutor.lab.actions import ACTIONS, TASK_STATES, Param, ParamType, Until, Wait
from celery_tutor.lab.catalog import CATALOG, UNIVERSAL_CHECKPOINTS, all_checkpoints
from celery_tutor.lab.events import EVENT_KINDS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schema" / "lesson.schema.json"
DOCS_PATH = ROOT / "docs" / "lesson-format.md"
READERS = (reading, conditions_reader, questions_reader, steps_reader, loader)
"""The modules whose ``DEFINITIONS`` declare the lesson's mappings."""


# --- the readers' key tables -----------------------------------------------------------------


def resolve(shape: Any) -> Any:
    """A shape as plain JSON Schema: every :class:`Keys` inside becomes an object schema."""
    if isinstance(shape, Keys):
        return mapping(shape)
    if isinstance(shape, dict):
        return {name: resolve(value) for name, value in shape.items()}
    if isinstance(shape, (list, tuple)):
        return [resolve(value) for value in shape]
    return shape


def described(key: Key) -> Schema:
    """A key's value schema, with its help as the description."""
    return {**resolve(key.shape), "description": key.help}


def mapping(spec: Keys) -> Schema:
    """The object schema of a table: its keys, exactly one kind, and the keys only a kind takes."""
    schema: Schema = {"type": "object"}
    if spec.help:
        schema["description"] = spec.help
    schema["properties"] = {key.name: described(key) for key in (*spec.keys, *spec.kinds)}
    if spec.required():
        schema["required"] = list(spec.required())
    if spec.kinds:
        schema["oneOf"] = [{"required": [kind]} for kind in spec.kind_names()]
    if not spec.only_with:
        schema["additionalProperties"] = False
    else:  # each kind takes the common keys, itself, and its own
        schema["allOf"] = [_kind_rule(spec, kind, spec.only_with.get(kind, ())) for kind in spec.kind_names()]
    return {**schema, **resolve(spec.schema)}


def _kind_rule(spec: Keys, kind: str, own: tuple[Key, ...]) -> Schema:
    then: Schema = {"properties": {key.name: described(key) for key in own}} if own else {}
    if any(key.required for key in own):
        then["required"] = [key.name for key in own if key.required]
    then["propertyNames"] = {"enum": [*(key.name for key in spec.keys), kind, *(key.name for key in own)]}
    return {"if": {"required": [kind]}, "then": then}


# --- names the lab knows ---------------------------------------------------------------------


def _knobs(table: dict[str, settings.Knob]) -> Schema:
    def text(knob: settings.Knob) -> str:
        default = json.dumps(list(knob.default) if isinstance(knob.default, tuple) else knob.default)
        return f"{knob.help[0].upper()}{knob.help[1:]} (default: {default})."

    properties = {name: {**knob.value.json_schema(), "description": text(knob)} for name, knob in table.items()}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def names() -> Schema:
    """Every name a lesson may use, from the lab."""
    toggles = [name for name, knob in settings.SETTINGS.items() if isinstance(knob.default, bool)]
    return {
        "taskName": {
            "description": "A lab task (`celery-tutor lab tasks` lists them with their checkpoints).",
            "enum": list(CATALOG),
            "enumDescriptions": [spec.summary for spec in CATALOG.values()],
        },
        "taskRef": {
            "description": "An alias given with `as` in this step's scripts (or the lesson's controls), or a task.",
            "anyOf": [ref("taskName"), {"type": "string", "minLength": 1}],
        },
        "checkpoint": {
            "description": "A named point in a task's code where the lab can crash the worker or kill the pool "
            "child. `task_finished` is reached by every task after its body ended and Celery stored the outcome, "
            "before the worker reports back (a late ack is not sent yet).",
            "enum": list(all_checkpoints()),
            "enumDescriptions": [
                "every task, once its outcome is stored"
                if name in UNIVERSAL_CHECKPOINTS
                else "in " + ", ".join(task for task, spec in CATALOG.items() if name in spec.checkpoints)
                for name in all_checkpoints()
            ],
        },
        "exceptionName": {"description": "An exception the lab can inject.", "enum": list(settings.EXCEPTIONS)},
        "eventKind": {
            "description": "A kind of lab event (their fields are in src/celery_tutor/lab/events.py).",
            "enum": list(EVENT_KINDS),
            "enumDescriptions": [summary(cls.__doc__) for cls in EVENT_KINDS.values()],
        },
        "taskState": {"description": "A task's state as the lab observed it.", "enum": list(TASK_STATES)},
        "toggleSetting": {
            "description": "An on/off Celery setting; the control flips it (the worker restarts to apply it).",
            "enum": toggles,
            "enumDescriptions": [settings.SETTINGS[name].help for name in toggles],
        },
        "settings": {"description": "Celery settings, checked by name and type.", **_knobs(settings.SETTINGS)},
        "taskOptions": {"description": "`@app.task` options for one task.", **_knobs(settings.TASK_OPTIONS)},
        "taskOptionsByTask": {
            "description": "Task options by task: `{TASK: {OPTION: VALUE}}`, like `{charge_card: {max_retries: 5}}`.",
            "type": "object",
            "propertyNames": ref("taskName"),
            "additionalProperties": ref("taskOptions"),
        },
        "whereByEvent": {"allOf": [_where(kind) for kind in EVENT_KINDS]},
    }


_PYTHON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "None": "null"}


def _where(kind: str) -> Schema:
    """A ``where`` names only the fields of its event kind."""

    def json_type(annotation: str) -> Schema:
        parts = [part.strip() for part in annotation.split("|")]
        if all(part in _PYTHON_TYPES for part in parts):
            types = [_PYTHON_TYPES[part] for part in parts]
            return {"type": types[0] if len(types) == 1 else types}
        return {"type": "object"} if all(part.startswith("dict[") for part in parts) else {}

    fields = {f.name: json_type(str(f.type)) for f in conditions_reader.event_fields(kind)}
    return {
        "if": {"required": ["event"], "properties": {"event": {"const": kind}}},
        "then": {"properties": {"where": {"properties": fields, "additionalProperties": False}}},
    }


# --- the control vocabulary ------------------------------------------------------------------


def _bounded(kind: str) -> Callable[[Param], Schema]:
    def schema(param: Param) -> Schema:
        bounds = {name: getattr(param, name) for name in ("minimum", "maximum") if getattr(param, name) is not None}
        return {"type": kind, **{k: int(v) if kind == "integer" else v for k, v in bounds.items()}}

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
}
"""For each type of parameter: how the docs say it, and its JSON Schema."""

CUSTOM = {"set": "settings", "task_options": "taskOptionsByTask"}
"""Controls whose parameters are the settings or task options they change."""

RULES: dict[str, Schema] = {
    "send": {
        "if": {"required": ["count"], "properties": {"count": {"not": {"const": 1}}}},
        "then": {"properties": {"countdown": False}},
    },
    "crash": {
        "allOf": [
            {"if": {"type": "object", "required": ["task"]}, "then": {"required": ["at"]}},
            {"not": {"type": "object", "required": ["at", "worker"]}},
        ]
    },
    "wait": {
        "type": "object",
        "oneOf": [{"required": ["seconds"]}, {"required": ["until"]}],
        "if": {"required": ["seconds"]},
        "then": {"properties": {"timeout": False}},
    },
    "until": {
        "type": "object",
        "oneOf": [
            {"required": ["event"], "properties": {"state": False}},
            {"required": ["task", "state"], "properties": {"event": False, "count": False}},
        ],
    },
}
"""What ties a control's parameters together (``RULES`` of ``lab/action_parser.py``, as schema)."""


def params(name: str, doc: str | None, declared: tuple[Param, ...]) -> Schema:
    """The parameters of one control (or of a wait's ``until``)."""
    schema: Schema = {
        "description": summary(doc),
        "type": "object" if any(p.required for p in declared) else ["object", "null"],
        "properties": {p.name: {**PARAM_TYPES[p.type][1](p), "description": p.help} for p in declared},
        "additionalProperties": False,
    }
    if any(p.required for p in declared):
        schema["required"] = [p.name for p in declared if p.required]
    types = {p.type for p in declared}
    checkpoints = [_checkpoint_of(task) for task in CATALOG] if {ParamType.CHECKPOINT, ParamType.TASK} <= types else []
    rules = RULES.get(name, {})
    return {**schema, **rules, **({"allOf": [*rules.get("allOf", []), *checkpoints]} if checkpoints else {})}


def _checkpoint_of(task: str) -> Schema:
    """With a task, ``at`` is one of that task's checkpoints."""
    checkpoints = [*CATALOG[task].checkpoints, *UNIVERSAL_CHECKPOINTS]
    return {
        "if": {"type": "object", "required": ["task"], "properties": {"task": {"const": task}}},
        "then": {"properties": {"at": {"enum": checkpoints}}},
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
            defs[f"params.{name}"] = {**ref(CUSTOM[name]), "description": summary(cls.__doc__), "minProperties": 1}
        else:
            defs[f"params.{name}"] = params(name, cls.__doc__, cls.PARAMS)
    return defs


def build_schema() -> Schema:
    """The whole schema, from the code's definitions."""
    defs: Schema = {}
    for module in READERS:
        defs.update({name: resolve(shape) for name, shape in module.DEFINITIONS.items()})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "celery-tutor lesson",
        **mapping(loader.LESSON),
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
        rows.append(f"| `{name}` | | | {summary(cls.__doc__)} |")
        declared = [("", p) for p in cls.PARAMS] + [("until.", p) for p in Until.PARAMS if cls is Wait]
        for prefix, p in declared:
            takes = PARAM_TYPES[p.type][0]
            if p.maximum is not None:
                unit = "" if p.unit in takes else f" {p.unit}"
                takes += f", {_number(p.minimum or 0)} to {_number(p.maximum)}{unit}"
            required = " (required)" if p.required else ""
            rows.append(f"| | `{prefix}{p.name}`{required} | {takes} | {p.help} |")
    return rows


def limits_table() -> list[str]:
    """The lab's limits, with the first line of each one's docstring in ``lab/limits.py``."""
    tree = ast.parse(Path(limits.__file__).read_text(encoding="utf-8"))
    rows = ["| limit | value | what it bounds |", "| --- | --- | --- |"]
    for node, doc in zip(tree.body, tree.body[1:], strict=False):
        if isinstance(node, ast.Assign) and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
            name = node.targets[0].id if isinstance(node.targets[0], ast.Name) else ""
            text = " ".join(str(doc.value.value).split("\n\n")[0].split()).replace("``", "`")
            rows.append(f"| `{name}` | {_number(getattr(limits, name))} | {text} |")
    return rows


TABLES: dict[str, Callable[[], list[str]]] = {"controls": control_table, "limits": limits_table}


def render_docs(text: str) -> str:
    """The docs with each table between its markers written afresh."""
    for name, table in TABLES.items():
        begin, end = f"<!-- {name}: written by scripts/write_lesson_schema.py -->", f"<!-- end of {name} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            sys.exit(f"write_lesson_schema: {DOCS_PATH} lacks the markers {begin} … {end}")
        text = pattern.sub("\n".join([begin, *table(), end]).replace("\\", "\\\\"), text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Write the schema and the docs' tables, or with ``--check`` report whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    docs = DOCS_PATH.read_text(encoding="utf-8")
    wanted = {SCHEMA_PATH: render(), DOCS_PATH: render_docs(docs)}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date: run scripts/write_lesson_schema.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
