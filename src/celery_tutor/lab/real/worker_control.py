"""The remote-control commands a lab worker answers, besides Celery's own: plans, kills, signals, a cut connection.

The tutor sends them with ``app.control.broadcast`` under the names in :mod:`.protocol`;
``@control_command`` registers each in Celery's control panel, by its function name, as this
module loads (:mod:`.worker_side` imports it for that). They run in the worker's main process.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from celery.worker.control import control_command

from celery_tutor.lab.real import protocol, worker_disconnect, worker_reports
from celery_tutor.lab.real.worker_identity import current
from celery_tutor.lab.real.worker_kill import kill_worker


@control_command()
def lab_arm(state: Any, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """Arm a plan in this worker (a crash, a child kill, or injected failures)."""
    who = current()
    if who is None or not isinstance(plan, dict):
        return {"error": "not a lab worker, or no plan"}
    who.store.arm(plan)
    return {"ok": plan.get("id")}


@control_command()
def lab_disarm(state: Any, plan_id: str | None = None) -> dict[str, Any]:
    """Forget one plan (it fired elsewhere), or every plan."""
    who = current()
    if who is None:
        return {"error": "not a lab worker"}
    who.store.disarm(plan_id)
    return {"ok": plan_id or "all"}


@control_command()
def lab_kill_child(state: Any, task_id: str = "") -> dict[str, Any]:
    """SIGKILL the pool child running ``task_id`` now (as the OOM killer would)."""
    from celery.worker import state as worker_state

    for request in list(worker_state.active_requests):
        if request.id == task_id and request.worker_pid:
            os.kill(int(request.worker_pid), signal.SIGKILL)
            return {"ok": int(request.worker_pid)}
    return {"error": f"no pool child runs {task_id}"}


@control_command()
def lab_crash(state: Any) -> dict[str, Any]:
    """SIGKILL this whole worker (its reply never comes: the process is gone)."""
    who = current()
    if who is not None:
        threading.Timer(0.05, kill_worker, args=(who.main_pid,)).start()
    return {"ok": "crashing"}


@control_command()
def lab_remap_sigterm(state: Any) -> dict[str, Any]:
    """Take SIGTERM from now on as a worker started with ``REMAP_SIGTERM=SIGQUIT`` would: a cold shutdown.

    Celery reads that variable once, at import, to choose the SIGTERM handler
    (``celery/apps/worker.py``). This installs the very handler it would have chosen,
    Celery's ``on_cold_shutdown`` (a soft shutdown of ``worker_soft_shutdown_timeout``,
    then the running tasks cancelled), and sets the module's variable, which that handler
    reads again for a second SIGTERM. The pool children keep their signal handling: the
    one difference, SIGQUIT instead of SIGTERM from ``Request.cancel``, ends a child the
    same way (billiard's ``_shutdown_cleanup``). Control commands run in the main thread,
    the only one that may install a signal handler.
    """
    from celery.apps import worker as celery_apps_worker

    celery_worker: Any = celery_apps_worker  # celery-types leaves these names out
    controller = getattr(getattr(state, "consumer", None), "controller", None)
    if current() is None or controller is None:
        return {"error": "not a lab worker"}
    try:
        celery_worker.REMAP_SIGTERM = "SIGQUIT"
        celery_worker.install_worker_term_hard_handler(controller, sig="SIGTERM")
    except ValueError as exc:  # not the main thread
        return {"error": str(exc)}
    return {"ok": "SIGTERM starts a cold shutdown"}


@control_command()
def lab_sigterm(state: Any) -> dict[str, Any]:
    """SIGTERM this worker's main process, as an orchestrator would (after the reply is sent)."""
    who = current()
    if who is None:
        return {"error": "not a lab worker"}
    threading.Timer(0.05, os.kill, args=(who.main_pid, signal.SIGTERM)).start()
    return {"ok": "SIGTERM"}


@control_command()
def lab_drop_connection(
    state: Any, checkpoint: str | None = None, plan: str | None = None, notify: str | None = None
) -> dict[str, Any]:
    """Cut this worker's broker connection (the consumer's) after this reply is sent; the worker lives on.

    Only the consumer's connection is cut, the one that holds messages: the connection the
    worker sends its events on stays up, so the tutor sees what Celery does about the loss.
    ``notify``: the FIFO of a pool child that asked for the cut and waits until Celery reacted.
    """
    consumer = getattr(state, "consumer", None)
    connection = getattr(consumer, "connection", None)
    if current() is None or connection is None or worker_disconnect.dropped.is_set():
        if notify:  # a child waits: it goes on, there is no connection to drop
            worker_disconnect.notify_when_reacted(notify)
            worker_disconnect.reacted()
        return {"error": "no broker connection now (it is reconnecting)"}
    noticed = worker_disconnect.noticing(connection)
    worker_disconnect.dropped.set()
    if notify:
        worker_disconnect.notify_when_reacted(notify)
    worker_reports.send(protocol.CONNECTION_LOST, noticed=noticed, checkpoint=checkpoint, plan=plan)
    if not noticed:
        worker_disconnect.reacted()  # nothing will notice: Celery does not react
    hub = getattr(consumer, "hub", None)
    if hub is not None:
        hub.call_soon(worker_disconnect.cut, connection)  # the next turn of the event loop: this reply has gone out
    else:
        threading.Timer(0.05, worker_disconnect.cut, args=(connection,)).start()
    return {"ok": "dropping", "noticed": noticed}
