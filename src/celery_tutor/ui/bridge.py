"""Lab events, from Celery's threads to the Textual event loop, in batches.

The lab calls its subscribers on worker threads. The bridge only queues each event and,
when nothing is queued yet, posts one :class:`LabBridge.Activity` message; the screen
drains the whole batch on the event loop. A burst of a thousand tasks is then a handful
of messages, not thousands.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from textual.message import Message
from textual.message_pump import MessagePump

from celery_tutor.lab.events import LabEvent


class LabBridge:
    """Subscribes to a lab and feeds a screen."""

    class Activity(Message, bubble=False):
        """New lab events are waiting in the bridge."""

    def __init__(self, target: MessagePump) -> None:
        self._target = target
        self._queue: deque[LabEvent] = deque()
        self._lock = threading.Lock()
        self._posted = False
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, subscribe: Callable[[Callable[[LabEvent], None]], Callable[[], None]]) -> None:
        """Start receiving (``subscribe`` is the lab's)."""
        self._unsubscribe = subscribe(self._receive)

    def detach(self) -> None:
        """Stop receiving."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _receive(self, event: LabEvent) -> None:
        # Any thread: queue it, and wake the screen once per batch.
        with self._lock:
            self._queue.append(event)
            if self._posted:
                return
            self._posted = True
        self._target.post_message(self.Activity())

    def drain(self) -> list[LabEvent]:
        """Every queued event, in order (event loop only)."""
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
            self._posted = False
        return events
