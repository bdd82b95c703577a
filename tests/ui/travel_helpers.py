"""A lab that plays back hand-made events, for the zoom, time-travel and evidence tests.

No Celery: every event is written here, so every picture of the panel at any event is exact.
"""

from __future__ import annotations

import io
from itertools import count
from typing import Any

from rich.console import Console, RenderableType
from textual.pilot import Pilot
from ui_helpers import wait_for

from celery_tutor.lab import events as ev
from celery_tutor.lab.actions import Action
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.lab_screen import LabScreen

W = "worker1"
ORDER = "a1b2c3d4e5f60718"


class Events:
    """Hand-made events with their seq numbered in order."""

    def __init__(self) -> None:
        self._seq = count(1)

    def __call__(self, cls: type[ev.LabEvent], at: float, **fields: Any) -> ev.LabEvent:
        return cls(seq=next(self._seq), at=at, **fields)


def crash_after_the_charge(e: Events) -> list[ev.LabEvent]:
    """Early acks, the worker killed right after the charge, then restarted: the order is LOST."""
    task = {"task_id": ORDER, "task": "charge_card"}
    return [
        e(ev.LabReset, 0.0),
        e(ev.ConfigChanged, 0.0, settings={"task_acks_late": False}, complete=True, broker="rabbitmq"),
        e(ev.WorkerStarted, 0.0, worker=W, concurrency=1, prefetch_multiplier=4),
        e(ev.TaskPublished, 0.1, alias="order", **task),
        e(ev.FaultArmed, 0.1, description="kill the worker when a task reaches 'after_charge'"),
        e(ev.TaskReceived, 0.1, worker=W, redelivered=False, retries=0, **task),
        e(ev.MessageAcked, 0.1, worker=W, **task),
        e(ev.TaskStarted, 0.1, worker=W, run=1, redelivered=False, retries=0, **task),
        e(ev.CheckpointReached, 0.1, worker=W, run=1, checkpoint="before_charge", **task),
        e(ev.LedgerWritten, 0.6, action="charge", key="order 42", detail="$9.99", count=1, **task),
        e(ev.CheckpointReached, 0.6, worker=W, run=1, checkpoint="after_charge", **task),
        e(ev.TaskLost, 0.6, worker=W, run=1, **task),
        e(ev.WorkerKilled, 0.6, worker=W, requeued=0, lost=1, checkpoint="after_charge"),
        e(ev.WorkerStarted, 0.7, worker=W, concurrency=1, prefetch_multiplier=4),
    ]


class PlaybackSession(LabSession):
    """Plays the test's events through the bridge, as a lab's threads would; a script plays ``script``."""

    script: list[ev.LabEvent] = []  # noqa: RUF012  (a test sets it on the class before the screen exists)

    def start(self) -> None:
        pass

    def feed(self, events: list[ev.LabEvent]) -> None:
        for event in events:
            self.bridge._receive(event)

    def run_script(self, purpose: str, actions: tuple[Action, ...], reset_first: bool = True) -> None:
        self.feed(self.script)
        self.owner.post_message(self.ScriptDone(purpose, None))

    def control(self, action: Action) -> None:
        pass

    def call(self, what: str, fn: Any) -> None:
        pass

    def now(self) -> float:
        return 5.0


def playback(monkeypatch: Any, script: list[ev.LabEvent] | None = None) -> None:
    """Lab screens get a playback session (playing ``script`` for a lesson's scripts)."""
    monkeypatch.setattr(PlaybackSession, "script", script or [])
    monkeypatch.setattr(LabScreen, "session_class", PlaybackSession)


async def fed(pilot: Pilot[int], screen: LabScreen, events: list[ev.LabEvent]) -> None:
    """Feed events to the screen and wait until its redraw has drawn them."""
    session = screen.session
    assert isinstance(session, PlaybackSession)
    session.feed(events)
    await wait_for(pilot, lambda: screen.state.seq == events[-1].seq and not screen._redraw_pending)
    await pilot.pause()


def plain(renderable: RenderableType, width: int = 100) -> str:
    """What a renderable says, as plain text."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()
