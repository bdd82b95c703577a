"""The UI keeps one fold of the lab's events, and nothing on the event loop asks the lab for its state."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from textual.widgets import Button, Static
from ui_helpers import timeline, wait_for

from celery_tutor.lab import engine
from celery_tutor.lab.events import LabEvent
from celery_tutor.lab.state import LabState
from celery_tutor.lab.views import LabSnapshot
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.bridge import LabBridge
from celery_tutor.ui.screens.lesson import LessonScreen
from celery_tutor.ui.screens.sandbox import SandboxScreen


@pytest.fixture
def delivered(monkeypatch: pytest.MonkeyPatch) -> list[LabEvent]:
    """Every event a bridge handed to its screen, in order."""
    seen: list[LabEvent] = []
    original = LabBridge.drain

    def drain(self: LabBridge) -> list[LabEvent]:
        events = original(self)
        seen.extend(events)
        return events

    monkeypatch.setattr(LabBridge, "drain", drain)
    return seen


@pytest.fixture
def snapshot_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread of every call to ``Lab.snapshot``."""
    threads: list[int] = []
    original = engine.Lab.snapshot

    def snapshot(self: engine.Lab) -> LabSnapshot:
        threads.append(threading.get_ident())
        return original(self)

    monkeypatch.setattr(engine.Lab, "snapshot", snapshot)
    return threads


async def test_the_sandbox_state_is_the_fold_of_the_events_it_received(
    make_app: Callable[..., TutorApp], delivered: list[LabEvent], snapshot_threads: list[int]
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxScreen) and app.screen.session.lab is not None)
        screen = app.screen
        assert isinstance(screen, SandboxScreen)
        # The lab's whole configuration arrived as an event: the toggles read it.
        await wait_for(pilot, lambda: screen.state.settings.get("task_acks_late") is False)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.state.settings.get("task_acks_late") is True)
        await pilot.press("s")
        await wait_for(pilot, lambda: any(view.state == "SUCCESS" for view in screen.state.snapshot().tasks))
        labels = [str(button.label) for button in screen.query("#controls Button").results(Button)]
        assert "a · task_acks_late: on" in labels
        replayed = LabState()
        for event in delivered:
            replayed.apply(event)
        assert replayed.snapshot() == screen.state.snapshot()
        assert [event.seq for event in delivered] == list(range(1, len(delivered) + 1))  # none lost, none twice
    assert threading.get_ident() not in snapshot_threads  # the event loop never pulled a snapshot


async def test_task_options_come_from_events_and_a_reset_takes_them_back(
    make_app: Callable[..., TutorApp], snapshot_threads: list[int]
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open_lesson("capstone")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.screen.session.lab is not None)
        screen = app.screen
        assert isinstance(screen, LessonScreen) and screen.step.kind == "read"
        await wait_for(pilot, lambda: screen.state.seq > 0)

        def options() -> str:
            return str(screen.query_one("#source-options", Static).render())

        assert options() == ""
        await pilot.press("r")  # autoretry_for, retry_backoff, max_retries=5 on both charge tasks
        await wait_for(pilot, lambda: "max_retries=5" in options())
        assert screen.state.task_options["charge_card_idempotent"]["autoretry_for"] == ["ConnectionError"]
        assert "autoretry_for=['ConnectionError']" in options()
        assert "config: charge_card autoretry_for=['ConnectionError']" in timeline(app)
        await pilot.press("ctrl+r")  # back to the lesson's lab: the options are gone again
        await wait_for(pilot, lambda: options() == "")
        assert screen.state.task_options == {}
        assert "config: the lab defaults" in timeline(app)
    assert threading.get_ident() not in snapshot_threads
