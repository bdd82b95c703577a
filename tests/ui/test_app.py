"""The app opens on the lesson list, and quits on q."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from textual.widgets import OptionList
from textual.widgets._toast import Toast

from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.catalog import CatalogScreen


async def test_app_opens_on_the_catalog_and_quits_on_q(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, CatalogScreen)
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
        assert isinstance(app.screen, CatalogScreen)
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
