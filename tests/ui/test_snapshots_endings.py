"""Pictures of the cards that end a lesson and the course, with no lab and a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from ui_helpers import wait_for

from celery_tutor.course.lessons import load_course
from celery_tutor.course.model import QuizStep
from celery_tutor.course.scores import course_totals
from celery_tutor.lab.actions import Action
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress import Progress, StepProgress
from celery_tutor.progress_store import ProgressStore
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.endings import CourseEndScreen, LessonEndScreen
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.screens.lesson import LessonScreen
from celery_tutor.ui.screens.lesson_list import LessonListScreen

SNAP = pytest.importorskip("pytest_textual_snapshot")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
COURSE = load_course([bundled_lessons()])


class QuietSession(LabSession):
    """No Celery: the lab panel stays empty, so every frame is the same."""

    def start(self) -> None:
        pass

    def run_script(self, purpose: str, actions: tuple[Action, ...], reset_first: bool = True) -> None:
        pass

    def now(self) -> float:
        return 0.0


def finished(lesson_id: str, missed: tuple[str, ...], progress: Progress) -> None:
    """A lesson walked to its end, its quiz answered, ``missed`` wrongly."""
    lesson = COURSE.lesson(lesson_id)
    kept = progress.lesson(lesson_id)
    for step in lesson.steps:
        kept.steps[step.id] = StepProgress(done=True, correct=step.kind in ("predict", "quiz") or None)
        if isinstance(step, QuizStep):
            for question in step.questions:
                kept.question(question.id).answer(question.id not in missed, T0)
    kept.current = lesson.steps[-1].id
    kept.seconds = 9 * 60


@pytest.fixture
def app_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[Progress], TutorApp]:
    monkeypatch.setattr(LabScreen, "session_class", QuietSession)

    def build(progress: Progress) -> TutorApp:
        store = ProgressStore(tmp_path / "data")
        store.save(progress)
        app = TutorApp.for_course(COURSE, store)
        app.theme = "textual-dark"
        app.clock = lambda: T0
        return app

    return build


def test_the_end_of_lesson_card(snap_compare: Any, app_with: Callable[[Progress], TutorApp]) -> None:
    progress = Progress(last_lesson="idempotence")
    finished("idempotence", ("dedupe-conditions", "windows"), progress)
    app = app_with(progress)

    async def reach_the_end(pilot: Pilot[int]) -> None:
        app.open_lesson("idempotence")  # at its quiz, done: n goes through the questions, then ends it
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        for _ in range(20):
            if isinstance(app.screen, LessonEndScreen):
                break
            await pilot.press("n")
            await pilot.pause()
        await wait_for(pilot, lambda: isinstance(app.screen, LessonEndScreen))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(80, 24), run_before=reach_the_end)


def test_the_end_of_course_card(snap_compare: Any, app_with: Callable[[Progress], TutorApp]) -> None:
    progress = Progress()
    for lesson in COURSE.lessons:
        finished(lesson.id, ("when-early-ack", "dedupe-conditions", "third-retry"), progress)
    app = app_with(progress)

    async def show_it(pilot: Pilot[int]) -> None:
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        app.push_screen(CourseEndScreen(course_totals(app.entries, app.progress, T0), T0))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(80, 24), run_before=show_it)
