"""Reading the values Celery's events carry as text: a failed task's exception, an ETA.

Celery's ``task-failed`` says what was raised as the exception's ``repr`` (or, from a pool
child that died, as billiard's wrapper with the real exception only in the traceback), and
``task-sent`` and ``task-received`` carry an ETA as an ISO string. The lab's events want a
name, a message and seconds.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime
from typing import Any

from celery_tutor.lab.reporters import seconds_until

_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)\((.*)\)$", re.DOTALL)

WRAPPERS = ("ExceptionWithTraceback", "ExceptionInfo")
"""Exception wrappers whose repr in ``task-failed`` hides the real exception."""


def exception_parts(text: str) -> tuple[str, str]:
    """``("WorkerLostError", "Worker exited…")`` from Celery's ``"WorkerLostError('Worker exited…')"``."""
    match = _EXCEPTION.match(text.strip())
    if match is None:
        return (text.strip() or "Exception", "")
    name, inner = match.group(1).rsplit(".", 1)[-1], match.group(2)
    try:
        value = ast.literal_eval(inner) if inner else ""
    except (ValueError, SyntaxError):
        return name, inner
    if isinstance(value, tuple):
        return name, ", ".join(str(v) for v in value)
    return name, str(value)


def traceback_parts(text: str) -> tuple[str, str] | None:
    """The exception's name and message from the last line of a traceback (``pkg.Name: message``)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines or lines[-1].startswith(" "):
        return None
    head, _, message = lines[-1].partition(":")
    if not head or " " in head:
        return None
    return head.rsplit(".", 1)[-1], message.strip()


def failure_parts(exception: str, traceback: str) -> tuple[str, str]:
    """The name and message of what a failed task raised, from ``task-failed``'s exception and traceback."""
    exc_type, exc_message = exception_parts(exception)
    if exc_type in WRAPPERS:  # billiard's wrapper of an exception from the pool: the traceback names it
        return traceback_parts(traceback) or (exc_type, exc_message)
    return exc_type, exc_message


def eta_in(eta: Any) -> float | None:
    """Seconds to an ETA as Celery's events carry it (an ISO string), or None."""
    if not eta:
        return None
    try:
        return seconds_until(datetime.fromisoformat(str(eta)))
    except ValueError:
        return None
