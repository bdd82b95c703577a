"""A run's end waits for its pool child's reports, which travel on another connection."""

from __future__ import annotations

from typing import Any

from test_translate import HOST, TASK_ID, _deliver, _settle, _setup

from celery_tutor.lab import events as ev
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.run_order import HOLD_SECONDS, RunOrder


def e(kind: str, worker: str = "worker1", **fields: Any) -> dict[str, Any]:
    return {"type": kind, "uuid": TASK_ID, "worker": worker, **fields}


RECEIVED = e("task-received")
STARTED = e(protocol.STARTED)
CHECKPOINT = e(protocol.CHECKPOINT, checkpoint="adding")
FINISHED = e(protocol.CHECKPOINT, checkpoint="task_finished")
SUCCEEDED = e("task-succeeded")
ACKED = e(protocol.ACKED)


def order() -> RunOrder:
    return RunOrder(lambda event: str(event["worker"]))


def test_an_end_that_overtook_its_childs_reports_waits_for_them_and_the_ack_waits_behind_it() -> None:
    run = order()
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]
    assert run.admit(SUCCEEDED, 0.0) == []
    assert run.admit(ACKED, 0.0) == []  # the late ack must not pass the success it follows
    assert run.admit(STARTED, 0.0) == [STARTED]
    assert run.admit(CHECKPOINT, 0.0) == [CHECKPOINT]
    assert run.admit(FINISHED, 0.0) == [FINISHED, SUCCEEDED, ACKED]
    assert run.next_deadline() is None


def test_in_order_nothing_waits_and_an_early_ack_passes_before_the_start() -> None:
    run = order()
    for event in (RECEIVED, ACKED, STARTED, FINISHED, SUCCEEDED):
        assert run.admit(event, 0.0) == [event]
    assert run.tracked() == 0


def test_each_run_of_a_task_waits_for_its_own_child_and_workers_are_apart() -> None:
    run = order()
    other = e("task-succeeded", worker="worker2")
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]
    assert run.admit(STARTED, 0.0) == [STARTED]
    assert run.admit(FINISHED, 0.0) == [FINISHED]
    assert run.admit(SUCCEEDED, 0.0) == [SUCCEEDED]  # run 1: its child's reports were in
    copy = e("task-received", worker="worker2")
    assert run.admit(copy, 0.0) == [copy]
    assert run.admit(other, 0.0) == []  # worker2's copy: its child has said nothing yet
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]
    assert run.admit(SUCCEEDED, 0.0) == []  # run 2 on worker1, not started yet
    assert run.admit(STARTED, 0.0) == [STARTED]
    assert run.admit(FINISHED, 0.0) == [FINISHED, SUCCEEDED]
    assert run.admit(e(protocol.CHILD_KILLED, worker="worker2"), 0.0)[-1] == other  # a dead child says no more


def test_it_remembers_only_the_runs_in_flight_however_many_tasks_have_run() -> None:
    run = order()
    for n in range(1000):
        task = {"uuid": f"task-{n}", "worker": "worker1"}
        steps = (("task-received", {}), (protocol.STARTED, {}), (protocol.CHECKPOINT, {"checkpoint": "task_finished"}))
        for kind, extra in steps:
            run.admit({**task, "type": kind, **extra}, 0.0)
        run.admit({**task, "type": "task-succeeded"}, 0.0)
        run.admit({**task, "type": protocol.ACKED}, 0.0)
    assert run.tracked() == 0
    assert run.admit(SUCCEEDED, 0.0) == []  # one held: remembered until its child reports
    assert run.tracked() == 1
    assert run.due(HOLD_SECONDS) == [SUCCEEDED]
    assert run.tracked() == 0


def test_an_end_whose_child_never_reports_goes_after_the_hold_or_at_a_barrier() -> None:
    run = order()
    assert run.admit(SUCCEEDED, 10.0) == []  # a redelivery Celery skipped: no child report will come
    assert run.next_deadline() == 10.0 + HOLD_SECONDS
    assert run.due(10.0 + HOLD_SECONDS / 2) == []
    assert run.due(10.0 + HOLD_SECONDS) == [SUCCEEDED]
    assert run.admit(SUCCEEDED, 20.0) == []
    assert run.release_all() == [SUCCEEDED]
    assert run.next_deadline() is None


def test_the_translator_folds_a_short_task_in_the_order_it_ran() -> None:
    """Real RabbitMQ once delivered add's success before its pool child's start (CI)."""
    _, translator, _lab, seen = _setup("rabbitmq")
    _deliver(translator, redelivered=False)
    translator.handle({"type": "task-succeeded", "uuid": TASK_ID, "hostname": HOST, "result": "5"})
    translator.handle({"type": protocol.ACKED, "uuid": TASK_ID, "hostname": HOST})
    translator.handle({"type": protocol.STARTED, "uuid": TASK_ID, "hostname": HOST})
    translator.handle({"type": protocol.CHECKPOINT, "uuid": TASK_ID, "hostname": HOST, "checkpoint": "task_finished"})
    kinds = [event.kind for event in seen if not isinstance(event, ev.TaskReceived)]
    assert kinds == ["started", "checkpoint", "succeeded", "acked"]


def test_a_redelivered_run_that_started_before_its_receipt_arrived_is_a_run_not_a_skip() -> None:
    """Folded as it arrived, the receipt would end the run's start and its success look like a skipped redelivery."""
    _, translator, lab, seen = _setup("rabbitmq")
    lab.dedupe = True
    translator.handle({"type": protocol.STARTED, "uuid": TASK_ID, "hostname": HOST, "redelivered": True})
    translator.handle({"type": protocol.CHECKPOINT, "uuid": TASK_ID, "hostname": HOST, "checkpoint": "task_finished"})
    _deliver(translator, redelivered=True)
    translator.handle({"type": "task-succeeded", "uuid": TASK_ID, "hostname": HOST, "result": "5"})
    assert [event.kind for event in seen] == ["redelivered", "received", "started", "checkpoint", "succeeded"]


def test_a_skipped_redelivery_is_told_once_the_barrier_shows_no_start_is_coming() -> None:
    _, translator, lab, seen = _setup("rabbitmq")
    lab.dedupe = True
    _deliver(translator, redelivered=True)
    translator.handle({"type": "task-succeeded", "uuid": TASK_ID, "hostname": HOST, "result": "5"})
    assert not [event for event in seen if event.kind in ("succeeded", "run_skipped")]  # it might still start
    _settle(translator)
    assert [event.kind for event in seen if event.kind in ("succeeded", "run_skipped")] == ["run_skipped"]


def test_a_retried_run_and_a_requeued_lost_child_are_concluded_without_an_end() -> None:
    run = order()
    # self.retry: the child's run ends in a retry, and Celery sends no success or failure for it
    for event in (RECEIVED, STARTED, e(protocol.RETRY), FINISHED):
        assert run.admit(event, 0.0) == [event]
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]  # the retry's message
    assert run.admit(SUCCEEDED, 0.0) == []  # so this success is the retry's run's: it waits for it
    assert run.admit(STARTED, 0.0) == [STARTED]
    assert run.admit(FINISHED, 0.0) == [FINISHED, SUCCEEDED]
    # reject_on_worker_lost: the killed child's run is concluded by a requeue, not a failure
    killed, requeued = e(protocol.CHILD_KILLED), e("task-rejected", requeue=True)
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]
    assert run.admit(STARTED, 0.0) == [STARTED]
    assert run.admit(killed, 0.0) == [killed]
    assert run.admit(requeued, 0.0) == [requeued]
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]
    assert run.admit(SUCCEEDED, 0.0) == []  # the redelivery's success waits for its own child
    assert run.admit(STARTED, 0.0) == [STARTED]
    assert run.admit(FINISHED, 0.0) == [FINISHED, SUCCEEDED]
    assert run.tracked() == 0


def test_a_start_that_overtook_its_delivery_waits_for_it_with_the_reports_after_it() -> None:
    """The main process buffers task-received until its loop turns; the child reports its start at once."""
    run = order()
    ledger = e(protocol.LEDGER, action="charge", key="order 42")
    for event in (STARTED, CHECKPOINT, ledger, FINISHED, SUCCEEDED, ACKED):
        assert run.admit(event, 0.0) == []
    assert run.admit(RECEIVED, 0.0) == [RECEIVED, STARTED, CHECKPOINT, ledger, FINISHED, SUCCEEDED, ACKED]
    assert run.tracked() == 0
    # A delivery received ahead (an ETA, a prefetched message) lets its start through at once.
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]
    assert run.admit(STARTED, 0.0) == [STARTED]


def test_a_second_runs_start_waits_for_its_own_delivery() -> None:
    run = order()
    for event in (RECEIVED, STARTED, FINISHED, SUCCEEDED):
        assert run.admit(event, 0.0) == [event]
    assert run.admit(STARTED, 0.0) == []  # a redelivery's run: its receipt is still buffered
    assert run.admit(RECEIVED, 0.0) == [RECEIVED, STARTED]


def test_a_child_that_kills_its_worker_does_not_wait_for_a_receipt_that_died_with_it() -> None:
    run = order()
    crash = e(protocol.CRASH, checkpoint="adding", plan="p1")
    assert run.admit(STARTED, 0.0) == []
    assert run.admit(CHECKPOINT, 0.0) == []
    assert run.admit(crash, 0.0) == [STARTED, CHECKPOINT, crash]


def test_a_start_whose_delivery_never_comes_goes_after_the_hold_or_at_a_barrier() -> None:
    run = order()
    assert run.admit(STARTED, 5.0) == []
    assert run.admit(CHECKPOINT, 5.5) == []
    assert run.next_deadline() == 5.0 + HOLD_SECONDS
    assert run.due(5.0 + HOLD_SECONDS) == [STARTED, CHECKPOINT]
    assert run.admit(STARTED, 10.0) == []
    assert run.release_all() == [STARTED]


def test_a_delivery_celery_skipped_is_forgotten_once_its_end_is_let_go() -> None:
    run = order()
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]  # a redelivery whose SUCCESS is stored: no run will start
    assert run.admit(SUCCEEDED, 0.0) == []
    assert run.release_all() == [SUCCEEDED]
    assert run.tracked() == 0


def test_a_worker_restarted_under_its_name_does_not_inherit_the_runs_its_predecessor_left_open() -> None:
    """A cold shutdown cancels a late-acked run: Celery sends no success or failure for it."""
    run = order()
    cancelled = e(protocol.CANCELLED, reason="cold shutdown")
    for event in (RECEIVED, STARTED, CHECKPOINT, cancelled):
        assert run.admit(event, 0.0) == [event]
    run.forget_worker("worker1")
    assert run.tracked() == 0
    # The restarted worker1 runs the redelivery; its success overtakes its child's start.
    assert run.admit(RECEIVED, 0.0) == [RECEIVED]
    assert run.admit(SUCCEEDED, 0.0) == [], "without forgetting, the cancelled run would let it pass"
    assert run.admit(STARTED, 0.0) == [STARTED]
    assert run.admit(FINISHED, 0.0) == [FINISHED, SUCCEEDED]


def test_forgetting_one_worker_leaves_the_others_runs_open() -> None:
    run = order()
    other = {**RECEIVED, "worker": "worker2"}
    run.admit(RECEIVED, 0.0)
    run.admit(other, 0.0)
    run.forget_worker("worker1")
    assert run.tracked() == 1
    started = {**STARTED, "worker": "worker2"}
    assert run.admit(started, 0.0) == [started], "worker2's delivery is still known"
