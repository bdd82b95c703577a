"""The lab's timeline: one row per event, a long row wrapped under its own text.

``RichLog`` renders each write once, at the width it has then, and never again: a line
written while the panel was narrow stayed cut into narrow pieces after the layout grew,
and a wrapped line's second half started at the left edge, under the times. Rows here are
a grid (time and glyph | text), so a wrapped text stays in its column, and the rows kept
are written again whenever the width changes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import events
from textual.widgets import RichLog

MAX_ROWS = 500
"""Rows kept (and so rewritten on a resize): the newest ones."""

Row = tuple[Text, Text]
"""(time and glyph, what happened)."""


class Timeline(RichLog):
    """A RichLog of event rows that rewraps them when its width changes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(wrap=True, markup=False, max_lines=4 * MAX_ROWS, auto_scroll=True, min_width=20, **kwargs)
        self._rows: deque[Row] = deque(maxlen=MAX_ROWS)
        self._width = 0

    def add_rows(self, rows: list[Row]) -> None:
        """Append rows (one write for the batch: bursts stay cheap)."""
        if rows:
            self._rows.extend(rows)
            self._write(rows)

    def clear_rows(self) -> None:
        """Start afresh (after a lab reset)."""
        self._rows.clear()
        self.clear()

    def _write(self, rows: list[Row]) -> None:
        grid = Table.grid(expand=True)
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1, overflow="fold")
        for when, what in rows:
            grid.add_row(when, what)
        self.write(grid, expand=True)

    def on_resize(self, event: events.Resize) -> None:
        width = event.size.width
        if width == self._width:
            return
        first = self._width == 0
        self._width = width
        # The first size: RichLog itself draws what was written before it knew its width.
        if not first and self._rows:
            self.clear()
            self._write(list(self._rows))
