"""Celery's signals, routed to the lab whose app sent them.

Celery's signals are process-wide, so they are connected once here and each one is
handed to the lab that owns the sender's app. Signals raised on a thread whose worker
or pool child is dead are dropped: that process is gone and would report nothing.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from celery_tutor.lab import runtime


def _lab(app: Any) -> Any:
    return getattr(app, "_celery_tutor_lab", None)


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
    if lab is not None and not _silenced():
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
