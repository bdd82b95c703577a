"""A deploy stops a worker the way a container orchestrator does: SIGTERM, then SIGKILL after a grace period.

What Celery 5.7 does with the SIGTERM depends on the worker's environment:

* By default it is a **warm shutdown** (``celery/apps/worker.py``): the worker takes no new
  messages and waits for its running tasks, however long they take. If they end within
  the grace period the worker exits cleanly (late acks sent, unacked messages back in the
  queue); if not, SIGKILL ends it like a crash.
* With ``REMAP_SIGTERM=SIGQUIT`` it is a **cold shutdown** (``on_cold_shutdown``): first a
  *soft shutdown* (Celery 5.5+) that waits ``worker_soft_shutdown_timeout`` seconds (all of
  them, and only when tasks are running unless ``worker_enable_soft_shutdown_on_idle``),
  then Celery cancels the tasks still running (``Consumer.cancel_active_requests``): an
  early-acked one is lost, a late-acked one goes back to the broker when the worker's
  connection closes. A soft shutdown shorter than the grace period turns the SIGKILL's
  losses into clean requeues.

The lab runs Celery's own shutdowns (``WorkController.stop``, ``terminate``) and its own
cancelling code; the soft shutdown's wait is the lab's (Celery's sleeps in the signal
handler; the lab's wait ends early when SIGKILL comes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery_tutor.lab import events as ev

if TYPE_CHECKING:
    from celery_tutor.lab.fleet import WorkerFleet, WorkerHandle

Emit = Callable[..., object]


def deploy(
    handle: WorkerHandle,
    fleet: WorkerFleet,
    emit: Emit,
    control: threading.RLock,
    grace: float,
    remap_sigterm: bool,
) -> None:
    """Send SIGTERM now and SIGKILL after ``grace`` seconds if the worker has not exited. Returns at once."""
    conf: Any = handle.worker.app.conf
    soft_timeout = float(conf.worker_soft_shutdown_timeout or 0.0)
    on_idle = bool(conf.worker_enable_soft_shutdown_on_idle)
    emit(
        ev.ShutdownSignal,
        worker=handle.name,
        grace=grace,
        remap_sigterm=remap_sigterm,
        soft_shutdown_timeout=soft_timeout if remap_sigterm else 0.0,
    )
    if remap_sigterm:
        fleet.stop(handle, cold=True, before=lambda: _soft_shutdown(handle, emit, soft_timeout, on_idle))
    else:
        fleet.stop(handle)

    def sigkill_after_grace() -> None:
        if handle.gone.wait(grace):
            return  # it exited in time
        with control:
            if handle.status != "stopping":
                return  # already killed, or the lab closed or reset it
            emit(ev.GraceExpired, worker=handle.name, grace=grace)
            fleet.kill(handle, checkpoint=None)

    fleet.background(f"{handle.name}-grace", sigkill_after_grace)


def _soft_shutdown(handle: WorkerHandle, emit: Emit, timeout: float, on_idle: bool) -> None:
    """The start of Celery's cold shutdown: the soft shutdown, then the cancelling of running tasks."""
    worker: Any = handle.worker  # celery-types leaves out the consumer and pool Celery sets up
    consumer = worker.consumer
    # Nothing not yet started starts now: the real worker's loop is held up in the signal
    # handler, and the broker gets those messages back when the connection closes.
    worker.pool.flush()
    running = consumer.running_requests()
    if timeout > 0 and (running or on_idle):
        emit(ev.SoftShutdown, worker=handle.name, timeout=timeout, running=running)
        if handle.runtime.killed.wait(timeout):
            return  # SIGKILL came first
    if not handle.runtime.killed.is_set():
        consumer.cancel_active_requests()
