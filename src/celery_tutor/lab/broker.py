"""One lab's in-memory broker, made to behave like RabbitMQ where the lessons need it.

kombu's ``memory://`` transport keeps its queues in class attributes (shared by every
connection in the process) and drops unacked messages when a connection closes. A real
broker does neither: each lab gets its own queues here, and when a worker's connection
dies every message it had not acked goes back to the queue flagged ``redelivered``,
exactly where Celery reads that flag (``delivery_info['redelivered']``).

A :class:`Broker` builds a private subclass of kombu's memory transport and channel, so
Celery and kombu run unchanged on top of it; a probe
(:class:`~.broker_api.BrokerProbe`) sees publish, ack, reject and restore, which Celery
reports through no signal. :class:`Broker` is the in-process
:class:`~.broker_api.LabBroker`.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty, Queue
from typing import Any, ClassVar

import kombu.pools
import kombu.transport
from kombu.exceptions import ConnectionError as KombuConnectionError
from kombu.transport import memory, virtual
from kombu.utils.uuid import uuid

from celery_tutor.lab.broker_api import BrokerProbe
from celery_tutor.lab.connection_loss import CONNECTION_LOST, Outages

WAKE_INTERVAL = 0.1
"""Longest a consuming worker waits on an idle broker before its loop looks around again.

Celery's sync loop only checks for shutdown between ``drain_events`` calls; waking often
keeps stops quick, and waiting on a condition (not polling) keeps pickup immediate."""

DEFAULT_QUEUE = "celery"


class LabChannel(memory.Channel):
    """A memory channel whose connection can die like a TCP connection to RabbitMQ."""

    broker: ClassVar[Broker]
    do_restore = True
    severed = False
    draining = False
    dropped = False
    """Severed while its worker lives on: acks and rejects on it fail, as on a closed AMQP channel."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delivery_lock = threading.RLock()
        """Held while a message is taken and recorded as unacked, and while severing."""
        self._restore_reason = "worker stopped"

    @property
    def _unacked(self) -> Any:
        """The deliveries not yet acked, as kombu records them (its stubs type this loosely)."""
        return self.qos._delivered

    @property
    def owner(self) -> str | None:
        """The worker this channel belongs to, if it is a worker's."""
        return getattr(self.connection, "owner", None)

    def _dead(self) -> bool:
        """Its worker was killed: a connection it made while dying takes nothing."""
        runtime = getattr(self.connection, "runtime", None)
        return runtime is not None and runtime.killed.is_set()

    def _get_and_deliver(self, queue: str, callback: Any) -> None:
        with self.delivery_lock:
            if self.severed or self.draining or self._dead():
                raise Empty()
            super()._get_and_deliver(queue, callback)

    def basic_publish(self, message: Any, exchange: str, routing_key: str, **kwargs: Any) -> Any:
        headers = message.get("headers") or {}
        if "task" in headers:  # reported first, so no consumer can report it received before
            self.broker.probe.message_published(headers)
        result = super().basic_publish(message, exchange, routing_key, **kwargs)
        self.broker.notify()
        return result

    def _connection_gone(self) -> None:
        """An ack or reject on a dead connection reaches no broker.

        A living worker's client raises (py-amqp: "connection already closed"), which
        Celery logs as "Couldn't ack"; a killed worker sends nothing at all.
        """
        if self.dropped:
            raise KombuConnectionError("connection already closed")

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        if self.severed:  # the connection is gone: the ack never reaches the broker
            self._connection_gone()
            return
        message = self._unacked.get(delivery_tag)
        super().basic_ack(delivery_tag, multiple)
        if message is not None:
            self.broker.probe.message_acked(self.owner, message.headers)
        self.broker.notify()

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if self.severed:
            self._connection_gone()
            return
        with self.delivery_lock:
            message = self._unacked.get(delivery_tag)
            if message is not None:
                self.broker.probe.message_rejected(self.owner, message.headers, requeue)
            self._restore_reason = "rejected, requeue=True"
            super().basic_reject(delivery_tag, requeue)
        self.broker.notify()

    def _restore(self, message: Any) -> None:
        """Put an unacked message back at the head of its queue, flagged ``redelivered``."""
        payload = message.serializable()
        properties = dict(payload["properties"])
        properties["delivery_info"] = dict(properties["delivery_info"], redelivered=True)
        properties["delivery_tag"] = uuid()  # a new delivery, as a real broker gives
        payload["properties"] = properties
        payload["redelivered"] = True
        delivery_info = message.delivery_info
        self.broker.probe.message_restored(self.owner, message.headers, self._restore_reason)
        for queue in self._lookup(delivery_info["exchange"], delivery_info["routing_key"]):
            self.broker.put_front(queue, payload)

    def sever(self) -> list[str]:
        """The worker died: its connection dropped, every unacked delivery goes back, later acks are ignored.

        Returns the ids of the tasks whose messages went back.
        """
        return self._cut("worker died")

    def drop(self) -> list[str]:
        """The connection dropped while the worker lives on: RabbitMQ requeues every unacked delivery at once.

        The worker's later acks and rejects on this channel fail. Returns the ids of the
        tasks whose messages went back.
        """
        self.dropped = True
        return self._cut(CONNECTION_LOST)

    def _cut(self, reason: str) -> list[str]:
        with self.delivery_lock:
            self.severed = True
            self._restore_reason = reason
            qos: Any = self.qos
            qos._flush()
            delivered = self._unacked
            restored = []
            while delivered:  # newest first, each to the head: the original order survives
                _tag, message = delivered.popitem()
                self._restore(message)
                restored.append(message.headers.get("id", ""))
            delivered.restored = True
        self.broker.notify()
        return list(reversed(restored))

    def held_ids(self) -> list[str]:
        """Nothing: like RabbitMQ, a severed channel gave every unacked message back at once."""
        return []

    def close(self) -> None:
        # Under the delivery lock: a close racing a sever (a stop cut short by SIGKILL)
        # restores each unacked message once, for one reason.
        with self.delivery_lock:
            if not self.severed:
                self._restore_reason = "worker stopped"
            super().close()
        self.broker.notify()


class _Scheme(type):
    """Shows a transport class as its URL scheme, where kombu writes the broker's URL (Celery's logs)."""

    def __str__(cls) -> str:
        return "memory"


class LabTransport(memory.Transport, metaclass=_Scheme):
    """A memory transport whose idle consumers wait on the broker instead of polling."""

    broker: ClassVar[Broker]
    owner: str | None = None
    runtime: Any = None
    dropped = False
    """The lab dropped this connection: the consumer's next look at it fails, as a broken socket does."""

    def establish_connection(self) -> Any:
        if self.broker.outages.active(self.runtime):
            raise KombuConnectionError("[Errno 111] Connection refused (the broker is out of reach)")
        return super().establish_connection()

    def _check_connection(self) -> None:
        if self.dropped:
            raise KombuConnectionError("Connection reset by peer (the lab dropped it)")

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> None:
        self._check_connection()
        seen = self.broker.version
        cycle: Any = self.cycle
        try:
            cycle.get(self._deliver, timeout=timeout)
            return
        except Empty:
            pass
        wait = WAKE_INTERVAL if timeout is None else min(timeout, WAKE_INTERVAL)
        self.broker.wait_for_change(seen, wait)
        self._check_connection()
        try:
            cycle.get(self._deliver, timeout=timeout)
        except Empty:
            raise TimeoutError() from None


class Broker:
    """The queues of one lab, isolated from every other lab in the process (a ``LabBroker``)."""

    def __init__(self, probe: BrokerProbe) -> None:
        self.probe = probe
        self.outages = Outages()
        """Workers the broker is out of reach for (after a dropped connection)."""
        self._changed = threading.Condition()
        self.version = 0
        self.queues: dict[str, Queue[Any]] = {}
        self.channel_cls: type[LabChannel] = type(
            "LabChannel",
            (LabChannel,),
            {"broker": self, "queues": self.queues, "events": defaultdict(set)},
        )
        self.transport_cls: type[LabTransport] = type(
            "LabTransport",
            (LabTransport,),
            {"broker": self, "Channel": self.channel_cls, "global_state": virtual.BrokerState()},
        )

    def celery_settings(self) -> dict[str, Any]:
        """Connect an app to this broker's private transport class."""
        return {"broker_url": "memory://localhost//", "broker_transport": self.transport_cls}

    def close(self) -> None:
        """Empty every queue, then let go of kombu's caches (the lab is closing)."""
        self.clear()
        self.forget()

    def notify(self) -> None:
        """Wake consumers waiting for a change (a new message, or room after an ack)."""
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> None:
        """Block until something changed since ``seen``, or ``timeout`` passed."""
        with self._changed:
            if self.version == seen:
                self._changed.wait(timeout)

    def _queue(self, name: str) -> Queue[Any]:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues.setdefault(name, Queue())
        return queue

    def put_front(self, name: str, payload: dict[str, Any]) -> None:
        """Requeue at the head, near where RabbitMQ puts a message back."""
        queue = self._queue(name)
        with queue.mutex:
            queue.queue.appendleft(payload)
            queue.unfinished_tasks += 1
            queue.not_empty.notify()

    @contextmanager
    def _locked(self, name: str) -> Iterator[Any]:
        queue = self._queue(name)
        with queue.mutex:
            yield queue.queue

    def ready_ids(self, name: str = DEFAULT_QUEUE) -> list[str]:
        """The task ids of the messages waiting in a queue, head first."""
        with self._locked(name) as items:
            payloads = list(items)
        return [p["headers"]["id"] for p in payloads if "task" in (p.get("headers") or {})]

    def purge(self, name: str = DEFAULT_QUEUE) -> int:
        """Delete every ready message of a queue; returns how many."""
        with self._locked(name) as items:
            count = len(items)
            items.clear()
        return count

    def forget(self) -> None:
        """Drop kombu's process-wide references to this broker, so a closed lab can be freed."""
        forget_transport(self.transport_cls)

    def clear(self) -> None:
        """Forget every queue (the lab is closing)."""
        for name in list(self.queues):
            self.purge(name)
        self.notify()


def forget_transport(transport_cls: type) -> None:
    """Drop kombu's process-wide references to a lab's private transport class.

    kombu caches transport classes and keeps connection and producer pools keyed by
    transport class; a lab's private classes would otherwise live forever.
    """
    transports: Any = kombu.transport
    transports._transport_cache.pop(transport_cls, None)
    for group in (kombu.pools.connections, kombu.pools.producers):
        for key in [k for k in list(group) if isinstance(k, (tuple, list)) and transport_cls in k]:
            pool = dict.pop(group, key, None)
            if pool is not None:
                pool.force_close_all()
