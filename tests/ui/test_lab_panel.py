"""The lab panel drawn from hand-made events: what it says about the broker, Redis and retries.

No lab runs here: the events are folded as a screen folds them, and the panel is shown
the snapshot at a chosen moment, so every countdown is exact.
"""

from __future__ import annotations

import io
from itertools import count
from typing import Any

import pytest
from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import RichLog, Static

from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState
from celery_tutor.lab.views import LabSnapshot
from celery_tutor.ui.widgets.lab_panel import LabPanel

_seq = count(1)
W = "worker1"
ORDER = "a1" * 8


def e(cls: type[ev.LabEvent], at: float = 0.0, **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=at, **fields)


class PanelApp(App[None]):
    CSS = "#lab { border: round $secondary; }"

    def compose(self) -> ComposeResult:
        yield LabPanel(id="lab")


def text(app: PanelApp, part: str) -> str:
    widget = app.query_one(f"#{part}", Static)
    return str(widget.render()) if widget.display else ""


def strip(app: PanelApp, snapshot: LabSnapshot) -> str:
    """The broker strip (a table) as plain text."""
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(app.query_one(LabPanel)._broker(snapshot))
    return console.export_text()


def timeline(app: PanelApp) -> str:
    """The timeline's text, its wrapped lines joined again."""
    return " ".join(" ".join(line.text.split()) for line in app.query_one("#timeline", RichLog).lines)


def started(broker: str, visibility_timeout: float | None = None) -> LabState:
    state = LabState()
    options = {"broker_transport_options": {"visibility_timeout": visibility_timeout}} if visibility_timeout else {}
    server = "Valkey 9.1.2" if broker == "redis" else ""
    state.apply(e(ev.ConfigChanged, settings=options, complete=True, broker=broker, broker_server=server))
    state.apply(e(ev.WorkerStarted, worker=W, concurrency=1, prefetch_multiplier=4))
    return state


def crash_holding_the_order(state: LabState) -> None:
    """A late-ack charge received at 1.9 s; the worker is killed at 2 s."""
    state.apply(e(ev.TaskPublished, 1.9, task_id=ORDER, task="charge_card", alias="order"))
    state.apply(e(ev.TaskReceived, 1.9, task_id=ORDER, task="charge_card", worker=W, redelivered=False, retries=0))
    state.apply(
        e(ev.TaskStarted, 1.9, task_id=ORDER, task="charge_card", worker=W, run=1, redelivered=False, retries=0)
    )
    state.apply(e(ev.WorkerKilled, 2.0, worker=W, requeued=0, lost=0, kept=1))


async def test_the_border_names_the_broker_honestly() -> None:
    app = PanelApp()
    async with app.run_test(size=(80, 30)):
        panel = app.query_one(LabPanel)
        panel.show(started("rabbitmq").snapshot(), 1.0)
        assert panel.border_title == "broker: RabbitMQ-like (in process)"
        assert text(app, "redis") == "", "no Redis line on the RabbitMQ-like broker"
        panel.show(started("redis").snapshot(), 1.0)
        assert panel.border_title == "broker: Redis (Valkey 9.1.2)"


async def test_a_dead_connections_message_counts_down_then_waits_for_the_next_scan() -> None:
    state = started("redis")  # kombu's default timeout: an hour
    crash_holding_the_order(state)
    app = PanelApp()
    async with app.run_test(size=(100, 40)):
        panel = app.query_one(LabPanel)
        panel.show(state.snapshot(), 3.9)
        redis = text(app, "redis")
        assert "◷ visibility 3,600 s · no worker to scan" in redis
        assert "✗ order (dead worker1): visible again in 3,598 s" in redis
        assert "✗ order" in strip(app, state.snapshot()) and "UNACKED 1" in strip(app, state.snapshot())
        # A new worker starts: its start-up scan finds nothing old enough; the next is 100 s away.
        state.apply(e(ev.RestoreScan, 2.5, worker=W, restored=0, next_in=100.0))
        state.apply(e(ev.WorkerStarted, 2.5, worker=W, concurrency=1, prefetch_multiplier=4))
        panel.show(state.snapshot(), 15.0)
        assert "next restore scan in 88 s" in text(app, "redis")
        panel.show_countdowns(state.snapshot(), 3602.0)
        assert "✗ order (dead worker1): visible again at the next restore scan" in text(app, "redis")
        assert "next restore scan in 0.0 s" in text(app, "redis")


async def test_a_live_holders_message_counts_down_too_and_a_short_panel_lists_one() -> None:
    state = started("redis", visibility_timeout=30)
    for number in range(4):
        task_id = f"{number}" * 16
        state.apply(e(ev.TaskPublished, float(number), task_id=task_id, task="generate_report"))
        state.apply(
            e(ev.TaskReceived, float(number), task_id=task_id, task="generate_report", worker=W, redelivered=False,
              retries=0)
        )  # fmt: skip
    app = PanelApp()
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(LabPanel)
        panel.show(state.snapshot(), 10.0)
        lines = text(app, "redis").splitlines()
        assert lines[1:] == [
            "  report·0000 (worker1): visible again in 20 s",
            "  report·1111 (worker1): visible again in 21 s",
            "  report·2222 (worker1): visible again in 22 s",
            "  …and 1 more unacked",
        ]
        await pilot.resize_terminal(80, 12)
        await pilot.pause()
        panel.show(state.snapshot(), 25.0)
        assert text(app, "redis").splitlines()[1:] == ["  report·0000 (worker1): visible again in 5.0 s (+3 more)"]


async def test_the_timeline_leaves_out_scans_that_found_nothing() -> None:
    app = PanelApp()
    async with app.run_test(size=(100, 40)):
        panel = app.query_one(LabPanel)
        panel.add_events(
            [
                e(ev.RestoreScan, 1.0, worker=W, restored=0, next_in=100.0),
                e(ev.MessageRedelivered, 2.0, task_id=ORDER, task="charge_card", worker=W, reason=ev.SCAN_RESTORE),
                e(ev.RestoreScan, 2.0, worker=W, restored=1, next_in=100.0),
            ]
        )
        shown = timeline(app)
        assert "found nothing" not in shown
        assert "back in the queue: restored by the scan" in shown
        assert "worker1's restore scan put 1 message(s) back; next scan in 100s" in shown


@pytest.mark.parametrize("reason", [ev.CONNECTION_DIED, ev.SCAN_RESTORE])
async def test_the_timeline_tells_a_scan_restore_from_a_dead_connection(reason: str) -> None:
    app = PanelApp()
    async with app.run_test(size=(100, 40)):
        panel = app.query_one(LabPanel)
        panel.add_events([e(ev.MessageRedelivered, 2.0, task_id=ORDER, task="charge_card", worker=W, reason=reason)])
        shown = timeline(app)
        died = "requeued because the connection died" in shown
        scanned = "restored by the scan" in shown
        assert (died, scanned) == (reason == ev.CONNECTION_DIED, reason == ev.SCAN_RESTORE)


async def test_the_retry_row_never_shows_one_retrys_number_with_the_next_ones_wait() -> None:
    # Celery publishes the retry message before it reports the retry: between the two
    # events the row once read "retry 2 of 4 in 4.0s", 4 s being retry 3's wait.
    state = started("rabbitmq")
    common = {"task_id": ORDER, "task": "send_receipt"}
    state.apply(e(ev.TaskPublished, 0.0, **common))
    for attempt, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
        at = float(attempt * 10)
        state.apply(e(ev.TaskStarted, at, **common, worker=W, run=attempt, redelivered=False, retries=attempt - 1))
        state.apply(e(ev.TaskPublished, at, **common, retries=attempt, eta_in=wait, by_retry=True))
        between = state.snapshot()
        state.apply(
            e(
                ev.RetryScheduled,
                at,
                **common,
                worker=W,
                attempt=attempt,
                max_retries=4,
                countdown=wait,
                eta_at=at + wait,
                exc_type="ConnectionError",
                exc_message="down",
            )
        )
        app = PanelApp()
        async with app.run_test(size=(100, 40)):
            panel = app.query_one(LabPanel)
            panel.show(between, at)
            row = text(app, "retries")
            assert row == "" or f"retry {attempt} of 4 in {wait:.1f}s" in row, row
            panel.show(state.snapshot(), at)
            assert f"retry {attempt} of 4 in {wait:4.1f}s" in text(app, "retries")


def written(action: str, key: str, detail: str, times: int) -> ev.LedgerWritten:
    write = e(ev.LedgerWritten, task_id=ORDER, task="charge_card", action=action, key=key, detail=detail, count=times)
    assert isinstance(write, ev.LedgerWritten)
    return write


def test_the_ledger_lists_each_side_effect_once_with_its_repeats() -> None:
    from celery_tutor.ui.widgets.lab_panel import MAX_LEDGER_LINES, ledger_text

    assert ledger_text([]).plain == "ledger: nothing happened outside yet"
    charge = [written("charge", "order 42", "$9.99", n) for n in (1, 2)]
    assert ledger_text(charge[:1]).plain == "ledger: $ charge order 42 $9.99"
    assert ledger_text(charge).plain == "ledger: $ charge order 42 $9.99  ×2 DUPLICATE"  # one line, not two
    mail = written("email", "order 42", "receipt", 1)
    assert ledger_text([charge[0], mail, charge[1]]).plain.splitlines() == [
        "ledger:",
        "  $ email order 42 receipt",
        "  $ charge order 42 $9.99  ×2 DUPLICATE",  # the effects in the order of their newest write
    ]
    many = [written("upload", f"reports/{n}.pdf", "stored", 1) for n in range(MAX_LEDGER_LINES + 3)]
    lines = ledger_text(many).plain.splitlines()[1:]
    assert lines == [f"  $ upload reports/{n}.pdf stored" for n in range(3, MAX_LEDGER_LINES + 3)]
