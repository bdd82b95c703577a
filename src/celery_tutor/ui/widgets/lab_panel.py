"""The live lab: broker strip, workers, waiting retries, the ledger and the timeline.

The panel draws a snapshot of the screen's own fold of the lab's events; it never asks
the lab. Every state is spelled out in words and glyphs, never by colour alone, so the
panel reads the same with ``NO_COLOR``.

Its border names the broker. On a learner's own broker (``celery-tutor --broker URL``) it
names the URL and "real workers", and each worker row says where that process runs (host
and PID, and whether it was started from another terminal). On Redis a line under the broker strip says when the next
restore scan is due and when each unacked message becomes visible again: nothing comes
back when a connection dies there, only a scan after the visibility timeout.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from celery_tutor.lab import events as ev
from celery_tutor.lab.views import HeldMessage, LabSnapshot, TaskView
from celery_tutor.ui.widgets.timeline import Row, Timeline, event_row

DONE_STATES = {
    "SUCCESS": "✓",
    "FAILURE": "✗",
    "LOST": "! LOST",
    "REJECTED": "⊘",
    "HALTED": "⏱",
}
"""How each way of ending marks a card in the DONE column: a glyph, so the card's name fits
(the column is a quarter of the panel); the help explains them, the timeline says more."""
MAX_CARDS = 4
MAX_LEDGER_LINES = 6
"""The side effects the ledger lists (the newest written); the timeline has every write."""
MAX_HELD_LINES = 3
"""Redis: the most unacked messages listed with their visibility countdown (the rest are counted)…"""
SHORT_PANEL = 14
"""…and in a panel shorter than this (80×24), only the one that becomes visible first."""
DEAD = "✗ "
"""Marks a card held by a connection that died (Redis keeps it, invisible); first, so no cut hides it."""

SHORT_NAMES = {"charge_card": "charge", "charge_card_idempotent": "charge+key", "fetch_exchange_rate": "rate"}


@dataclass
class RealWorkers:
    """A lab on the learner's own broker, as the panel shows it (None on the panel: no ``--broker``)."""

    url: str
    """The broker URL without its password."""
    in_process_because: str | None = None
    """Why this lab runs in process all the same (None: it runs on real worker processes)."""
    places: dict[str, tuple[str, int, bool]] = field(default_factory=dict)
    """Worker name → (host, PID, started from another terminal)."""


def broker_name(snapshot: LabSnapshot, real: RealWorkers | None = None) -> str:
    """What the lab's broker really is, for the panel's border."""
    if real is not None:
        kind = "Redis" if snapshot.broker == "redis" else "RabbitMQ-like" if real.in_process_because else "RabbitMQ"
        if real.in_process_because is None:
            return f"broker: {kind} {real.url} · real workers"
        yours = "Redis" if real.url.startswith(("redis", "rediss")) else "RabbitMQ"
        return f"broker: {kind} (in process, not on your {yours})"
    if snapshot.broker == "redis":
        return f"broker: Redis ({snapshot.broker_server or 'a real server'})"
    return "broker: RabbitMQ-like (in process)"


def seconds(left: float) -> str:
    """A countdown: whole seconds with thousands separators from 10 s, tenths below."""
    left = max(0.0, left)
    return f"{math.ceil(left):,} s" if left >= 10 else f"{left:.1f} s"


def ledger_line(entry: ev.LedgerWritten) -> Text:
    """One side effect as the ledger shows it; a repeat is marked DUPLICATE in words, not colour alone."""
    return Text.assemble(f"$ {entry.action} {entry.key} {entry.detail}", (entry.repeat_mark, "bold red"))


def ledger_text(ledger: Sequence[ev.LedgerWritten]) -> Text:
    """The ledger part of the panel: one line per side effect, its newest write.

    The newest write counts the repeats, and a DUPLICATE is what a learner looks for; a
    short panel (80×24) has room for few lines, so one effect takes one line at most.
    """
    if not ledger:
        return Text("ledger: nothing happened outside yet", style="dim")
    newest: dict[tuple[str, str], ev.LedgerWritten] = {}
    for entry in reversed(ledger):
        newest.setdefault((entry.action, entry.key), entry)
        if len(newest) == MAX_LEDGER_LINES:
            break
    entries = list(newest.values())[::-1]
    if len(entries) == 1:
        return Text("ledger: ").append_text(ledger_line(entries[0]))
    text = Text("ledger:")
    for entry in entries:
        text.append("\n  ")
        text.append_text(ledger_line(entry))
    return text


def card(view: TaskView | None, task_id: str, task: str) -> str:
    """How one message is named on the strip: its alias, or a short task name·id."""
    if view is not None and view.alias:
        return view.alias
    short = SHORT_NAMES.get(task, task.rsplit("_", 1)[-1])
    return f"{short[:12]}·{task_id[:4]}"


class LabPanel(Vertical):
    """What the lab is doing, redrawn from a snapshot of the UI's lab state."""

    DEFAULT_CSS = """
    LabPanel { height: 1fr; }
    LabPanel > Static { height: auto; }
    LabPanel > RichLog { height: 1fr; min-height: 3; }
    LabPanel > #travel { display: none; background: $warning 30%; text-style: bold; }
    LabPanel.-travelling > #travel { display: block; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, str] = {}
        """What each ticking part shows now (so an unchanged countdown is not redrawn)."""
        self.real: RealWorkers | None = None
        """Set by the screen when the app runs with ``--broker``."""

    def compose(self) -> ComposeResult:
        yield Static(id="travel")
        yield Static(id="broker")
        yield Static(id="redis")
        yield Static(id="workers")
        yield Static(id="retries")
        yield Static(id="ledger")
        yield Timeline(id="timeline")

    def on_mount(self) -> None:
        self.query_one(Timeline).border_title = "timeline"
        self.show(None, 0.0)

    def show(self, snapshot: LabSnapshot | None, now: float) -> None:
        """Redraw everything but the timeline (``now`` is the lab's clock, for countdowns)."""
        if snapshot is None or snapshot.seq == 0:  # no event yet: the lab is starting
            self.query_one("#broker", Static).update(Text("starting the lab…", style="italic"))
            for name in ("workers", "ledger"):
                self.query_one(f"#{name}", Static).update("")
            for name in ("retries", "redis"):
                self._show_part(name, Text())
            return
        title = broker_name(snapshot, self.real)
        if self.border_title != title:
            self.border_title = title
        self.query_one("#broker", Static).update(self._broker(snapshot))
        self.query_one("#workers", Static).update(self._workers(snapshot))
        self.show_countdowns(snapshot, now)
        self.query_one("#ledger", Static).update(ledger_text(snapshot.ledger))

    def show_countdowns(self, snapshot: LabSnapshot, now: float) -> None:
        """Redraw only what ticks between events: retry ETAs, and on Redis scans and timeouts."""
        self.show_retries(snapshot, now)
        self._show_part("redis", self._redis(snapshot, now))

    def show_retries(self, snapshot: LabSnapshot, now: float) -> None:
        """Redraw only the retry countdowns (they tick between events)."""
        self._show_part("retries", self._retries(snapshot, now))

    def _show_part(self, name: str, text: Text) -> None:
        """Update one ticking part, only if what it says changed; no empty line when it says nothing."""
        plain = text.plain
        if self._shown.get(name) == plain:
            return
        self._shown[name] = plain
        part = self.query_one(f"#{name}", Static)
        part.update(text)
        part.display = bool(plain)

    def add_events(self, events: Iterable[ev.LabEvent]) -> None:
        """Append events to the timeline (one write for the whole batch: bursts stay cheap)."""
        # A restore scan that found nothing is left out: the Redis line counts down to the next.
        self.query_one(Timeline).add_rows([event_row(event) for event in events if not event.quiet])

    def note(self, text: str) -> None:
        """A line in the timeline that is not an event."""
        self.query_one(Timeline).add_rows([(Text(""), Text(text, style="dim italic"))])

    def clear_timeline(self) -> None:
        """Start the timeline afresh (after a lab reset)."""
        self.query_one(Timeline).clear_rows()

    # -- a moment of the past -------------------------------------------------------------

    def show_moment(
        self,
        snapshot: LabSnapshot,
        now: float,
        rows: tuple[list[Row], Row, list[Row]],
        marker: Text,
    ) -> None:
        """Show the lab as it was at one event: its state, the timeline around it, and a marker saying so.

        ``rows`` are the timeline rows before the event, the event's own row, and a few after it.
        """
        self.add_class("-travelling")
        self.show_marker(marker)
        self.show(snapshot, now)
        self.query_one(Timeline).show_window(*rows)

    def show_marker(self, marker: Text) -> None:
        """Say which moment the panel shows (paused or replaying, event k of n)."""
        self.query_one("#travel", Static).update(marker)

    def show_live(self, snapshot: LabSnapshot, now: float) -> None:
        """Back to the lab as it is now: the live timeline again, no marker."""
        self.remove_class("-travelling")
        self.query_one(Timeline).thaw()
        self.show(snapshot, now)

    def _broker(self, snapshot: LabSnapshot) -> Table:
        # Cards are built only for what fits: a burst keeps a thousand tasks in the state.
        views = {view.task_id: view for view in snapshot.tasks}
        ready = [
            card(views.get(m.task_id), m.task_id, m.task) + (" ↻" if m.redelivered else "")
            for m in snapshot.ready[:MAX_CARDS]
        ]
        running_ids = {task_id for w in snapshot.workers for task_id, _, _ in w.running}
        unacked: list[str] = []
        running: list[str] = []
        for held in snapshot.invisible:  # held by a dead connection: the broker keeps them (Redis)
            unacked.append(DEAD + card(views.get(held.task_id), held.task_id, held.task))
        for worker in snapshot.workers:
            for task_id in worker.unacked:
                if task_id not in running_ids:
                    view = views.get(task_id)
                    eta = " ◔" if any(s.task_id == task_id for s in worker.scheduled) else ""
                    unacked.append(card(view, task_id, view.task if view else "?") + eta)
            for task_id, task, run in worker.running:
                where = f" @{run.checkpoint}" if run.checkpoint else ""
                running.append(f"{card(views.get(task_id), task_id, task)}{where}")
        finished = [view for view in snapshot.tasks if view.state in DONE_STATES]
        done = [f"{DONE_STATES[view.state]} {card(view, view.task_id, view.task)}" for view in finished[-MAX_CARDS:]]
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
        columns = (
            ("READY", ready, len(snapshot.ready)),
            ("UNACKED", unacked, len(unacked)),
            ("RUNNING", running, len(running)),
            ("DONE", done, len(finished)),
        )
        for title, _items, count in columns:
            table.add_column(f"{title} {count}", overflow="ellipsis", no_wrap=True, ratio=1)
        rows = max((min(len(items), MAX_CARDS) for _, items, _ in columns), default=0)
        for row in range(max(rows, 1)):
            cells = []
            for title, items, count in columns:
                extra = count - MAX_CARDS if title != "DONE" else 0
                if row < min(len(items), MAX_CARDS):
                    cell = items[row]
                    if row == MAX_CARDS - 1 and extra > 0:
                        cell = f"…+{extra + 1} more"
                    cells.append(cell)
                else:
                    cells.append("")
            table.add_row(*cells)
        return table

    def _workers(self, snapshot: LabSnapshot) -> Text:
        text = Text()
        for index, worker in enumerate(snapshot.workers):
            if index:
                text.append("\n")
            status = {
                "alive": ("● alive", "green"),
                "stopping": ("… stopping (warm)", "yellow"),
                "stopped": ("○ stopped", "dim"),
                "killed": ("✗ KILLED", "bold red"),
            }.get(worker.status, (worker.status, ""))
            text.append(f"{worker.name} ")
            place = self.real.places.get(worker.name) if self.real is not None else None
            elsewhere = place is not None and place[2]
            if elsewhere and worker.status in ("stopped", "killed"):
                status = ("○ offline" if worker.status == "stopped" else status[0], status[1])
            text.append(status[0], style=status[1])
            if place is not None and place[1]:
                text.append(f"  pid {place[1]} on {place[0]}" + (" (another terminal)" if elsewhere else ""))
            if elsewhere and worker.status in ("stopped", "killed"):
                text.append("\n  start it again in its own terminal", style="italic")
            if worker.status == "alive":
                busy = len(worker.running)
                held = len(worker.unacked)
                text.append(
                    f"  busy {busy}/{worker.concurrency}  holds {held} unacked"
                    f" (prefetch {worker.concurrency}×{worker.prefetch_multiplier})"
                )
            views = {view.task_id: view for view in snapshot.tasks}
            for task_id, task, run in worker.running:
                where = f" at '{run.checkpoint}'" if run.checkpoint else ""
                text.append(f"\n  running {card(views.get(task_id), task_id, task)}{where}")
        if not snapshot.workers:
            text.append("no worker yet")
        return text

    def _retries(self, snapshot: LabSnapshot, now: float) -> Text:
        text = Text()
        for view in snapshot.retries:
            assert view.retry_eta_at is not None
            limit = "∞" if view.max_retries is None else str(view.max_retries)
            left = max(0.0, view.retry_eta_at - now)
            text.append("◔ ", style="yellow")
            attempt = view.retry_attempt or len(view.runs)
            text.append(f"{card(view, view.task_id, view.task)} retry {attempt} of {limit} in {left:4.1f}s\n")
        return text

    def _redis(self, snapshot: LabSnapshot, now: float) -> Text:
        """Redis: the next restore scan, and when each unacked message becomes visible again."""
        timeout = snapshot.visibility_timeout
        if timeout is None:
            return Text()
        text = Text("◷ ", style="yellow")
        text.append(f"visibility {seconds(timeout)} · ")
        due = snapshot.next_scan_at
        text.append(f"next restore scan in {seconds(due - now)}" if due is not None else "no worker to scan")
        held: list[tuple[HeldMessage, bool]] = [(m, True) for m in snapshot.invisible]
        held += [(m, False) for w in snapshot.workers if w.status in ("alive", "stopping") for m in w.held]
        held.sort(key=lambda item: item[0].delivered_at)  # the first to become visible again first
        views = {view.task_id: view for view in snapshot.tasks} if held else {}
        lines = MAX_HELD_LINES if self.size.height >= SHORT_PANEL else 1
        for number, (message, dead) in enumerate(held[:lines], 1):
            name = card(views.get(message.task_id), message.task_id, message.task)
            holder = f"{DEAD}{name} (dead {message.holder})" if dead else f"  {name} ({message.holder})"
            visible_at = snapshot.visible_again_at(message)
            assert visible_at is not None
            when = f"in {seconds(visible_at - now)}" if visible_at > now else "at the next restore scan"
            text.append(f"\n{holder}: visible again {when}")
            more = len(held) - lines
            if number == lines and more > 0:
                text.append(f" (+{more} more)" if lines == 1 else f"\n  …and {more} more unacked", style="dim")
        return text
