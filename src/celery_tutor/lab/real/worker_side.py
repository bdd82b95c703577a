"""What runs inside a lab worker process: the lab tasks' hooks, Celery signals, control commands.

A real ``celery worker`` (prefork pool) runs the lab's tasks, the same functions the
in-process lab runs. Their checkpoints and their side effects reach the tutor as custom
Celery events (:mod:`.protocol`), sent from the pool child that runs them. Plans armed by
remote control (crash the worker at a checkpoint, kill the pool child, make runs fail)
wait in a :class:`~.plans.PlanStore` shared with the children; a child that meets one
sends its event and then kills for real: ``SIGKILL`` to itself, or to the worker's whole
process group.

The parts, each a module:

- :mod:`.worker_identity`: who this worker process is, shared by all the parts;
- :mod:`.worker_child`: the pool child's hooks and task signals (report, obey plans);
- :mod:`.worker_reports`: the main process's reports of what Celery sends no event for;
- :mod:`.worker_control`: the remote-control commands;
- :mod:`.worker_disconnect`: a worker cutting its own broker connection;
- :mod:`.worker_kill`: ``SIGKILL`` to the whole worker.

Nothing here is imported by the tutor's own process except for its names: it changes
process-wide things (kombu's ``Message.ack_log_error``, signal receivers) that only a lab
worker process wants.
"""

from __future__ import annotations

from celery import Celery

# worker_child and worker_control are imported for what loading them does (worker_reports too):
# their Celery signal receivers connect, and the ``@control_command`` functions register in
# Celery's control panel.
from celery_tutor.lab.real import worker_child, worker_control, worker_identity, worker_reports  # noqa: F401
from celery_tutor.lab.real.worker_identity import WorkerIdentity


def install(app: Celery, who: WorkerIdentity) -> None:
    """Make this process a lab worker: remember who it is, and wrap Celery's acks, restores and shutdown."""
    worker_identity.become(who)
    worker_reports.install()
    del app  # the receivers serve whatever app this process runs
