"""Helpers the UI tests share: waiting on the live app, reading its timeline."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import RichLog

from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.lesson import LessonScreen
from celery_tutor.ui.screens.lesson_list import LessonListScreen


async def wait_for(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Let the app run until ``condition`` holds (the lab works on its own threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def timeline(app: TutorApp) -> str:
    """The timeline's text, with its wrapped lines joined again."""
    log = app.screen.query_one("#timeline", RichLog)
    return " ".join(" ".join(line.text.split()) for line in log.lines)


async def open_at(pilot: Pilot[int], lesson_id: str, step_id: str) -> LessonScreen:
    """Open a lesson at one of its steps, as 'continue where you left off' does."""
    app = pilot.app
    assert isinstance(app, TutorApp)
    await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
    app.progress.lesson(lesson_id).current = step_id
    app.open_lesson(lesson_id)
    await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.screen.step.id == step_id)
    screen = app.screen
    assert isinstance(screen, LessonScreen)
    await pilot.pause()
    return screen
