"""What a lab worker's pool child does around the lab tasks: report each run, and obey the armed plans.

The lab tasks call their hooks (:class:`ChildHooks`) at each checkpoint and side effect;
Celery's task signals, connected as this module loads, open and close each run. What the
child reports goes out as custom events (:mod:`.protocol`) before the task goes on, and a
plan armed for a checkpoint kills for real: ``SIGKILL`` to the child, or to the whole worker.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from datetime import datetime
from typing import Any

import billiard.common
from celery import signals

from celery_tutor.lab import runtime, settings
from celery_tutor.lab.kit import FINISHED_CHECKPOINT
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.worker_disconnect import drop_own_connection
from celery_tutor.lab.real.worker_identity import current, identity
from celery_tutor.lab.real.worker_kill import block_until_killed, kill_worker
from celery_tutor.lab.reporters import seconds_until
from celery_tutor.lab.runtime import Fate, RunContext, WorkerRuntime

_billiard: Any = billiard.common  # its stubs leave out terminate_handler_fired
_local_keys: set[str] = set()
_local_keys_lock = threading.Lock()


class ChildHooks:
    """The :class:`~celery_tutor.lab.runtime.TaskHooks` of a run in a pool child: report, and obey plans."""

    def __init__(self, task: Any) -> None:
        self.task = task

    def send(self, kind: str, **fields: Any) -> None:
        """One custom event about the running task, published before this returns."""
        self.task.send_event(kind, worker=identity().name, **fields)

    def reached(self, run: RunContext, checkpoint: str) -> str:
        """Report the checkpoint; when a plan is armed for it, die here for real."""
        who = identity()
        self.send(protocol.CHECKPOINT, checkpoint=checkpoint)
        plan = who.store.take_checkpoint_plan(run.task, checkpoint)
        if plan is None or not claim(self.task, f"plan:{plan['id']}"):  # armed in every worker: fires once
            return Fate.LIVE
        if plan["kind"] == "drop":
            drop_own_connection(self.task.app, who, checkpoint, plan["id"])
            return Fate.LIVE
        if plan["kind"] == "child":
            self.send(protocol.CHILD_KILLED, checkpoint=checkpoint, plan=plan["id"])
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            self.send(protocol.CRASH, checkpoint=checkpoint, plan=plan["id"])
            kill_worker(who.main_pid)
        block_until_killed()
        return Fate.LIVE  # never reached

    def side_effect(self, run: RunContext, action: str, key: str, detail: str, idempotency_key: str | None) -> bool:
        """Report a side effect; with an idempotency key already used, report it skipped instead."""
        if idempotency_key is not None and not claim(self.task, f"idempotency:{idempotency_key}"):
            self.send(protocol.SKIPPED, action=action, key=key)
            return False
        self.send(protocol.LEDGER, action=action, key=key, detail=detail)
        return True


def claim(task: Any, key: str) -> bool:
    """Use ``key`` once for the whole lab (True the first time): in Redis, or in the shared results directory.

    Idempotency keys are claimed so, and plans too: a plan is armed in every worker, and
    only the first worker to claim it carries it out.
    """
    backend = task.backend
    client = getattr(backend, "client", None)
    if client is not None and hasattr(client, "set"):
        return bool(client.set(f"{identity().key_prefix}{key}", "1", nx=True))
    directory = getattr(backend, "path", None)
    if isinstance(directory, (str, bytes)):  # the filesystem backend: one file per key, created once
        name = hashlib.sha256(key.encode()).hexdigest()
        try:
            os.close(os.open(os.path.join(os.fsdecode(directory), f"claim-{name}"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return False
        return True
    with _local_keys_lock:  # no shared store: this worker alone
        if key in _local_keys:
            return False
        _local_keys.add(key)
        return True


def _claim_failure(task: Any, plan: dict[str, Any]) -> bool:
    """One of a failure plan's ``times`` runs, claimed lab-wide (False once all are taken)."""
    times = int(plan.get("times") or 1)
    return any(claim(task, f"plan:{plan['id']}:{n}") for n in range(1, times + 1))


@signals.task_prerun.connect(weak=False, dispatch_uid="celery-tutor-real-prerun")
def _prerun(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
    who = current()
    if who is None or task is None:
        return
    hooks = ChildHooks(task)
    worker = WorkerRuntime(who.name, hooks)
    runtime.bind_worker(worker)
    failure = who.store.take_failure(task.name)
    if failure is not None and not _claim_failure(task, failure):
        failure = None  # every run the plan asked for failed already, on other workers
    run = RunContext(
        worker=worker,
        task_id=task_id,
        task=task.name,
        run=0,  # the tutor numbers runs: it sees every worker's
        failure=settings.make_exception(failure["exc"], task.name) if failure else None,
    )
    runtime.begin_run(run)
    request = task.request
    hooks.send(
        protocol.STARTED,
        redelivered=bool((request.delivery_info or {}).get("redelivered")),
        retries=int(request.retries or 0),
        child_pid=os.getpid(),
    )
    if failure is not None:
        hooks.send(protocol.FAILURE_TAKEN, plan=failure["id"])


@signals.task_postrun.connect(weak=False, dispatch_uid="celery-tutor-real-postrun")
def _postrun(sender: Any = None, task_id: str = "", **_: Any) -> None:
    run = runtime.maybe_current_run()
    if current() is None or run is None or run.task_id != task_id:
        return
    if _billiard.terminate_handler_fired():
        # Celery cancelled the run (SIGTERM from Request.cancel): the trace's finally sends this
        # signal on the child's way out, with no outcome stored. The run did not finish.
        runtime.bind_worker(None)
        return
    # Every task reaches this one after its outcome is stored, before the main process acks late.
    runtime.checkpoint(FINISHED_CHECKPOINT)
    runtime.bind_worker(None)


@signals.task_retry.connect(weak=False, dispatch_uid="celery-tutor-real-retry")
def _retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    if current() is None or sender is None or request is None or reason is None:
        return
    when = reason.when
    countdown = seconds_until(when) if isinstance(when, datetime) else float(when or 0)
    exc = reason.exc
    ChildHooks(sender).send(
        protocol.RETRY,
        countdown=countdown,
        attempt=int(request.retries or 0) + 1,
        max_retries=getattr(sender, "override_max_retries", sender.max_retries),
        exc_type=type(exc).__name__ if exc is not None else "Retry",
        exc_message=str(exc) if exc is not None else "",
    )
