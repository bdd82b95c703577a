"""The control vocabulary as a model: each action, the parameters it takes, what it does to a lab.

Lab scripts, lesson experiments, solutions and controls, and the sandbox all speak it.
A step is a one-key mapping, ``{CONTROL: {PARAMETER: VALUE, …}}``; each action class
declares its parameters once, as :class:`~.action_params.Param` definitions (name, type, required,
bounds). The YAML parser (:mod:`.action_parser`) reads steps by these definitions, and
anything else that describes the vocabulary (a JSON Schema, help text) can read the
same ones instead of keeping a table of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from celery_tutor.lab.action_params import Param, ParamType
from celery_tutor.lab.limits import MAX_COUNT, MAX_COUNTDOWN, MAX_GRACE, MAX_OUTAGE, MAX_WAIT_SECONDS
from celery_tutor.yaml_source import Pos

if TYPE_CHECKING:
    from celery_tutor.lab.engine import Lab

TASK_STATES = ("PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REJECTED", "LOST")
"""States a ``wait: {until: {task, state}}`` can wait for (what the lab observed)."""

DEFAULT_WAIT_TIMEOUT = 10.0
"""How long ``wait: {until: …}`` waits when no ``timeout`` is given, in seconds."""


@dataclass(frozen=True)
class Action:
    """A checked control, ready to apply to a lab."""

    pos: Pos
    control: ClassVar[str] = ""
    """The control's name in YAML."""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    """The parameters the control takes, in the order messages list them."""

    def __init_subclass__(cls, *, control: str | None = None) -> None:
        """``class Send(Action, control="send")``: a control's YAML name stands where the class is named."""
        super().__init_subclass__()
        if control is not None:
            cls.control = control

    def apply(self, lab: Lab) -> None:
        """Carry the control out on a lab (returns at once)."""
        raise NotImplementedError


_WORKER = Param("worker", ParamType.TEXT, "The worker's name, like worker2 (default: the first one alive).")


@dataclass(frozen=True)
class Send(Action, control="send"):
    """Publish one task message, or ``count`` of them."""

    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("task", ParamType.TASK, "The task to send.", required=True),
        Param("args", ParamType.LIST, "Positional arguments.", example="args: [42, 9.99]"),
        Param("kwargs", ParamType.MAPPING, "Keyword arguments."),
        Param(
            "as",
            ParamType.TEXT,
            "A name for this task that conditions and waits can use; with count: N the names are NAME-1 … NAME-N.",
            attribute="alias",
        ),
        Param(
            "count", ParamType.WHOLE, "How many messages (default 1).", minimum=1, maximum=MAX_COUNT, unit="messages"
        ),
        Param(
            "countdown",
            ParamType.SECONDS,
            "Seconds before the message may run (a single message only).",
            minimum=0,
            maximum=MAX_COUNTDOWN,
            unit="seconds",
        ),
    )

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
class SetSettings(Action, control="set"):
    """Change Celery settings. Its parameters are the settings themselves (``settings.SETTINGS``)."""

    changes: dict[str, Any]

    def apply(self, lab: Lab) -> None:
        lab.configure(**self.changes)


@dataclass(frozen=True)
class SetTaskOptions(Action, control="task_options"):
    """Change tasks' ``@app.task`` options: ``{TASK: {OPTION: VALUE}}`` (``settings.TASK_OPTIONS``)."""

    options: dict[str, dict[str, Any]]

    def apply(self, lab: Lab) -> None:
        for task, values in self.options.items():
            lab.set_task_options(task, **values)


@dataclass(frozen=True)
class FailNext(Action, control="fail_next"):
    """Make the next runs of a task raise."""

    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("task", ParamType.TASK, "The task whose next runs fail.", required=True),
        Param("times", ParamType.WHOLE, "How many runs fail (default 1).", minimum=1, maximum=MAX_COUNT, unit="runs"),
        Param("exc", ParamType.EXCEPTION, "The exception they raise (default ConnectionError)."),
    )

    task: str
    times: int = 1
    exc: str = "ConnectionError"

    def apply(self, lab: Lab) -> None:
        lab.fail_next(self.task, self.times, self.exc)


_WHEN_IT_REACHES = Param("task", ParamType.TASK, "Only when this task reaches it (needs at).")


def _at(what: str, default: str) -> Param:
    """The ``at`` parameter of an action armed for a checkpoint: ``what`` happens there."""
    return Param("at", ParamType.CHECKPOINT, f"{what} when a task reaches this checkpoint (default: {default}).")


@dataclass(frozen=True)
class CheckpointAction(Action):
    """An action armed for when a task reaches a checkpoint (``at``; of ``task`` only, if given)."""

    at: str | None = None
    task: str | None = None


@dataclass(frozen=True)
class NowOrAtAction(CheckpointAction):
    """An action on a worker now (``worker``), or on the worker running a task when it reaches ``at``."""

    worker: str | None = None


def _now_or_at(what: str, worker: str, default: str) -> tuple[Param, ...]:
    """The parameters of a :class:`NowOrAtAction`: ``at`` and its ``task``, or ``worker`` alone."""
    return (
        _at(what, "now"),
        _WHEN_IT_REACHES,
        Param("worker", ParamType.TEXT, f"{worker} now (not with at; default: {default})."),
    )


@dataclass(frozen=True)
class Crash(NowOrAtAction, control="crash"):
    """Kill the whole worker now, or when a task reaches a checkpoint."""

    PARAMS: ClassVar[tuple[Param, ...]] = _now_or_at("Crash", "The worker to crash", "the first one alive")

    def apply(self, lab: Lab) -> None:
        if self.at is None:
            lab.crash_worker(self.worker)
        else:
            lab.crash_at(self.at, self.task)


@dataclass(frozen=True)
class KillChild(CheckpointAction, control="kill_child"):
    """Kill only the pool child, at a checkpoint (or the next one reached)."""

    PARAMS: ClassVar[tuple[Param, ...]] = (
        _at("Kill it", "the next one"),
        Param("task", ParamType.TASK, "Only the child running this task."),
    )

    def apply(self, lab: Lab) -> None:
        lab.kill_child_at(self.at, self.task)


@dataclass(frozen=True)
class DropConnection(NowOrAtAction, control="drop_connection"):
    """Drop a worker's broker connection, now or when a task reaches a checkpoint; the worker lives on."""

    PARAMS: ClassVar[tuple[Param, ...]] = (
        *_now_or_at("Drop it", "The worker whose connection drops", "the first one"),
        Param(
            "outage",
            ParamType.SECONDS,
            "Seconds the broker then stays out of reach for that worker (default 0: it reconnects at once).",
            minimum=0,
            maximum=MAX_OUTAGE,
            unit="seconds",
        ),
    )

    outage: float = 0.0

    def apply(self, lab: Lab) -> None:
        if self.at is None:
            lab.drop_connection(self.worker, self.outage)
        else:
            lab.drop_connection_at(self.at, self.task, self.outage)


@dataclass(frozen=True)
class WorkerAction(Action):
    """An action on one worker: the one named, or the first one alive."""

    PARAMS: ClassVar[tuple[Param, ...]] = (_WORKER,)

    worker: str | None = None


@dataclass(frozen=True)
class RestartWorker(WorkerAction, control="restart_worker"):
    """Start a worker again (after a warm stop if it is alive)."""

    def apply(self, lab: Lab) -> None:
        lab.restart_worker(self.worker)


@dataclass(frozen=True)
class StopWorker(WorkerAction, control="stop_worker"):
    """Stop a worker warm: it takes no new messages and finishes what it runs."""

    def apply(self, lab: Lab) -> None:
        lab.stop_worker(self.worker)


@dataclass(frozen=True)
class Deploy(Action, control="deploy"):
    """Stop a worker as a container orchestrator does: SIGTERM now, SIGKILL after a grace period."""

    PARAMS: ClassVar[tuple[Param, ...]] = (
        _WORKER,
        Param(
            "grace",
            ParamType.SECONDS,
            "Seconds from SIGTERM to SIGKILL (default 30, Kubernetes' default).",
            minimum=0,
            maximum=MAX_GRACE,
            unit="seconds",
        ),
        Param(
            "remap_sigterm",
            ParamType.FLAG,
            "The worker runs with REMAP_SIGTERM=SIGQUIT: SIGTERM starts a cold shutdown "
            "(a soft shutdown of worker_soft_shutdown_timeout, then running tasks are cancelled), not a warm one.",
        ),
    )

    worker: str | None = None
    grace: float = 30.0
    remap_sigterm: bool = False

    def apply(self, lab: Lab) -> None:
        lab.deploy(self.worker, self.grace, self.remap_sigterm)


@dataclass(frozen=True)
class Purge(Action, control="purge"):
    """Delete every ready message (unacked ones stay)."""

    def apply(self, lab: Lab) -> None:
        lab.purge()


@dataclass(frozen=True)
class Reset(Action, control="reset"):
    """Put the lab back as it started: fresh workers, empty queue, ledger and results."""

    def apply(self, lab: Lab) -> None:
        lab.reset()


@dataclass(frozen=True)
class Until:
    """What a wait waits for: a task's state, or events of a kind."""

    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("task", ParamType.TEXT, "An alias sent before, or a lab task (its latest message)."),
        Param("state", ParamType.STATE, "Wait until the task is in this state (needs task)."),
        Param("event", ParamType.EVENT, "Wait for events of this kind (of task, if given)."),
        Param(
            "count", ParamType.WHOLE, "How many such events (default 1).", minimum=1, maximum=MAX_COUNT, unit="events"
        ),
    )

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
class Wait(Action, control="wait"):
    """Wait a number of seconds, or until a condition holds. The script runner carries it out."""

    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("seconds", ParamType.SECONDS, "Seconds to wait.", minimum=0, maximum=MAX_WAIT_SECONDS, unit="seconds"),
        Param("until", ParamType.UNTIL, "What to wait for."),
        Param(
            "timeout",
            ParamType.SECONDS,
            f"Give up (and fail) after this many seconds (default {DEFAULT_WAIT_TIMEOUT:g}).",
            minimum=0,
            maximum=MAX_WAIT_SECONDS,
            unit="seconds",
        ),
    )

    seconds: float | None = None
    until: Until | None = None
    timeout: float = DEFAULT_WAIT_TIMEOUT

    def apply(self, lab: Lab) -> None:
        raise NotImplementedError("a wait is carried out by the script runner")


ACTIONS: dict[str, type[Action]] = {
    cls.control: cls
    for cls in (
        Send,
        SetSettings,
        SetTaskOptions,
        FailNext,
        Crash,
        KillChild,
        DropConnection,
        RestartWorker,
        StopWorker,
        Deploy,
        Purge,
        Reset,
        Wait,
    )
}
"""Every control by name, in the order messages list them."""

CONTROL_NAMES: tuple[str, ...] = tuple(ACTIONS)
