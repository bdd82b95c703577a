"""The app starts, shows where to begin, and quits on q."""

from __future__ import annotations

from textual.widgets import Markdown

from celery_tutor.ui.app import TutorApp


async def test_app_starts_and_quits_on_q() -> None:
    app = TutorApp()
    async with app.run_test(size=(80, 24)) as pilot:
        markdown = app.query_one(Markdown)
        assert "celery-tutor lab run" in markdown.source
        await pilot.press("q")
    assert app.return_code == 0
