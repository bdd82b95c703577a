"""Pictures of the lab zoomed at 80×24 and of a replay caught mid-way (hand-made events: exact pixels)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from travel_helpers import Events, crash_after_the_charge, fed, playback

from celery_tutor.course.lessons import load_course
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress_store import ProgressStore
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.lesson import LessonScreen

SNAP = pytest.importorskip("pytest_textual_snapshot")


@pytest.fixture
def app_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], TutorApp]:
    """The app, opening early-vs-late-acks at a step, its lab playing hand-made events."""
    playback(monkeypatch)

    def build(step_id: str) -> TutorApp:
        app = TutorApp.for_course(load_course([bundled_lessons()]), ProgressStore(tmp_path / "data"))
        app.theme = "textual-dark"
        app.progress.lesson("early-vs-late-acks").current = step_id
        return app

    return build


async def opened(pilot: Pilot[int]) -> LessonScreen:
    app = pilot.app
    assert isinstance(app, TutorApp)
    app.open_lesson("early-vs-late-acks")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, LessonScreen)
    await fed(pilot, screen, crash_after_the_charge(Events()))
    return screen


def test_a_lesson_at_80x24_with_the_lab_zoomed(snap_compare: Any, app_at: Callable[[str], TutorApp]) -> None:
    async def zoom(pilot: Pilot[int]) -> None:
        await opened(pilot)
        await pilot.press("f2")
        await pilot.pause(0.1)

    assert snap_compare(app_at("two-moments"), terminal_size=(80, 24), run_before=zoom)


def test_a_replay_caught_at_the_kill(snap_compare: Any, app_at: Callable[[str], TutorApp]) -> None:
    async def replay_to_the_kill(pilot: Pilot[int]) -> None:
        screen = await opened(pilot)
        screen.clock = lambda: 0.0
        await pilot.press("f3")
        await pilot.pause()
        replay = screen.travel.replay
        assert replay is not None
        due = replay.due[replay.positions.index(13)]  # the worker killed
        screen.clock = lambda: due + 0.1
        screen.replay_frame()
        await pilot.pause(0.1)

    assert snap_compare(app_at("two-moments"), terminal_size=(120, 40), run_before=replay_to_the_kill)
