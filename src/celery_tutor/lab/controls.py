"""The control vocabulary shared by lab scripts and lessons: one step, one control.

A step is a one-key mapping, ``{CONTROL: {PARAMETER: VALUE, …}}``. :func:`parse_step`
checks a step written in YAML and returns an :class:`Action` that can be applied to a
:class:`~celery_tutor.lab.engine.Lab`, or reports every problem with its position.
``wait`` is an action too, but it is carried out by whoever runs the steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from celery_tutor.lab import settings
from celery_tutor.lab.catalog import CATALOG, all_checkpoints
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.yaml_source import Node, Pos, Problem

if TYPE_CHECKING:
    from celery_tutor.lab.engine import Lab

TASK_STATES = ("PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REJECTED", "LOST")
"""States a ``wait: {until: {task, state}}`` can wait for (what the lab observed)."""

DEFAULT_WAIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Action:
    """A parsed control, ready to apply."""

    control: str
    pos: Pos

    def apply(self, lab: Lab) -> None:
        """Carry the control out on a lab (returns at once)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Send(Action):
    """Publish one or ``count`` task messages."""

    task: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    alias: str | None = None
    count: int = 1
    countdown: float | None = None

    def apply(self, lab: Lab) -> None:
        if self.count == 1:
            lab.send(self.task, self.args, self.kwargs, alias=self.alias, countdown=self.countdown)
        else:
            lab.send_many(self.task, self.count, self.args, self.kwargs, alias=self.alias)


@dataclass(frozen=True)
class SetSettings(Action):
    """Change Celery settings."""

    changes: dict[str, Any]

    def apply(self, lab: Lab) -> None:
        lab.configure(**self.changes)


@dataclass(frozen=True)
class SetTaskOptions(Action):
    """Change tasks' ``@app.task`` options."""

    options: dict[str, dict[str, Any]]

    def apply(self, lab: Lab) -> None:
        for task, values in self.options.items():
            lab.set_task_options(task, **values)


@dataclass(frozen=True)
class FailNext(Action):
    """Make the next runs of a task raise."""

    task: str
    times: int = 1
    exc: str = "ConnectionError"

    def apply(self, lab: Lab) -> None:
        lab.fail_next(self.task, self.times, self.exc)


@dataclass(frozen=True)
class Crash(Action):
    """Kill the whole worker now, or when a task reaches a checkpoint."""

    at: str | None = None
    task: str | None = None
    worker: str | None = None

    def apply(self, lab: Lab) -> None:
        if self.at is None:
            lab.crash_worker(self.worker)
        else:
            lab.crash_at(self.at, self.task)


@dataclass(frozen=True)
class KillChild(Action):
    """Kill only the pool child, at a checkpoint (or the next one reached)."""

    at: str | None = None
    task: str | None = None

    def apply(self, lab: Lab) -> None:
        lab.kill_child_at(self.at, self.task)


@dataclass(frozen=True)
class WorkerControl(Action):
    """restart_worker or stop_worker."""

    worker: str | None = None

    def apply(self, lab: Lab) -> None:
        if self.control == "restart_worker":
            lab.restart_worker(self.worker)
        else:
            lab.stop_worker(self.worker)


@dataclass(frozen=True)
class LabWide(Action):
    """purge or reset."""

    def apply(self, lab: Lab) -> None:
        if self.control == "purge":
            lab.purge()
        else:
            lab.reset()


@dataclass(frozen=True)
class Until:
    """What a wait waits for: a task's state, or events of a kind."""

    task: str | None = None
    state: str | None = None
    event: str | None = None
    count: int = 1

    def describe(self) -> str:
        """For messages."""
        if self.event is not None:
            who = f" of {self.task}" if self.task else ""
            times = f" ×{self.count}" if self.count > 1 else ""
            return f"event {self.event}{who}{times}"
        return f"{self.task} reaches {self.state}"


@dataclass(frozen=True)
class Wait(Action):
    """Wait a number of seconds, or until a condition holds."""

    seconds: float | None = None
    until: Until | None = None
    timeout: float = DEFAULT_WAIT_TIMEOUT

    def apply(self, lab: Lab) -> None:
        raise NotImplementedError("a wait is carried out by the script runner")


class StepChecker:
    """Collects problems while reading one step."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems

    def problem(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.path, pos, message))

    def params(self, node: Node, control: str, allowed: dict[str, bool]) -> dict[str, Node] | None:
        """A control's parameter mapping; ``allowed`` maps each name to "required"."""
        if node.value is None:
            params: dict[str, Node] = {}
        elif node.is_map:
            params = node.value
        else:
            self.problem(node.pos, f"{control}: expected a mapping of parameters, like {control}: {{…}}")
            return None
        ok = True
        for name, child in params.items():
            if name not in allowed:
                valid = ", ".join(allowed) or "none"
                self.problem(
                    node.key_pos.get(name, child.pos), f"{control}: unknown parameter {name!r}; valid: {valid}"
                )
                ok = False
        for name, required in allowed.items():
            if required and name not in params:
                self.problem(node.pos, f"{control}: missing required parameter {name!r}")
                ok = False
        return params if ok else None

    def text(self, node: Node, what: str) -> str | None:
        if isinstance(node.value, str) and node.value:
            return node.value
        self.problem(node.pos, f"{what}: expected text, got {node.plain()!r}")
        return None

    def checked(self, node: Node, what: str, check: Callable[[Any], Any]) -> Any:
        try:
            return check(node.plain())
        except settings.LabConfigError as exc:
            self.problem(node.pos, f"{what}: {exc}")
            return _INVALID

    def number(self, node: Node, what: str, minimum: float = 0) -> float | None:
        value = node.value
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < minimum
        ):
            self.problem(node.pos, f"{what}: expected a number ≥ {minimum:g}, got {node.plain()!r}")
            return None
        return float(value)

    def whole(self, node: Node, what: str, minimum: int = 1) -> int | None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(node.pos, f"{what}: expected a whole number ≥ {minimum}, got {node.plain()!r}")
            return None
        return value

    def task(self, node: Node, what: str) -> str | None:
        checked = self.checked(node, what, lambda v: settings.pick(CATALOG, v, "task"))
        return None if checked is _INVALID else node.value

    def checkpoint(self, node: Node, task: str | None, what: str) -> str | None:
        name = self.text(node, what)
        if name is None:
            return None
        valid = all_checkpoints() if task is None else (*CATALOG[task].checkpoints, *all_checkpoints(True))
        if name not in valid:
            owner = f" of {task}" if task else ""
            self.problem(node.pos, f"{what}: unknown checkpoint{owner} {name!r}; valid: {', '.join(valid)}")
            return None
        return name


_INVALID = object()


def _send(c: StepChecker, node: Node, pos: Pos) -> Action | None:
    params = c.params(node, "send", {"task": True, "args": False, "kwargs": False, "as": False, "count": False,
                                      "countdown": False})  # fmt: skip
    if params is None:
        return None
    task = c.task(params["task"], "send.task")
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    alias = count = countdown = None
    ok = task is not None
    if "args" in params:
        if params["args"].is_list:
            args = tuple(params["args"].plain())
        else:
            c.problem(params["args"].pos, "send.args: expected a list, like args: [42, 9.99]")
            ok = False
    if "kwargs" in params:
        if params["kwargs"].is_map:
            kwargs = params["kwargs"].plain()
        else:
            c.problem(params["kwargs"].pos, "send.kwargs: expected a mapping")
            ok = False
    if "as" in params:
        alias = c.text(params["as"], "send.as")
        ok = ok and alias is not None
    if "count" in params:
        count = c.whole(params["count"], "send.count")
        ok = ok and count is not None
    if "countdown" in params:
        countdown = c.number(params["countdown"], "send.countdown")
        ok = ok and countdown is not None
        if count not in (None, 1):
            c.problem(params["countdown"].pos, "send.countdown: only for a single message (count: 1)")
            ok = False
    if not ok or task is None:
        return None
    return Send("send", pos, task, args, kwargs, alias, count or 1, countdown)


def parse_settings(c: StepChecker, node: Node, what: str) -> dict[str, Any] | None:
    """``{SETTING: VALUE}`` checked; None when anything is wrong (every problem reported)."""
    if not node.is_map:
        c.problem(node.pos, f"{what}: expected a mapping of Celery settings")
        return None
    changes = {}
    for name, child in node.value.items():
        try:
            changes[name] = settings.check_setting(name, child.plain())
        except settings.LabConfigError as exc:
            c.problem(node.key_pos.get(name, child.pos), f"{what}: {exc}")
    return changes if len(changes) == len(node.value) else None


def _set(c: StepChecker, node: Node, pos: Pos) -> Action | None:
    if not node.is_map or not node.value:
        c.problem(node.pos, "set: expected a mapping of Celery settings, like set: {task_acks_late: true}")
        return None
    changes = parse_settings(c, node, "set")
    return SetSettings("set", pos, changes) if changes is not None else None


def parse_task_options(c: StepChecker, node: Node, what: str) -> dict[str, dict[str, Any]] | None:
    """``{TASK: {OPTION: VALUE}}`` checked."""
    if not node.is_map:
        c.problem(node.pos, f"{what}: expected a mapping like {{charge_card: {{max_retries: 5}}}}")
        return None
    result: dict[str, dict[str, Any]] = {}
    ok = True
    for task, options in node.value.items():
        try:
            settings.pick(CATALOG, task, "task")
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
            try:
                settings.check_task_option(name, child.plain())
                result[task][name] = child.plain()
            except settings.LabConfigError as exc:
                c.problem(options.key_pos.get(name, child.pos), f"{what}.{task}: {exc}")
                ok = False
    return result if ok else None


def _task_options(c: StepChecker, node: Node, pos: Pos) -> Action | None:
    if node.is_map and not node.value:
        c.problem(node.pos, "task_options: expected at least one task, like {charge_card: {max_retries: 5}}")
        return None
    options = parse_task_options(c, node, "task_options")
    return SetTaskOptions("task_options", pos, options) if options else None


def _fail_next(c: StepChecker, node: Node, pos: Pos) -> Action | None:
    params = c.params(node, "fail_next", {"task": True, "times": False, "exc": False})
    if params is None:
        return None
    task = c.task(params["task"], "fail_next.task")
    times = c.whole(params["times"], "fail_next.times") if "times" in params else 1
    exc: str | None = "ConnectionError"
    if "exc" in params:
        checked = c.checked(params["exc"], "fail_next.exc", settings.exception_class)
        exc = None if checked is _INVALID else params["exc"].value
    if task is None or times is None or exc is None:
        return None
    return FailNext("fail_next", pos, task, times, exc)


def _crash(c: StepChecker, node: Node, pos: Pos, control: str) -> Action | None:
    allowed = {"at": False, "task": False}
    if control == "crash":
        allowed["worker"] = False
    params = c.params(node, control, allowed)
    if params is None:
        return None
    task = c.task(params["task"], f"{control}.task") if "task" in params else None
    if "task" in params and task is None:
        return None
    at = c.checkpoint(params["at"], task, f"{control}.at") if "at" in params else None
    if "at" in params and at is None:
        return None
    if control == "kill_child":
        return KillChild(control, pos, at, task)
    worker = c.text(params["worker"], "crash.worker") if "worker" in params else None
    if "worker" in params and worker is None:
        return None
    if at is None and task is not None:
        c.problem(node.pos, "crash: task needs at (a checkpoint); crash: {} kills the worker now")
        return None
    if at is not None and worker is not None:
        c.problem(node.pos, "crash: worker only goes with a crash now; at crashes the worker that runs the task")
        return None
    return Crash(control, pos, at, task, worker)


def _worker_control(c: StepChecker, node: Node, pos: Pos, control: str) -> Action | None:
    params = c.params(node, control, {"worker": False})
    if params is None:
        return None
    worker = c.text(params["worker"], f"{control}.worker") if "worker" in params else None
    if "worker" in params and worker is None:
        return None
    return WorkerControl(control, pos, worker)


def _lab_wide(c: StepChecker, node: Node, pos: Pos, control: str) -> Action | None:
    return LabWide(control, pos) if c.params(node, control, {}) is not None else None


def _until(c: StepChecker, node: Node) -> Until | None:
    params = c.params(node, "wait.until", {"task": False, "state": False, "event": False, "count": False})
    if params is None:
        return None
    task = c.text(params["task"], "wait.until.task") if "task" in params else None
    if "event" in params:
        if "state" in params:
            c.problem(node.pos, "wait.until: give either state (with task) or event, not both")
            return None
        event = c.checked(params["event"], "wait.until.event", lambda v: settings.pick(EVENT_KINDS, v, "event"))
        count = c.whole(params["count"], "wait.until.count") if "count" in params else 1
        if event is _INVALID or count is None:
            return None
        return Until(task=task, event=params["event"].value, count=count)
    if "state" not in params or task is None:
        c.problem(node.pos, "wait.until: expected {task: ALIAS, state: STATE} or {event: KIND}")
        return None
    if "count" in params:
        c.problem(node.key_pos["count"], "wait.until.count: only goes with event")
        return None
    state = params["state"].value
    if state not in TASK_STATES:
        c.problem(params["state"].pos, f"wait.until.state: unknown state {state!r}; valid: {', '.join(TASK_STATES)}")
        return None
    return Until(task=task, state=state)


def _wait(c: StepChecker, node: Node, pos: Pos) -> Action | None:
    params = c.params(node, "wait", {"seconds": False, "until": False, "timeout": False})
    if params is None:
        return None
    if ("seconds" in params) == ("until" in params):
        c.problem(node.pos, "wait: expected either seconds: S or until: {…}")
        return None
    if "seconds" in params:
        if "timeout" in params:
            c.problem(node.key_pos["timeout"], "wait.timeout: only goes with until")
            return None
        seconds = c.number(params["seconds"], "wait.seconds")
        return Wait("wait", pos, seconds=seconds) if seconds is not None else None
    until = _until(c, params["until"])
    timeout = c.number(params["timeout"], "wait.timeout") if "timeout" in params else DEFAULT_WAIT_TIMEOUT
    if until is None or timeout is None:
        return None
    return Wait("wait", pos, until=until, timeout=timeout)


PARSERS: dict[str, Callable[[StepChecker, Node, Pos], Action | None]] = {
    "send": _send,
    "set": _set,
    "task_options": _task_options,
    "fail_next": _fail_next,
    "crash": lambda c, n, p: _crash(c, n, p, "crash"),
    "kill_child": lambda c, n, p: _crash(c, n, p, "kill_child"),
    "restart_worker": lambda c, n, p: _worker_control(c, n, p, "restart_worker"),
    "stop_worker": lambda c, n, p: _worker_control(c, n, p, "stop_worker"),
    "purge": lambda c, n, p: _lab_wide(c, n, p, "purge"),
    "reset": lambda c, n, p: _lab_wide(c, n, p, "reset"),
    "wait": _wait,
}
"""Every control by name."""

CONTROL_NAMES: tuple[str, ...] = tuple(PARSERS)


def parse_step(node: Node, path: str, problems: list[Problem]) -> Action | None:
    """Read one step; append problems and return None when it is wrong."""
    c = StepChecker(path, problems)
    if not node.is_map or len(node.value) != 1:
        c.problem(node.pos, f"a step is one control, like - send: {{task: add}}; controls: {', '.join(PARSERS)}")
        return None
    (control, params), = node.value.items()  # fmt: skip
    parser = PARSERS.get(control)
    if parser is None:
        c.problem(node.key_pos[control], f"unknown control {control!r}; valid: {', '.join(PARSERS)}")
        return None
    return parser(c, params, node.key_pos[control])
