"""Read control steps written in YAML into :mod:`.actions`, reporting every problem at its place.

Each parameter is read by its :class:`~.action_params.Param` definition: its type, whether it
is required, and its bounds (checked before anything is built from the value, so
``send: {count: 100000000}`` is one problem, not a hundred million messages). What
ties parameters together (``countdown`` only with one message, ``seconds`` or
``until``…) is checked per control once every parameter is valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from celery_tutor.lab import settings
from celery_tutor.lab.action_params import Param, ParamType
from celery_tutor.lab.actions import (
    ACTIONS,
    TASK_STATES,
    Action,
    SetSettings,
    SetTaskOptions,
    Until,
)
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.library import LAB_TASKS, HasCheckpoints, all_checkpoints
from celery_tutor.yaml_source import Node, Pos, Problem

_INVALID = object()


class StepChecker:
    """Collects problems while reading steps (and the settings and task options they set)."""

    def __init__(self, path: str, problems: list[Problem], tasks: Mapping[str, HasCheckpoints] = LAB_TASKS) -> None:
        self.path = path
        self.problems = problems
        self.tasks = tasks
        """The tasks steps may name: the library's, and a script's own code's."""

    def problem(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.path, pos, message))

    def params(self, node: Node, control: str, allowed: tuple[Param, ...]) -> dict[str, Node] | None:
        """A control's parameter mapping, with no unknown name and every required one."""
        if node.value is None:
            params: dict[str, Node] = {}
        elif node.is_map:
            params = node.value
        else:
            self.problem(node.pos, f"{control}: expected a mapping of parameters, like {control}: {{…}}")
            return None
        names = [param.name for param in allowed]
        ok = True
        for name, child in params.items():
            if name not in names:
                valid = ", ".join(names) or "none"
                self.problem(
                    node.key_pos.get(name, child.pos), f"{control}: unknown parameter {name!r}; valid: {valid}"
                )
                ok = False
        for param in allowed:
            if param.required and param.name not in params:
                self.problem(node.pos, f"{control}: missing required parameter {param.name!r}")
                ok = False
        return params if ok else None

    def text(self, node: Node, what: str) -> str | None:
        if isinstance(node.value, str) and node.value:
            return node.value
        self.problem(node.pos, f"{what}: expected text, got {node.plain()!r}")
        return None

    def checked(self, node: Node, what: str, check: Callable[[Any], Any]) -> Any:
        """``check(value)``, or ``_INVALID`` with its error reported at the node."""
        try:
            return check(node.plain())
        except settings.LabConfigError as exc:
            self.problem(node.pos, f"{what}: {exc}")
            return _INVALID

    def checkpoint(self, node: Node, task: str | None, what: str) -> str | None:
        name = self.text(node, what)
        if name is None:
            return None
        valid = (
            all_checkpoints(tasks=self.tasks)
            if task is None
            else (*self.tasks[task].checkpoints, *all_checkpoints(True))
        )
        if name not in valid:
            owner = f" of {task}" if task else ""
            self.problem(node.pos, f"{what}: unknown checkpoint{owner} {name!r}; valid: {', '.join(valid)}")
            return None
        return name

    def value(self, node: Node, what: str, param: Param, task: str | None) -> Any:
        """One parameter's value by its definition, or ``_INVALID`` (reported)."""
        kind = param.type
        if kind is ParamType.TEXT:
            return _or_invalid(self.text(node, what))
        if kind is ParamType.CHECKPOINT:
            return _or_invalid(self.checkpoint(node, task, what))
        if kind is ParamType.TASK:
            return self.checked(node, what, _known(self.tasks, "task"))
        if kind is ParamType.LIST:
            if node.is_list:
                return tuple(node.plain())
            like = f", like {param.example}" if param.example else ""
            self.problem(node.pos, f"{what}: expected a list{like}")
            return _INVALID
        if kind is ParamType.MAPPING:
            if node.is_map:
                return node.plain()
            self.problem(node.pos, f"{what}: expected a mapping")
            return _INVALID
        if kind is ParamType.WHOLE:
            low, high = int(param.minimum or 0), None if param.maximum is None else int(param.maximum)
            return self.checked(node, what, lambda v: settings.whole(v, low, high, param.unit))
        if kind is ParamType.SECONDS:
            low_s = param.minimum or 0
            return self.checked(node, what, lambda v: float(settings.number(v, low_s, param.maximum, param.unit)))
        if kind is ParamType.EXCEPTION:
            return self.checked(node, what, _known(settings.EXCEPTIONS, "exception"))
        if kind is ParamType.EVENT:
            return self.checked(node, what, _known(EVENT_KINDS, "event"))
        if kind is ParamType.STATE:
            if node.value in TASK_STATES:
                return node.value
            self.problem(node.pos, f"{what}: unknown state {node.plain()!r}; valid: {', '.join(TASK_STATES)}")
            return _INVALID
        if kind is ParamType.UNTIL:
            return _or_invalid(_until(self, node))
        if kind is ParamType.FLAG:
            if isinstance(node.value, bool):
                return node.value
            self.problem(node.pos, f"{what}: expected true or false, got {node.plain()!r}")
            return _INVALID
        raise AssertionError(f"no reader for {kind}")

    def read(self, node: Node, what: str, allowed: tuple[Param, ...]) -> tuple[dict[str, Node], dict[str, Any]] | None:
        """The given parameter nodes and their checked values by field; None if any is wrong."""
        given = self.params(node, what, allowed)
        if given is None:
            return None
        values: dict[str, Any] = {}
        ok = True
        # A checkpoint is read after the task it belongs to (and not at all if that task is wrong).
        for param in sorted(allowed, key=lambda p: p.type is ParamType.CHECKPOINT):
            child = given.get(param.name)
            if child is None:
                continue
            if param.type is ParamType.CHECKPOINT and "task" in given and "task" not in values:
                continue
            value = self.value(child, f"{what}.{param.name}", param, values.get("task"))
            if value is _INVALID:
                ok = False
            else:
                values[param.field] = value
        return (given, values) if ok else None


def _or_invalid(value: Any) -> Any:
    return _INVALID if value is None else value


def _known(table: Mapping[str, Any], what: str) -> Callable[[Any], Any]:
    """A check that a value is a name in ``table`` (the name itself is the value)."""

    def check(value: Any) -> Any:
        settings.pick(table, value, what)
        return value

    return check


# -- what ties the parameters of one control together ---------------------------------------

Rule = Callable[[StepChecker, Node, dict[str, Node], dict[str, Any]], bool]


def _send_rule(c: StepChecker, node: Node, given: dict[str, Node], values: dict[str, Any]) -> bool:
    if "countdown" in values and values.get("count", 1) != 1:
        c.problem(given["countdown"].pos, "send.countdown: only for a single message (count: 1)")
        return False
    return True


def _now_or_at(control: str, now: str, one_now: str, at_does: str) -> Rule:
    """The rule of a control that acts now, or when a task reaches a checkpoint (``at``)."""

    def rule(c: StepChecker, node: Node, given: dict[str, Node], values: dict[str, Any]) -> bool:
        if "at" not in values and "task" in values:
            c.problem(node.pos, f"{control}: task needs at (a checkpoint); {control}: {{}} {now}")
            return False
        if "at" in values and "worker" in values:
            at = f"at {at_does} the worker that runs the task"
            c.problem(node.pos, f"{control}: worker only goes with {one_now}; {at}")
            return False
        return True

    return rule


_crash_rule = _now_or_at("crash", "kills the worker now", "a crash now", "crashes")
_drop_rule = _now_or_at("drop_connection", "drops its connection now", "a drop now", "drops the connection of")


def _wait_rule(c: StepChecker, node: Node, given: dict[str, Node], values: dict[str, Any]) -> bool:
    if ("seconds" in values) == ("until" in values):
        c.problem(node.pos, "wait: expected either seconds: S or until: {…}")
        return False
    if "seconds" in values and "timeout" in values:
        c.problem(node.key_pos["timeout"], "wait.timeout: only goes with until")
        return False
    return True


def _until_rule(c: StepChecker, node: Node, given: dict[str, Node], values: dict[str, Any]) -> bool:
    if "event" in values:
        if "state" in values:
            c.problem(node.pos, "wait.until: give either state (with task) or event, not both")
            return False
        return True
    if "state" not in values or "task" not in values:
        c.problem(node.pos, "wait.until: expected {task: ALIAS, state: STATE} or {event: KIND}")
        return False
    if "count" in values:
        c.problem(node.key_pos["count"], "wait.until.count: only goes with event")
        return False
    return True


RULES: dict[str, Rule] = {"send": _send_rule, "crash": _crash_rule, "drop_connection": _drop_rule, "wait": _wait_rule}
"""The checks across parameters, by control (the others have none)."""


def _until(c: StepChecker, node: Node) -> Until | None:
    read = c.read(node, "wait.until", Until.PARAMS)
    if read is None or not _until_rule(c, node, *read):
        return None
    return Until(**read[1])


# -- settings and task options (set, task_options, and a lab's setup) -----------------------


def _options_ok(
    c: StepChecker, table: Mapping[str, settings.Knob], name: Any, node: Node, what: str, check: Callable[..., Any]
) -> bool:
    """Check a mapping-valued setting or option entry by entry, each problem at its own line.

    ``broker_transport_options: {visibility_timeout: -1}`` spread over lines is reported
    at the line of ``visibility_timeout``, not at the line of the setting.
    """
    knob = table.get(name) if isinstance(name, str) else None
    if knob is None or not isinstance(knob.value, settings.Options) or not node.is_map:
        return True
    ok = True
    for key, child in node.value.items():
        try:
            check(name, {key: child.plain()})
        except settings.LabConfigError as exc:
            known = key in knob.value.fields
            c.problem(child.pos if known else node.key_pos.get(key, child.pos), f"{what}: {exc}")
            ok = False
    return ok


def parse_settings(c: StepChecker, node: Node, what: str) -> dict[str, Any] | None:
    """``{SETTING: VALUE}`` checked; None when anything is wrong (every problem reported)."""
    if not node.is_map:
        c.problem(node.pos, f"{what}: expected a mapping of Celery settings")
        return None
    changes = {}
    for name, child in node.value.items():
        if not _options_ok(c, settings.SETTINGS, name, child, what, settings.check_setting):
            continue
        try:
            changes[name] = settings.check_setting(name, child.plain())
        except settings.LabConfigError as exc:
            c.problem(node.key_pos.get(name, child.pos), f"{what}: {exc}")
    return changes if len(changes) == len(node.value) else None


def parse_task_options(c: StepChecker, node: Node, what: str) -> dict[str, dict[str, Any]] | None:
    """``{TASK: {OPTION: VALUE}}`` checked."""
    if not node.is_map:
        c.problem(node.pos, f"{what}: expected a mapping like {{charge_card: {{max_retries: 5}}}}")
        return None
    result: dict[str, dict[str, Any]] = {}
    ok = True
    for task, options in node.value.items():
        try:
            settings.pick(c.tasks, task, "task")
        except settings.LabConfigError as exc:
            c.problem(node.key_pos.get(task, options.pos), f"{what}: {exc}")
            ok = False
            continue
        if not options.is_map:
            c.problem(options.pos, f"{what}.{task}: expected a mapping of task options")
            ok = False
            continue
        result[task] = {}
        for name, child in options.value.items():
            if not _options_ok(c, settings.TASK_OPTIONS, name, child, f"{what}.{task}", settings.check_task_option):
                ok = False
                continue
            try:
                settings.check_task_option(name, child.plain())
                result[task][name] = child.plain()
            except settings.LabConfigError as exc:
                c.problem(options.key_pos.get(name, child.pos), f"{what}.{task}: {exc}")
                ok = False
    return result if ok else None


def _set(c: StepChecker, node: Node, pos: Pos) -> Action | None:
    if not node.is_map or not node.value:
        c.problem(node.pos, "set: expected a mapping of Celery settings, like set: {task_acks_late: true}")
        return None
    changes = parse_settings(c, node, "set")
    return SetSettings(pos, changes) if changes is not None else None


def _task_options(c: StepChecker, node: Node, pos: Pos) -> Action | None:
    if node.is_map and not node.value:
        c.problem(node.pos, "task_options: expected at least one task, like {charge_card: {max_retries: 5}}")
        return None
    options = parse_task_options(c, node, "task_options")
    return SetTaskOptions(pos, options) if options else None


CUSTOM: dict[str, Callable[[StepChecker, Node, Pos], Action | None]] = {"set": _set, "task_options": _task_options}
"""Controls whose parameters are not a fixed set: the settings and task options they change."""


def parse_step(
    node: Node, path: str, problems: list[Problem], tasks: Mapping[str, HasCheckpoints] = LAB_TASKS
) -> Action | None:
    """Read one step (naming ``tasks``); append problems and return None when it is wrong."""
    c = StepChecker(path, problems, tasks)
    if not node.is_map or len(node.value) != 1:
        c.problem(node.pos, f"a step is one control, like - send: {{task: add}}; controls: {', '.join(ACTIONS)}")
        return None
    (control, params), = node.value.items()  # fmt: skip
    cls = ACTIONS.get(control)
    pos = node.key_pos[control]
    if cls is None:
        c.problem(pos, f"unknown control {control!r}; valid: {', '.join(ACTIONS)}")
        return None
    custom = CUSTOM.get(control)
    if custom is not None:
        return custom(c, params, pos)
    read = c.read(params, control, cls.PARAMS)
    if read is None:
        return None
    rule = RULES.get(control)
    if rule is not None and not rule(c, params, *read):
        return None
    return cls(pos, **read[1])
