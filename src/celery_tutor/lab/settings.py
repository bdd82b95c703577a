"""The Celery settings, task options and exceptions a lab accepts, checked before use.

A lab exposes a deliberate subset of Celery: the knobs that decide whether work is kept
or lost. Every name is checked here so that a typo in a script or a lesson is an error
that lists the valid names, never a silently ignored setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from celery_tutor.lab import limits

T = TypeVar("T")


class LabConfigError(ValueError):
    """A setting, task option, task, checkpoint or exception name the lab does not know."""


def whole(value: Any, minimum: int = 1, maximum: int | None = None, unit: str = "") -> int:
    """A whole number in range, or :class:`LabConfigError` (with the limit when it is too big)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LabConfigError(f"expected a whole number ≥ {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise LabConfigError(limits.over_limit(value, maximum, unit))
    return value


def number(
    value: Any, minimum: float = 0, maximum: float | None = None, unit: str = "seconds", noun: str = "a number"
) -> float:
    """A finite number in range (returned as given), or :class:`LabConfigError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < minimum:
        raise LabConfigError(f"expected {noun} ≥ {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise LabConfigError(limits.over_limit(value, maximum, unit))
    return value


def named(what: str, check: Callable[..., T], *args: Any) -> T:
    """``check(*args)``, with ``what`` in front of the message of the error it raises."""
    try:
        return check(*args)
    except LabConfigError as exc:
        raise LabConfigError(f"{what}: {exc}") from None


Schema = dict[str, Any]
"""JSON Schema: what each value kind tells the lesson schema about the values it accepts."""


@dataclass(frozen=True)
class Flag:
    """true or false."""

    def check(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise LabConfigError(f"expected true or false, got {value!r}")

    def json_schema(self) -> Schema:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Whole:
    """A whole number from ``minimum`` (to ``maximum``); with ``unlimited``, None too (no limit)."""

    minimum: int
    maximum: int | None = None
    unit: str = ""
    unlimited: bool = False

    def check(self, value: Any) -> int | None:
        if value is None and self.unlimited:
            return None
        return whole(value, self.minimum, self.maximum, self.unit)

    def json_schema(self) -> Schema:
        bounds = {"minimum": self.minimum} | ({} if self.maximum is None else {"maximum": self.maximum})
        return {"type": ["integer", "null"] if self.unlimited else "integer", **bounds}


@dataclass(frozen=True)
class Seconds:
    """A number of seconds, up to the lab's longest delay; with ``or_flag``, true or false too.

    With ``unset``, None too: no value (a time limit that is not set).
    """

    or_flag: bool = False
    minimum: float = 0
    maximum: float = limits.MAX_COUNTDOWN
    unset: bool = False

    def check(self, value: Any) -> bool | float | None:
        if self.or_flag and isinstance(value, bool):
            return value
        if self.unset and value is None:
            return None
        return number(value, self.minimum, self.maximum, noun="a number of seconds")

    def json_schema(self) -> Schema:
        kinds = [*(["boolean"] if self.or_flag else []), "number", *(["null"] if self.unset else [])]
        return {"type": kinds if len(kinds) > 1 else "number", "minimum": self.minimum, "maximum": self.maximum}


@dataclass(frozen=True)
class ExceptionNames:
    """Exceptions a lab can inject, by name: one, or a list of them."""

    def check(self, value: Any) -> tuple[type[BaseException], ...]:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, (list, tuple)) or not names:
            raise LabConfigError(f"expected a list of exception names, got {value!r}")
        return tuple(exception_class(name) for name in names)

    def json_schema(self) -> Schema:
        name = {"enum": list(EXCEPTIONS)}
        return {"oneOf": [name, {"type": "array", "minItems": 1, "items": name}]}


@dataclass(frozen=True)
class Options:
    """A mapping of some of ``fields``, each checked by its own kind."""

    fields: Mapping[str, tuple[Value, str]]
    """By name: the value's kind and what it does."""
    what: str
    example: str

    def check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise LabConfigError(f"expected a mapping such as {self.example}, got {value!r}")
        checked: dict[str, Any] = {}
        for key, item in value.items():
            kind = pick(self.fields, key, self.what)[0]
            try:
                checked[key] = kind.check(item)
            except LabConfigError as exc:  # say which key: the mapping may hold several
                raise LabConfigError(f"{key}: {exc}") from None
        return checked

    def json_schema(self) -> Schema:
        properties = {name: {**kind.json_schema(), "description": text} for name, (kind, text) in self.fields.items()}
        return {"type": "object", "properties": properties, "additionalProperties": False}


Value = Flag | Whole | Seconds | ExceptionNames | Options
"""How a setting's or an option's value is checked, and described for the lesson schema."""

TRANSPORT_OPTIONS: dict[str, tuple[Value, str]] = {
    "visibility_timeout": (Seconds(minimum=0.5), "Seconds an unacked message stays invisible (kombu: 3600)."),
    "unacked_restore_interval": (
        Seconds(minimum=0.1, maximum=3600),
        "Seconds between the restore timer's calls (kombu: 10).",
    ),
    "unacked_restore_throttle": (Whole(1, 1000, "calls"), "Scan for visible messages every Nth call (kombu: 10)."),
    "unacked_mutex_expire": (
        Seconds(minimum=1, maximum=3600),
        "Seconds the scan's lock outlives a worker killed mid-scan, no scan restoring anything (kombu: 300).",
    ),
}
"""The Redis transport options a lab may set (the scan runs about every interval x throttle)."""


BROKERS = ("rabbitmq", "redis")
"""The brokers a lab can run on: RabbitMQ-like (in process) or kombu's Redis transport on a real server."""


def check_broker(name: Any) -> str:
    """A broker's name, or :class:`LabConfigError` naming the valid ones."""
    if not isinstance(name, str) or name not in BROKERS:
        raise LabConfigError(f"unknown broker {name!r}; valid: {', '.join(BROKERS)}")
    return name


def pick(table: Mapping[str, Any], name: Any, what: str) -> Any:
    """Look a name up, or fail with the valid names listed."""
    if not isinstance(name, str) or name not in table:
        raise LabConfigError(f"unknown {what} {name!r}; valid: {', '.join(sorted(table))}")
    return table[name]


@dataclass(frozen=True)
class Knob:
    """One setting or option: the values it takes, its default, and what it does."""

    value: Value
    default: Any
    help: str

    def check(self, value: Any) -> Any:
        """The value as the lab uses it, or :class:`LabConfigError`."""
        return self.value.check(value)


FLAG = Flag()

TIME_LIMIT = Seconds(minimum=0.01, maximum=limits.MAX_TIME_LIMIT, unset=True)
"""A time limit in seconds, or None (no limit): Celery's ``time_limit`` settings and options."""

SETTINGS: dict[str, Knob] = {
    "task_acks_late": Knob(FLAG, False, "ack after the task ran instead of just before"),
    "task_reject_on_worker_lost": Knob(
        FLAG, False, "requeue a late-ack task whose pool child died instead of acking it"
    ),
    "task_acks_on_failure_or_timeout": Knob(
        FLAG, True, "ack a late-ack task that failed (False: reject it without requeue)"
    ),
    "task_acks_on_failure": Knob(
        FLAG, None, "5.7: ack a late-ack task that failed (unset: task_acks_on_failure_or_timeout decides)"
    ),
    "task_acks_on_timeout": Knob(
        FLAG, None, "5.7: ack a late-ack task that hit its hard time limit (unset: the older setting decides)"
    ),
    "task_retry_on_worker_lost": Knob(FLAG, False, "retry (bounded by max_retries) a task whose pool child died"),
    "worker_prefetch_multiplier": Knob(
        Whole(1, limits.MAX_PREFETCH_MULTIPLIER, "messages per slot"),
        4,
        "how many unacked messages a worker may hold per pool slot",
    ),
    "worker_concurrency": Knob(Whole(1, limits.MAX_CONCURRENCY, "threads"), 1, "how many tasks a worker runs at once"),
    "worker_deduplicate_successful_tasks": Knob(
        FLAG, False, "skip a redelivered late-ack task whose SUCCESS is already stored"
    ),
    "task_time_limit": Knob(
        TIME_LIMIT,
        None,
        "hard time limit in seconds for every task: the run is killed, TimeLimitExceeded (the lab: at a checkpoint)",
    ),
    "task_soft_time_limit": Knob(
        TIME_LIMIT,
        None,
        "soft time limit in seconds for every task: SoftTimeLimitExceeded raised inside it (the lab: at a checkpoint)",
    ),
    "worker_cancel_long_running_tasks_on_connection_loss": Knob(
        FLAG, False, "on a lost broker connection, cancel running late-ack tasks (their ack could not be sent)"
    ),
    "worker_enable_remote_control": Knob(
        FLAG,
        True,
        "listen for remote-control commands; on Redis it keeps the worker reading its connection, prefetch full or not",
    ),
    "worker_soft_shutdown_timeout": Knob(
        Seconds(maximum=limits.MAX_GRACE),
        0.0,
        "5.5+: in a cold shutdown, first wait this many seconds for running tasks, then cancel them",
    ),
    "worker_enable_soft_shutdown_on_idle": Knob(
        FLAG, False, "5.5+: wait worker_soft_shutdown_timeout even when no task is running"
    ),
    "broker_transport_options": Knob(
        Options(TRANSPORT_OPTIONS, "transport option", "{visibility_timeout: 2}"),
        {},
        "Redis: visibility_timeout, unacked_restore_interval, unacked_restore_throttle, unacked_mutex_expire"
        " (kombu: 3600, 10, 10, 300)",
    ),
}
"""Celery settings a lab accepts, with the lab's defaults (Celery's, except concurrency 1)."""

RETRIES = Whole(0, unlimited=True)
"""How many retries: a whole number, or None for no limit."""

TASK_OPTIONS: dict[str, Knob] = {
    "acks_late": Knob(FLAG, None, "this task's task_acks_late"),
    "reject_on_worker_lost": Knob(FLAG, None, "this task's task_reject_on_worker_lost"),
    "acks_on_failure_or_timeout": Knob(FLAG, None, "this task's task_acks_on_failure_or_timeout"),
    "acks_on_failure": Knob(FLAG, None, "this task's task_acks_on_failure (5.7)"),
    "acks_on_timeout": Knob(FLAG, None, "this task's task_acks_on_timeout (5.7)"),
    "max_retries": Knob(RETRIES, 3, "retries allowed after the first run (None: no limit)"),
    "default_retry_delay": Knob(Seconds(), 180, "seconds before a retry when no countdown is given"),
    "autoretry_for": Knob(ExceptionNames(), (), "exceptions that make Celery retry the task itself"),
    "retry_kwargs": Knob(
        Options(
            {
                "max_retries": (RETRIES, "Retries allowed (null: no limit)."),
                "countdown": (Seconds(), "Seconds before each retry."),
            },
            "retry_kwargs key",
            "{max_retries: 5}",
        ),
        {},
        "arguments for the automatic retry",
    ),
    "retry_backoff": Knob(Seconds(or_flag=True), False, "exponential backoff for automatic retries (True = 1 s)"),
    "retry_backoff_max": Knob(
        Whole(0, int(limits.MAX_COUNTDOWN), "seconds"), 600, "the longest backoff delay, in seconds"
    ),
    "retry_jitter": Knob(FLAG, True, "randomise each backoff delay between 0 and its value"),
    "time_limit": Knob(TIME_LIMIT, None, "this task's hard time limit in seconds (task_time_limit)"),
    "soft_time_limit": Knob(TIME_LIMIT, None, "this task's soft time limit in seconds (task_soft_time_limit)"),
}
"""Per-task options, passed to ``@app.task`` as a Celery user would."""


_INJECTABLE = (ConnectionError, TimeoutError, ValueError, KeyError, RuntimeError, ZeroDivisionError, PermissionError)
EXCEPTIONS: dict[str, type[BaseException]] = {cls.__name__: cls for cls in _INJECTABLE}
"""Exceptions a lab can inject into a task run."""


def _check(table: Mapping[str, Knob], name: Any, value: Any, what: str) -> Any:
    knob = pick(table, name, what)
    try:
        return knob.check(value)
    except LabConfigError as exc:
        raise LabConfigError(f"{name}: {exc}") from None


def check_setting(name: Any, value: Any) -> Any:
    """The checked value of a Celery setting, or :class:`LabConfigError`."""
    return _check(SETTINGS, name, value, "setting")


def check_task_option(name: Any, value: Any) -> Any:
    """The checked value of a task option, or :class:`LabConfigError`."""
    return _check(TASK_OPTIONS, name, value, "task option")


def exception_class(name: Any) -> type[BaseException]:
    """The exception class a lab may inject, by name."""
    return pick(EXCEPTIONS, name, "exception")


def make_exception(name: str, task: str) -> BaseException:
    """A fresh instance of an injectable exception, saying where it came from."""
    cls = exception_class(name)
    return cls(f"injected by the lab into {task}")


def with_defaults(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting a lab starts with: the lab's defaults, then ``changes``."""
    values = {name: knob.default for name, knob in SETTINGS.items()}
    values.update(changes)
    return values


def plain_value(value: Any) -> Any:
    """A setting or option value as plain data (exception classes by name)."""
    if isinstance(value, tuple):
        return [getattr(item, "__name__", item) for item in value]
    return value


def flag_value(name: str, settings: Mapping[str, Any]) -> bool:
    """A boolean setting as the lab last reported it, else Celery's default for it."""
    knob = SETTINGS.get(name)
    return bool(settings.get(name, knob.default if knob is not None else False))
