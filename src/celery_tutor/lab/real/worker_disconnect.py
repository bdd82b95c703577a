"""A lab worker cutting its own broker connection, as a network failure would, and telling who waits.

A plan armed at a checkpoint fires in a pool child, but the connection belongs to the
worker's main process: the child asks it by remote control (:func:`drop_own_connection`,
answered by :func:`~.worker_control.lab_drop_connection`) and waits on a FIFO of its own
until Celery has reacted to the loss (:func:`reacted`), so that Celery's reaction lands
while the task is at that checkpoint, as in the in-process lab.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from typing import Any

from celery import Celery

from celery_tutor.lab import connection_loss
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.worker_identity import WorkerIdentity

dropped = threading.Event()
"""Set from the moment this worker cut its own broker connection until Celery's consumer is back."""

_waiters: list[str] = []
"""FIFOs of pool children waiting at a checkpoint for Celery to react to the connection they had cut."""
_waiters_lock = threading.Lock()


def drop_own_connection(app: Celery, who: WorkerIdentity, checkpoint: str, plan: str) -> None:
    """From a pool child: have this worker's main process cut its broker connection; wait until Celery reacted.

    As in the in-process lab, the worker notices the loss while the task is at this
    checkpoint, so Celery's reaction (a cancel: SIGTERM to this child, which ends this wait
    and the run) lands here, not at some later step. The main process says it has reacted
    through a FIFO of this child's; if it never does, the task goes on after
    :data:`~celery_tutor.lab.connection_loss.HANDLED_TIMEOUT` seconds.
    """
    fifo = who.directory / f"dropped-{os.getpid()}-{plan}.fifo"
    os.mkfifo(fifo, 0o600)
    try:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # no writer yet: a read end opens at once
        try:
            app.control.broadcast(
                protocol.DROP_CONNECTION,
                arguments={"checkpoint": checkpoint, "plan": plan, "notify": str(fifo)},
                destination=[who.hostname],
            )
            select.select([reader], [], [], connection_loss.HANDLED_TIMEOUT)
        finally:
            os.close(reader)
    finally:
        fifo.unlink(missing_ok=True)


def notify_when_reacted(fifo: str) -> None:
    """Main process: a pool child waits on ``fifo`` until Celery reacted to the loss (:func:`reacted`)."""
    with _waiters_lock:
        _waiters.append(fifo)


def reacted() -> None:
    """Celery has handled the lost connection (or will not notice it): release the children waiting for that."""
    with _waiters_lock:
        waiting, _waiters[:] = list(_waiters), []
    for path in waiting:
        with contextlib.suppress(OSError):  # the child is gone already (cancelled, killed)
            writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(writer, b"1")
            finally:
                os.close(writer)


def noticing(connection: Any) -> bool:
    """Will the worker's event loop see a cut of this connection now? AMQP: always (it reads all the time).

    Redis: see :func:`celery_tutor.lab.connection_loss.noticed_on_redis` (the in-process lab's rule too).
    """
    if connection.transport.driver_type != "redis":
        return True
    return connection_loss.noticed_on_redis(list(getattr(connection.transport, "channels", ())))


def cut(connection: Any) -> None:
    """Shut the sockets of the consumer's broker connection, as a network failure would.

    The file descriptors stay open: the event loop sees the end of the stream and kombu
    raises its connection error on the next read, as for a real broken socket.
    """
    if connection.transport.driver_type == "redis":
        for channel in list(getattr(connection.transport, "channels", ())):
            connection_loss.shut_redis_channel(channel)
        return
    sock = getattr(getattr(connection, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
