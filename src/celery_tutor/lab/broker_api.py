"""What a lab needs from a broker, and what a broker tells the lab: two small interfaces.

The in-process lab runs on :class:`~.broker.Broker` (kombu's memory transport made to
behave like RabbitMQ). Another transport (kombu's Redis transport against a real
``redis-server``, say) plugs in by implementing :class:`LabBroker` and calling a
:class:`BrokerProbe` from its channel on publish, ack, reject and restore, the traffic
Celery reports through no signal. Neither interface imports kombu or Celery.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable


class BrokerProbe(Protocol):
    """Who hears about message traffic (the lab's reporter). Called on kombu's threads."""

    def message_published(self, headers: dict[str, Any]) -> None:
        """A message reached a queue."""

    def message_acked(self, owner: str | None, headers: dict[str, Any]) -> None:
        """A consumer acked a message."""

    def message_rejected(self, owner: str | None, headers: dict[str, Any], requeue: bool) -> None:
        """A consumer rejected a message."""

    def message_restored(self, owner: str | None, headers: dict[str, Any], reason: str) -> None:
        """An unacked message went back to its queue."""


@runtime_checkable
class SeverableChannel(Protocol):
    """A worker's broker channel that the lab can kill like a dropped TCP connection."""

    draining: bool
    """Set on a warm stop: take no new messages."""

    @property
    def delivery_lock(self) -> AbstractContextManager[Any]:
        """Held while a message is taken and recorded as unacked, and while severing."""

    def sever(self) -> list[str]:
        """Drop the connection without a clean close; the ids of the tasks whose messages went back now."""

    def held_ids(self) -> list[str]:
        """The ids of the tasks whose unacked messages the broker still keeps (invisible) for this channel."""


class LabBroker(Protocol):
    """One lab's queues, as the lab drives them."""

    def celery_settings(self) -> dict[str, Any]:
        """The Celery settings that connect an app to this broker (``broker_url``…)."""

    def ready_ids(self) -> list[str]:
        """The task ids waiting in the default queue, head first, read from the broker."""

    def purge(self) -> int:
        """Delete every ready message of the default queue; returns how many."""

    def close(self) -> None:
        """Drop every queue and every process-wide reference to this broker."""
