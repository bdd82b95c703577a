"""Read a step's conditions (a goal, what a predict step expects) and a measure's event count.

A condition is a mapping with a ``label`` and one kind (``event``, ``state``, ``ledger``,
``sequence``, ``gap``, ``setting``, ``not``); the names it uses (event kinds, their fields, task
states, settings, aliases from the step's scripts) must all resolve.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from celery_tutor.course.conditions import (
    Condition,
    Count,
    EventCount,
    EventMatch,
    Gap,
    LedgerCount,
    Not,
    Sequence,
    SettingIs,
    TaskState,
)
from celery_tutor.course.format import TEXT, Key, Keys, Schema, list_of, ref, whole
from celery_tutor.course.reading import Reader, Scope
from celery_tutor.lab import settings
from celery_tutor.lab.actions import TASK_STATES
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.limits import MAX_COUNT
from celery_tutor.yaml_source import Node, Pos

EVENT_FIELDS_NOT_MATCHABLE = ("seq", "at")
"""Event fields a ``where`` cannot use: every event has them, and they differ on every run."""

COUNT_RANGE = Keys(
    (
        Key("min", whole(0, MAX_COUNT), "At least."),
        Key("max", whole(0, MAX_COUNT), "At most."),
    ),
    schema={"minProperties": 1},
)
COUNT: Schema = {
    "description": "How many: a number (exactly), or `{min: N, max: N}`; default: at least 1.",
    "oneOf": [{"type": "integer", "minimum": 0}, COUNT_RANGE],
}
WHERE_BY_EVENT = ref("whereByEvent")
"""A ``where`` names only fields of its event kind (the schema lists them; :func:`event_fields` here)."""
EVENT_MATCH = Keys(
    (
        Key("event", ref("eventKind"), "Events of this kind.", required=True),
        Key("task", ref("taskRef"), "Only events of this task (an alias from this step's scripts, or a task name)."),
        Key("where", {"type": "object"}, "Event fields that must match, like `{reason: worker died}`."),
    ),
    help="Events of a kind, optionally of one task, with some field values.",
    schema=WHERE_BY_EVENT,
)
EVENT_COUNT = Keys(
    (*EVENT_MATCH.keys, Key("count", ref("count"), "How many such events.")),
    help="Count events.",
    schema=WHERE_BY_EVENT,
)
STATE = Keys(
    (
        Key("task", ref("taskRef"), "An alias, or a task name.", required=True),
        Key("is", ref("taskState"), "The state it is in.", required=True),
    )
)
LEDGER = Keys(
    (
        Key("action", TEXT, "The side effect, like charge, send_email, upload.", required=True),
        Key("key", TEXT, "Only side effects with this key."),
        Key("count", ref("count"), "How many such side effects."),
    )
)
SECONDS: Schema = {"type": "number", "minimum": 0}
GAP = Keys(
    (
        Key("from", ref("eventMatch"), "The first event like this starts the clock.", required=True),
        Key("to", ref("eventMatch"), "The first event like this after it stops the clock.", required=True),
        Key("min", SECONDS, "At least this many seconds between them."),
        Key("max", SECONDS, "At most this many seconds between them."),
    ),
    schema={"anyOf": [{"required": ["min"]}, {"required": ["max"]}]},
)
LABEL = Key("label", TEXT, "What the learner reads, with a live ✓/✗.", required=True)
KINDS = (
    Key("event", ref("eventKind"), "Events of this kind happened (with `task`, `where`, `count`)."),
    Key("state", STATE, "A task is in a state now: `{task: ALIAS, is: STATE}`."),
    Key("ledger", LEDGER, "A side effect happened: `{action: charge, key: order 42, count: 2}`."),
    Key("sequence", list_of(ref("eventMatch"), 2), "Events that happened in this order (others may come in between)."),
    Key(
        "gap",
        GAP,
        "Seconds from one event to the next of another kind: "
        "`{from: {event: received}, to: {event: redelivered}, min: 2}`.",
    ),
    Key(
        "setting",
        {**ref("settings"), "minProperties": 1, "maxProperties": 1},
        "A Celery setting has this value: one setting, like `{task_acks_late: true}`.",
    ),
    Key("not", ref("bareCondition"), "The inner condition (no label) does not hold."),
)
EVENT_ONLY = {"event": EVENT_COUNT.keys[1:]}
CONDITION = Keys((LABEL,), KINDS, EVENT_ONLY, "A condition the learner reads with a live ✓/✗.", WHERE_BY_EVENT)
BARE_CONDITION = Keys((), KINDS, EVENT_ONLY, "A condition without a label (inside `not`, or counted).", WHERE_BY_EVENT)
CONDITION_KINDS = CONDITION.kind_names()


_PYTHON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "None": "null"}


def _where_by_event(kind: str) -> Schema:
    """A ``where`` names only the fields of its event kind (typed when their annotation is plain)."""

    def json_type(annotation: str) -> Schema:
        parts = [part.strip() for part in annotation.split("|")]
        if all(part in _PYTHON_TYPES for part in parts):
            types = [_PYTHON_TYPES[part] for part in parts]
            return {"type": types[0] if len(types) == 1 else types}
        return {"type": "object"} if all(part.startswith("dict[") for part in parts) else {}

    fields = {f.name: json_type(str(f.type)) for f in event_fields(kind)}
    return {
        "if": {"required": ["event"], "properties": {"event": {"const": kind}}},
        "then": {"properties": {"where": {"properties": fields, "additionalProperties": False}}},
    }


def event_fields(kind: str) -> tuple[dataclasses.Field[Any], ...]:
    """The fields of an event kind that a ``where`` may match."""
    return tuple(f for f in dataclasses.fields(EVENT_KINDS[kind]) if f.name not in EVENT_FIELDS_NOT_MATCHABLE)


DEFINITIONS: dict[str, Schema | Keys] = {
    "taskRef": {
        "description": "An alias given with `as` in this step's scripts (or the lesson's controls), or a task.",
        "anyOf": [ref("taskName"), {"type": "string", "minLength": 1}],
    },
    "count": COUNT,
    "eventMatch": EVENT_MATCH,
    "eventCount": EVENT_COUNT,
    "condition": CONDITION,
    "bareCondition": BARE_CONDITION,
    "conditions": {**list_of(ref("condition")), "description": "Conditions, all of which must hold."},
    "whereByEvent": {"allOf": [_where_by_event(kind) for kind in EVENT_KINDS]},
}
"""The schema's definitions of conditions; the other names they use come from the lab."""


def task_ref(r: Reader, node: Node, what: str, scope: Scope) -> str | None:
    """An alias from the step's scripts, or a lab task."""
    name = node.value
    if isinstance(name, str) and (name in scope.aliases or name in scope.tasks):
        return name
    aliases = ", ".join(sorted(scope.aliases)) or "none"
    r.problem(node.pos, f"{what}: {name!r} is neither an alias from this step's scripts ({aliases}) nor a lab task")
    return None


def _count(r: Reader, node: Node | None, what: str) -> Count:
    if node is None:
        return Count()
    if isinstance(node.value, int) and not isinstance(node.value, bool) and node.value >= 0:
        return Count(node.value, node.value)
    if node.is_map and r.keys(node, what, COUNT_RANGE) and node.value:
        low = r.whole(node.value["min"], f"{what}.min", 0, MAX_COUNT) if "min" in node.value else 0
        high = r.whole(node.value["max"], f"{what}.max", 0, MAX_COUNT) if "max" in node.value else None
        if low is not None and high is not None and high < low:
            r.problem(node.pos, f"{what}: max is below min")
        return Count(low or 0, high)
    r.problem(node.pos, f"{what}: expected a number or {{min: N, max: N}}")
    return Count()


def _event_match(r: Reader, node: Node, what: str, scope: Scope) -> EventMatch | None:
    if not r.keys(node, what, EVENT_MATCH):
        return None
    kind = node.value["event"].value
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        r.problem(node.value["event"].pos, f"{what}.event: unknown event {kind!r}; valid: {', '.join(EVENT_KINDS)}")
        return None
    task = task_ref(r, node.value["task"], f"{what}.task", scope) if "task" in node.value else None
    where: list[tuple[str, Any]] = []
    where_node = node.get("where")
    if where_node is not None and r.mapping(where_node, f"{what}.where", (), tuple(f.name for f in event_fields(kind))):
        where = [(key, child.plain()) for key, child in where_node.value.items()]
    if "task" in node.value and task is None:
        return None
    return EventMatch(kind, task, tuple(where))


def read_condition(r: Reader, node: Node, what: str, scope: Scope, labelled: bool = True) -> Condition | None:
    """One condition; ``labelled`` when the learner reads it (a bare one is inside another)."""
    if not node.is_map:
        r.problem(node.pos, f"{what}: expected a condition like {{label: …, event: redelivered}}")
        return None
    kind = r.one_kind(node, what, CONDITION_KINDS)
    if labelled and "label" not in node.value:
        r.problem(node.pos, f"{what}: every condition needs a label the learner can read")
    if not labelled and "label" in node.value:
        r.problem(node.key_pos["label"], f"{what}: no label here (only top-level conditions are shown)")
    label = r.text(node.get("label"), f"{what}.label") if "label" in node.value else ""
    pos = node.pos
    if kind is None:
        return None
    only_with = tuple(key.name for key in EVENT_ONLY.get(kind, ()))
    r.unknown_keys(node, what, (LABEL.name, kind, *only_with))
    if kind == "event":
        wanted = EVENT_MATCH.names()
        bare = Node({k: v for k, v in node.value.items() if k in wanted}, node.pos, node.key_pos)
        match = _event_match(r, bare, what, scope)
        count = _count(r, node.get("count"), f"{what}.count")
        return EventCount(label, pos, match, count) if match else None
    spec = node.value[kind]
    if kind == "state":
        if not r.keys(spec, f"{what}.state", STATE):
            return None
        task = task_ref(r, spec.value["task"], f"{what}.state.task", scope)
        state = spec.value["is"].value
        if state not in TASK_STATES:
            r.problem(
                spec.value["is"].pos, f"{what}.state.is: unknown state {state!r}; valid: {', '.join(TASK_STATES)}"
            )
            return None
        return TaskState(label, pos, task, state) if task else None
    if kind == "ledger":
        if not r.keys(spec, f"{what}.ledger", LEDGER):
            return None
        action = r.text(spec.value["action"], f"{what}.ledger.action")
        key = r.text(spec.get("key"), f"{what}.ledger.key") if "key" in spec.value else None
        return LedgerCount(label, pos, action, key, _count(r, spec.get("count"), f"{what}.ledger.count"))
    if kind == "sequence":
        matches = [_event_match(r, item, f"{what}.sequence", scope) for item in r.items(spec, f"{what}.sequence", 2)]
        if any(m is None for m in matches) or not matches:
            return None
        return Sequence(label, pos, tuple(m for m in matches if m is not None))
    if kind == "gap":
        return _gap(r, spec, f"{what}.gap", scope, label, pos)
    if kind == "setting":
        if not spec.is_map or len(spec.value) != 1:
            r.problem(spec.pos, f"{what}.setting: expected one setting, like {{task_acks_late: true}}")
            return None
        ((name, value),) = spec.value.items()
        try:
            return SettingIs(label, pos, name, settings.check_setting(name, value.plain()))
        except settings.LabConfigError as exc:
            r.problem(spec.key_pos[name], f"{what}.setting: {exc}")
            return None
    inner = read_condition(r, spec, f"{what}.not", scope, labelled=False)
    return Not(label, pos, inner) if inner else None


def _gap(r: Reader, spec: Node, what: str, scope: Scope, label: str, pos: Pos) -> Gap | None:
    if not r.keys(spec, what, GAP):
        return None
    start = _event_match(r, spec.value["from"], f"{what}.from", scope)
    end = _event_match(r, spec.value["to"], f"{what}.to", scope)
    bounds = {name: r.number(spec.value[name], f"{what}.{name}", 0) for name in ("min", "max") if name in spec.value}
    if not bounds:
        r.problem(spec.pos, f"{what}: expected min or max (seconds), or both")
        return None
    low, high = bounds.get("min"), bounds.get("max")
    if low is not None and high is not None and high < low:
        r.problem(spec.key_pos["max"], f"{what}.max: {high:g} is below min {low:g}")
        return None
    if start is None or end is None or None in bounds.values():
        return None
    return Gap(label, pos, start, end, low, high)


def read_conditions(r: Reader, node: Node | None, what: str, scope: Scope) -> tuple[Condition, ...]:
    """A list of labelled conditions, all of which must hold."""
    conditions = [read_condition(r, item, what, scope) for item in r.items(node, what)]
    return tuple(c for c in conditions if c is not None)
