"""The tutor's ear on a real lab: Celery's ``EventReceiver`` on a thread of its own.

Events are broadcast: one published before the receiver listens is gone for it. So the
receiver says when it really listens (:meth:`EventThread.start` returns only once an event
it sent itself came back), and the lab starts workers and sends tasks only after that.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery
from celery.events.receiver import EventReceiver

from celery_tutor.lab.real import protocol

logger = logging.getLogger("celery_tutor.lab")

LISTEN_TIMEOUT = 10.0
"""Seconds the receiver may take to hear its own first event."""


class _Receiver(EventReceiver):
    """Celery's receiver, saying when its consumer is ready."""

    consuming: threading.Event

    def on_consume_ready(
        self, connection: Any, channel: Any, consumers: list[Any], wakeup: bool = True, **kwargs: Any
    ) -> None:
        super().on_consume_ready(connection, channel, consumers, wakeup=wakeup, **kwargs)
        self.consuming.set()


class EventThread:
    """Receives every event of one lab's exchange and hands each to ``handler`` (in order)."""

    def __init__(self, app: Celery, handler: Callable[[Mapping[str, Any]], None], name: str) -> None:
        self._app = app
        self._handler = handler
        self._stop = threading.Event()
        self._consuming = threading.Event()
        self._heard = threading.Event()
        self._token = uuid.uuid4().hex
        self._receiver: _Receiver | None = None
        self.failure: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"celery-tutor-{name}-events", daemon=True)
        self._dispatch_lock = threading.Lock()
        self._connection: Any = None
        self._dispatcher: Any = None

    def start(self, timeout: float = LISTEN_TIMEOUT) -> bool:
        """Start listening; True once an event sent now was heard (so nothing later is missed)."""
        self._thread.start()
        if not self._consuming.wait(timeout):
            return False
        waited = 0.0
        while waited < timeout and not self._stop.is_set():
            self.send(protocol.BARRIER, token=self._token)
            if self._heard.wait(0.2):
                return True
            waited += 0.2
        return False

    def _run(self) -> None:
        try:
            with self._app.connection_for_read() as connection:
                receiver = _Receiver(connection, handlers={"*": self._on_event}, app=self._app)
                receiver.consuming = self._consuming
                receiver.should_stop = self._stop.is_set()
                self._receiver = receiver
                receiver.capture(limit=None, timeout=None, wakeup=False)
        except Exception as exc:  # the broker went away: the lab hears nothing more
            if not self._stop.is_set():
                self.failure = f"{type(exc).__name__}: {exc}"
                logger.warning("celery-tutor: the lab's event receiver stopped: %s", self.failure)

    def _on_event(self, event: Mapping[str, Any]) -> None:
        if self._stop.is_set():
            if self._receiver is not None:
                self._receiver.should_stop = True
            return
        if event.get("type") == protocol.BARRIER and event.get("token") == self._token:
            self._heard.set()
            return
        try:
            self._handler(event)
        except Exception:  # one bad event must not deafen the lab
            logger.exception("celery-tutor: could not translate event %s", event.get("type"))

    def send(self, kind: str, **fields: Any) -> None:
        """Publish one event on the lab's exchange, as the tutor (barriers)."""
        with self._dispatch_lock:
            if self._dispatcher is None:
                self._connection = self._app.connection_for_write()
                self._dispatcher = self._app.events.Dispatcher(
                    self._connection, hostname=f"tutor@{self._app.main}", enabled=True
                )
            self._dispatcher.send(kind, **fields)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and close the connections (the consumer notices within a second)."""
        self._stop.set()
        if self._receiver is not None:
            self._receiver.should_stop = True
        if self._thread.is_alive():  # a lab closed before it started never started listening
            self._thread.join(timeout)
        with self._dispatch_lock:
            if self._dispatcher is not None:
                self._dispatcher.close()
            if self._connection is not None:
                self._connection.release()
            self._dispatcher = self._connection = None
