"""What the reporters turn into events, and what the reports show of them, checked without a worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab import runtime
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.experiment import Report
from celery_tutor.lab.faults import FaultInjector
from celery_tutor.lab.reporters import BrokerReporter, CeleryReporter
from celery_tutor.lab.runtime import WorkerRuntime
from celery_tutor.lab.script import parse_script


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


def test_lab_run_text_leaves_out_quiet_events_and_json_keeps_them() -> None:
    script = parse_script("title: scans\nsteps:\n  - send: {task: add}\n", "scans.yaml")
    report = Report(
        script,
        events=[
            ev.RestoreScan(seq=1, at=0.1, worker="worker1", restored=0, next_in=1.0),
            ev.RestoreScan(seq=2, at=1.1, worker="worker1", restored=1, next_in=1.0),
        ],
    )
    text = report.to_text()
    assert "found nothing" not in text
    assert "worker1's restore scan put 1 message(s) back" in text
    assert [e["restored"] for e in report.to_json()["events"]] == [0, 1]
