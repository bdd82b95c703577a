"""The choice list's cursor keys keep the highlighted choice in the step pane's view."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from celery_tutor.ui.widgets.steps import ChoiceList

CHOICES = [f"choice {n}" for n in range(1, 9)]


class _Pane(App[None]):
    """A short scrolling pane: a question above the list, and the list longer than the pane."""

    CSS = "VerticalScroll { height: 6; }"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("the question\n" * 4)
            yield ChoiceList(CHOICES, id="answer")


def _in_view(app: _Pane) -> bool:
    pane, choices = app.query_one(VerticalScroll), app.query_one(ChoiceList)
    line = choices.content_region.y + (choices.highlighted or 0) - round(choices.scroll_y)
    return pane.content_region.y <= line < pane.content_region.bottom


@pytest.mark.parametrize(
    ("keys", "highlighted"),
    [(("down",) * 7, 7), (("end",), 7), (("end", "home"), 0), (("end", "up"), 6), (("end", "home", "end"), 7)],
)
async def test_every_cursor_key_scrolls_the_pane_to_the_highlight(keys: tuple[str, ...], highlighted: int) -> None:
    app = _Pane()
    async with app.run_test(size=(40, 10)) as pilot:
        app.query_one(ChoiceList).focus()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            assert _in_view(app), key
        assert app.query_one(ChoiceList).highlighted == highlighted
