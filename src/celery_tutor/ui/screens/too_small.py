"""The screen shown while the terminal is below the app's minimum size (imported only then)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.screen import Screen
from textual.widgets import Static


class TooSmall(Screen[None]):
    """Shown instead of a broken layout while the terminal is below the minimum size."""

    DEFAULT_CSS = """
    TooSmall {
        align: center middle;
    }
    #too-small {
        width: 100%;
        height: auto;
        padding: 1 2;
        text-align: center;
    }
    """

    def __init__(self, min_width: int, min_height: int) -> None:
        super().__init__()
        self.min_width = min_width
        self.min_height = min_height
        self.message = ""

    def compose(self) -> Iterable[Static]:
        yield Static(self.message, id="too-small")

    def show_size(self, width: int, height: int) -> None:
        """Say what is needed and what there is."""
        self.message = (
            f"The terminal is too small for celery-tutor.\n\nIt needs at least {self.min_width}×{self.min_height}; "
            f"this one is {width}×{height}.\n\nMake the window bigger (q quits)."
        )
        if self.is_mounted:
            self.query_one("#too-small", Static).update(self.message)
