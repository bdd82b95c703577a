"""When Celery acks, and what a dead worker or a dead pool child costs (reference §3, §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

pytestmark = pytest.mark.lab

LATE = {"task_acks_late": True}


def test_early_ack_crash_mid_task_loses_the_task(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    lab.crash_at("after_charge", task="charge_card")
    task_id = lab.send("charge_card", (1, 10.0))

    lost = log.wait_event("lost", task_id)
    killed = log.wait_event("worker_killed", checkpoint="after_charge")
    assert (killed.requeued, killed.lost) == (0, 1)
    assert lost.worker == "worker1"
    assert lost.run == 1
    # The message was acked before the body ran, so the broker had nothing to give back.
    assert log.kinds(task_id, among={"acked", "started"}) == ["acked", "started"]
    assert not log.of("redelivered", task_id)

    lab.restart_worker()
    assert lab.wait_until(lambda s: s.worker("worker1").status == "alive", 10)
    assert lab.ready_in_broker() == []
    make_lab.settle(lab)  # the restarted worker handled the whole queue: nothing came back

    view = lab.snapshot().task(task_id)
    assert view.state == "LOST"
    assert len(view.runs) == 1
    assert view.runs[0].outcome == "lost"
    assert view.runs[0].checkpoint == "after_charge"
    assert log.kinds(task_id, among={"started"}) == ["started"]
    assert lab.app.AsyncResult(task_id).state == "PENDING"  # Celery never stored a result

    (charge,) = lab.snapshot().ledger  # the card was charged before the worker died
    assert (charge.task_id, charge.action, charge.key, charge.duplicate) == (task_id, "charge", "order 1", False)


def test_late_ack_crash_mid_task_is_redelivered_and_completed(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    lab.crash_at("after_charge", task="charge_card")
    task_id = lab.send("charge_card", (2, 20.0))

    killed = log.wait_event("worker_killed", checkpoint="after_charge")
    assert (killed.requeued, killed.lost) == (1, 0)
    back = log.wait_event("redelivered", task_id)
    assert back.reason == "worker died"
    assert not log.of("acked", task_id)
    assert lab.ready_in_broker() == [task_id]  # back in the queue while no worker is alive

    lab.restart_worker()
    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "SUCCESS"
    assert [r.redelivered for r in view.runs] == [False, True]
    assert [r.outcome for r in view.runs] == ["died", "success"]
    assert log.of("received", task_id)[-1].redelivered is True
    assert lab.app.AsyncResult(task_id).state == "SUCCESS"
    assert lab.app.AsyncResult(task_id).result == "ch_2"
    log.wait_event("acked", task_id)  # the redelivered message is acked after it ran
    assert log.kinds(task_id, among={"succeeded", "acked"}) == ["succeeded", "acked"]
    assert lab.ready_in_broker() == []


def test_a_worker_killed_at_task_finished_stored_success_but_never_reported_it(make_lab: LabFactory) -> None:
    """As on real prefork: the trace stored SUCCESS, but the worker dies before it reports the run
    (a real main process sends task-succeeded only once its pool child is done)."""
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    lab.crash_at("task_finished", task="charge_card")
    task_id = lab.send("charge_card", (3, 30.0))

    log.wait_event("worker_killed", checkpoint="task_finished")
    assert lab.app.AsyncResult(task_id).state == "SUCCESS"  # stored by the trace
    assert not log.of("succeeded", task_id)  # never told
    view = lab.snapshot().task(task_id)
    assert view.state == "STARTED"
    assert [r.outcome for r in view.runs] == ["died"]

    lab.restart_worker()
    done = make_lab.wait_for_task(lab, task_id)
    assert (done.state, len(done.runs)) == ("SUCCESS", 2)
    assert log.kinds(task_id, among={"checkpoint", "succeeded", "acked"})[-3:] == ["checkpoint", "succeeded", "acked"]


def test_late_ack_task_that_raises_is_acked_not_redelivered(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    lab.fail_next("add", 1, "ValueError")
    task_id = lab.send("add", (1, 2))

    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "FAILURE"
    assert view.exception is not None and view.exception.startswith("ValueError(")
    acked = log.wait_event("acked", task_id)  # acks_late does not mean "retry on failure"
    assert acked.worker == "worker1"
    assert log.kinds(task_id, among={"failed", "acked"}) == ["failed", "acked"]

    make_lab.settle(lab)
    result = lab.app.AsyncResult(task_id)
    assert result.state == "FAILURE"
    assert isinstance(result.result, ValueError)
    assert len(lab.snapshot().task(task_id).runs) == 1
    assert not log.of("redelivered", task_id)
    assert not log.of("rejected", task_id)
    assert lab.ready_in_broker() == []


def test_late_ack_child_killed_fails_with_worker_lost_and_is_acked(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    lab.kill_child_at("before_charge", task="charge_card")
    task_id = lab.send("charge_card", (3, 30.0))

    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "FAILURE"
    assert view.exception is not None and view.exception.startswith("WorkerLostError(")
    log.wait_event("child_killed", task_id, checkpoint="before_charge")
    log.wait_event("acked", task_id)  # even with acks_late: Celery acks a lost child's task

    make_lab.settle(lab)
    result = lab.app.AsyncResult(task_id)
    assert result.state == "FAILURE"
    assert type(result.result).__name__ == "WorkerLostError"
    view = lab.snapshot().task(task_id)
    assert [r.outcome for r in view.runs] == ["child killed"]
    assert not log.of("redelivered", task_id)
    assert not log.of("worker_killed")  # the worker itself lived on
    assert lab.snapshot().worker("worker1").status == "alive"
    assert lab.snapshot().ledger == ()  # killed before the charge
    assert lab.ready_in_broker() == []


def test_late_ack_child_killed_with_reject_on_worker_lost_is_requeued(make_lab: LabFactory) -> None:
    lab = make_lab({**LATE, "task_reject_on_worker_lost": True})
    log = make_lab.events(lab)
    lab.kill_child_at("before_charge", task="charge_card")
    task_id = lab.send("charge_card", (4, 40.0))

    rejected = log.wait_event("rejected", task_id)
    assert rejected.requeue is True
    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "SUCCESS"
    assert [r.redelivered for r in view.runs] == [False, True]
    assert [r.outcome for r in view.runs] == ["child killed", "success"]
    assert log.of("redelivered", task_id)[0].reason == "rejected, requeue=True"
    assert not log.of("failed", task_id)  # a requeued loss is not recorded as FAILURE
    assert lab.app.AsyncResult(task_id).state == "SUCCESS"
    log.wait_event("acked", task_id)
    assert len(lab.snapshot().ledger) == 1  # charged once: the child died before charging
    assert lab.ready_in_broker() == []


def test_early_ack_crash_while_countdown_retry_waits_in_the_worker(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    lab.fail_next("fetch_exchange_rate", 1)
    task_id = lab.send("fetch_exchange_rate", ("EUR",))

    # The retry was published and the worker holds it, unacked, until its ETA.
    log.wait_event("retry_scheduled", task_id)
    assert lab.wait_until(
        lambda s: any(r.task_id == task_id for r in s.worker("worker1").scheduled) and s.task(task_id).state == "RETRY",
        10,
    )
    lab.crash_worker()
    back = log.wait_event("redelivered", task_id)
    assert back.reason == "worker died"
    assert back.retries == 1
    assert back.eta_in is not None

    lab.restart_worker()
    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "SUCCESS"
    assert [(r.retries, r.redelivered, r.outcome) for r in view.runs] == [(0, False, "retry"), (1, True, "success")]
    # It still waited for its ETA (countdown=1) after coming back.
    assert view.runs[1].started_at - view.runs[0].started_at >= 0.9
    assert lab.app.AsyncResult(task_id).state == "SUCCESS"
    assert lab.app.AsyncResult(task_id).result == 0.92


def test_early_ack_prefetch_one_crash_loses_running_task_only(make_lab: LabFactory) -> None:
    lab = make_lab({"worker_prefetch_multiplier": 1})
    log = make_lab.events(lab)
    first, second, third = (lab.send("generate_report", (n,)) for n in (1, 2, 3))

    # With early acks the worker reserves one more message while one runs.
    assert lab.wait_until(lambda s: s.task(first).state == "STARTED" and s.worker("worker1").unacked == (second,), 10)
    assert lab.ready_in_broker() == [third]
    lab.crash_worker()
    killed = log.wait_event("worker_killed")
    assert (killed.requeued, killed.lost) == (1, 1)
    log.wait_event("lost", first)
    assert lab.ready_in_broker() == [second, third]  # the prefetched one went back to the head

    lab.restart_worker()
    for task_id in (second, third):
        assert make_lab.wait_for_task(lab, task_id, timeout=15).state == "SUCCESS"

    snap = lab.snapshot()
    assert snap.task(first).state == "LOST"
    assert [r.outcome for r in snap.task(first).runs] == ["lost"]
    assert [r.redelivered for r in snap.task(second).runs] == [True]
    assert [r.redelivered for r in snap.task(third).runs] == [False]
    assert [lab.app.AsyncResult(t).state for t in (first, second, third)] == ["PENDING", "SUCCESS", "SUCCESS"]
    assert sorted(e.key for e in snap.ledger) == ["reports/2.pdf", "reports/3.pdf"]
