"""The app opens on the lesson list, and quits on q."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import OptionList

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
