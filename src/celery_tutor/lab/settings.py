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


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise LabConfigError(f"expected true or false, got {value!r}")


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


def _int(minimum: int, maximum: int | None = None, unit: str = "") -> Callable[[Any], int]:
    def check(value: Any) -> int:
        return whole(value, minimum, maximum, unit)

    return check


def _optional_int(minimum: int) -> Callable[[Any], int | None]:
    check = _int(minimum)

    def optional(value: Any) -> int | None:
        return None if value is None else check(value)

    return optional


def _seconds(value: Any) -> float:
    return number(value, 0, limits.MAX_COUNTDOWN, noun="a number of seconds")


def _backoff(value: Any) -> bool | int | float:
    if isinstance(value, bool):
        return value
    return _seconds(value)


def _exceptions(value: Any) -> tuple[type[BaseException], ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names:
        raise LabConfigError(f"expected a list of exception names, got {value!r}")
    return tuple(exception_class(name) for name in names)


def _retry_kwargs(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise LabConfigError(f"expected a mapping such as {{max_retries: 5}}, got {value!r}")
    allowed = {"max_retries": _optional_int(0), "countdown": _seconds}
    return {key: pick(allowed, key, "retry_kwargs key")(item) for key, item in value.items()}


TRANSPORT_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "visibility_timeout": lambda v: number(v, 0.5, limits.MAX_COUNTDOWN),
    "unacked_restore_interval": lambda v: number(v, 0.1, 3600),
    "unacked_restore_throttle": _int(1, 1000, "calls"),
}
"""The Redis transport options a lab may set (kombu's defaults: 3600 s, 10 s, 10)."""


def _transport_options(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise LabConfigError(f"expected a mapping such as {{visibility_timeout: 2}}, got {value!r}")
    return {key: named(str(key), pick(TRANSPORT_OPTIONS, key, "transport option"), item) for key, item in value.items()}


def pick(table: Mapping[str, Any], name: Any, what: str) -> Any:
    """Look a name up, or fail with the valid names listed."""
    if not isinstance(name, str) or name not in table:
        raise LabConfigError(f"unknown {what} {name!r}; valid: {', '.join(sorted(table))}")
    return table[name]


@dataclass(frozen=True)
class Knob:
    """One setting or option: how to check a value, and what it does."""

    check: Callable[[Any], Any]
    default: Any
    help: str


SETTINGS: dict[str, Knob] = {
    "task_acks_late": Knob(_bool, False, "ack after the task ran instead of just before"),
    "task_reject_on_worker_lost": Knob(
        _bool, False, "requeue a late-ack task whose pool child died instead of acking it"
    ),
    "task_acks_on_failure_or_timeout": Knob(
        _bool, True, "ack a late-ack task that failed (False: reject it without requeue)"
    ),
    "task_acks_on_failure": Knob(
        _bool, None, "5.7: ack a late-ack task that failed (unset: task_acks_on_failure_or_timeout decides)"
    ),
    "task_acks_on_timeout": Knob(
        _bool, None, "5.7: ack a late-ack task that hit its hard time limit (unset: the older setting decides)"
    ),
    "task_retry_on_worker_lost": Knob(_bool, False, "retry (bounded by max_retries) a task whose pool child died"),
    "worker_prefetch_multiplier": Knob(
        _int(1, limits.MAX_PREFETCH_MULTIPLIER, "messages per slot"),
        4,
        "how many unacked messages a worker may hold per pool slot",
    ),
    "worker_concurrency": Knob(_int(1, limits.MAX_CONCURRENCY, "threads"), 1, "how many tasks a worker runs at once"),
    "worker_deduplicate_successful_tasks": Knob(
        _bool, False, "skip a redelivered late-ack task whose SUCCESS is already stored"
    ),
    "broker_transport_options": Knob(
        _transport_options,
        {},
        "Redis: visibility_timeout, unacked_restore_interval, unacked_restore_throttle (kombu: 3600, 10, 10)",
    ),
}
"""Celery settings a lab accepts, with the lab's defaults (Celery's, except concurrency 1)."""


TASK_OPTIONS: dict[str, Knob] = {
    "acks_late": Knob(_bool, None, "this task's task_acks_late"),
    "reject_on_worker_lost": Knob(_bool, None, "this task's task_reject_on_worker_lost"),
    "acks_on_failure_or_timeout": Knob(_bool, None, "this task's task_acks_on_failure_or_timeout"),
    "acks_on_failure": Knob(_bool, None, "this task's task_acks_on_failure (5.7)"),
    "acks_on_timeout": Knob(_bool, None, "this task's task_acks_on_timeout (5.7)"),
    "max_retries": Knob(_optional_int(0), 3, "retries allowed after the first run (None: no limit)"),
    "default_retry_delay": Knob(_seconds, 180, "seconds before a retry when no countdown is given"),
    "autoretry_for": Knob(_exceptions, (), "exceptions that make Celery retry the task itself"),
    "retry_kwargs": Knob(_retry_kwargs, {}, "arguments for the automatic retry"),
    "retry_backoff": Knob(_backoff, False, "exponential backoff for automatic retries (True = 1 s)"),
    "retry_backoff_max": Knob(
        _int(0, int(limits.MAX_COUNTDOWN), "seconds"), 600, "the longest backoff delay, in seconds"
    ),
    "retry_jitter": Knob(_bool, True, "randomise each backoff delay between 0 and its value"),
}
"""Per-task options, passed to ``@app.task`` as a Celery user would."""


EXCEPTIONS: dict[str, type[BaseException]] = {
    cls.__name__: cls
    for cls in (
        ConnectionError,
        TimeoutError,
        ValueError,
        KeyError,
        RuntimeError,
        ZeroDivisionError,
        PermissionError,
    )
}
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
