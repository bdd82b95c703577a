"""One lab's broker on kombu's real Redis transport, against a real server (Redis mode).

On Redis, kombu emulates acks: a delivered message moves to the ``unacked`` hash and the
``unacked_index`` sorted set, and only a worker's restore scan (``QoS.restore_visible``)
puts one back once it is older than ``visibility_timeout``; a clean channel close puts
back its own at once. Nothing here models that: the transport, the QoS and the
``redelivered`` flag are kombu's code. The lab adds only what a real deployment has and
an in-process lab lacks:

* a key prefix per lab (``global_keyprefix``) on the process's one server, so that labs
  never see each other's keys, and closing a lab deletes only its own;
* a probe (:class:`~.broker_api.BrokerProbe`) on publish, ack, reject and restore, each
  restore with its reason (the scan, a clean close, a reject), and on every restore scan
  that really runs (kombu counts calls and scans on every ``unacked_restore_throttle``-th);
* a channel that can be *severed*: the connection drops without a clean close, as when a
  process is killed, so the broker keeps its unacked messages (invisible) until a scan.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from typing import Any, ClassVar, Protocol

import redis as redis_py
from kombu.transport import redis as kombu_redis

from celery_tutor.lab import runtime
from celery_tutor.lab.broker import forget_transport
from celery_tutor.lab.broker_api import BrokerProbe
from celery_tutor.lab.connection_loss import CONNECTION_LOST, Outages
from celery_tutor.lab.events import CLEAN_CLOSE, SCAN_RESTORE
from celery_tutor.lab.redis_server import RedisServer, shared_server

DEFAULT_QUEUE = "celery"

REJECT_REQUEUE = "rejected, requeue=True"


class ScanProbe(BrokerProbe, Protocol):
    """A probe that also hears about Redis's restore scans."""

    def restore_scanned(self, worker: str, restored: int, next_in: float) -> None:
        """A worker's restore scan ran and put ``restored`` messages back; its next is ``next_in`` s away."""


_prefixes = itertools.count(1)
_reason = threading.local()
"""Why the restores running on this thread happen (set around kombu's restore paths)."""


@contextmanager
def _restoring(reason: str) -> Iterator[None]:
    outer = getattr(_reason, "value", None)
    _reason.value = reason
    try:
        yield
    finally:
        _reason.value = outer


class LabRedisQoS(kombu_redis.QoS):
    """kombu's Redis QoS, telling the lab why each message goes back and who held it."""

    channel: LabRedisChannel

    def append(self, message: Any, delivery_tag: Any) -> None:
        super().append(message, delivery_tag)
        self.channel.broker.holders[str(delivery_tag)] = self.channel.owner

    def restore_visible(self, start: int = 0, num: int = 10, interval: int = 10) -> None:
        channel = self.channel
        if channel.dead:  # a killed process scans nothing
            return
        kombu_qos: Any = self  # kombu's stubs leave out its private counter
        # kombu counts every call and scans on every ``interval``-th (the throttle), the first included.
        scans = kombu_qos._vrestore_count % (interval or 1) == 0
        if not scans:
            super().restore_visible(start, num, interval)
            return
        restored: list[str] = []
        outer = getattr(_reason, "scanned", None)
        _reason.scanned = restored
        # A kill waits for a scan under way (sever takes the same lock). A real SIGKILL can
        # land mid-scan and leave kombu's restore lock held for unacked_mutex_expire (300 s),
        # so that no scan restores anything for five minutes: rare with a scan every 100 s,
        # but a lab scanning every half second would meet it in one crash in a few dozen.
        try:
            with channel.delivery_lock:
                if channel.dead:
                    return
                with _restoring(SCAN_RESTORE):
                    super().restore_visible(start, num, interval)
        finally:
            _reason.scanned = outer
        worker = channel.owner or _bound_worker_name()
        if worker is not None and not channel.draining:  # a worker shutting down scans no more
            channel.broker.probe.restore_scanned(worker, len(restored), channel.restore_period(interval))

    def restore_unacked(self, client: Any = None) -> None:
        with _restoring(CLEAN_CLOSE):
            super().restore_unacked(client)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        with _restoring(REJECT_REQUEUE):
            super().reject(delivery_tag, requeue)

    def restore_by_tag(self, tag: Any, client: Any = None, leftmost: bool = False) -> None:
        # kombu may run its restore transaction more than once (WATCH); report after it commits.
        pending: dict[str, dict[str, Any]] = {}
        outer = getattr(_reason, "pending", None)
        _reason.pending = pending
        try:
            super().restore_by_tag(tag, client, leftmost)
        finally:
            _reason.pending = outer
        for key, headers in pending.items():
            self.channel.report_restored(key, headers)


class LabRedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, probed, and able to die without a clean close."""

    QoS = LabRedisQoS
    broker: ClassVar[RedisBroker]
    severed = False
    draining = False
    dropped = False
    """Its connection was lost while its worker lives on (a clean-up restore then says so)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._delivery_lock = threading.RLock()
        super().__init__(*args, **kwargs)

    @property
    def delivery_lock(self) -> threading.RLock:
        """Held while a message is read and recorded as unacked, and while severing."""
        return self._delivery_lock

    @property
    def owner(self) -> str | None:
        """The worker this channel belongs to, if it is a worker's."""
        return getattr(self.connection, "owner", None)

    @property
    def dead(self) -> bool:
        """Severed, or its worker was killed: it takes, acks and scans nothing more."""
        runtime = getattr(self.connection, "runtime", None)
        return self.severed or (runtime is not None and runtime.killed.is_set())

    # -- traffic the lab hears about ---------------------------------------------------

    def basic_publish(self, message: Any, exchange: str, routing_key: str, **kwargs: Any) -> Any:
        headers = message.get("headers") or {}
        if "task" in headers:  # reported first, so no consumer can report it received before
            self.broker.probe.message_published(headers)
        return super().basic_publish(message, exchange, routing_key, **kwargs)

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        if self.dead:  # the connection is gone: the ack never reaches the broker
            return
        qos: Any = self.qos
        message = qos._delivered.get(delivery_tag)
        super().basic_ack(delivery_tag, multiple)
        self.broker.holders.pop(str(delivery_tag), None)
        if message is not None:
            self.broker.probe.message_acked(self.owner, message.headers)

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        if self.dead:
            return
        qos: Any = self.qos
        message = qos._delivered.get(delivery_tag)
        if message is not None:
            self.broker.probe.message_rejected(self.owner, message.headers, requeue)
        super().basic_reject(delivery_tag, requeue)
        if not requeue:
            self.broker.holders.pop(str(delivery_tag), None)

    def _do_restore_message(
        self, payload: Any, exchange: str, routing_key: str, pipe: Any, leftmost: bool = False
    ) -> None:
        kombu_channel: Any = super()  # kombu's stubs leave out its private methods
        kombu_channel._do_restore_message(payload, exchange, routing_key, pipe, leftmost)
        headers = payload.get("headers") or {}
        tag = str(payload.get("properties", {}).get("delivery_tag", ""))
        pending = getattr(_reason, "pending", None)
        if pending is not None:
            pending[tag] = headers
        else:
            self.report_restored(tag, headers)

    def report_restored(self, tag: str, headers: dict[str, Any]) -> None:
        """Tell the probe a message went back, naming the worker that held it and why."""
        holder = self.broker.holders.pop(tag, None) or self.owner
        reason = getattr(_reason, "value", None) or CLEAN_CLOSE
        scanned = getattr(_reason, "scanned", None)
        if reason == SCAN_RESTORE and scanned is not None:
            scanned.append(tag)
        if self.dropped and reason == CLEAN_CLOSE:
            reason = CONNECTION_LOST  # kombu's clean-up of the lost connection, not a stop
        self.broker.probe.message_restored(holder, headers, reason)

    def restore_period(self, throttle: int) -> float:
        """Seconds from one real restore scan of this channel's worker to its next.

        kombu's timer calls the scan every ``unacked_restore_interval`` seconds and it
        scans on every ``throttle``-th call; a non-positive interval means kombu's default.
        """
        kombu_channel: Any = kombu_redis.Channel  # kombu's stubs leave out its transport options
        interval = float(getattr(self, "unacked_restore_interval", kombu_channel.unacked_restore_interval))
        if interval <= 0:
            interval = float(kombu_channel.unacked_restore_interval)
        return interval * max(throttle, 1)

    def _connparams(self, asynchronous: bool = False) -> Any:
        # Every connection this channel opens (kombu's, and redis-py's own reconnects) is
        # refused while the server is out of reach for this worker (a dropped connection's outage).
        kombu_channel: Any = super()
        params = kombu_channel._connparams(asynchronous)
        params["connection_class"] = _refused_when(params["connection_class"], self)
        return params

    # -- consuming: nothing more once dead or draining --------------------------------

    def _brpop_start(self, timeout: Any = None) -> None:
        if self.dead or self.draining:
            return
        kombu_channel: Any = super()
        kombu_channel._brpop_start(timeout)

    def _brpop_read(self, **options: Any) -> Any:
        with self._delivery_lock:
            if self.dead:
                raise Empty()
            kombu_channel: Any = super()
            return kombu_channel._brpop_read(**options)

    # -- the lab's controls --------------------------------------------------------------

    def sever(self) -> list[str]:
        """The connection drops, as when the process is killed: no clean close, no restore.

        The broker keeps this channel's unacked messages (invisible) until a restore scan
        finds them older than the visibility timeout; nothing goes back now.
        """
        with self._delivery_lock:
            self.severed = True
            self.do_restore = False  # a clean close would restore them: a dead process does not
            for attr in ("client", "subclient"):
                client = self.__dict__.get(attr)
                connection = getattr(client, "connection", None)
                if connection is not None:
                    # redis-py closes the socket first; then kombu takes it out of the worker's
                    # event loop, which a warm stop under way may already have closed (ValueError,
                    # OSError) or which the loop's own thread may be editing at this moment
                    # (KeyError from kombu's fd table). The socket is closed either way.
                    with contextlib.suppress(ValueError, OSError, KeyError):
                        connection.disconnect()
            pool = getattr(self, "_pool", None)
            if pool is not None:
                pool.disconnect()
        return []

    def held_ids(self) -> list[str]:
        """The tasks whose messages this channel held unacked: the broker keeps them."""
        qos: Any = self._qos
        if qos is None:
            return []
        acked = set(qos._dirty)  # kombu drops acked deliveries from its dict lazily
        delivered = list(qos._delivered.items())
        return [m.headers.get("id", "") for tag, m in delivered if tag not in acked and "task" in (m.headers or {})]


def _refused_when(connection_cls: type, channel: LabRedisChannel) -> type:
    """``connection_cls``, refused while out of reach for the channel's worker, or once it is dead (no reconnect)."""

    def _connect(self: Any) -> Any:
        runtime = getattr(channel.connection, "runtime", None)
        if channel.severed or channel.broker.outages.active(runtime):
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        return connection_cls._connect(self)  # type: ignore[attr-defined]

    return type(connection_cls.__name__, (connection_cls,), {"_connect": _connect})


class LabRedisTransport(kombu_redis.Transport):
    """kombu's Redis transport with the lab's channel."""

    broker: ClassVar[RedisBroker]
    owner: str | None = None
    runtime: Any = None


class RedisBroker:
    """One lab's queues on the process's Redis server, under the lab's own key prefix (a ``LabBroker``)."""

    def __init__(self, probe: ScanProbe, server: RedisServer | None = None) -> None:
        self.probe = probe
        self.server = server or shared_server()
        self.prefix = f"celery-tutor:{self.server.pid}:lab{next(_prefixes)}:"
        self.holders: dict[str, str | None] = {}
        """Delivery tag → the worker holding it unacked (a scan restore names the holder)."""
        self.outages = Outages()
        """Workers the server is out of reach for (after a dropped connection)."""
        self.channel_cls: type[LabRedisChannel] = type("LabRedisChannel", (LabRedisChannel,), {"broker": self})
        self.transport_cls: type[LabRedisTransport] = type(
            "LabRedisTransport", (LabRedisTransport,), {"broker": self, "Channel": self.channel_cls}
        )
        self._client = redis_py.Redis.from_url(self.server.url)
        self.server_name = _server_name(self._client)
        """What the server says it is (``Valkey 9.1.2``, ``Redis 7.0.15``)."""

    def celery_settings(self) -> dict[str, Any]:
        """Connect an app to the server through this broker's private transport class."""
        return {
            "broker_url": self.server.url,
            "broker_transport": self.transport_cls,
            "broker_transport_options": {"global_keyprefix": self.prefix},
        }

    def _queue_keys(self, name: str) -> list[str]:
        """The lists kombu keeps a queue in (one per priority step), in the order BRPOP reads them."""
        steps = kombu_redis.Channel.priority_steps
        sep = kombu_redis.Channel.sep
        return [self.prefix + (name if step == 0 else f"{name}{sep}{step}") for step in steps]

    def ready_ids(self, name: str = DEFAULT_QUEUE) -> list[str]:
        """The task ids waiting in a queue, head first (kombu pushes left and pops right)."""
        ids: list[str] = []
        for key in self._queue_keys(name):
            for raw in reversed(self._client.lrange(key, 0, -1)):
                headers = json.loads(raw).get("headers") or {}
                if "task" in headers:
                    ids.append(headers["id"])
        return ids

    def purge(self, name: str = DEFAULT_QUEUE) -> int:
        """Delete every ready message of a queue; returns how many (unacked ones stay)."""
        pipe = self._client.pipeline()
        for key in self._queue_keys(name):
            pipe.llen(key)
            pipe.delete(key)
        sizes = pipe.execute()
        return int(sum(sizes[::2]))

    def forget_unacked(self) -> None:
        """Delete every unacked message (the lab is reset): no scan may bring back work from before.

        The broker keeps a killed worker's unacked messages, so a reset that only purged
        the queue would see them restored into the new lab by its first scan.
        """
        channel = kombu_redis.Channel
        self._client.delete(self.prefix + channel.unacked_key, self.prefix + channel.unacked_index_key)
        self.holders.clear()

    def close(self) -> None:
        """Delete this lab's keys only (SCAN + DEL of its prefix), then kombu's references to it."""
        try:
            for batch in _batches(self._client.scan_iter(match=self.prefix + "*", count=500), 500):
                self._client.delete(*batch)
        except redis_py.RedisError:
            pass  # the server is gone: nothing to clean
        self._client.close()
        forget_transport(self.transport_cls)


def _bound_worker_name() -> str | None:
    """The worker whose thread this is: a consumer's start-up scan runs before it is named."""
    worker = runtime.bound_worker()
    return worker.name if worker is not None else None


def _server_name(client: redis_py.Redis) -> str:
    """The server's own name and version, from ``INFO server``."""
    try:
        info: dict[str, Any] = client.info("server")
    except redis_py.RedisError:
        return "a Redis server"
    if info.get("valkey_version"):  # Valkey also reports a redis_version, for compatibility
        return f"Valkey {info['valkey_version']}"
    return f"Redis {info.get('redis_version', '?')}"


def _batches(items: Any, size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
