"""A few pictures of the key screens, with a scripted lab so every pixel is deterministic."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from ui_helpers import wait_for

from celery_tutor.course.lessons import load_course
from celery_tutor.lab import events as ev
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress import Progress, StepProgress
from celery_tutor.progress_store import ProgressStore
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.screens.lesson import LessonScreen

SNAP = pytest.importorskip("pytest_textual_snapshot")


class ScriptedSession(LabSession):
    """No Celery: the test feeds the events through the bridge, as a lab would."""

    def start(self) -> None:
        pass

    def feed(self, events: list[ev.LabEvent]) -> None:
        for event in events:
            self.bridge._receive(event)

    def now(self) -> float:
        return 4.0


def busy_lab() -> list[ev.LabEvent]:
    seq = count(1)

    def e(cls: type[ev.LabEvent], at: float, **fields: Any) -> ev.LabEvent:
        return cls(seq=next(seq), at=at, **fields)

    w = "worker1"
    return [
        e(ev.WorkerStarted, 0.0, worker=w, concurrency=1, prefetch_multiplier=4),
        e(ev.TaskPublished, 0.1, task_id="a1" * 8, task="charge_card", alias="order"),
        e(ev.TaskPublished, 0.1, task_id="b2" * 8, task="charge_card"),
        e(ev.TaskPublished, 0.1, task_id="c3" * 8, task="fetch_exchange_rate"),
        e(ev.TaskPublished, 0.1, task_id="d4" * 8, task="add"),
        e(ev.TaskReceived, 0.2, task_id="a1" * 8, task="charge_card", worker=w, redelivered=False, retries=0),
        e(ev.TaskStarted, 0.2, task_id="a1" * 8, task="charge_card", worker=w, run=1, redelivered=False, retries=0),
        e(ev.CheckpointReached, 0.7, task_id="a1" * 8, task="charge_card", worker=w, run=1, checkpoint="after_charge"),
        e(
            ev.LedgerWritten,
            0.7,
            task_id="a1" * 8,
            task="charge_card",
            action="charge",
            key="order 42",
            detail="$9.99",
            count=1,
        ),
        e(ev.MessageRedelivered, 0.8, task_id="a1" * 8, task="charge_card", worker=w, reason="worker died"),
        e(ev.WorkerKilled, 0.8, worker=w, requeued=1, lost=0, checkpoint="after_charge"),
        e(ev.WorkerStarted, 1.0, worker=w, concurrency=1, prefetch_multiplier=4),
        e(ev.TaskReceived, 1.1, task_id="a1" * 8, task="charge_card", worker=w, redelivered=True, retries=0),
        e(ev.TaskStarted, 1.1, task_id="a1" * 8, task="charge_card", worker=w, run=2, redelivered=True, retries=0),
        e(
            ev.LedgerWritten,
            1.6,
            task_id="a1" * 8,
            task="charge_card",
            action="charge",
            key="order 42",
            detail="$9.99",
            count=2,
        ),
        e(ev.TaskSucceeded, 1.6, task_id="a1" * 8, task="charge_card", worker=w, result="'ch_42'"),
        e(ev.MessageAcked, 1.6, task_id="a1" * 8, task="charge_card", worker=w),
        e(ev.TaskReceived, 1.7, task_id="b2" * 8, task="charge_card", worker=w, redelivered=False, retries=0),
        e(ev.TaskStarted, 1.7, task_id="b2" * 8, task="charge_card", worker=w, run=1, redelivered=False, retries=0),
        e(ev.CheckpointReached, 1.7, task_id="b2" * 8, task="charge_card", worker=w, run=1, checkpoint="before_charge"),
        e(
            ev.TaskReceived,
            1.8,
            task_id="c3" * 8,
            task="fetch_exchange_rate",
            worker=w,
            redelivered=False,
            retries=1,
            eta_in=3.0,
        ),
        e(
            ev.RetryScheduled,
            1.8,
            task_id="c3" * 8,
            task="fetch_exchange_rate",
            worker=w,
            attempt=1,
            max_retries=3,
            countdown=3.0,
            eta_at=4.8,
            exc_type="ConnectionError",
            exc_message="injected",
        ),
    ]


@pytest.fixture
def app_with(tmp_path: Path) -> Callable[[Progress | None], TutorApp]:
    def build(progress: Progress | None = None) -> TutorApp:
        store = ProgressStore(tmp_path / "data")
        if progress is not None:
            store.save(progress)
        app = TutorApp.for_course(load_course([bundled_lessons()]), store)
        app.theme = "textual-dark"
        return app

    return build


def test_lesson_list(snap_compare: Any, app_with: Callable[[Progress | None], TutorApp]) -> None:
    progress = Progress(last_lesson="early-vs-late-acks")
    done = progress.lesson("acknowledgement")
    for step_id in ("lifecycle", "send-one", "predict-prefetch", "quiz"):
        done.steps[step_id] = StepProgress(done=True)
    progress.lesson("early-vs-late-acks").steps["two-moments"] = StepProgress(done=True)
    progress.lesson("early-vs-late-acks").current = "crash-early-ack"
    assert snap_compare(app_with(progress), terminal_size=(80, 24))


def test_lesson_with_a_busy_lab(
    snap_compare: Any, app_with: Callable[[Progress | None], TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LabScreen, "session_class", ScriptedSession)
    app = app_with(None)

    async def open_and_feed(pilot: Pilot[int]) -> None:
        app.open_lesson("early-vs-late-acks")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen) and isinstance(screen.session, ScriptedSession)
        events = busy_lab()
        screen.session.feed(events)
        # Drawn at the next redraw, which a loaded machine may delay: wait for it, then a frame.
        await wait_for(pilot, lambda: screen.state.seq == events[-1].seq and not screen._redraw_pending)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_and_feed)


def test_quiz_with_feedback(
    snap_compare: Any, app_with: Callable[[Progress | None], TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LabScreen, "session_class", ScriptedSession)
    progress = Progress()
    progress.lesson("acknowledgement").current = "quiz"
    app = app_with(progress)

    async def answer_wrong(pilot: Pilot[int]) -> None:
        app.open_lesson("acknowledgement")
        await pilot.pause()
        await pilot.press("enter")  # the first choice: "when it receives the message" (wrong)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=answer_wrong)


def test_help(snap_compare: Any, app_with: Callable[[Progress | None], TutorApp]) -> None:
    assert snap_compare(app_with(None), terminal_size=(80, 24), press=["question_mark"])
