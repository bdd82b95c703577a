"""Celery's event dicts become the lab's typed events: the mapping, without a broker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.real import protocol
from celery_tutor.lab.real.event_fields import exception_parts, failure_parts, traceback_parts
from celery_tutor.lab.real.translate import EventTranslator

HOST = "worker1@celery-tutor-0000abcd"
TASK_ID = "0f0f0f0f-1111-2222-3333-444444444444"


class FakeLab:
    """The lifecycle side, recording what the translator hands over."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fates: dict[str, str] = {}
        self.dedupe = False

    def on_worker_ready(self, worker: str, fields: Mapping[str, Any]) -> None:
        self.calls.append(("ready", worker))

    def on_worker_offline(self, worker: str) -> None:
        self.calls.append(("offline", worker))

    def on_crash(self, worker: str, checkpoint: str, plan: str) -> None:
        self.calls.append(("crash", (worker, checkpoint, plan)))

    def on_plan_fired(self, plan: str) -> None:
        self.calls.append(("fired", plan))

    def on_barrier(self, token: str) -> None:
        self.calls.append(("barrier", token))

    def holder_fate(self, worker: str) -> str | None:
        return self.fates.get(worker)

    def deduplicates(self) -> bool:
        return self.dedupe

    def on_connection_lost(self, worker: str, checkpoint: str | None, noticed: bool, plan: str | None) -> None:
        self.calls.append(("connection lost", (worker, checkpoint, noticed, plan)))


def _setup(broker: str = "redis") -> tuple[EventBus, EventTranslator, FakeLab, list[ev.LabEvent]]:
    bus = EventBus()
    seen: list[ev.LabEvent] = []
    bus.subscribe(seen.append)
    lab = FakeLab()
    bus.name_task(TASK_ID, "charge_card", "order")
    return bus, EventTranslator(bus, broker, lab), lab, seen


def _deliver(translator: EventTranslator, redelivered: bool, host: str = HOST) -> None:
    translator.handle({"type": protocol.RECEIVED, "uuid": TASK_ID, "hostname": host, "redelivered": redelivered})
    translator.handle({"type": "task-received", "uuid": TASK_ID, "name": "charge_card", "hostname": host})


def test_a_first_delivery_is_received_not_redelivered() -> None:
    _bus, translator, _lab, seen = _setup()
    _deliver(translator, redelivered=False)
    assert [e.kind for e in seen] == ["received"]
    received = seen[0]
    assert isinstance(received, ev.TaskReceived)
    assert (received.worker, received.redelivered, received.task) == ("worker1", False, "charge_card")


def test_a_redelivery_after_a_kill_on_redis_was_put_back_by_the_scan() -> None:
    _bus, translator, lab, seen = _setup("redis")
    _deliver(translator, redelivered=False)
    lab.fates["worker1"] = "killed"
    _deliver(translator, redelivered=True, host="worker2@celery-tutor-0000abcd")
    back = [e for e in seen if isinstance(e, ev.MessageRedelivered)]
    assert [(e.worker, e.reason) for e in back] == [("worker1", ev.SCAN_RESTORE)]
    assert [e.redelivered for e in seen if isinstance(e, ev.TaskReceived)] == [False, True]


def test_a_redelivery_after_a_warm_stop_was_given_back_cleanly() -> None:
    _bus, translator, lab, seen = _setup("rabbitmq")
    _deliver(translator, redelivered=False)
    lab.fates["worker1"] = "stopped"
    _deliver(translator, redelivered=True)
    assert [e.reason for e in seen if isinstance(e, ev.MessageRedelivered)] == [ev.CLEAN_CLOSE]


def test_a_reject_with_requeue_is_one_redelivery_not_two() -> None:
    _bus, translator, _lab, seen = _setup()
    _deliver(translator, redelivered=False)
    translator.handle({"type": "task-rejected", "uuid": TASK_ID, "hostname": HOST, "requeue": True})
    _settle(translator)  # no child reported the run closed here: the reject waits for the barrier
    _deliver(translator, redelivered=True)
    kinds = [e.kind for e in seen]
    assert kinds == ["received", "rejected", "redelivered", "received"]


def test_runs_are_numbered_across_workers_and_checkpoints_carry_the_run() -> None:
    _bus, translator, _lab, seen = _setup()
    for host in (HOST, "worker2@celery-tutor-0000abcd"):
        _deliver(translator, redelivered=False, host=host)
        translator.handle({"type": protocol.STARTED, "uuid": TASK_ID, "hostname": host, "retries": 0})
        translator.handle({"type": protocol.CHECKPOINT, "uuid": TASK_ID, "hostname": host, "checkpoint": "x"})
    runs = [(e.worker, e.run) for e in seen if isinstance(e, ev.TaskStarted)]
    assert runs == [("worker1", 1), ("worker2", 2)]
    assert [e.run for e in seen if isinstance(e, ev.CheckpointReached)] == [1, 2]


def test_the_ledger_counts_duplicates() -> None:
    _bus, translator, _lab, seen = _setup()
    for _ in range(2):
        translator.handle(
            {"type": protocol.LEDGER, "uuid": TASK_ID, "worker": "worker1", "action": "charge", "key": "order 42"}
        )
    counts = [e.count for e in seen if isinstance(e, ev.LedgerWritten)]
    assert counts == [1, 2]


def test_the_tutors_own_publish_is_not_reported_twice_but_a_retry_is() -> None:
    _bus, translator, _lab, seen = _setup()
    translator.published(TASK_ID)
    translator.handle({"type": "task-sent", "uuid": TASK_ID, "name": "charge_card", "retries": 0})
    translator.handle({"type": "task-sent", "uuid": TASK_ID, "name": "charge_card", "retries": 1})
    published = [e for e in seen if isinstance(e, ev.TaskPublished)]
    assert [(e.retries, e.by_retry, e.alias) for e in published] == [(1, True, "order")]


def test_a_failure_from_the_pool_names_the_real_exception() -> None:
    _bus, translator, _lab, seen = _setup()
    translator.handle(
        {
            "type": "task-failed",
            "uuid": TASK_ID,
            "hostname": HOST,
            "exception": "ExceptionWithTraceback()",
            "traceback": "Traceback…\nbilliard.exceptions.WorkerLostError: Worker exited prematurely: signal 9",
        }
    )
    _settle(translator)
    failed = seen[-1]
    assert isinstance(failed, ev.TaskFailed)
    assert (failed.exc_type, failed.exc_message) == ("WorkerLostError", "Worker exited prematurely: signal 9")


def test_lifecycle_events_go_to_the_lab() -> None:
    _bus, translator, lab, _seen = _setup()
    translator.handle({"type": protocol.READY, "hostname": HOST, "worker": "worker1"})
    translator.handle({"type": protocol.CRASH, "uuid": TASK_ID, "worker": "worker1", "checkpoint": "c", "plan": "p"})
    translator.handle({"type": "worker-offline", "hostname": HOST})
    translator.handle({"type": "worker-heartbeat", "hostname": HOST})
    assert lab.calls == [("ready", "worker1"), ("crash", ("worker1", "c", "p")), ("offline", "worker1")]


def test_exception_parts() -> None:
    assert exception_parts("ConnectionError('injected by the lab')") == ("ConnectionError", "injected by the lab")
    assert exception_parts("KeyError('a', 'b')") == ("KeyError", "a, b")
    assert exception_parts("weird") == ("weird", "")
    assert traceback_parts("  File x\n    raise\n") is None


def test_a_killed_worker_loses_a_task_it_acked_before_its_run_said_so() -> None:
    from celery_tutor.lab import LabConfig
    from celery_tutor.lab.real.real_lab import RealLab

    lab = RealLab(LabConfig(), "redis://127.0.0.1:1/0")  # never started: nothing connects
    lab.sync_events = lambda timeout=0.0: True  # type: ignore[method-assign]  # no broker to sync with
    seen: list[ev.LabEvent] = []
    lab.subscribe(seen.append)
    translator = lab._translator
    translator.handle({"type": protocol.READY, "worker": "worker1", "concurrency": 1, "prefetch": 1})
    for task_id, alias in (("t-acked", "early"), ("t-held", "held")):
        lab._bus.name_task(task_id, "generate_report", alias)
        translator.handle({"type": protocol.RECEIVED, "uuid": task_id, "worker": "worker1", "redelivered": False})
        translator.handle({"type": "task-received", "uuid": task_id, "name": "generate_report", "hostname": HOST})
    translator.handle({"type": protocol.ACKED, "uuid": "t-acked", "worker": "worker1"})
    lab._report_killed(lab._workers["worker1"], None)
    lost = [e for e in seen if isinstance(e, ev.TaskLost)]
    assert [(e.task_id, e.run) for e in lost] == [("t-acked", 0)]
    killed = seen[-1]
    assert isinstance(killed, ev.WorkerKilled) and (killed.lost, killed.kept) == (1, 1)
    assert lab.snapshot().task("t-acked").state == "LOST"


def _restore(translator: EventTranslator, host: str = HOST) -> None:
    translator.handle({"type": protocol.RESTORED, "uuid": TASK_ID, "hostname": host, "worker": "worker1"})


def test_a_scan_restore_is_reported_when_the_scan_runs_not_when_the_copy_arrives() -> None:
    _bus, translator, _lab, seen = _setup("redis")
    _deliver(translator, redelivered=False)
    _restore(translator)
    translator.handle({"type": protocol.SCANNED, "hostname": HOST, "worker": "worker1", "restored": 1, "next_in": 0.25})
    assert [e.kind for e in seen] == ["received", "redelivered", "restore_scan"]
    back, scan = seen[1], seen[2]
    assert isinstance(back, ev.MessageRedelivered) and (back.worker, back.reason) == ("worker1", ev.SCAN_RESTORE)
    assert isinstance(scan, ev.RestoreScan) and (scan.restored, scan.next_in) == (1, 0.25)
    _deliver(translator, redelivered=True)
    assert [e.kind for e in seen] == ["received", "redelivered", "restore_scan", "received"], "no second report"


def test_two_restored_copies_are_two_redeliveries_and_a_third_receipt_is_inferred() -> None:
    # Each restore puts one copy in the queue: each copy's receipt is already accounted for,
    # and a redelivered receipt no scan reported (a scan before the worker was ready) says so itself.
    _bus, translator, _lab, seen = _setup("redis")
    _deliver(translator, redelivered=False)
    _restore(translator)
    _restore(translator)
    for _ in range(3):
        _deliver(translator, redelivered=True)
    back = [e for e in seen if isinstance(e, ev.MessageRedelivered)]
    assert len(back) == 3 and {e.reason for e in back} == {ev.SCAN_RESTORE}
    assert [e.kind for e in seen].count("received") == 4


def test_a_time_limit_names_the_run_and_the_last_checkpoint_it_reached() -> None:
    """A prefork child is signalled between checkpoints: the report says which one it had passed last."""
    _bus, translator, _lab, seen = _setup()
    for run in (1, 2):
        _deliver(translator, redelivered=run == 2)
        translator.handle({"type": protocol.STARTED, "uuid": TASK_ID, "hostname": HOST})
        translator.handle({"type": protocol.CHECKPOINT, "uuid": TASK_ID, "hostname": HOST, "checkpoint": "reading"})
        if run == 2:
            translator.handle({"type": protocol.CHECKPOINT, "uuid": TASK_ID, "hostname": HOST, "checkpoint": "writing"})
        soft = run == 1
        translator.handle({"type": protocol.TIME_LIMIT, "uuid": TASK_ID, "hostname": HOST, "soft": soft, "limit": 0.5})
    limits = [e for e in seen if isinstance(e, ev.TimeLimitPassed)]
    assert [(type(e), e.run, e.checkpoint, e.limit) for e in limits] == [
        (ev.SoftTimeLimitHit, 1, "reading", 0.5),
        (ev.TimeLimitHit, 2, "writing", 0.5),
    ]


def test_a_cancel_and_a_soft_shutdown_reported_by_the_worker() -> None:
    _bus, translator, _lab, seen = _setup()
    translator.handle(
        {"type": protocol.SOFT_SHUTDOWN, "hostname": HOST, "worker": "worker1", "timeout": 0.5, "running": 1}
    )
    translator.handle(
        {
            "type": protocol.CANCELLED,
            "uuid": TASK_ID,
            "hostname": HOST,
            "worker": "worker1",
            "reason": "cold shutdown",
            "acks_late": True,
        }
    )
    soft, cancelled = seen
    assert isinstance(soft, ev.SoftShutdown) and (soft.worker, soft.timeout, soft.running) == ("worker1", 0.5, 1)
    assert isinstance(cancelled, ev.TaskCancelled)
    assert (cancelled.task, cancelled.reason, cancelled.acks_late) == ("charge_card", "cold shutdown", True)


SUBJECT_KINDS = [
    protocol.STARTED,
    protocol.CHECKPOINT,
    protocol.TIME_LIMIT,
    protocol.LEDGER,
    protocol.SKIPPED,
    protocol.RETRY,
    "task-succeeded",
    "task-failed",
    "task-rejected",
    protocol.ACKED,
    protocol.CHILD_KILLED,
    protocol.CANCELLED,
    protocol.RESTORED,
    protocol.SCANNED,
    protocol.SOFT_SHUTDOWN,
    protocol.RECONNECTED,
]


@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_every_event_names_its_task_from_the_bus_and_its_worker_from_the_hostname(kind: str) -> None:
    """A Celery event without a task name or a ``worker`` field still says which task and which worker."""
    _bus, translator, _lab, seen = _setup()
    translator.handle({"type": kind, "uuid": TASK_ID, "hostname": HOST, "requeue": True, "checkpoint": "c"})
    _settle(translator)
    assert seen, f"{kind} emitted nothing"
    for event in seen:
        if isinstance(event, ev.TaskEvent):
            assert (event.task_id, event.task) == (TASK_ID, "charge_card")
        if isinstance(event, ev.WorkerTaskEvent | ev.WorkerEvent) and not isinstance(event, ev.MessageRedelivered):
            assert event.worker == "worker1"


def test_a_failure_outside_the_pool_keeps_its_own_exception_and_a_wrapper_without_a_traceback_stays() -> None:
    traceback = "Traceback…\nbilliard.exceptions.WorkerLostError: gone"
    assert failure_parts("ValueError('bad')", traceback) == ("ValueError", "bad")
    assert failure_parts("ExceptionWithTraceback()", traceback) == ("WorkerLostError", "gone")
    assert failure_parts("ExceptionInfo()", "  File x\n") == ("ExceptionInfo", "")


def _succeed(translator: EventTranslator, started: bool) -> None:
    if started:  # the pool child's reports: the run's start, and its end once the outcome is stored
        translator.handle({"type": protocol.STARTED, "uuid": TASK_ID, "hostname": HOST})
        translator.handle(
            {"type": protocol.CHECKPOINT, "uuid": TASK_ID, "hostname": HOST, "checkpoint": "task_finished"}
        )
    translator.handle({"type": "task-succeeded", "uuid": TASK_ID, "hostname": HOST, "result": "'ch_7'"})
    _settle(translator)


def _settle(translator: EventTranslator) -> None:
    """A barrier: everything sent before it is in, so nothing held waits for more."""
    translator.handle({"type": protocol.BARRIER, "token": "settle"})


def test_a_redelivery_that_succeeds_without_a_start_is_a_skipped_run_when_workers_deduplicate() -> None:
    """Celery's tracer returns the stored SUCCESS before any prerun signal: no body, no started event."""
    _, translator, lab, seen = _setup("rabbitmq")
    lab.dedupe = True
    _deliver(translator, redelivered=False)
    _succeed(translator, started=True)
    _deliver(translator, redelivered=True)
    _succeed(translator, started=False)
    kinds = [e.kind for e in seen if e.kind in ("started", "succeeded", "run_skipped")]
    assert kinds == ["started", "succeeded", "run_skipped"]


def test_without_deduplication_or_redelivery_a_success_is_a_success() -> None:
    _, translator, lab, seen = _setup("rabbitmq")
    _deliver(translator, redelivered=True)
    _succeed(translator, started=False)  # its started event not in yet: still no skip without the setting
    lab.dedupe = True
    _deliver(translator, redelivered=False)
    _succeed(translator, started=False)  # a first delivery is never skipped
    assert [e.kind for e in seen if e.kind in ("succeeded", "run_skipped")] == ["succeeded", "succeeded"]
