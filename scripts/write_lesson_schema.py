"""Write ``schema/lesson.schema.json``, the JSON Schema of lesson files, from the code's names.

Editors (VS Code with the YAML extension, anything using yaml-language-server) read the
schema to complete and check lesson files::

    # yaml-language-server: $schema=../schema/lesson.schema.json

Every name a lesson may use (tasks, checkpoints, settings, task options, exceptions,
event kinds and their fields, task states, controls, question kinds) is taken from the
code, so the schema cannot drift: ``tests/unit/test_lesson_schema.py`` fails when the
committed file differs from what this script writes. Run it after changing any of them::

    .venv/bin/python scripts/write_lesson_schema.py          # rewrite the schema
    .venv/bin/python scripts/write_lesson_schema.py --check  # exit 1 if it is out of date

The schema helps authors; ``celery-tutor check`` stays the judge. What a schema cannot
say (unique step and question ids, unique control keys, aliases defined by a step's
scripts, duplicate YAML keys, ``max`` not below ``min``) only ``check`` reports.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from celery_tutor.course.loader import CONDITION_KINDS, CONTROL_ACTIONS, ID_PATTERN, QUESTION_KINDS, RESERVED_KEYS
from celery_tutor.course.model import SCHEMA_VERSION, STEP_KINDS
from celery_tutor.lab import settings
from celery_tutor.lab.actions import CONTROL_NAMES, DEFAULT_WAIT_TIMEOUT
from celery_tutor.lab.actions import TASK_STATES as WAIT_STATES
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.library import LAB_TASKS, UNIVERSAL_CHECKPOINTS, all_checkpoints

Schema = dict[str, Any]

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schema" / "lesson.schema.json"

EVENT_FIELDS_NOT_MATCHABLE = ("seq", "at")
"""Event fields a ``where`` cannot use: every event has them, and they differ on every run."""

BOOLEAN: Schema = {"type": "boolean"}
SECONDS: Schema = {"type": "number", "minimum": 0}
RETRY_LIMIT: Schema = {"type": ["integer", "null"], "minimum": 0}

SETTING_VALUES: dict[str, Schema] = {
    "task_acks_late": BOOLEAN,
    "task_reject_on_worker_lost": BOOLEAN,
    "task_acks_on_failure_or_timeout": BOOLEAN,
    "task_acks_on_failure": BOOLEAN,
    "task_acks_on_timeout": BOOLEAN,
    "task_retry_on_worker_lost": BOOLEAN,
    "worker_prefetch_multiplier": {"type": "integer", "minimum": 1},
    "worker_concurrency": {"type": "integer", "minimum": 1},
    "worker_deduplicate_successful_tasks": BOOLEAN,
    "broker_transport_options": {
        "type": "object",
        "properties": {
            "visibility_timeout": {"type": "number", "minimum": 0.5},
            "unacked_restore_interval": {"type": "number", "minimum": 0.1},
            "unacked_restore_throttle": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
}
"""The JSON type of every setting in ``settings.SETTINGS`` (its checker is code, not data)."""

TASK_OPTION_VALUES: dict[str, Schema] = {
    "acks_late": BOOLEAN,
    "reject_on_worker_lost": BOOLEAN,
    "acks_on_failure_or_timeout": BOOLEAN,
    "acks_on_failure": BOOLEAN,
    "acks_on_timeout": BOOLEAN,
    "max_retries": RETRY_LIMIT,
    "default_retry_delay": SECONDS,
    "autoretry_for": {
        "oneOf": [
            {"$ref": "#/$defs/exceptionName"},
            {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/exceptionName"}},
        ]
    },
    "retry_kwargs": {
        "type": "object",
        "properties": {
            "max_retries": {**RETRY_LIMIT, "description": "Retries allowed (null: no limit)."},
            "countdown": {**SECONDS, "description": "Seconds before each retry."},
        },
        "additionalProperties": False,
    },
    "retry_backoff": {"type": ["boolean", "number"], "minimum": 0},
    "retry_backoff_max": {"type": "integer", "minimum": 0},
    "retry_jitter": BOOLEAN,
}
"""The JSON type of every option in ``settings.TASK_OPTIONS``."""

_PYTHON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "None": "null"}


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].replace("``", "`") if doc else ""


def _same_names(what: str, code: list[str], table: dict[str, Schema]) -> None:
    if list(table) != code:
        sys.exit(f"write_lesson_schema: the {what} changed in the code ({', '.join(code)}); update its table here")


def _default(value: Any) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _knobs(table: dict[str, settings.Knob], types: dict[str, Schema]) -> dict[str, Schema]:
    described = {
        name: f"{knob.help[0].upper()}{knob.help[1:]} (default: {_default(knob.default)})."
        for name, knob in table.items()
    }
    return {name: {**types[name], "description": text} for name, text in described.items()}


def _field_type(annotation: str) -> Schema:
    """A JSON type for an event field's annotation (no constraint when it is not a plain one)."""
    names = [part.strip() for part in annotation.split("|")]
    if all(name in _PYTHON_TYPES for name in names):
        types = [_PYTHON_TYPES[name] for name in names]
        return {"type": types[0] if len(types) == 1 else types}
    if all(name.startswith("dict[") for name in names):
        return {"type": "object"}
    return {}


def event_fields(kind: str) -> dict[str, Schema]:
    """The fields a ``where`` may match for one event kind, with their JSON types."""
    cls = EVENT_KINDS[kind]
    return {
        f.name: _field_type(str(f.type)) for f in dataclasses.fields(cls) if f.name not in EVENT_FIELDS_NOT_MATCHABLE
    }


def _text(description: str) -> Schema:
    return {"type": "string", "pattern": r"\S", "description": description}


def _optional_text(description: str) -> Schema:
    return {"type": ["string", "null"], "pattern": r"\S", "description": description}


def _list(items: Schema, description: str, minimum: int = 1) -> Schema:
    return {"type": "array", "minItems": minimum, "items": items, "description": description}


def _ref(name: str, description: str | None = None) -> Schema:
    schema: Schema = {"$ref": f"#/$defs/{name}"}
    if description:
        schema["description"] = description
    return schema


def _one_of_keys(keys: tuple[str, ...]) -> list[Schema]:
    return [{"required": [key]} for key in keys]


def _names() -> Schema:
    """The enumerations: every name a lesson may use, from the code."""
    bool_settings = [name for name, knob in settings.SETTINGS.items() if isinstance(knob.default, bool)]
    return {
        "taskName": {
            "description": "A lab task (`celery-tutor lab tasks` lists them with their checkpoints).",
            "enum": list(LAB_TASKS),
            "enumDescriptions": [spec.summary for spec in LAB_TASKS.values()],
        },
        "taskRef": {
            "description": "An alias given with `as` in this step's scripts (or in the lesson's controls), "
            "or a task name.",
            "anyOf": [_ref("taskName"), {"type": "string", "minLength": 1}],
        },
        "checkpoint": {
            "description": "A named point in a task's code where the lab can crash the worker or kill the "
            "pool child. `task_finished` is reached by every task after its body ended and Celery stored "
            "the outcome, before the worker reports back (a late ack is not sent yet).",
            "enum": list(all_checkpoints()),
            "enumDescriptions": [
                "every task, once its outcome is stored"
                if name in UNIVERSAL_CHECKPOINTS
                else "in " + ", ".join(t for t, spec in LAB_TASKS.items() if name in spec.checkpoints)
                for name in all_checkpoints()
            ],
        },
        "exceptionName": {
            "description": "An exception the lab can raise inside a task.",
            "enum": list(settings.EXCEPTIONS),
        },
        "eventKind": {
            "description": "A kind of lab event (their fields are in src/celery_tutor/lab/events.py).",
            "enum": list(EVENT_KINDS),
            "enumDescriptions": [_first_line(cls.__doc__) for cls in EVENT_KINDS.values()],
        },
        "taskState": {
            "description": "A task's state as the lab observed it.",
            "enum": list(WAIT_STATES),
        },
        "toggleSetting": {
            "description": "An on/off Celery setting; the control flips it (the worker restarts to apply it).",
            "enum": bool_settings,
            "enumDescriptions": [settings.SETTINGS[name].help for name in bool_settings],
        },
        "settings": {
            "description": "Celery settings, checked by name and type.",
            "type": "object",
            "properties": _knobs(settings.SETTINGS, SETTING_VALUES),
            "additionalProperties": False,
        },
        "taskOptions": {
            "description": "`@app.task` options for one task.",
            "type": "object",
            "properties": _knobs(settings.TASK_OPTIONS, TASK_OPTION_VALUES),
            "additionalProperties": False,
        },
        "taskOptionsByTask": {
            "description": "Task options by task: `{TASK: {OPTION: VALUE}}`, like `{charge_card: {max_retries: 5}}`.",
            "type": "object",
            "propertyNames": _ref("taskName"),
            "additionalProperties": _ref("taskOptions"),
        },
    }


def _checkpoint_of_task() -> list[Schema]:
    """With a task, ``at`` must be one of that task's checkpoints."""
    return [
        {
            "if": {"type": "object", "required": ["task"], "properties": {"task": {"const": task}}},
            "then": {"properties": {"at": {"enum": [*spec.checkpoints, *UNIVERSAL_CHECKPOINTS]}}},
        }
        for task, spec in LAB_TASKS.items()
    ]


def _controls() -> Schema:
    """One control step (``- send: {…}``) and its parameters."""
    worker = _text("A worker's name (default: the first worker).")
    nothing: Schema = {"type": ["object", "null"], "maxProperties": 0}
    return {
        "controlStep": {
            "description": "One control, like `- send: {task: add, args: [2, 3]}`.",
            "type": "object",
            "properties": {name: _ref(f"params.{name}") for name in CONTROL_NAMES},
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        },
        "script": _list(_ref("controlStep"), "Control steps, run in order on a fresh lab."),
        "params.send": {
            "description": "Publish one task message (or `count` of them).",
            "type": "object",
            "properties": {
                "task": _ref("taskName", "The task to send."),
                "args": {"type": "array", "description": "Positional arguments, like [42, 9.99]."},
                "kwargs": {"type": "object", "description": "Keyword arguments."},
                "as": {
                    "type": "string",
                    "minLength": 1,
                    "description": "A name for this task that conditions and waits can use; "
                    "with `count: N` the names are NAME-1 … NAME-N.",
                },
                "count": {"type": "integer", "minimum": 1, "description": "How many messages (default 1)."},
                "countdown": {**SECONDS, "description": "Seconds before the message may run (a single message only)."},
            },
            "required": ["task"],
            "additionalProperties": False,
            "if": {"required": ["count"], "properties": {"count": {"not": {"const": 1}}}},
            "then": {"properties": {"countdown": False}},
        },
        "params.set": {
            **_ref("settings"),
            "description": "Change Celery settings, like `set: {task_acks_late: true}`.",
            "minProperties": 1,
        },
        "params.task_options": {
            **_ref("taskOptionsByTask"),
            "description": "Change tasks' options, like `task_options: {charge_card: {max_retries: 5}}`.",
            "minProperties": 1,
        },
        "params.fail_next": {
            "description": "Make the next runs of a task raise an exception.",
            "type": "object",
            "properties": {
                "task": _ref("taskName", "The task whose runs fail."),
                "times": {"type": "integer", "minimum": 1, "description": "How many runs fail (default 1)."},
                "exc": _ref("exceptionName", "The exception raised (default ConnectionError)."),
            },
            "required": ["task"],
            "additionalProperties": False,
        },
        "params.crash": {
            "description": "Kill the whole worker, like kill -9: now (`crash: {}`), or when a task reaches "
            "a checkpoint (`crash: {at: after_charge, task: charge_card}`).",
            "type": ["object", "null"],
            "properties": {
                "at": _ref("checkpoint", "Crash when a task reaches this checkpoint (without it: crash now)."),
                "task": _ref("taskName", "Only when this task reaches `at`."),
                "worker": {**worker, "description": "Which worker to crash now (not with `at`)."},
            },
            "additionalProperties": False,
            "allOf": [
                {"if": {"type": "object", "required": ["task"]}, "then": {"required": ["at"]}},
                {"not": {"type": "object", "required": ["at", "worker"]}},
                *_checkpoint_of_task(),
            ],
        },
        "params.kill_child": {
            "description": "Kill only the pool child running a task (like the OOM killer), at a checkpoint "
            "or at the next one reached.",
            "type": ["object", "null"],
            "properties": {
                "at": _ref("checkpoint", "Kill the child when a task reaches this checkpoint."),
                "task": _ref("taskName", "Only while this task runs."),
            },
            "additionalProperties": False,
            "allOf": _checkpoint_of_task(),
        },
        "params.restart_worker": {
            "description": "Start the worker again (after a crash or a stop), or restart it.",
            "type": ["object", "null"],
            "properties": {"worker": worker},
            "additionalProperties": False,
        },
        "params.stop_worker": {
            "description": "A warm shutdown: no new messages; running tasks finish.",
            "type": ["object", "null"],
            "properties": {"worker": worker},
            "additionalProperties": False,
        },
        "params.purge": {**nothing, "description": "Delete the ready messages from the queue: `purge: {}`."},
        "params.reset": {**nothing, "description": "Put the lab back in its initial state: `reset: {}`."},
        "params.wait": {
            "description": "Wait `seconds: S`, or `until: {…}` something happens (with a `timeout`).",
            "type": "object",
            "properties": {
                "seconds": {**SECONDS, "description": "Seconds to wait."},
                "until": _ref("until"),
                "timeout": {
                    **SECONDS,
                    "description": f"Give up (and fail) after this many seconds (default {DEFAULT_WAIT_TIMEOUT:g}).",
                },
            },
            "additionalProperties": False,
            "oneOf": _one_of_keys(("seconds", "until")),
            "if": {"required": ["seconds"]},
            "then": {"properties": {"timeout": False}},
        },
        "until": {
            "description": "`{task: ALIAS, state: STATE}`, or `{event: KIND, task: ALIAS, count: N}`.",
            "type": "object",
            "properties": {
                "task": {
                    "description": "An alias from `as`, or a task name.",
                    "anyOf": [_ref("taskName"), {"type": "string", "minLength": 1}],
                },
                "state": {"description": "A task state.", "enum": list(WAIT_STATES)},
                "event": _ref("eventKind", "Wait for events of this kind."),
                "count": {"type": "integer", "minimum": 1, "description": "How many such events (default 1)."},
            },
            "additionalProperties": False,
            "oneOf": [
                {"required": ["event"], "properties": {"state": False}},
                {"required": ["task", "state"], "properties": {"event": False, "count": False}},
            ],
        },
    }


def _where_by_event() -> Schema:
    """A ``where`` may name only the fields of its event kind."""
    return {
        "allOf": [
            {
                "if": {"required": ["event"], "properties": {"event": {"const": kind}}},
                "then": {
                    "properties": {
                        "where": {"properties": event_fields(kind), "additionalProperties": False},
                    }
                },
            }
            for kind in EVENT_KINDS
        ]
    }


def _conditions() -> Schema:
    """Conditions: labelled ones (shown to the learner), bare ones (inside `not`), event counts."""
    match_keys: Schema = {
        "event": _ref("eventKind", "Events of this kind."),
        "task": _ref("taskRef", "Only events of this task (an alias from this step's scripts, or a task name)."),
        "where": {
            "type": "object",
            "description": "Event fields that must match, like `{reason: worker died}` (see lab/events.py).",
        },
    }
    count: Schema = {
        "description": "How many matching events: a number (exactly), or `{min: N, max: N}`; default: at least 1.",
        "oneOf": [
            {"type": "integer", "minimum": 0},
            {
                "type": "object",
                "properties": {
                    "min": {"type": "integer", "minimum": 0, "maximum": 10_000, "description": "At least."},
                    "max": {"type": "integer", "minimum": 0, "maximum": 10_000, "description": "At most."},
                },
                "additionalProperties": False,
                "minProperties": 1,
            },
        ],
    }

    def condition(labelled: bool) -> Schema:
        properties: Schema = {
            "label": _text("What the learner reads, with a live ✓/✗.") if labelled else False,
            **match_keys,
            "count": _ref("count"),
            "state": {
                "description": "A task is in a state now: `{task: ALIAS, is: STATE}`.",
                "type": "object",
                "properties": {"task": _ref("taskRef"), "is": _ref("taskState")},
                "required": ["task", "is"],
                "additionalProperties": False,
            },
            "ledger": {
                "description": "A side effect happened: `{action: charge, key: order 42, count: 2}`.",
                "type": "object",
                "properties": {
                    "action": _text("The side effect, like charge, send_email, upload."),
                    "key": _text("Only side effects with this key."),
                    "count": _ref("count"),
                },
                "required": ["action"],
                "additionalProperties": False,
            },
            "sequence": _list(
                _ref("eventMatch"), "Events that happened in this order (others may come in between).", 2
            ),
            "setting": {
                **_ref("settings"),
                "description": "A Celery setting has this value: one setting, like `{task_acks_late: true}`.",
                "minProperties": 1,
                "maxProperties": 1,
            },
            "not": _ref("bareCondition", "The inner condition (no label) does not hold."),
        }
        kinds = " / ".join(CONDITION_KINDS)
        schema: Schema = {
            "description": (
                f"A condition the learner reads with a live ✓/✗: a label and one of {kinds}."
                if labelled
                else f"A condition without a label: one of {kinds}."
            ),
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            "oneOf": _one_of_keys(CONDITION_KINDS),
            "allOf": [
                {
                    "if": {"required": ["event"]},
                    "then": _ref("whereByEvent"),
                    "else": {"properties": {"task": False, "where": False, "count": False}},
                }
            ],
        }
        if labelled:
            schema["required"] = ["label"]
        return schema

    return {
        "count": count,
        "whereByEvent": _where_by_event(),
        "eventMatch": {
            "description": "Events of a kind, optionally of one task, with some field values.",
            "type": "object",
            "properties": match_keys,
            "required": ["event"],
            "additionalProperties": False,
            "$ref": "#/$defs/whereByEvent",
        },
        "eventCount": {
            "description": "Count events: `{event: started, task: ALIAS}`.",
            "type": "object",
            "properties": {**match_keys, "count": _ref("count")},
            "required": ["event"],
            "additionalProperties": False,
            "$ref": "#/$defs/whereByEvent",
        },
        "condition": condition(labelled=True),
        "bareCondition": condition(labelled=False),
        "conditions": _list(_ref("condition"), "Conditions, all of which must hold."),
    }


def _questions() -> Schema:
    """Quiz questions: one kind each, with that kind's keys."""
    correct: Schema = {"required": ["correct"], "properties": {"correct": {"const": True}}}
    kind_keys = {
        "single": ("choices",),
        "multiple": ("choices",),
        "true_false": ("answer", "feedback"),
        "numeric": ("answer", "tolerance", "unit", "wrong_answers", "measure"),
        "ordering": ("items",),
    }
    required = {"single": ["choices"], "multiple": ["choices"], "true_false": ["answer"],
                "numeric": ["answer", "tolerance"], "ordering": ["items"]}  # fmt: skip
    refine: dict[str, Schema] = {
        "single": {"properties": {"choices": {"contains": correct, "minContains": 1, "maxContains": 1}}},
        "multiple": {"properties": {"choices": {"contains": correct, "minContains": 1}}},
        "true_false": {"properties": {"answer": BOOLEAN}},
        "numeric": {"properties": {"answer": {"type": "number"}}},
        "ordering": {},
    }
    if set(kind_keys) != set(QUESTION_KINDS):
        sys.exit(f"write_lesson_schema: the question kinds changed ({', '.join(QUESTION_KINDS)}); update them here")
    prompts = {
        "single": "The prompt of a question with exactly one correct choice.",
        "multiple": "The prompt of a question with at least one correct choice.",
        "true_false": "A statement the learner judges true or false.",
        "numeric": "The prompt of a question whose answer is a number.",
        "ordering": "Put the items in order (learners see them shuffled).",
    }
    return {
        "choice": {
            "description": "An answer option: `{text: …, correct: true, feedback: …}`.",
            "type": "object",
            "properties": {
                "text": _text("The option."),
                "correct": {"type": "boolean", "description": "This option is right (default false)."},
                "feedback": _optional_text("What to say when the learner picks it."),
            },
            "required": ["text"],
            "additionalProperties": False,
        },
        "choices": _list(_ref("choice"), "The options (at least two).", 2),
        "measure": {
            "description": "How `celery-tutor verify` computes the answer on the lab: run `experiment`, then "
            "`count` events or read `retry_countdown`.",
            "type": "object",
            "properties": {
                "experiment": _ref("script"),
                "count": _ref("eventCount", "Count the events matching this, like `{event: started, task: rate}`."),
                "retry_countdown": {
                    "description": "The countdown of retry number `retry` of a task.",
                    "type": "object",
                    "properties": {
                        "task": _ref("taskRef"),
                        "retry": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                    "required": ["task", "retry"],
                    "additionalProperties": False,
                },
            },
            "required": ["experiment"],
            "additionalProperties": False,
            "oneOf": _one_of_keys(("count", "retry_countdown")),
        },
        "question": {
            "description": "A question: an `id`, a prompt under its kind's key (one of "
            f"{', '.join(QUESTION_KINDS)}), that kind's keys, and an `explain`.",
            "type": "object",
            "properties": {
                "id": _ref("id", "Unique in the lesson: progress is keyed by it."),
                **{kind: _text(prompts[kind]) for kind in QUESTION_KINDS},
                "explain": _text("Shown once the learner answered."),
                "choices": _ref("choices"),
                "answer": {
                    "type": ["boolean", "number"],
                    "description": "true_false: true or false; numeric: the number.",
                },
                "feedback": {
                    "description": "true_false: what to say to a wrong `true` or `false`.",
                    "type": "object",
                    "properties": {
                        "if_true": _text("When the learner answered true."),
                        "if_false": _text("When the learner answered false."),
                    },
                    "additionalProperties": False,
                },
                "tolerance": {
                    "type": "number",
                    "minimum": 0,
                    "description": "How far from `answer` still counts as right (0 for an exact answer).",
                },
                "unit": _optional_text("Shown after the number, like runs or seconds."),
                "wrong_answers": _list(
                    {
                        "type": "object",
                        "properties": {
                            "value": {"type": "number"},
                            "feedback": _text("Why this value is wrong."),
                        },
                        "required": ["value", "feedback"],
                        "additionalProperties": False,
                    },
                    "Common wrong answers, each with its feedback.",
                ),
                "measure": _ref("measure"),
                "items": {
                    **_list(_text("An item."), "The items, in the correct order.", 2),
                    "uniqueItems": True,
                },
            },
            "additionalProperties": False,
            "required": ["id", "explain"],
            "oneOf": _one_of_keys(QUESTION_KINDS),
            "allOf": [
                {
                    "if": {"required": [kind]},
                    "then": {
                        "required": required[kind],
                        "propertyNames": {"enum": ["id", kind, "explain", *kind_keys[kind]]},
                        **refine[kind],
                    },
                }
                for kind in QUESTION_KINDS
            ],
        },
    }


def _steps() -> Schema:
    """Steps: an id and exactly one of read / predict / lab / quiz."""
    return {
        "step": {
            "description": f"A step: an `id` and one of {', '.join(STEP_KINDS)}.",
            "type": "object",
            "properties": {
                "id": _ref("id", "Unique in the lesson: progress is keyed by it."),
                "read": _text("Markdown text to read."),
                "predict": _ref("predictStep"),
                "lab": _ref("labStep"),
                "quiz": _list(_ref("question"), "Questions."),
            },
            "required": ["id"],
            "additionalProperties": False,
            "oneOf": _one_of_keys(STEP_KINDS),
        },
        "predictStep": {
            "description": "The learner locks an answer, then watches the experiment run on a fresh lab.",
            "type": "object",
            "properties": {
                "question": _text("What will happen? (Markdown)"),
                "choices": {
                    **_ref("choices"),
                    "contains": {"required": ["correct"], "properties": {"correct": {"const": True}}},
                    "minContains": 1,
                    "maxContains": 1,
                },
                "experiment": _ref(
                    "script", "Run once the learner locked an answer; end with a wait for what you expect."
                ),
                "expect": _ref("conditions", "What will be observed, checked right after the experiment."),
                "explain": _text("Why it happened (Markdown)."),
            },
            "required": ["question", "choices", "experiment", "expect", "explain"],
            "additionalProperties": False,
        },
        "labStep": {
            "description": "The learner reaches a goal with the lesson's controls.",
            "type": "object",
            "properties": {
                "body": _text("What to do (Markdown)."),
                "goal": _ref("conditions", "What the learner must make true with the controls."),
                "hints": _list(_text("A hint."), "A ladder of hints, shown one at a time."),
                "solution": _ref("script", "Control steps that reach the goal on a fresh lab (checked by verify)."),
                "explain": _text("Shown once the goal is reached (Markdown)."),
                "setup": _list(
                    {**_ref("controlStep"), "not": {"required": ["wait"]}},
                    "Control steps run when the step starts (no waits).",
                ),
                "wrong_solutions": _list(
                    {
                        "type": "object",
                        "properties": {
                            "why": _text("What is missing in this approach."),
                            "script": _ref("script", "Control steps of the tempting approach."),
                        },
                        "required": ["why", "script"],
                        "additionalProperties": False,
                    },
                    "Tempting approaches that must not reach the goal (verify proves it).",
                ),
            },
            "required": ["body", "goal", "hints", "solution", "explain"],
            "additionalProperties": False,
        },
    }


def _lesson_parts() -> Schema:
    """The lab a lesson starts with, and its controls."""
    reserved = ", ".join(f"{key} ({what})" for key, what in RESERVED_KEYS.items())
    return {
        "id": {
            "type": "string",
            "pattern": ID_PATTERN.pattern,
            "description": "Lowercase letters, digits and dashes.",
        },
        "lab": {
            "description": "How the lab starts for this lesson.",
            "type": "object",
            "properties": {
                "settings": _ref("settings"),
                "task_options": _ref("taskOptionsByTask"),
                "workers": {"type": "integer", "minimum": 1, "maximum": 4, "description": "How many workers (1-4)."},
                "tasks": _list(_ref("taskName"), "The tasks this lesson is about; the first one's source is shown."),
            },
            "additionalProperties": False,
        },
        "control": {
            "description": "A control the learner presses: a `key`, a `label`, and a `toggle` or one control.",
            "type": "object",
            "properties": {
                "key": {
                    "type": "string",
                    "pattern": r"^\S$",
                    "not": {"enum": list(RESERVED_KEYS)},
                    "description": f"One character, unique in the lesson; the app keeps {reserved}.",
                },
                "label": _optional_text("What the control does, as the learner reads it (default: described)."),
                "toggle": _ref("toggleSetting", "An on/off setting this control flips, like task_acks_late."),
                **{name: _ref(f"params.{name}") for name in CONTROL_ACTIONS},
            },
            "required": ["key"],
            "additionalProperties": False,
            "oneOf": _one_of_keys(("toggle", *CONTROL_ACTIONS)),
        },
    }


def build_schema() -> Schema:
    """The whole schema, from the code's names."""
    _same_names("settings", list(settings.SETTINGS), SETTING_VALUES)
    _same_names("task options", list(settings.TASK_OPTIONS), TASK_OPTION_VALUES)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "celery-tutor lesson",
        "description": "A lesson of celery-tutor (docs/lesson-format.md). Written by "
        "scripts/write_lesson_schema.py: do not edit by hand. `celery-tutor check` has the last word.",
        "type": "object",
        "properties": {
            "schema": {"const": SCHEMA_VERSION, "description": "The format version."},
            "id": _ref("id", "Stable forever: progress is keyed by it."),
            "title": _text("The lesson's title."),
            "summary": _text("One sentence for the lesson list."),
            "minutes": {"type": "integer", "minimum": 1, "maximum": 120, "description": "About how long it takes."},
            "concepts": _list(_text("A concept."), "Concepts the lesson teaches, like [ack, acks_late]."),
            "lab": _ref("lab"),
            "controls": _list(_ref("control"), "What the learner can press."),
            "steps": _list(_ref("step"), "The steps, in order."),
        },
        "required": ["schema", "id", "title", "summary", "minutes", "steps"],
        "additionalProperties": False,
        "$defs": {
            **_lesson_parts(),
            **_names(),
            **_controls(),
            **_conditions(),
            **_questions(),
            **_steps(),
        },
    }


def render() -> str:
    """The schema file's text."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed schema is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is out of date: run scripts/write_lesson_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
