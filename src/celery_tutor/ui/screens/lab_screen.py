"""A screen with a live lab beside it: the base of the lesson screen and the sandbox.

The lab's events travel one way: worker thread → lab event → bridge → :meth:`LabScreen.take_in`,
which folds them into the screen's one :class:`~celery_tutor.lab.state.LabState`. The
lab panel, the controls, the source panel and a lesson's goals all read that state;
nothing on the event loop asks the lab for a snapshot. The lab itself is driven
through the screen's :class:`~celery_tutor.ui.lab_session.LabSession`.

The same events go into a :class:`~celery_tutor.lab.history.History`, so the *view* can
travel in time while the lab runs on: paused at an event and stepped through with
``[``/``]``, or replayed slowly, and ``f2`` zooms the lab: those keys live in its base,
:class:`~celery_tutor.ui.screens.lab_view_keys.LabViewKeys`.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from celery_tutor.course.model import Control
from celery_tutor.lab.events import LabEvent, LabReset
from celery_tutor.lab.history import History
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.settings import flag_value
from celery_tutor.lab.state import LabState
from celery_tutor.lab.time_travel import TimeTravel
from celery_tutor.ui.bridge import LabBridge
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.lab_view_keys import LabViewKeys
from celery_tutor.ui.screens.tutor_screen import PaletteCommand
from celery_tutor.ui.widgets.control_bar import ControlBar
from celery_tutor.ui.widgets.lab_panel import LabPanel, RealWorkers

if TYPE_CHECKING:
    from celery_tutor.lab.engine import LabConfig

REDRAW_INTERVAL = 0.1
"""Seconds between lab panel redraws while events pour in."""
BURST_REDRAW_INTERVAL = 0.3
"""…and during a burst (a batch of more than BURST events), so keys stay quick."""
BURST = 50
TIMELINE_BATCH = 60
"""The most timeline lines one redraw writes; older ones of a burst are summarised."""
TICK = 0.25
"""Seconds between redraws of the countdowns (retry ETAs; on Redis, scans and visibility timeouts)."""


class LabScreen(LabViewKeys):
    """A screen with a live lab and controls on keys."""

    CSS_PATH = Path(__file__).with_name("lesson.tcss")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012  (Textual reads it from the class)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reset_lab", "Reset lab"),
        Binding("l", "lessons", "Lessons"),
        Binding("escape", "lessons", "Lessons", show=False),
    ]
    controls: tuple[Control, ...] = ()
    lab_config: LabConfig | None = None
    source_task: str | None = None
    controls_beside_lab = True
    session_class: type[LabSession] = LabSession
    """What runs the lab (tests swap in a scripted one)."""

    @classmethod
    def with_controls(cls, controls: tuple[Control, ...]) -> list[BindingType]:
        """Key bindings for a set of controls (each runs ``action_control``)."""
        return [Binding(c.key, f"control({c.key!r})", c.label, show=False) for c in controls]

    def __init__(self) -> None:
        super().__init__()
        self.session = self.session_class(self, self.lab_config)
        self.state = LabState()
        """The one fold of the lab's events on the UI side (settings and task options included)."""
        self._unshown: list[LabEvent] = []
        self._cleared = False
        self._redraw_pending = False
        self._last_redraw = 0.0
        self._last_batch = 0
        self._shown_source: str | None = None

    def compose_lab(self) -> ComposeResult:
        """The right-hand side: the lab and its controls."""
        with Vertical(id="lab-pane"):
            yield Static(id="zoom-line")
            yield LabPanel(id="lab")
            if self.controls_beside_lab:
                yield ControlBar(self.controls, id="controls")

    def compose_source(self) -> ComposeResult:
        """The real source of the lesson's main task, as it runs."""
        source = self.task_source(self.source_task) if self.source_task is not None else None
        if source is None:
            return
        self._shown_source = source
        with Collapsible(title=f"the code that runs: {self.source_task}", collapsed=False, id="source"):
            yield Static(Syntax(source, "python", line_numbers=False, word_wrap=True), id="source-code")
            yield Static(id="source-options")

    def task_source(self, task: str) -> str | None:
        """A task's source as the running lab has it: the learner's code for its tasks, else the library's."""
        extra = self.lab_config.extra_tasks if self.lab_config is not None else ()
        spec = next((spec for spec in extra if spec.name == task), None) or LAB_TASKS.get(task)
        return spec.source if spec is not None else None

    def show_source(self, task: str) -> None:
        """Show the code of another lab task (or the same task's, when the lab now runs other code)."""
        source = self.task_source(task)
        if source is None or (task, source) == (self.source_task, self._shown_source):
            return
        self.source_task, self._shown_source = task, source
        for panel in self.query("#source").results(Collapsible):
            panel.title = f"the code that runs: {task}"
        for code in self.query("#source-code").results(Static):
            code.update(Syntax(source, "python", line_numbers=False, word_wrap=True))
        self._show_options()

    def _show_options(self) -> None:
        """The task options the lab applies on top of the decorator, if any."""
        if self.source_task is None:
            return
        options = self.state.task_options.get(self.source_task, {})
        text = ""
        if options:
            shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
            text = f"the lab runs it with these options on top of the decorator's: {shown}"
        for widget in self.query("#source-options").results(Static):
            widget.update(Text(text, style="italic"))

    def on_mount(self) -> None:
        self.session.start()
        self.set_interval(TICK, self._tick)
        self._show_controls()
        self._show_hint()

    def on_unmount(self) -> None:
        self.session.close()

    # -- lab feed -----------------------------------------------------------------------

    def on_lab_bridge_activity(self, _: LabBridge.Activity | None = None) -> None:
        """Lab events are waiting: take them in at the next redraw (at most ten a second).

        The bridge posts again only after the redraw drained it, so a burst of events
        costs one message per redraw, and keys never queue behind a flood of them.
        """
        if self._redraw_pending:
            return
        self._redraw_pending = True
        interval = BURST_REDRAW_INTERVAL if self._last_batch > BURST else REDRAW_INTERVAL
        wait = self._last_redraw + interval - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self.redraw)
        else:
            self.call_later(self.redraw)

    def take_in(self) -> list[LabEvent]:
        """Drain the bridge and fold the events into the screen's lab state."""
        events = self.session.bridge.drain()
        self._last_batch = len(events)
        for event in events:
            self.state.apply(event)
            self.history.append(event)
            if isinstance(event, LabReset):
                self._unshown.clear()
                self._cleared = True
            self._unshown.append(event)
        if events:
            self.observe(events)
        return events

    def redraw(self) -> None:
        """Take in the waiting events and bring the lab panel up to date."""
        self._redraw_pending = False
        self._last_redraw = time.monotonic()
        self.take_in()
        panel = self.query_one(LabPanel)
        cleared = self._cleared
        if cleared:
            panel.clear_timeline()
            self._cleared = False
        events, self._unshown = self._unshown, []
        if not cleared and all(event.quiet for event in events):
            # Only routine events (a Redis scan that found nothing): the countdowns move, nothing else.
            if self.travel.live:
                panel.show_countdowns(self.state.snapshot(), self.session.now())
            return
        events = [event for event in events if not event.quiet]
        if len(events) > TIMELINE_BATCH:
            panel.note(f"… {len(events) - TIMELINE_BATCH} events not shown here (a burst)")
            events = events[-TIMELINE_BATCH:]
        panel.add_events(events)
        if self.travel.sync():
            self._went_live("the lab was reset: the panel is live again")
        elif not self.travel.live:
            self._show_travel_marker()  # the lab ran on: "of n" grows; the panel keeps its moment
        else:
            if panel.real is not None:
                panel.real.places = self.session.placed()
            panel.show(self.state.snapshot(), self.session.now())
        self._show_controls()
        self._show_options()

    def observe(self, events: list[LabEvent]) -> None:
        """Subclasses follow the events (already folded into ``self.state``)."""

    def _tick(self) -> None:
        # The countdowns move with the lab's clock between events; the state says who waits.
        if self.zoomed:
            self._show_zoom_line()  # the step may have moved on under the zoomed lab
        if self.travel.live and self.state.has_countdowns():
            self.query_one(LabPanel).show_countdowns(self.state.snapshot(), self.session.now())

    def restart_lab(self, config: LabConfig) -> None:
        """Close this screen's lab and start a new one with ``config``; the panel starts afresh.

        The old lab closes in the background; its events stop at once (its session lets go
        of it), and the screen's fold starts over from the new lab's first event.
        """
        self.session.close()
        self.lab_config = config
        self.session = self.session_class(self, config)
        self.state = LabState()
        self._stop_replay()
        self.history = History()
        self.travel = TimeTravel(self.history)
        self._unshown.clear()
        self._cleared = False
        panel = self.query_one(LabPanel)
        panel.real = None
        panel.clear_timeline()
        panel.show_live(self.state.snapshot(), 0.0)
        panel.show(None, 0.0)
        self._show_hint()
        self.session.start()

    def lab_controls(self) -> frozenset[str]:
        """The names of the controls this screen drives its lab with (a real broker cannot do them all)."""
        return frozenset(control.action.control for control in self.controls if control.action is not None)

    def on_lab_session_failed(self, message: LabSession.Failed) -> None:
        """The lab reported a problem: show it, carry on."""
        what = message.what
        real = self.session.real
        if real is not None:  # the real lab's messages say "--broker URL": say which
            what = what.replace("--broker URL", f"--broker {real.shown}")
        self.notify(what, title="lab", severity="warning")

    def on_lab_session_ready(self, message: LabSession.Ready) -> None:
        """The lab consumes: on ``--broker``, the panel learns whether its workers are real."""
        if message.session is not None and message.session is not self.session:
            return  # a lab this screen already replaced
        real = self.session.real
        panel = self.query_one(LabPanel)
        if real is None:
            panel.real = None
            return
        because = self.session.in_process_because
        panel.real = RealWorkers(real.shown, because)
        if because is not None:
            panel.note(f"this lab runs in process, not on {real.shown}: {because}")
        panel.real.places = self.session.placed()
        if self.travel.live:
            panel.show(self.state.snapshot(), self.session.now())

    # -- controls -----------------------------------------------------------------------

    def _show_controls(self) -> None:
        for bar in self.query(ControlBar):
            bar.show_settings(dict(self.state.settings))

    def on_control_bar_pressed(self, message: ControlBar.Pressed) -> None:
        """A control's button was clicked (the same as its key)."""
        self.action_control(message.key)

    def palette_commands(self) -> list[PaletteCommand]:
        """The screen's actions, for the command palette."""
        commands = [
            self.command("Reset the lab", "reset_lab", "back to the lab's starting point"),
            self.command("Back to the lessons", "lessons", "the lesson list"),
            *self.time_commands(),
        ]
        for control in self.controls:
            label = f"toggle {control.toggle}" if control.toggle else control.label
            commands.append((f"Lab: {label}", f"key {control.key}", partial(self.action_control, control.key)))
        return commands

    def action_control(self, key: str) -> None:
        """Press a lesson control."""
        control = next((c for c in self.controls if c.key == key), None)
        if control is None:
            return
        if control.toggle is not None:
            name = control.toggle
            value = not flag_value(name, self.state.settings)
            self.session.call("toggle", lambda lab: lab.configure(**{name: value}))
            self.notify(f"{name} → {value}: the worker restarts to apply it", timeout=3)
        elif control.action is not None:
            self.session.control(control.action)

    def action_reset_lab(self) -> None:
        """Back to the lab's starting point."""
        self.session.call("reset", lambda lab: lab.reset())

    def action_lessons(self) -> None:
        """Back to the lesson list."""
        self.app.pop_screen()
