"""Keep Celery's and kombu's logging off the terminal and inside the lab's timeline.

Celery's own logging setup writes to ``sys.__stderr__``, straight over a Textual
screen. This module gives the ``celery``, ``kombu`` and related loggers one handler
that turns warnings and errors into :class:`~celery_tutor.lab.events.LabLog` events of
the lab whose thread logged them (or of every open lab, for threads no lab owns), and
stops them from reaching the root logger.
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from typing import Any

from celery.exceptions import CPendingDeprecationWarning

from celery_tutor.lab import runtime

LOGGERS = ("celery", "kombu", "billiard", "amqp", "vine")

_labs: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False


class LabLogHandler(logging.Handler):
    """Routes a record to the lab that owns the logging thread."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage().splitlines()[0]
        except Exception:  # a broken log call must not break a worker
            message = str(record.msg)
        worker = runtime.bound_worker()
        if worker is not None and worker.hooks in _labs:
            targets = [worker.hooks]
        else:
            with _lock:
                targets = list(_labs)
        for lab in targets:
            lab.on_log(record.levelname, record.name, message)


def install() -> None:
    """Route the Celery family of loggers to the labs (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    handler = LabLogHandler(level=logging.WARNING)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=CPendingDeprecationWarning)


def register(lab: Any) -> None:
    """A lab wants its Celery logs."""
    install()
    with _lock:
        _labs.add(lab)


def unregister(lab: Any) -> None:
    """A closed lab wants no more logs."""
    with _lock:
        _labs.discard(lab)


def report_subscriber_error(exc: BaseException) -> None:
    """A subscriber raised: note it where a developer can find it, never on the terminal."""
    logging.getLogger("celery_tutor.lab").debug("lab subscriber failed: %r", exc)
