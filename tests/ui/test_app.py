"""The app opens on the lesson list, and quits on q."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from textual.widgets import OptionList
from textual.widgets._toast import Toast

from celery_tutor.course.index import index_path
from celery_tutor.paths import bundled_lessons
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.app import make_app as build_app
from celery_tutor.ui.screens.lesson_list import LessonListScreen


async def test_app_opens_on_the_lesson_list_and_quits_on_q(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LessonListScreen)
        lessons = app.screen.query_one("#lessons", OptionList)
        assert lessons.option_count == len(app.entries)
        assert "Acknowledgement" in str(lessons.get_option_at_index(0).prompt)
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_notice_with_markup_characters_is_shown_as_written(
    make_app: Callable[..., TutorApp], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "progress.json").write_text(json.dumps({"format": 1, "lessons": {"[/]": 5}}))
    app = make_app(data=data)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LessonListScreen)
        [notification] = app._notifications
        assert "lesson '[/]' is not readable" in notification.message
        for _ in range(100):  # the toast is drawn a few refreshes later
            if app.screen.query(Toast):
                break
            await pilot.pause(0.02)
        [toast] = app.screen.query(Toast)
        assert "lesson '[/]' is not readable" in str(toast.render())
        await pilot.press("q")
    assert app.return_code == 0


async def test_the_app_opens_on_unreadable_files_and_says_where_they_went(tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    shutil.copytree(bundled_lessons(), lessons)
    data = tmp_path / "data"
    data.mkdir()
    index_path(data, lessons).write_bytes(b"[" * 100_000)
    (data / "progress.json").write_bytes(bytes(range(256)) * 8)
    app = build_app(lessons, data)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for _ in range(100):
            if len(app.screen.query(Toast)) == 2:
                break
            await pilot.pause(0.02)
        assert isinstance(app.screen, LessonListScreen)
        shown = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert len(shown) == 2 and all("moved to" in text for text in shown), shown
        await pilot.press("q")
    assert app.return_code == 0
    assert sorted(p.name.split(".broken-")[0] for p in data.iterdir() if ".broken-" in p.name) == [
        index_path(data, lessons).name,
        "progress.json",
    ]
