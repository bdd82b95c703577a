"""The lab's timeline: one row per event, a long row wrapped under its own text.

``RichLog`` renders each write once, at the width it has then, and never again: a line
written while the panel was narrow stayed cut into narrow pieces after the layout grew,
and a wrapped line's second half started at the left edge, under the times. Rows here are
a grid (time and glyph | text), so a wrapped text stays in its column, and the rows kept
are written again whenever the width changes.

While the view travels in time the timeline is *frozen*: live rows are still kept (and
shown again when the view is live) but what it shows is a window of the history around
the event the view is at, that row highlighted and marked ▶, the rows after it dimmed.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events
from textual.widgets import RichLog

from celery_tutor.lab.events import LabEvent, LedgerWritten

MAX_ROWS = 500
"""Rows kept (and so rewritten on a resize): the newest ones."""

Row = tuple[Text, Text]
"""(time and glyph, what happened)."""

EVENT_STYLE = {
    "lost": ("!", "bold red"),
    "worker_killed": ("✗", "bold red"),
    "child_killed": ("✗", "red"),
    "failed": ("✗", "red"),
    "redelivered": ("↻", "yellow"),
    "restore_scan": ("↻", "yellow"),
    "retry_scheduled": ("◔", "yellow"),
    "rejected": ("⊘", "yellow"),
    "succeeded": ("✓", "green"),
    "acked": ("✓", "cyan"),
    "ledger": ("$", "magenta"),
    "skipped": ("=", "magenta"),
    "run_skipped": ("=", "magenta"),
    "log": ("·", "dim"),
}
"""Each kind's glyph (no state is told by colour alone) and colour."""

CURRENT = Style(reverse=True, bold=True)
"""The row of the event a paused view is at."""


def event_row(event: LabEvent) -> Row:
    """An event as the timeline shows it: its time and glyph, and what happened."""
    glyph, style = EVENT_STYLE.get(event.kind, (" ", ""))
    what = Text(event.describe(), style=style)
    if isinstance(event, LedgerWritten) and event.duplicate:
        what.stylize("bold red", len(what) - len(event.repeat_mark))
    return Text(f"{event.at:6.2f}s {glyph} ", style="dim"), what


class Timeline(RichLog):
    """A RichLog of event rows that rewraps them when its width changes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(wrap=True, markup=False, max_lines=4 * MAX_ROWS, auto_scroll=True, min_width=20, **kwargs)
        self._rows: deque[Row] = deque(maxlen=MAX_ROWS)
        self._width = 0
        self._window: tuple[list[Row], list[Row]] | None = None
        """Frozen: the rows shown up to the current one (highlighted), and those after it."""

    @property
    def frozen(self) -> bool:
        """Does it show a moment of the past instead of the live rows?"""
        return self._window is not None

    def add_rows(self, rows: list[Row]) -> None:
        """Append rows (one write for the batch: bursts stay cheap); frozen, only kept for later."""
        if rows:
            self._rows.extend(rows)
            if self._window is None:
                self._write(rows)

    def clear_rows(self) -> None:
        """Start afresh (after a lab reset)."""
        self._rows.clear()
        if self._window is None:
            self.clear()

    def show_window(self, before: list[Row], current: Row, after: list[Row]) -> None:
        """Freeze on one moment: rows up to the current one, highlighted and marked ▶, then dimmed later rows."""
        when, what = current
        marked = Text("▶ ") + when
        marked.stylize(CURRENT)
        text = what.copy()
        text.stylize(CURRENT)
        later = [(Text("  ") + w, t.copy()) for w, t in after]
        for w, t in later:
            w.stylize("dim")
            t.stylize("dim")
        earlier = [(Text("  ") + w, t) for w, t in before]  # the ▶ column, blank
        self._window = ([*earlier, (marked, text)], later)
        self._draw_window()

    def thaw(self) -> None:
        """Live again: show the rows kept, the newest at the bottom."""
        if self._window is None:
            return
        self._window = None
        self.clear()
        self.auto_scroll = True
        if self._rows:
            self._write(list(self._rows))

    def _draw_window(self) -> None:
        assert self._window is not None
        upto, later = self._window
        self.auto_scroll = False
        self.clear()
        self._write(upto, scroll_end=False)
        current_end = len(self.lines)
        if later:
            self._write(later, scroll_end=False)
        # The current row low in the view, with a few of the rows after it under it.
        height = self.scrollable_content_region.height
        shown_after = min(len(self.lines) - current_end, height // 3)
        self.scroll_to(y=max(0, current_end + shown_after - height), animate=False)

    def _write(self, rows: list[Row], scroll_end: bool | None = None) -> None:
        grid = Table.grid(expand=True)
        # A fixed width spares Rich measuring every row's time (most of a write's cost after the wrapping).
        grid.add_column(no_wrap=True, width=max(when.cell_len for when, _ in rows))
        grid.add_column(ratio=1, overflow="fold")
        for when, what in rows:
            grid.add_row(when, what)
        self.write(grid, expand=True, scroll_end=scroll_end)

    def on_resize(self, event: events.Resize) -> None:
        width = event.size.width
        if width == self._width:
            return
        first = self._width == 0
        self._width = width
        # The first size: RichLog itself draws what was written before it knew its width.
        if first:
            return
        if self._window is not None:
            self._draw_window()
        elif self._rows:
            self.clear()
            self._write(list(self._rows))
