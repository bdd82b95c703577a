"""The lab's event bus: one order for everyone, and a broken subscriber is logged, not hidden."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.bus import EventBus

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory


class SubscriberBug(RuntimeError):
    """What the broken subscriber raises."""


def broken_subscriber(event: ev.LabEvent) -> None:
    raise SubscriberBug(f"cannot handle {event.kind}")


def lab_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "celery_tutor.lab" and r.levelno >= logging.ERROR]


def test_events_are_numbered_in_one_order_and_reach_every_subscriber() -> None:
    ticks = iter([100.0, 100.5, 101.25])
    bus = EventBus(clock=lambda: next(ticks))
    first: list[ev.LabEvent] = []
    second: list[ev.LabEvent] = []
    bus.subscribe(first.append)
    unsubscribe = bus.subscribe(second.append)
    a = bus.emit(ev.QueuePurged, count=1)
    unsubscribe()
    b = bus.emit(ev.QueuePurged, count=2)
    assert a is not None and b is not None
    assert [(e.seq, e.at) for e in first] == [(1, 0.5), (2, 1.25)]
    assert second == [a]


def test_a_closed_bus_emits_nothing() -> None:
    bus = EventBus()
    heard: list[ev.LabEvent] = []
    bus.subscribe(heard.append)
    bus.close()
    assert bus.emit(ev.QueuePurged, count=1) is None
    assert heard == []


def test_a_subscriber_that_raises_is_logged_with_its_traceback_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    heard: list[ev.LabEvent] = []
    bus.subscribe(broken_subscriber)
    bus.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="celery_tutor.lab"):
        event = bus.emit(ev.QueuePurged, count=3)
    assert heard == [event]
    [record] = lab_errors(caplog)
    assert record.exc_info is not None and isinstance(record.exc_info[1], SubscriberBug)
    assert "broken_subscriber" in record.getMessage() and "purged" in record.getMessage()
    assert "Traceback (most recent call last)" in caplog.text
    assert 'in broken_subscriber\n    raise SubscriberBug(f"cannot handle {event.kind}")' in caplog.text


def test_waits_see_every_event() -> None:
    bus = EventBus()
    done = threading.Event()

    def wait() -> None:
        assert bus.wait_until(lambda s: any(t.task_id == "t1" and t.state == "SUCCESS" for t in s.tasks), 10)
        done.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    bus.name_task("t1", "add", "sum")
    bus.emit(ev.TaskPublished, task_id="t1", task="add", retries=0, eta_in=None, by_retry=False, args="", alias="sum")
    bus.emit(ev.TaskSucceeded, task_id="t1", task="add", worker="worker1", result="3")
    waiter.join(10)
    assert done.is_set()
    assert bus.task_id("sum") == "t1" and bus.task_id("add") == "t1"
    assert not bus.wait_until(lambda s: False, 0)


@pytest.mark.lab
def test_a_broken_subscriber_does_not_break_a_real_lab(make_lab: LabFactory, caplog: pytest.LogCaptureFixture) -> None:
    lab = make_lab()
    lab.subscribe(broken_subscriber)
    with caplog.at_level(logging.ERROR, logger="celery_tutor.lab"):
        task_id = lab.send("add", (2, 3))
        assert make_lab.wait_for_task(lab, task_id).state == "SUCCESS"
    assert lab.app.AsyncResult(task_id).result == 5
    kinds = make_lab.events(lab).kinds(task_id)
    assert kinds[0] == "published" and "succeeded" in kinds
    assert len(lab_errors(caplog)) >= len(kinds)


def test_with_no_logging_configured_a_broken_subscriber_writes_nothing_to_the_terminal() -> None:
    """Python's last-resort handler would print the traceback over a Textual screen."""
    code = (
        "from celery_tutor.lab import events as ev\n"
        "from celery_tutor.lab.bus import EventBus\n"
        "bus = EventBus()\n"
        "bus.subscribe(lambda event: 1 / 0)\n"
        "assert bus.emit(ev.QueuePurged, count=1) is not None\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert (done.stdout, done.stderr) == ("ok\n", "")
