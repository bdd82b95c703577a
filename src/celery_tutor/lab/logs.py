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
from typing import Protocol

from celery.exceptions import CPendingDeprecationWarning

from celery_tutor.lab import runtime
from celery_tutor.lab.events import LabEvent

LOGGERS = ("celery", "kombu", "billiard", "amqp", "vine")

log = logging.getLogger("celery_tutor.lab")
"""The lab's own logger: for developers, never on the learner's terminal."""
log.addHandler(logging.NullHandler())  # so Python's last-resort handler never writes over a Textual screen


class LogTarget(Protocol):
    """Who hears Celery's warnings and errors (a lab)."""

    def on_log(self, level: str, logger: str, message: str) -> None:
        """A warning or error from Celery or kombu."""


_labs: weakref.WeakSet[LogTarget] = weakref.WeakSet()
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
        with _lock:
            targets = list(_labs)
        if worker is not None:
            owner = [lab for lab in targets if lab is worker.hooks]
            targets = owner or targets
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


def register(lab: LogTarget) -> None:
    """A lab wants its Celery logs."""
    install()
    with _lock:
        _labs.add(lab)


def unregister(lab: LogTarget) -> None:
    """A closed lab wants no more logs."""
    with _lock:
        _labs.discard(lab)


def report_subscriber_error(callback: object, event: LabEvent, exc: BaseException) -> None:
    """A subscriber raised: log it with its traceback, where a developer can find it.

    The lab goes on (one broken subscriber must not stop the others or the workers), but
    the failure is an ERROR on the ``celery_tutor.lab`` logger, traceback included.
    """
    log.error("lab subscriber %r failed on event #%d (%s)", callback, event.seq, event.kind, exc_info=exc)
