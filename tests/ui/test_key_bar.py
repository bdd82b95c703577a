"""The key bar shows the screen's keys, follows the screen, and a click presses the key."""

from __future__ import annotations

from collections.abc import Callable

from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.help import HelpScreen
from celery_tutor.ui.screens.lesson_list import LessonListScreen
from celery_tutor.ui.widgets.key_bar import KeyBar, key_bar_text


def test_the_text_shows_each_key_and_label_and_dims_a_disabled_one() -> None:
    text = key_bar_text([("c", "c", "Continue", True), ("x", "x", "Off", False)])
    assert text.plain == " c Continue  x Off "
    dimmed = [span for span in text.spans if span.style.dim]  # type: ignore[union-attr]
    assert {text.plain[span.start : span.end] for span in dimmed} == {" x", " Off "}


async def test_the_bar_shows_the_lesson_list_keys_then_the_help_keys(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        shown = str(bar.render())
        for label in ("Continue", "Sandbox", "Reset lesson", "Help", "Quit", "palette"):
            assert label in shown
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LessonListScreen)
        assert "Sandbox" in str(app.screen.query_one(KeyBar).render())


async def test_clicking_a_key_presses_it(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        plain = str(bar.render())
        column = plain.index("Help")  # the label is clickable as well as the key
        await pilot.click(KeyBar, offset=(column, 0))
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
