"""The lesson JSON Schema: generated from the code, accepts every lesson, rejects broken ones, cannot drift."""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from celery_tutor.course import loader
from celery_tutor.course.loader import LessonError, parse_lesson
from celery_tutor.course.model import SCHEMA_VERSION, STEP_KINDS
from celery_tutor.lab import actions, settings
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.library import LAB_TASKS, UNIVERSAL_CHECKPOINTS, all_checkpoints
from celery_tutor.lab.limits import MAX_WORKERS
from celery_tutor.yaml_source import parse_yaml

ROOT = Path(__file__).parents[2]
SCHEMA_PATH = ROOT / "schema" / "lesson.schema.json"
DOCS_PATH = ROOT / "docs" / "lesson-format.md"
LESSONS = sorted((ROOT / "lessons").glob("*.y*ml"))
BAD = ROOT / "tests" / "data" / "lessons" / "bad"

SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
DEFS: dict[str, Any] = SCHEMA["$defs"]
VALIDATOR = Draft202012Validator(SCHEMA)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("write_lesson_schema", ROOT / "scripts" / "write_lesson_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def error_paths(errors: list[ValidationError]) -> Iterator[tuple[str | int, ...]]:
    """The instance path of every error, the nested ones (of oneOf, anyOf…) included."""
    for error in errors:
        yield tuple(error.absolute_path)
        yield from error_paths(list(error.context or ()))


def schema_errors(document: Any) -> list[ValidationError]:
    return list(VALIDATOR.iter_errors(document))


@functools.cache
def validator_of(definition: str) -> Draft202012Validator:
    """A validator for one of the schema's definitions."""
    return Draft202012Validator({"$schema": SCHEMA["$schema"], "$defs": DEFS, "$ref": f"#/$defs/{definition}"})


# A lesson that uses every part of the format once: the loader accepts it, and so must the schema.
FULL = """\
schema: 1
id: every-construct
title: Every construct
summary: Uses every part of the lesson format.
minutes: 10
concepts: [ack, retry]
lab:
  settings: {task_acks_late: false, worker_prefetch_multiplier: 1, worker_concurrency: 2}
  task_options:
    send_receipt:
      autoretry_for: [ConnectionError, TimeoutError]
      retry_backoff: 2
      retry_jitter: false
      retry_backoff_max: 10
      retry_kwargs: {max_retries: null, countdown: 1}
    charge_card: {max_retries: 5, default_retry_delay: 0.5, acks_late: true, reject_on_worker_lost: true}
    add: {autoretry_for: ValueError, acks_on_failure_or_timeout: false, retry_backoff: true}
  workers: 2
  tasks: [charge_card, add]
controls:
  - key: s
    label: charge order 42
    short: charge 42
    send: {task: charge_card, args: [42, 9.99], kwargs: {}, as: order}
  - key: a
    toggle: task_acks_late
  - {key: c, crash: {}}
  - {key: x, label: crash after the charge, crash: {at: after_charge, task: charge_card}}
  - {key: w, crash: {worker: worker2}}
  - {key: k, kill_child: {at: task_finished}}
  - {key: f, fail_next: {task: charge_card, times: 2, exc: TimeoutError}}
  - {key: r, restart_worker: {}}
  - {key: t, stop_worker: {worker: worker2}}
  - {key: u, purge: {}}
  - {key: z, reset: }
  - {key: o, set: {task_reject_on_worker_lost: true}}
  - {key: m, task_options: {add: {acks_late: true}}}
steps:
  - id: intro
    read: Markdown text.
    task: charge_card
    takeaway: One line to remember.
  - id: guess
    takeaway: Late acks redeliver, so the charge runs twice.
    predict:
      question: What happens?
      choices:
        - {text: It is charged twice, correct: true, feedback: Right.}
        - {text: It is charged once}
      experiment:
        - send: {task: charge_card, args: [42, 9.99], as: order}
        - send: {task: add, args: [1, 2], count: 2, as: sum}
        - send: {task: add, args: [1, 2], count: 1, countdown: 0.5}
        - wait: {until: {event: checkpoint, task: order, count: 1}, timeout: 5}
        - crash: {}
        - restart_worker:
        - wait: {until: {task: order, state: SUCCESS}}
        - wait: {seconds: 0.1}
      expect:
        - label: charged twice
          ledger: {action: charge, key: order 42, count: 2}
        - label: redelivered once
          event: redelivered
          task: order
          where: {reason: worker died, retries: 0}
          count: {min: 1, max: 1}
        - label: killed, then redelivered
          sequence: [{event: worker_killed}, {event: redelivered, task: order, where: {eta_in: null}}]
        - label: acks_late is off
          setting: {task_acks_late: false}
        - label: it never failed
          not: {event: failed, task: order, count: {min: 1}}
        - label: sum-2 succeeded
          state: {task: sum-2, is: SUCCESS}
        - label: not never succeeded
          not: {not: {state: {task: order, is: SUCCESS}}}
      explain: Why.
  - id: try-it
    lab:
      body: Do it.
      setup:
        - set: {task_acks_late: true}
        - task_options: {charge_card: {max_retries: 1}}
        - fail_next: {task: charge_card}
        - kill_child: {task: charge_card}
        - kill_child: {at: before_charge, task: charge_card}
        - purge: {}
        - reset: {}
        - stop_worker: {}
      goal:
        - label: the order succeeded
          state: {task: order, is: SUCCESS}
        - label: nothing was skipped
          event: skipped
          count: 0
        - label: charged at most once
          ledger: {action: charge, count: {max: 1}}
      hints: [One., Two.]
      solution:
        - send: {task: charge_card, args: [1, 2], as: order}
        - wait: {until: {task: order, state: SUCCESS}}
      explain: Done.
  - id: quiz
    quiz:
      - id: q-single
        single: Which one?
        choices:
          - {text: A, correct: true}
          - {text: B, correct: false, feedback: Not B.}
        explain: A.
      - id: q-multiple
        multiple: Which ones?
        choices:
          - {text: A, correct: true}
          - {text: B, correct: true}
          - {text: C}
        explain: A and B.
      - id: q-true-false
        true_false: A statement.
        answer: false
        feedback: {if_true: No., if_false: Right.}
        explain: It is false.
      - id: q-numeric
        numeric: How many runs?
        answer: 4
        tolerance: 0.5
        unit: runs
        wrong_answers: [{value: 3, feedback: Off by one.}]
        measure:
          experiment:
            - send: {task: fetch_exchange_rate, args: [EUR], as: rate}
            - wait: {until: {event: succeeded, task: rate}, timeout: 20}
          count: {event: started, task: rate}
        explain: Four.
      - id: q-countdown
        numeric: How long before the first retry?
        answer: 1
        tolerance: 0
        measure:
          experiment:
            - fail_next: {task: fetch_exchange_rate}
            - send: {task: fetch_exchange_rate, args: [EUR], as: rate}
            - wait: {until: {event: retry_scheduled, task: rate}}
          retry_countdown: {task: rate, retry: 1}
        explain: One second.
      - id: q-ordering
        ordering: Put them in order.
        items: [published, received, acked]
        explain: That order.
"""

SCHEMA_BLIND = {
    "code-solution-does-not-parse.yaml": "only Python's compiler reads code",
    "code-starter-without-task.yaml": "the tasks code defines come from its syntax tree",
    "code-wrong-solution-other-task.yaml": "the tasks code defines come from its syntax tree",
    "duplicate-control-key.yaml": "unique control keys",
    "duplicate-question-id.yaml": "unique question ids",
    "duplicate-step-id.yaml": "unique step ids",
    "duplicate-yaml-key.yaml": "a YAML loader keeps the last value",
    "invalid-yaml.yaml": "not YAML at all",
    "unknown-alias.yaml": "aliases come from the step's scripts",
    "unsafe-yaml-tag.yaml": "the safe YAML loader refuses it first",
}
"""Broken lessons that only ``celery-tutor check`` can catch, and why."""

SCHEMA_CATCHES: dict[str, tuple[str | int, ...]] = {
    "code-missing-starter.yaml": ("steps", 0, "code"),
    "code-not-a-string.yaml": ("steps", 0, "code", "solution"),
    "condition-without-label.yaml": ("steps", 1, "lab", "goal", 0),
    "crash-task-without-checkpoint.yaml": ("controls", 0, "crash"),
    "minutes-not-a-number.yaml": ("minutes",),
    "missing-title.yaml": (),
    "numeric-without-tolerance.yaml": ("steps", 2, "quiz", 1),
    "reserved-control-key.yaml": ("controls", 0, "key"),
    "setup-waits.yaml": ("steps", 1, "lab", "setup", 0),
    "single-none-correct.yaml": ("steps", 2, "quiz", 0, "choices"),
    "single-two-correct.yaml": ("steps", 2, "quiz", 0, "choices"),
    "step-id-not-an-id.yaml": ("steps", 1, "id"),
    "step-with-two-kinds.yaml": ("steps", 0),
    "toggle-not-boolean.yaml": ("controls", 0, "toggle"),
    "unknown-checkpoint.yaml": ("controls", 0, "crash", "at"),
    "unknown-control.yaml": ("steps", 1, "lab", "solution", 1),
    "unknown-event-kind.yaml": ("steps", 1, "lab", "solution", 1, "wait", "until", "event"),
    "unknown-exception.yaml": ("controls", 0, "fail_next", "exc"),
    "unknown-setting.yaml": ("lab", "settings"),
    "unknown-state.yaml": ("steps", 1, "lab", "goal", 0, "state", "is"),
    "unknown-task-option.yaml": ("lab", "task_options", "add"),
    "unknown-task.yaml": ("controls", 0, "send", "task"),
    "unknown-top-level-key.yaml": (),
    "wrong-schema-version.yaml": ("schema",),
}
"""Broken lessons the schema rejects, with where it says the fault is."""


# --- the schema file ---------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_the_committed_schema_is_what_the_script_writes() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == _generator().render(), (
        "schema/lesson.schema.json is out of date: run .venv/bin/python scripts/write_lesson_schema.py"
    )


def test_the_docs_tables_are_what_the_script_writes() -> None:
    docs = DOCS_PATH.read_text(encoding="utf-8")
    assert docs == _generator().render_docs(docs), (
        "docs/lesson-format.md is out of date: run .venv/bin/python scripts/write_lesson_schema.py"
    )


def test_the_docs_list_every_control_parameter_and_limit() -> None:
    docs = DOCS_PATH.read_text(encoding="utf-8")
    for name, cls in actions.ACTIONS.items():
        assert f"| `{name}` | |" in docs
        for param in cls.PARAMS:
            assert f"`{param.name}`" in docs
            if param.maximum is not None:
                assert f"to {param.maximum:,.0f}" in docs, (name, param.name)
    assert f"| `MAX_WORKERS` | {MAX_WORKERS} |" in docs
    assert all(f"`{key}`" in docs for key in loader.RESERVED_KEYS)


def test_every_definition_is_used() -> None:
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    unused = [name for name in DEFS if f'"#/$defs/{name}"' not in text]
    assert unused == []


# --- lessons -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_every_lesson_validates(path: Path) -> None:
    errors = schema_errors(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == []


def test_there_are_lessons_to_validate() -> None:
    assert LESSONS


def test_a_lesson_using_every_construct_loads_and_validates() -> None:
    lesson = parse_lesson(FULL, "full.yaml")
    assert [step.id for step in lesson.steps] == ["intro", "guess", "try-it", "quiz"]
    assert schema_errors(yaml.safe_load(FULL)) == []


# --- broken lessons ----------------------------------------------------------------------------


def test_every_bad_lesson_is_classified() -> None:
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted([*SCHEMA_BLIND, *SCHEMA_CATCHES])


@pytest.mark.parametrize(("name", "where"), sorted(SCHEMA_CATCHES.items()))
def test_the_schema_rejects_a_broken_lesson_where_it_is_broken(name: str, where: tuple[str | int, ...]) -> None:
    errors = schema_errors(yaml.safe_load((BAD / name).read_text(encoding="utf-8")))
    assert errors, f"the schema accepts {name}"
    assert where in set(error_paths(errors)), [e.message for e in errors]


@pytest.mark.parametrize("name", sorted(SCHEMA_BLIND))
def test_what_the_schema_cannot_see_check_reports(name: str) -> None:
    with pytest.raises(LessonError):
        loader.load_lesson(BAD / name)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"minutes": 0}, ("minutes",)),
        ({"minutes": True}, ("minutes",)),
        ({"schema": True}, ("schema",)),
        ({"id": "Has Spaces"}, ("id",)),
        ({"title": "   "}, ("title",)),
        ({"concepts": []}, ("concepts",)),
        ({"steps": []}, ("steps",)),
        ({"controls": [{"key": "ab", "purge": {}}]}, ("controls", 0, "key")),
        ({"controls": [{"key": "s", "wait": {"seconds": 1}}]}, ("controls", 0)),
        ({"controls": [{"key": "s", "purge": {}, "reset": {}}]}, ("controls", 0)),
        ({"controls": [{"key": "s", "task_options": {}}]}, ("controls", 0, "task_options")),
        ({"controls": [{"key": "s", "send": {"task": "add", "count": 2, "countdown": 1}}]}, ("controls", 0, "send")),
        ({"controls": [{"key": "s", "crash": {"at": "adding", "worker": "w"}}]}, ("controls", 0, "crash")),
        (
            {"controls": [{"key": "s", "kill_child": {"task": "add", "at": "got_rate"}}]},
            ("controls", 0, "kill_child", "at"),
        ),
        ({"controls": [{"key": "s", "purge": {"now": True}}]}, ("controls", 0, "purge")),
        ({"lab": {"workers": 5}}, ("lab", "workers")),
        ({"lab": {"settings": {"worker_concurrency": 0}}}, ("lab", "settings", "worker_concurrency")),
        ({"lab": {"task_options": {"adder": {}}}}, ("lab", "task_options")),
        (
            {"lab": {"task_options": {"add": {"autoretry_for": ["Oops"]}}}},
            ("lab", "task_options", "add", "autoretry_for", 0),
        ),
    ],
)
def test_the_schema_rejects_more_mistakes(change: dict[str, Any], where: tuple[str | int, ...]) -> None:
    document = {**yaml.safe_load(FULL), **change}
    errors = schema_errors(document)
    assert where in set(error_paths(errors)), [e.message for e in errors]


# --- the names in the schema are the code's names ----------------------------------------------


def test_task_names_are_the_catalog() -> None:
    assert DEFS["taskName"]["enum"] == list(LAB_TASKS)


def test_checkpoints_are_the_catalog_checkpoints() -> None:
    assert DEFS["checkpoint"]["enum"] == list(all_checkpoints())


def test_each_task_allows_its_own_checkpoints_only() -> None:
    for control in ("params.crash", "params.kill_child"):
        rules = {
            rule["if"]["properties"]["task"]["const"]: rule["then"]["properties"]["at"]["enum"]
            for rule in DEFS[control]["allOf"]
            if "task" in rule.get("if", {}).get("properties", {})
        }
        assert rules == {task: [*spec.checkpoints, *UNIVERSAL_CHECKPOINTS] for task, spec in LAB_TASKS.items()}


def test_settings_are_the_lab_settings() -> None:
    assert list(DEFS["settings"]["properties"]) == list(settings.SETTINGS)


def test_toggles_are_the_boolean_settings() -> None:
    assert DEFS["toggleSetting"]["enum"] == [n for n, k in settings.SETTINGS.items() if isinstance(k.default, bool)]


def test_task_options_are_the_lab_task_options() -> None:
    assert list(DEFS["taskOptions"]["properties"]) == list(settings.TASK_OPTIONS)


def test_exceptions_are_the_injectable_exceptions() -> None:
    assert DEFS["exceptionName"]["enum"] == list(settings.EXCEPTIONS)


def test_event_kinds_are_the_lab_events() -> None:
    assert DEFS["eventKind"]["enum"] == list(EVENT_KINDS)


def test_where_names_the_fields_of_each_event_kind() -> None:
    rules = {
        rule["if"]["properties"]["event"]["const"]: set(rule["then"]["properties"]["where"]["properties"])
        for rule in DEFS["whereByEvent"]["allOf"]
    }
    expected = {kind: {f.name for f in dataclasses.fields(cls)} - {"seq", "at"} for kind, cls in EVENT_KINDS.items()}
    assert rules == expected


def test_task_states_are_the_condition_and_wait_states() -> None:
    assert DEFS["taskState"]["enum"] == list(actions.TASK_STATES)
    assert DEFS["until"]["properties"]["state"]["$ref"] == "#/$defs/taskState"


def test_controls_are_the_control_vocabulary() -> None:
    assert list(DEFS["controlStep"]["properties"]) == list(actions.CONTROL_NAMES)
    assert list(DEFS["control"]["properties"]) == ["key", "label", "short", "toggle", *loader.CONTROL_ACTIONS]


def test_reserved_keys_are_the_apps_keys() -> None:
    assert DEFS["control"]["properties"]["key"]["not"]["enum"] == list(loader.RESERVED_KEYS)


def test_kinds_are_the_loaders_kinds() -> None:
    assert [rule["required"][0] for rule in DEFS["step"]["oneOf"]] == list(STEP_KINDS)
    assert [rule["required"][0] for rule in DEFS["question"]["oneOf"]] == list(loader.QUESTION_KINDS)
    assert [rule["required"][0] for rule in DEFS["condition"]["oneOf"]] == list(loader.CONDITION_KINDS)
    assert [rule["required"][0] for rule in DEFS["bareCondition"]["oneOf"]] == list(loader.CONDITION_KINDS)


def test_the_version_and_the_id_pattern_are_the_loaders() -> None:
    assert SCHEMA["properties"]["schema"]["const"] == SCHEMA_VERSION
    assert DEFS["id"]["pattern"] == loader.ID_PATTERN.pattern


# --- values: the schema accepts a value exactly when the lab's checker does ----------------------

SAMPLE_VALUES: list[Any] = [
    True, False, None, 0, 1, 2, 7, -1, 0.5, 2.5, -0.5, "", "x", "ConnectionError", "Nope",
    [], ["ConnectionError"], ["ConnectionError", "TimeoutError"], ["Nope"], [1],
    {}, {"max_retries": 5}, {"max_retries": None, "countdown": 1.5}, {"countdown": -1}, {"retries": 1},
    16, 17, 64, 65, 86_400, 86_401, 86_400.5, 10**8, {"countdown": 86_401}, {"max_retries": 10**8},
]  # fmt: skip
"""Values of every JSON type, and around the lab's limits (no whole floats like 1.0: JSON Schema counts them as
integers)."""


def _accepts(check: Any, name: str, value: Any) -> bool:
    try:
        check(name, value)
    except settings.LabConfigError:
        return False
    return True


@pytest.mark.parametrize("name", list(settings.SETTINGS))
def test_setting_values_agree_with_the_lab(name: str) -> None:
    for value in SAMPLE_VALUES:
        by_schema = validator_of("settings").is_valid({name: value})
        assert by_schema == _accepts(settings.check_setting, name, value), (name, value)


@pytest.mark.parametrize("name", list(settings.TASK_OPTIONS))
def test_task_option_values_agree_with_the_lab(name: str) -> None:
    for value in SAMPLE_VALUES:
        by_schema = validator_of("taskOptions").is_valid({name: value})
        assert by_schema == _accepts(settings.check_task_option, name, value), (name, value)


# --- structure: every mapping allows the keys the loader allows -------------------------------

_UNKNOWN = "zz_unknown"


def _valid_keys_of(document: dict[str, Any], path: tuple[str | int, ...]) -> set[str]:
    """Put an unknown key at ``path`` and read the keys the loader lists as valid."""
    document = copy.deepcopy(document)
    target: Any = document
    for step in path:
        target = target[step]
    target[_UNKNOWN] = 1
    with pytest.raises(LessonError) as caught:
        parse_lesson(yaml.safe_dump(document, sort_keys=False), "probe.yaml")
    messages = [p.message for p in caught.value.problems if repr(_UNKNOWN) in p.message]
    assert messages, [p.message for p in caught.value.problems]
    listed = re.search(r"valid: (.*)$", messages[0])
    assert listed is not None, messages[0]
    return set() if listed.group(1) == "none" else set(listed.group(1).split(", "))


def _kind_rule(definition: str, kind: str) -> dict[str, Any]:
    """What a mapping of one kind may hold (a numeric question, an event condition)."""
    for rule in DEFS[definition]["allOf"]:
        if rule["if"]["required"] == [kind]:
            return rule["then"]
    raise AssertionError(kind)


def _question_keys(kind: str) -> set[str]:
    return set(_kind_rule("question", kind)["propertyNames"]["enum"])


def _question_property(kind: str, key: str) -> dict[str, Any]:
    return _kind_rule("question", kind)["properties"][key]


def _properties(name: str) -> set[str]:
    return set(DEFS[name]["properties"])


def _event_condition_keys() -> set[str]:
    return set(_kind_rule("condition", "event")["propertyNames"]["enum"])


QUIZ = ("steps", 3, "quiz")
PREDICT = ("steps", 1, "predict")
LAB_STEP = ("steps", 2, "lab")
MEASURE = (*QUIZ, 3, "measure")


@pytest.mark.parametrize(
    ("path", "schema_keys"),
    [
        ((), lambda: set(SCHEMA["properties"])),
        (("lab",), lambda: _properties("lab")),
        (("lab", "task_options", "charge_card"), lambda: _properties("taskOptions")),
        (
            ("lab", "task_options", "send_receipt", "retry_kwargs"),
            lambda: set(DEFS["taskOptions"]["properties"]["retry_kwargs"]["properties"]),
        ),
        (("lab", "settings"), lambda: _properties("settings")),
        (("controls", 0), lambda: _properties("control")),
        (("controls", 0, "send"), lambda: _properties("params.send")),
        (("controls", 3, "crash"), lambda: _properties("params.crash")),
        (("controls", 5, "kill_child"), lambda: _properties("params.kill_child")),
        (("controls", 6, "fail_next"), lambda: _properties("params.fail_next")),
        (("controls", 7, "restart_worker"), lambda: _properties("params.restart_worker")),
        (("controls", 8, "stop_worker"), lambda: _properties("params.stop_worker")),
        (("controls", 9, "purge"), lambda: set()),
        (("steps", 0), lambda: _properties("step") | set(_kind_rule("step", "read")["properties"])),
        (PREDICT, lambda: _properties("predictStep")),
        ((*PREDICT, "choices", 0), lambda: _properties("choice")),
        ((*PREDICT, "experiment", 3, "wait"), lambda: _properties("params.wait")),
        ((*PREDICT, "experiment", 3, "wait", "until"), lambda: _properties("until")),
        ((*PREDICT, "expect", 0, "ledger"), lambda: set(DEFS["condition"]["properties"]["ledger"]["properties"])),
        ((*PREDICT, "expect", 1), _event_condition_keys),
        ((*PREDICT, "expect", 1, "count"), lambda: set(DEFS["count"]["oneOf"][1]["properties"])),
        ((*PREDICT, "expect", 2, "sequence", 0), lambda: _properties("eventMatch")),
        ((*PREDICT, "expect", 5, "state"), lambda: set(DEFS["condition"]["properties"]["state"]["properties"])),
        (LAB_STEP, lambda: _properties("labStep")),
        ((*QUIZ, 0), lambda: _question_keys("single")),
        ((*QUIZ, 1), lambda: _question_keys("multiple")),
        ((*QUIZ, 2), lambda: _question_keys("true_false")),
        ((*QUIZ, 2, "feedback"), lambda: set(_question_property("true_false", "feedback")["properties"])),
        ((*QUIZ, 3), lambda: _question_keys("numeric")),
        (
            (*QUIZ, 3, "wrong_answers", 0),
            lambda: set(_question_property("numeric", "wrong_answers")["items"]["properties"]),
        ),
        (MEASURE, lambda: _properties("measure")),
        (
            (*QUIZ, 4, "measure", "retry_countdown"),
            lambda: set(DEFS["measure"]["properties"]["retry_countdown"]["properties"]),
        ),
        ((*QUIZ, 5), lambda: _question_keys("ordering")),
    ],
    ids=lambda value: ("/".join(map(str, value)) or "lesson") if isinstance(value, tuple) else None,
)
def test_the_schema_allows_the_keys_the_loader_allows(path: tuple[str | int, ...], schema_keys: Any) -> None:
    assert schema_keys() == _valid_keys_of(yaml.safe_load(FULL), path)


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
def test_where_allows_the_fields_the_loader_allows(kind: str) -> None:
    document = yaml.safe_load(FULL)
    document["steps"][1]["predict"]["expect"][1] = {"label": "x", "event": kind, "where": {}}
    allowed = _valid_keys_of(document, (*PREDICT, "expect", 1, "where"))
    fields = set(
        DEFS["whereByEvent"]["allOf"][list(EVENT_KINDS).index(kind)]["then"]["properties"]["where"]["properties"]
    )
    assert fields == allowed


def test_the_full_lesson_has_no_duplicate_keys() -> None:
    _, duplicates = parse_yaml(FULL, "full.yaml")
    assert duplicates == []


# --- bounds: the schema refuses what is over the lab's limits, as check does ------------------

MINIMAL_PARAMS: dict[str, dict[str, Any]] = {
    "send": {"task": "add"},
    "fail_next": {"task": "add"},
    "wait": {"until": {"event": "started"}},
    "drop_connection": {},
    "deploy": {},
}
"""The least each control with a bounded parameter needs besides it."""


def _bounded_params() -> list[tuple[str, str, float]]:
    found = [(name, p.name, p.maximum) for name, cls in actions.ACTIONS.items() for p in cls.PARAMS if p.maximum]
    return found + [("wait", f"until.{p.name}", p.maximum) for p in actions.Until.PARAMS if p.maximum]


def _lesson_with_step(control: str, param: str, value: Any) -> dict[str, Any]:
    params = copy.deepcopy(MINIMAL_PARAMS[control])
    if param.startswith("until."):
        params["until"][param.removeprefix("until.")] = value
    elif param == "seconds":
        params = {"seconds": value}
    else:
        params[param] = value
    document = yaml.safe_load(FULL)
    document["steps"][1]["predict"]["experiment"].insert(0, {control: params})
    return document


def test_bounded_parameters_are_found() -> None:
    assert {(control, param) for control, param, _ in _bounded_params()} >= {
        ("send", "count"), ("send", "countdown"), ("fail_next", "times"), ("wait", "seconds"), ("wait", "timeout"),
        ("wait", "until.count"),
    }  # fmt: skip


@pytest.mark.parametrize(("control", "param", "maximum"), _bounded_params())
def test_the_schema_refuses_a_value_over_the_limit_as_check_does(control: str, param: str, maximum: float) -> None:
    over = maximum + 1 if float(maximum).is_integer() else maximum * 2
    at_limit = int(maximum) if float(maximum).is_integer() else maximum
    document = _lesson_with_step(control, param, at_limit)
    assert schema_errors(document) == []
    parse_lesson(yaml.safe_dump(document, sort_keys=False), "at-limit.yaml")
    document = _lesson_with_step(control, param, int(over) if float(over).is_integer() else over)
    assert ("steps", 1, "predict", "experiment", 0) in {path[:5] for path in error_paths(schema_errors(document))}
    with pytest.raises(LessonError, match="over the lab's limit"):
        parse_lesson(yaml.safe_dump(document, sort_keys=False), "over-limit.yaml")


def test_a_hundred_million_messages_are_refused_by_the_schema() -> None:
    document = _lesson_with_step("send", "count", 100_000_000)
    assert schema_errors(document)


def test_the_lab_workers_limit_is_the_labs() -> None:
    assert DEFS["lab"]["properties"]["workers"]["maximum"] == MAX_WORKERS
    document = {**yaml.safe_load(FULL), "lab": {"workers": MAX_WORKERS}}
    assert parse_lesson(yaml.safe_dump(document), "workers.yaml").lab.workers == MAX_WORKERS
    document["lab"]["workers"] = MAX_WORKERS + 1
    with pytest.raises(LessonError, match=f"lab.workers: expected a whole number from 1 to {MAX_WORKERS}, got"):
        parse_lesson(yaml.safe_dump(document), "workers.yaml")
