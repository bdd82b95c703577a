"""A worker's broker connection drops while the worker lives on: a network blip, a broker restart.

The lab only cuts the connection; what follows is the broker's, kombu's and Celery's doing:

* **RabbitMQ** (the in-process broker) requeues every message the connection held unacked,
  at once and flagged ``redelivered``: running late-ack tasks, prefetched messages, ETA
  messages. The worker's tasks keep running; their acks on the dead channel fail.
* **Redis** keeps nothing per connection, so the server gives nothing back. The worker's
  sockets are shut, and kombu notices as it would a broken socket. Celery's clean-up of the
  broken connection closes its channel, and a closing kombu channel puts its unacked
  messages back at once, through a new connection, if it can reach Redis. If it cannot
  (``outage``), they stay in Redis's ``unacked`` hash until a restore scan finds them older
  than ``visibility_timeout``, and a late ack that reaches Redis before then still counts.
* Then Celery's consumer runs its own ``on_connection_error_after_connected`` (it logs,
  cancels running late-ack tasks when ``worker_cancel_long_running_tasks_on_connection_loss``
  is set, reduces its prefetch count) and reconnects, retrying every few seconds while
  the broker is out of reach.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from typing import Any, Protocol, runtime_checkable

from celery_tutor.lab import events as ev

CONNECTION_LOST = ev.CONNECTION_LOST
"""Why a message went back when its holder's connection dropped (the holder lives on)."""

HANDLED_TIMEOUT = 5.0
"""Longest a task waits, at the checkpoint where its worker's connection dropped, for Celery to react."""


class Outages:
    """The workers a broker is out of reach for, and until when (monotonic seconds). Thread-safe.

    An outage belongs to one incarnation of a worker (its runtime): a worker started
    afterwards, under the same name or not, reaches the broker.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def begin(self, runtime: Any, seconds: float) -> None:
        """The broker is out of reach for the worker ``runtime`` for ``seconds`` from now."""
        with self._lock:
            self._until[runtime] = time.monotonic() + seconds

    def active(self, runtime: Any) -> bool:
        """Is the broker out of reach for this worker now? Never for a killed one: it connects no more."""
        if runtime is None or runtime.killed.is_set():
            return False
        with self._lock:
            until = self._until.get(runtime)
        return until is not None and time.monotonic() < until


@runtime_checkable
class DroppableChannel(Protocol):
    """A channel that can lose its connection while its worker lives (the in-process broker's)."""

    def drop(self) -> list[str]:
        """Cut the connection; the ids of the tasks whose messages the broker requeued."""


def _reading(channel: Any) -> bool:
    """Is kombu reading this Redis channel's connection now (a BRPOP out, and not paused)?

    kombu pauses its BRPOP while the worker's prefetch is full: the socket is then not
    watched, and a dead one goes unnoticed.
    """
    return bool(getattr(channel, "_in_poll", None)) and bool(channel.qos.can_consume())


def noticed_on_redis(channels: list[Any]) -> bool:
    """Will a worker notice a cut of its Redis connection now (``channels``: the connection's)?

    A channel subscribed to a fanout listens all the time: Celery's remote-control mailbox
    (on by default) does, so its socket's end is noticed and Celery's consumer restarts the
    whole connection. Without one, only the task channels' BRPOPs read, and kombu pauses
    those while the prefetch window is full.
    """
    if any(getattr(channel, "_in_listen", None) for channel in channels):
        return True
    consuming = [
        channel
        for channel in channels
        if any(queue not in channel._fanout_queues for queue in getattr(channel, "_active_queues", ()))
    ]
    return all(_reading(channel) for channel in consuming)


def shut_redis_channel(channel: Any) -> None:
    """Shut the sockets of a kombu Redis channel's connections, as a network failure would.

    The file descriptors stay open, so the event loop sees the end of the stream and
    kombu raises a connection error from its next read, as for a real broken socket.
    """
    connections: list[Any] = []
    for attr in ("client", "subclient"):
        client = channel.__dict__.get(attr)
        connections.append(getattr(client, "connection", None))
    for pool in (getattr(channel, "_async_pool", None), getattr(channel, "_pool", None)):
        if pool is not None:
            connections.extend(getattr(pool, "_available_connections", []))
            connections.extend(getattr(pool, "_in_use_connections", ()))
    for connection in connections:
        sock = getattr(connection, "_sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def drop_connection(
    worker: Any, name: str, broker: Any, emit: Any, broker_kind: str, outage: float, checkpoint: str | None
) -> threading.Event | None:
    """Cut a living worker's broker connection; None when it has none now (dead, or reconnecting).

    Returns the event Celery's consumer sets once it has handled the loss (closed the
    connection, cancelled what it cancels); it reconnects after that.
    """
    consumer = getattr(worker, "consumer", None)
    connection = getattr(consumer, "connection", None)
    if consumer is None or connection is None or worker.runtime.killed.is_set():
        return None
    handled: threading.Event = consumer.connection_loss_handled
    handled.clear()
    if outage > 0:
        broker.outages.begin(worker.runtime, outage)
    channels = worker.current_channels()
    requeued: list[str] = []
    # AMQP reads its socket all the time (frames, heartbeats): the worker notices a dead one.
    # On Redis see noticed_on_redis: unnoticed, redis-py reconnects when the socket is next used.
    on_redis = [ch for ch in channels if not isinstance(ch, DroppableChannel)]
    noticed = not on_redis or noticed_on_redis(on_redis)
    with_broker: list[str] = []
    for channel in channels:
        if isinstance(channel, DroppableChannel):
            worker.dropped_channels.append(channel)
            requeued.extend(channel.drop())  # RabbitMQ: back in the queue now
        else:
            with_broker.extend(channel.held_ids())  # Redis keeps them, restored or not
            if noticed:
                worker.dropped_channels.append(channel)
                channel.dropped = True  # the worker's clean-up may restore them
    lost = emit(
        ev.ConnectionLost,
        worker=name,
        broker=broker_kind,
        requeued=len(requeued),
        outage=outage,
        checkpoint=checkpoint,
        noticed=noticed,
    )
    if lost is not None:
        for task_id in (*requeued, *with_broker):
            worker.given_back[task_id] = lost.at
    # Now break the connection where the worker's consumer will notice it.
    connection.transport.dropped = True
    for channel in channels:
        if not isinstance(channel, DroppableChannel):
            shut_redis_channel(channel)
    notify = getattr(broker, "notify", None)
    if notify is not None:
        notify()  # wake a consumer waiting for messages
    if not noticed:
        handled.set()  # nothing to wait for: Celery does not react
    return handled
