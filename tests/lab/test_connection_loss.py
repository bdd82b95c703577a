"""A worker's broker connection drops while the worker lives on, on real lab workers and both brokers.

``drop_connection`` at a checkpoint cuts the connection when the task gets there and lets
the task go on only once Celery's consumer has handled the loss, so what Celery does
(cancel the run, or not) lands at that checkpoint, every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from celery_tutor.lab import Lab, LabConfigError, LabStateError
from celery_tutor.lab import events as ev
from celery_tutor.lab.redis_server import find_server_binary

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import EventLog, LabFactory

LATE = {"task_acks_late": True}
CANCEL = {"worker_cancel_long_running_tasks_on_connection_loss": True}

# Celery warns, on every connection loss without the cancel setting, that its default will change in 6.0.
pytestmark = pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning")

needs_redis = pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary")

RedisLab = Callable[..., Lab]


@pytest.fixture
def redis_lab(make_lab: LabFactory) -> RedisLab:
    """``redis_lab(settings)`` → a started lab on the Redis broker, closed by ``make_lab``'s teardown."""

    def build(settings: dict[str, Any] | None = None) -> Lab:
        # A visibility timeout far beyond any test: nothing comes back by a restore scan here.
        options = {"visibility_timeout": 600, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
        return make_lab({"broker_transport_options": options, **(settings or {})}, broker="redis")

    return build


SLOW = 15.0
"""For what waits out Celery's reconnection retries (the first comes 2 s after a failed attempt)."""


def wait_long(log: EventLog, kind: str, task_id: str | None = None, count: int = 1) -> Any:
    """The ``count``-th event of a kind (of a task), waiting up to :data:`SLOW` seconds."""

    def enough(events: list[ev.LabEvent]) -> bool:
        return sum(1 for e in events if e.kind == kind and task_id in (None, getattr(e, "task_id", None))) >= count

    assert log.wait_for(enough, SLOW), f"no {count}x {kind} for {task_id}; saw:\n{log.timeline()}"
    return log.of(kind, task_id)[count - 1]


def index(log: EventLog, event: ev.LabEvent) -> int:
    return next(i for i, e in enumerate(log.events) if e.seq == event.seq)


def charges(lab: Lab) -> int:
    return sum(1 for e in lab.snapshot().ledger if e.action == "charge")


def logged(log: EventLog, text: str) -> list[str]:
    return [e.message for e in log.of("log") if text in e.message]


# --- RabbitMQ: the broker requeues at once, the worker runs on -------------------------------


def test_a_late_ack_task_keeps_running_and_runs_again_from_the_requeued_copy(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    lab.drop_connection_at("before_charge")
    task_id = lab.send("charge_card", (42, 9.99))
    lost = log.wait_event("connection_lost")
    second = log.wait_event("started", task_id, count=2)
    view = make_lab.wait_for_task(lab, task_id)
    log.wait_event("acked", task_id)
    assert (lost.worker, lost.requeued, lost.checkpoint, lost.broker) == ("worker1", 1, "before_charge", "rabbitmq")
    redelivered = log.of("redelivered", task_id)
    assert [e.reason for e in redelivered] == [ev.CONNECTION_LOST]
    # The first run was not stopped: it charged and succeeded, then the copy ran and charged again.
    assert view.state == "SUCCESS" and [r.outcome for r in view.runs] == ["success", "success"]
    assert second.redelivered and charges(lab) == 2
    # Celery reconnected, and the first run's late ack went nowhere: Celery logged it, the broker saw one ack.
    assert index(log, log.of("reconnected")[0]) > index(log, lost)
    assert logged(log, "Connection to broker lost")
    assert logged(log, "Couldn't ack")
    assert len(log.of("acked", task_id)) == 1
    assert not log.of("cancelled")


def test_an_early_ack_task_runs_once_and_the_prefetched_message_comes_back(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    charge = lab.send("charge_card", (42, 9.99))
    waiting = lab.send("add", (2, 3))  # prefetched behind the charge: unacked
    log.wait_event("started", charge)
    log.wait_event("received", waiting)
    lab.drop_connection()
    assert log.wait_event("connection_lost").requeued == 1
    assert make_lab.wait_for_task(lab, charge).state == "SUCCESS"
    assert make_lab.wait_for_task(lab, waiting).state == "SUCCESS"
    make_lab.settle(lab)
    assert [e.reason for e in log.of("redelivered", waiting)] == [ev.CONNECTION_LOST]
    assert not log.of("redelivered", charge)
    # The running task was acked before it ran: it finishes once. The prefetched one was
    # dropped from the pool (its message came back) and runs once, from the copy.
    assert len(log.of("started", charge)) == 1 and len(log.of("started", waiting)) == 1
    assert log.of("started", waiting)[0].redelivered
    assert charges(lab) == 1


def test_cancel_on_connection_loss_stops_the_late_ack_run_where_the_connection_dropped(make_lab: LabFactory) -> None:
    lab = make_lab({**LATE, **CANCEL})
    log = make_lab.events(lab)
    lab.drop_connection_at("before_charge")
    task_id = lab.send("charge_card", (42, 9.99))
    cancelled = log.wait_event("cancelled", task_id)
    view = make_lab.wait_for_task(lab, task_id)
    assert (cancelled.reason, cancelled.acks_late) == ("connection lost", True)
    assert logged(log, "cannot be acknowledged after a connection loss")  # Celery's own warning
    # The first run died at 'before_charge': one charge, by the redelivered copy.
    assert [r.outcome for r in view.runs] == ["cancelled", "success"]
    assert view.runs[1].redelivered and charges(lab) == 1
    assert not log.of("retry_scheduled", task_id)  # Celery stores RETRY but publishes nothing


def test_cancel_on_connection_loss_leaves_early_ack_tasks_alone(make_lab: LabFactory) -> None:
    lab = make_lab(CANCEL)
    log = make_lab.events(lab)
    lab.drop_connection_at("before_charge")
    task_id = lab.send("charge_card", (42, 9.99))
    view = make_lab.wait_for_task(lab, task_id)
    make_lab.settle(lab)
    assert view.state == "SUCCESS" and len(view.runs) == 1
    assert not log.of("cancelled") and charges(lab) == 1


def test_another_worker_in_the_lab_is_not_touched_by_one_worker_s_connection_loss(make_lab: LabFactory) -> None:
    # Prefetch 1 with late acks: each worker holds one report, so each runs one.
    lab = make_lab({**LATE, **CANCEL, "worker_prefetch_multiplier": 1}, workers=2)
    log = make_lab.events(lab)
    first = lab.send("generate_report", (1,))
    second = lab.send("generate_report", (2,))
    runs = [log.wait_event("started", first), log.wait_event("started", second)]
    assert {r.worker for r in runs} == {"worker1", "worker2"}
    lab.drop_connection("worker1")
    on_worker1 = next(r.task_id for r in runs if r.worker == "worker1")
    on_worker2 = next(r.task_id for r in runs if r.worker == "worker2")
    log.wait_event("cancelled", on_worker1)
    assert make_lab.wait_for_task(lab, on_worker2).state == "SUCCESS"
    assert make_lab.wait_for_task(lab, on_worker1).state == "SUCCESS"
    assert [e.task_id for e in log.of("cancelled")] == [on_worker1]
    assert len(log.of("started", on_worker2)) == 1 and len(log.of("acked", on_worker2)) == 1


def test_while_the_broker_is_out_of_reach_celery_retries_then_reconnects(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", (7,))
    log.wait_event("started", task_id)
    lab.drop_connection(outage=1.0)
    lost = log.wait_event("connection_lost")
    back = wait_long(log, "reconnected")
    assert lost.outage == 1.0 and back.at - lost.at >= 1.0
    assert logged(log, "Cannot connect to")  # Celery's retry, with its own words
    assert make_lab.wait_for_task(lab, task_id, timeout=SLOW).state == "SUCCESS"


def test_a_worker_killed_while_it_reconnects_loses_nothing_it_had_given_back_and_says_nothing_more(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    report = lab.send("generate_report", (7,))
    log.wait_event("started", report)
    lab.drop_connection(outage=5.0)  # the message is back in the queue; the worker retries to connect
    log.wait_event("connection_lost")
    lab.crash_worker()
    killed = log.wait_event("worker_killed")
    assert (killed.requeued, killed.lost) == (0, 0) and not log.of("lost")
    lab.restart_worker()
    add = lab.send("add", (2, 3))
    assert make_lab.wait_for_task(lab, add).state == "SUCCESS"
    view = make_lab.wait_for_task(lab, report)
    assert [r.outcome for r in view.runs] == ["died", "success"]
    assert lab.join(SLOW)  # the dead worker's thread, retrying its connection, ends too
    # The dead incarnation neither reconnected in the timeline nor took a message.
    assert not log.of("reconnected") and len(log.of("started", add)) == 1


def test_drop_connection_is_checked(make_lab: LabFactory) -> None:
    lab = make_lab()
    with pytest.raises(LabConfigError, match="over the lab's limit of 10 seconds"):
        lab.drop_connection(outage=11)
    with pytest.raises(LabConfigError, match="unknown worker"):
        lab.drop_connection("worker9")
    with pytest.raises(LabConfigError, match="unknown checkpoint"):
        lab.drop_connection_at("nowhere")
    lab.crash_worker()
    with pytest.raises(LabStateError, match="worker1 is killed"):
        lab.drop_connection("worker1")


# --- Redis: the server keeps nothing per connection ------------------------------------------


@needs_redis
def test_on_redis_kombu_s_clean_up_puts_the_message_back_when_redis_is_in_reach(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    lab = redis_lab(LATE)
    log = make_lab.events(lab)
    lab.drop_connection_at("before_charge")
    task_id = lab.send("charge_card", (42, 9.99))
    lost = log.wait_event("connection_lost")
    wait_long(log, "started", task_id, count=2)
    view = make_lab.wait_for_task(lab, task_id, timeout=SLOW)
    assert (lost.broker, lost.requeued, lost.noticed) == ("redis", 0, True)  # Redis itself put nothing back
    # The worker's own clean-up did, at once (the visibility timeout is 600 s), flagged redelivered.
    (back,) = log.of("redelivered", task_id)
    assert back.reason == ev.CONNECTION_LOST and back.at - lost.at < 5
    assert [r.outcome for r in view.runs] == ["success", "success"]
    assert charges(lab) == 2


@needs_redis
def test_on_redis_out_of_reach_nothing_comes_back_and_the_late_ack_lands_after_the_reconnection(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    lab = redis_lab(LATE)
    log = make_lab.events(lab)
    lab.drop_connection_at("before_charge", outage=1.0)
    task_id = lab.send("charge_card", (42, 9.99))
    acked = wait_long(log, "acked", task_id)
    make_lab.settle(lab, timeout=SLOW)
    # The clean-up could not reach Redis: the message stayed in its unacked hash. The ack,
    # held back until the worker's event loop ran again, reached Redis and removed it.
    assert index(log, log.of("reconnected")[0]) < index(log, acked)
    assert not log.of("redelivered", task_id)
    assert len(log.of("started", task_id)) == 1 and charges(lab) == 1
    assert logged(log, "Cannot connect to")


@needs_redis
def test_on_redis_a_worker_with_its_prefetch_full_and_no_remote_control_does_not_notice(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    # Prefetch 1 and a late ack: while the charge runs, kombu's BRPOP is paused, and with
    # remote control off no channel listens: nobody reads the dead socket, and the ack goes
    # out on a connection redis-py opens anew.
    lab = redis_lab({**LATE, "worker_prefetch_multiplier": 1, "worker_enable_remote_control": False})
    log = make_lab.events(lab)
    lab.drop_connection_at("before_charge")
    task_id = lab.send("charge_card", (42, 9.99))
    lost = log.wait_event("connection_lost")
    log.wait_event("acked", task_id)
    make_lab.settle(lab, timeout=SLOW)
    assert not lost.noticed and "nothing notices" in lost.describe()
    assert not log.of("redelivered", task_id) and not logged(log, "Connection to broker lost")
    assert len(log.of("started", task_id)) == 1 and charges(lab) == 1


@needs_redis
def test_on_redis_remote_control_notices_a_drop_even_with_the_prefetch_full(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    # Celery's default: the remote-control mailbox listens on the connection all the time, so
    # the cut is noticed though the task channel's BRPOP is paused; kombu's clean-up gives the
    # late-ack message back and it runs twice.
    lab = redis_lab({**LATE, "worker_prefetch_multiplier": 1})
    log = make_lab.events(lab)
    lab.drop_connection_at("before_charge")
    task_id = lab.send("charge_card", (42, 9.99))
    lost = log.wait_event("connection_lost")
    log.wait_event("succeeded", task_id, count=2)
    make_lab.settle(lab, timeout=SLOW)
    assert lost.noticed and "nothing notices" not in lost.describe()
    assert logged(log, "Connection to broker lost")
    assert [e.redelivered for e in log.of("started", task_id)] == [False, True] and charges(lab) == 2
