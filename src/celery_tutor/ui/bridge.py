"""Lab events, from Celery's threads to the Textual event loop, in batches.

The lab calls its subscribers on worker threads. The bridge only queues each event and,
when nothing is queued yet, posts one :class:`LabBridge.Activity` message; the screen
drains the whole batch on the event loop. A burst of a thousand tasks is then a handful
of messages, not thousands.

Once detached, a bridge stays shut: nothing it receives later reaches the screen, even
from a lab that subscribes only afterwards (one that finished starting too late).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual.message import Message
from textual.message_pump import MessagePump

from celery_tutor.lab.events import LabEvent
from celery_tutor.ui.handoff import Handoff


class LabBridge:
    """Subscribes to a lab and feeds a screen."""

    class Activity(Message, bubble=False):
        """New lab events are waiting in the bridge."""

    def __init__(self, target: MessagePump) -> None:
        self._target = target
        self._events: Handoff[LabEvent] = Handoff()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, subscribe: Callable[[Callable[[LabEvent], None]], Callable[[], None]]) -> None:
        """Start receiving (``subscribe`` is the lab's); a detached bridge stays shut."""
        unsubscribe = subscribe(self._receive)
        with self._lock:
            if not self._events.shut:
                self._unsubscribe = unsubscribe
                return
        unsubscribe()

    def detach(self) -> None:
        """Stop receiving, for good, and forget what was still queued."""
        with self._lock:
            self._events.shut_down()
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def _receive(self, event: LabEvent) -> None:
        # Any thread: queue it, and wake the screen once per batch. The post happens
        # under the lock, so after detach() returned nothing more is posted.
        with self._lock:
            if self._events.put(event):
                self._target.post_message(self.Activity())

    def drain(self) -> list[LabEvent]:
        """Every queued event, in order (event loop only)."""
        with self._lock:
            return self._events.take_all()
