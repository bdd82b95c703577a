"""What the reporters turn into events, checked without a worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab import runtime
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.faults import FaultInjector
from celery_tutor.lab.reporters import BrokerReporter, CeleryReporter
from celery_tutor.lab.runtime import WorkerRuntime


@pytest.fixture
def bus() -> Iterator[tuple[EventBus, list[ev.LabEvent]]]:
    events: list[ev.LabEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    yield bus, events
    runtime.bind_worker(None)


def test_a_killed_workers_own_log_lines_are_not_reported(bus: tuple[EventBus, list[ev.LabEvent]]) -> None:
    # On Redis the killed worker's event loop may trip over its dead socket and log a
    # CRITICAL "Unrecoverable error"; a SIGKILLed process says nothing.
    events_bus, events = bus
    reporter = CeleryReporter(events_bus, FaultInjector())
    hooks: Any = object()
    worker = WorkerRuntime(name="worker1", hooks=hooks)
    runtime.bind_worker(worker)
    reporter.on_log("ERROR", "celery.worker", "alive and complaining")
    worker.killed.set()
    reporter.on_log("CRITICAL", "celery.worker", "Unrecoverable error: ValueError('I/O operation on closed file.')")
    runtime.bind_worker(None)
    reporter.on_log("WARNING", "kombu", "from a thread no worker owns")
    assert [e.message for e in events if isinstance(e, ev.LabLog)] == [
        "alive and complaining",
        "from a thread no worker owns",
    ]


def test_a_restore_scan_becomes_an_event(bus: tuple[EventBus, list[ev.LabEvent]]) -> None:
    events_bus, events = bus
    BrokerReporter(events_bus).restore_scanned("worker2", 3, 100.0)
    (scan,) = events
    assert isinstance(scan, ev.RestoreScan)
    assert (scan.worker, scan.restored, scan.next_in) == ("worker2", 3, 100.0)
