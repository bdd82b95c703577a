"""The lab view's own keys: zoom, and travel in time through the lab's events.

:class:`LabViewKeys` is the base of :class:`~.lab_screen.LabScreen`: it routes the zoom
and time-travel keys and draws the moment the view is at, while the lab screen below it
runs the lab and takes in its events. Where the view is belongs to
:class:`~celery_tutor.lab.time_travel.TimeTravel`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Static

from celery_tutor.lab.events import LabEvent
from celery_tutor.lab.history import History
from celery_tutor.lab.state import LabState
from celery_tutor.lab.time_travel import REPLAY_WINDOW, Mode, TimeTravel
from celery_tutor.ui.screens.tutor_screen import PaletteCommand, TutorScreen
from celery_tutor.ui.widgets import time_travel as keys
from celery_tutor.ui.widgets.lab_panel import LabPanel
from celery_tutor.ui.widgets.timeline import Row, Timeline, event_row

if TYPE_CHECKING:
    from celery_tutor.ui.lab_session import LabSession

REPLAY_FRAME = 0.05
"""Seconds between the frames of a replay (the replay's clock decides what each shows)."""
WINDOW_AFTER = 3
"""Timeline rows shown after the event a paused view is at (before it: as many as the timeline is high)."""

TIME_BINDINGS: list[BindingType] = [
    Binding(keys.ZOOM_KEY, "zoom", "Zoom"),
    Binding(keys.ZOOM_KEY, "unzoom", "Unzoom"),
    Binding(keys.PAUSE_KEY, "pause_view", "Pause", show=False),
    Binding(keys.PAUSE_KEY, "go_live", "Live"),
    Binding(keys.BACK_KEY, "step_back", "Back", key_display="[", show=False),
    Binding(keys.BACK_KEY, "step_back_again", "Back", key_display="["),
    Binding(keys.FORWARD_KEY, "step_forward", "On", key_display="]"),
    Binding(keys.REPLAY_KEY, "replay", "Replay", show=False),
]
"""The lab's zoom and time travel (each screen puts them after its own keys, for the key bar's order)."""


class LabViewKeys(TutorScreen[None]):
    """Zoom and time travel for a screen with a lab: the keys, and what the panel shows."""

    state: LabState
    session: LabSession
    beside_lab: ClassVar[str] = "the step"
    """What shares the screen with the lab, and a zoom hides (the zoomed screen names it)."""

    def __init__(self) -> None:
        super().__init__()
        self.history = History()
        """The events since the lab's last reset: the view can travel through them."""
        self.travel = TimeTravel(self.history)
        self.clock: Callable[[], float] = time.monotonic
        """The replay's clock (tests drive their own)."""
        self._replay_timer: Timer | None = None
        self.zoomed = False
        self._zoom_line = ""

    def take_in(self) -> list[LabEvent]:
        """Fold the lab's waiting events into :attr:`state` (the lab screen does it)."""
        raise NotImplementedError

    # -- zoom --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show each time-travel and zoom key only where it does something (the key bar reads this)."""
        live = self.travel.live
        shown = {
            "zoom": not self.zoomed,
            "unzoom": self.zoomed,
            "pause_view": live,
            "go_live": not live,
            "step_back": live,  # the same key twice: out of the key bar while live, in it while travelling
            "step_back_again": not live,
            "step_forward": not live,
        }
        return shown.get(action, True)

    def time_commands(self) -> list[PaletteCommand]:
        """The zoom and time travel, for the command palette."""
        return [
            self.command("Lab: zoom in or out", "zoom", "the lab fills the screen, or gives it back"),
            self.command("Lab: pause the view", "pause_view", "freeze the panel at the newest event; the lab runs on"),
            self.command("Lab: step back one event", "step_back", "the panel as it was one event earlier"),
            self.command("Lab: step on one event", "step_forward", "one event later; past the newest, live"),
            self.command("Lab: live again", "go_live", "the panel follows the lab"),
            self.command(
                "Lab: replay slowly", "replay", "the last experiment (since the lab's last reset) at quarter speed"
            ),
        ]

    def action_zoom(self) -> None:
        """The lab fills the screen and the step shrinks to one line; again, back."""
        self.zoomed = not self.zoomed
        self.set_class(self.zoomed, "-zoomed")
        self._show_zoom_line()
        self._show_hint()
        self.refresh_bindings()

    def action_unzoom(self) -> None:
        """Give the step its room back."""
        if self.zoomed:
            self.action_zoom()

    def zoom_caption(self) -> str:
        """What the one line of a zoomed screen says it hides (the step's title, when there is one)."""
        for title in self.query("#step-title").results(Static):
            return str(title.render())
        return self.title or ""

    def _show_zoom_line(self) -> None:
        words = keys.unzoom_words(self.beside_lab)
        line = Text.assemble((keys.ZOOM, "bold"), f" {words}  ·  ", (self.zoom_caption(), "italic"))
        line.truncate(max(20, self.size.width - 2), overflow="ellipsis")
        if line.plain != self._zoom_line:
            self._zoom_line = line.plain
            self.query_one("#zoom-line", Static).update(line)

    def _show_hint(self) -> None:
        """The panel's bottom border says how to look closer (only while live: paused, its marker says it)."""
        panel = self.query_one(LabPanel)
        panel.border_subtitle = keys.panel_hint(self.zoomed, self.beside_lab) if self.travel.live else ""

    # -- time travel -------------------------------------------------------------------

    def _catch_up(self) -> None:
        """Take in the events waiting (a pause shows what is true now); a reset among them ends travel."""
        self.take_in()
        if self.travel.sync():
            self._went_live("the lab was reset: the panel is live again")

    def action_pause_view(self) -> None:
        """Freeze the panel at the newest event (the lab runs on underneath)."""
        if self.travel.live:
            self._catch_up()
            if self.travel.pause():
                if self.travel.position == self.history.last:  # the live fold is that moment: no refold
                    self.history.remember(self.travel.position, self.state.snapshot())
                self._show_travel()
            else:
                self.notify("Nothing happened in the lab yet.", timeout=2)
        else:
            self.action_go_live()

    def action_step_back(self) -> None:
        """One event back (from live: the event before the newest)."""
        self._catch_up()
        if self.travel.back() or not self.travel.live:
            self._show_travel()

    def action_step_back_again(self) -> None:
        """``[`` while the view travels (a binding of its own, so the key bar shows it then)."""
        self.action_step_back()

    def action_step_forward(self) -> None:
        """One event on; past the newest, live again."""
        if self.travel.forward():
            self._show_travel()

    def action_go_live(self) -> None:
        """The panel follows the lab again."""
        if not self.travel.live:
            self.travel.go_live()
            self._went_live()

    def replay_start(self) -> int | None:
        """Where a replay starts: the lab's last reset, at most a minute of its time back."""
        return self.history.since(REPLAY_WINDOW)

    def action_replay(self) -> None:
        """Replay the last experiment slowly, the panel showing the lab after each event."""
        self._catch_up()
        start = self.replay_start()
        if start is None or not self.travel.start_replay(start, self.clock()):
            self.notify("Nothing to replay yet: the lab has done nothing since its last reset.", timeout=3)
            return
        self._stop_replay()
        self._replay_timer = self.set_interval(REPLAY_FRAME, self.replay_frame)
        self._show_travel()

    def replay_frame(self) -> None:
        """Move the replay on to the replay clock's time (a timer calls it; tests may too)."""
        if self.travel.mode is not Mode.REPLAY:
            self._stop_replay()
            return
        if self.travel.frame(self.clock()):
            self._show_travel()

    def _stop_replay(self) -> None:
        if self._replay_timer is not None:
            self._replay_timer.stop()
            self._replay_timer = None

    def _show_travel(self) -> None:
        """Draw the moment the view is at: the lab's state then, the timeline around it, the marker (live: now)."""
        if self.travel.live:
            self._went_live()
            return
        travel, history = self.travel, self.history
        position = travel.shown  # a quiet event (an empty Redis scan) has no row: the one before it
        panel = self.query_one(LabPanel)
        # Only the rows that can show: writing the timeline is most of a step's cost.
        high = max(4, panel.query_one(Timeline).scrollable_content_region.height)
        before = [event_row(e) for _, e in history.events(position - high, position - 1) if not e.quiet]
        after = [event_row(e) for _, e in history.events(position + 1, position + WINDOW_AFTER * 2) if not e.quiet]
        rows: tuple[list[Row], Row, list[Row]] = (before, event_row(history.event(position)), after[:WINDOW_AFTER])
        marker = keys.marker(travel, panel.scrollable_content_region.width)
        panel.show_moment(history.snapshot(travel.position), travel.lab_now, rows, marker)
        self._show_hint()
        self.refresh_bindings()

    def _show_travel_marker(self) -> None:
        panel = self.query_one(LabPanel)
        panel.show_marker(keys.marker(self.travel, panel.scrollable_content_region.width))

    def _went_live(self, why: str | None = None) -> None:
        """Draw the lab as it is now (the view was elsewhere in time)."""
        self._stop_replay()
        self.query_one(LabPanel).show_live(self.state.snapshot(), self.session.now())
        self._show_hint()
        self.refresh_bindings()
        if why:
            self.notify(why, timeout=3)
