"""Celery's signals, routed to the lab whose app sent them.

Celery's signals are process-wide, so they are connected once here and each one is
handed to the :class:`SignalTarget` attached to the sender's app (a lab's
:class:`~.reporters.CeleryReporter`). Signals raised on a thread whose worker
or pool child is dead are dropped: that process is gone and would report nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

from celery import Celery, signals

from celery_tutor.lab import runtime

_ATTRIBUTE = "_celery_tutor_signal_target"


class SignalTarget(Protocol):
    """Who hears the signals of one app's tasks."""

    def on_task_received(self, worker: str, request: Any) -> None:
        """``task_received``, with the name of the worker that received it."""

    def on_task_prerun(self, task: Any, task_id: str) -> None:
        """``task_prerun``."""

    def on_task_retry(self, task: Any, request: Any, reason: Any) -> None:
        """``task_retry``."""

    def on_task_success(self, task: Any, result: Any) -> None:
        """``task_success``."""

    def on_task_failure(self, task: Any, task_id: str, exception: BaseException) -> None:
        """``task_failure``."""


def attach(app: Celery, target: SignalTarget) -> None:
    """Send the signals of ``app``'s tasks to ``target``."""
    setattr(app, _ATTRIBUTE, target)


def _lab(app: Any) -> SignalTarget | None:
    return getattr(app, _ATTRIBUTE, None)


def _silenced() -> bool:
    worker = runtime.bound_worker()
    return runtime.is_dead_thread() or (worker is not None and worker.killed.is_set())


@signals.task_received.connect(weak=False, dispatch_uid="celery-tutor-task-received")
def _received(sender: Any = None, request: Any = None, **_: Any) -> None:
    lab = _lab(getattr(sender, "app", None))
    controller = getattr(sender, "controller", None)
    worker = getattr(controller, "runtime", None)
    if lab is not None and request is not None and worker is not None and not worker.killed.is_set():
        lab.on_task_received(worker.name, request)


@signals.task_prerun.connect(weak=False, dispatch_uid="celery-tutor-task-prerun")
def _prerun(sender: Any = None, task_id: str = "", **_: Any) -> None:
    lab = _lab(getattr(sender, "app", None))
    if lab is not None and not _silenced():
        lab.on_task_prerun(sender, task_id)


@signals.task_retry.connect(weak=False, dispatch_uid="celery-tutor-task-retry")
def _retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    lab = _lab(getattr(sender, "app", None))
    # No reason: Celery cancelled the run (Request.cancel) and published nothing; the lab reports the cancel.
    if lab is not None and reason is not None and not _silenced():
        lab.on_task_retry(sender, request, reason)


@signals.task_success.connect(weak=False, dispatch_uid="celery-tutor-task-success")
def _success(sender: Any = None, result: Any = None, **_: Any) -> None:
    lab = _lab(getattr(sender, "app", None))
    if lab is not None and not _silenced():
        lab.on_task_success(sender, result)


@signals.task_failure.connect(weak=False, dispatch_uid="celery-tutor-task-failure")
def _failure(sender: Any = None, task_id: str = "", exception: BaseException | None = None, **_: Any) -> None:
    lab = _lab(getattr(sender, "app", None))
    if lab is not None and exception is not None and not _silenced():
        lab.on_task_failure(sender, task_id, exception)


@signals.setup_logging.connect(weak=False, dispatch_uid="celery-tutor-setup-logging")
def _keep_logging(**_: Any) -> None:
    """Any receiver here stops Celery from taking over logging (it writes to the terminal)."""
