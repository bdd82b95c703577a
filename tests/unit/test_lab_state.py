"""The lab state is a pure fold over events: check it with hand-made events."""

from __future__ import annotations

from itertools import count
from typing import Any

from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState

_seq = count(1)


def e(cls: type[ev.LabEvent], at: float = 0.0, **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=at, **fields)


def started_lab() -> LabState:
    state = LabState()
    state.apply(e(ev.WorkerStarted, worker="worker1", concurrency=1, prefetch_multiplier=4))
    return state


def test_a_message_moves_from_ready_to_unacked_to_running_to_done() -> None:
    state = started_lab()
    state.name_task("t1", "add", "sum")
    state.apply(e(ev.TaskPublished, task_id="t1", task="add"))
    assert [m.task_id for m in state.snapshot().ready] == ["t1"]
    state.apply(e(ev.TaskReceived, task_id="t1", task="add", worker="worker1", redelivered=False, retries=0))
    snap = state.snapshot()
    assert snap.ready == () and snap.worker("worker1").unacked == ("t1",)
    state.apply(
        e(ev.TaskStarted, at=1.0, task_id="t1", task="add", worker="worker1", run=1, redelivered=False, retries=0)
    )
    state.apply(e(ev.CheckpointReached, task_id="t1", task="add", worker="worker1", run=1, checkpoint="adding"))
    running = state.snapshot().worker("worker1").running
    assert [(task_id, run.checkpoint) for task_id, _, run in running] == [("t1", "adding")]
    state.apply(e(ev.TaskSucceeded, task_id="t1", task="add", worker="worker1", result="3"))
    state.apply(e(ev.MessageAcked, task_id="t1", task="add", worker="worker1"))
    snap = state.snapshot()
    view = snap.task("t1")
    assert view.state == "SUCCESS" and view.alias == "sum" and view.runs[0].outcome == "success"
    assert snap.worker("worker1").unacked == () and snap.worker("worker1").running == ()
    assert state.aliases == {"sum": "t1"}


def test_a_killed_worker_ends_its_runs_and_redelivered_messages_return_to_the_head() -> None:
    state = started_lab()
    for task_id in ("a", "b", "c"):
        state.apply(e(ev.TaskPublished, task_id=task_id, task="charge_card"))
    state.apply(e(ev.TaskReceived, task_id="a", task="charge_card", worker="worker1", redelivered=False, retries=0))
    state.apply(
        e(ev.TaskStarted, task_id="a", task="charge_card", worker="worker1", run=1, redelivered=False, retries=0)
    )
    state.apply(e(ev.TaskReceived, task_id="b", task="charge_card", worker="worker1", redelivered=False, retries=0))
    state.apply(e(ev.MessageRedelivered, task_id="b", task="charge_card", worker="worker1", reason="worker died"))
    state.apply(e(ev.TaskLost, task_id="a", task="charge_card", worker="worker1", run=1))
    state.apply(e(ev.WorkerKilled, worker="worker1", requeued=1, lost=1))
    snap = state.snapshot()
    assert [(m.task_id, m.redelivered) for m in snap.ready] == [("b", True), ("c", False)]
    assert snap.task("a").state == "LOST" and snap.task("a").runs[0].outcome == "lost"
    worker = snap.worker("worker1")
    assert worker.status == "killed" and worker.unacked == () and worker.running == ()


def test_a_retry_waits_in_the_worker_with_its_eta() -> None:
    state = started_lab()
    state.apply(e(ev.TaskPublished, task_id="r", task="fetch_exchange_rate"))
    state.apply(
        e(ev.TaskReceived, task_id="r", task="fetch_exchange_rate", worker="worker1", redelivered=False, retries=0)
    )
    state.apply(
        e(
            ev.TaskStarted,
            task_id="r",
            task="fetch_exchange_rate",
            worker="worker1",
            run=1,
            redelivered=False,
            retries=0,
        )
    )
    state.apply(
        e(ev.TaskPublished, at=2.0, task_id="r", task="fetch_exchange_rate", retries=1, eta_in=1.0, by_retry=True)
    )
    state.apply(
        e(
            ev.TaskReceived,
            at=2.0,
            task_id="r",
            task="fetch_exchange_rate",
            worker="worker1",
            redelivered=False,
            retries=1,
            eta_in=1.0,
        )
    )
    state.apply(
        e(
            ev.RetryScheduled,
            at=2.0,
            task_id="r",
            task="fetch_exchange_rate",
            worker="worker1",
            attempt=1,
            max_retries=3,
            countdown=1.0,
            eta_at=3.0,
            exc_type="ConnectionError",
            exc_message="boom",
        )
    )
    snap = state.snapshot()
    view = snap.task("r")
    assert view.state == "RETRY" and view.max_retries == 3 and view.retry_eta_at == 3.0
    assert view.runs[0].outcome == "retry"
    assert [(s.task_id, s.eta_at, s.retries) for s in snap.worker("worker1").scheduled] == [("r", 3.0, 1)]


def test_ledger_entries_know_their_duplicates_and_reset_forgets_everything() -> None:
    state = started_lab()
    for n in (1, 2):
        state.apply(
            e(
                ev.LedgerWritten,
                task_id="t",
                task="charge_card",
                action="charge",
                key="order 42",
                detail="$9.99",
                count=n,
            )
        )
    assert [entry.duplicate for entry in state.snapshot().ledger] == [False, True]
    assert state.ledger_count("charge", "order 42") == 2
    state.apply(e(ev.LabReset, at=5.0))
    snap = state.snapshot()
    assert snap.ledger == () and snap.tasks == () and snap.workers == () and snap.at == 5.0


def test_every_event_kind_describes_itself_and_serialises() -> None:
    samples: dict[str, Any] = {
        "task_id": "0123456789", "task": "add", "worker": "worker1", "redelivered": True, "retries": 1, "run": 2,
        "checkpoint": "x", "attempt": 1, "max_retries": 3, "countdown": 1.0, "eta_at": 2.0, "exc_type": "E",
        "exc_message": "m", "result": "3", "requeue": True, "reason": "worker died", "action": "charge", "key": "k",
        "detail": "d", "count": 2, "concurrency": 1, "prefetch_multiplier": 4, "requeued": 1, "lost": 1,
        "settings": {"task_acks_late": True}, "task_options": {"add": {"max_retries": 1}}, "complete": False,
        "description": "armed", "level": "ERROR", "logger": "celery",
        "message": "m", "restored": 1, "next_in": 10.0, "text": "printed", "seconds": 10.0,
        "limit": 1.0, "acks_late": True, "broker": "rabbitmq", "grace": 30.0, "timeout": 10.0, "running": 1,
    }  # fmt: skip
    for cls in ev.EVENT_TYPES:
        fields = {name: samples[name] for name in cls.__dataclass_fields__ if name in samples}
        event = cls(seq=1, at=0.5, **fields)
        assert event.describe()
        assert event.to_dict()["kind"] == cls.kind


def test_settings_and_task_options_are_folded_from_config_events() -> None:
    state = LabState()
    assert state.snapshot().seq == 0 and state.settings == {}
    state.apply(
        e(
            ev.ConfigChanged,
            settings={"task_acks_late": False, "worker_prefetch_multiplier": 4},
            task_options={"charge_card": {"max_retries": 3}},
            complete=True,
        )
    )
    state.apply(e(ev.ConfigChanged, settings={"task_acks_late": True}))
    state.apply(e(ev.ConfigChanged, task_options={"charge_card": {"retry_backoff": True}, "add": {"acks_late": True}}))
    snap = state.snapshot()
    assert snap.settings == {"task_acks_late": True, "worker_prefetch_multiplier": 4}
    assert snap.task_options == {"charge_card": {"max_retries": 3, "retry_backoff": True}, "add": {"acks_late": True}}
    assert snap.seq == state.seq > 0
    # A complete config replaces everything; a reset forgets it until the lab reports it again.
    state.apply(e(ev.ConfigChanged, settings={"task_acks_late": False}, complete=True))
    assert state.snapshot().settings == {"task_acks_late": False} and state.snapshot().task_options == {}
    reset = e(ev.LabReset)
    state.apply(reset)
    assert state.settings == {} and state.seq == reset.seq


def test_the_state_at_event_n_is_the_fold_of_the_first_n_events() -> None:
    events = [
        e(ev.ConfigChanged, settings={"task_acks_late": False}, complete=True),
        e(ev.WorkerStarted, worker="worker1", concurrency=1, prefetch_multiplier=4),
        e(ev.TaskPublished, task_id="t1", task="add", alias="sum"),
        e(ev.ConfigChanged, settings={"task_acks_late": True}),
        e(ev.TaskReceived, task_id="t1", task="add", worker="worker1", redelivered=False, retries=0),
        e(ev.LabReset, at=3.0),
        e(ev.ConfigChanged, at=3.0, settings={"task_acks_late": False}, complete=True),
    ]
    live = LabState()
    for n, event in enumerate(events, 1):
        live.apply(event)
        replayed = LabState()
        for earlier in events[:n]:
            replayed.apply(earlier)
        assert replayed.snapshot() == live.snapshot(), n


def test_tasks_are_found_by_alias_or_latest_name_and_retries_are_listed() -> None:
    state = started_lab()
    state.apply(e(ev.TaskPublished, task_id="a", task="add", alias="first"))
    state.apply(e(ev.TaskPublished, task_id="b", task="add"))
    first, latest = state.find("first"), state.find("add")
    assert first is not None and first.task_id == "a"
    assert latest is not None and latest.task_id == "b"
    assert state.find("charge_card") is None
    assert not state.has_retries() and state.snapshot().retries == ()
    state.apply(
        e(
            ev.RetryScheduled,
            task_id="b",
            task="add",
            worker="worker1",
            attempt=1,
            max_retries=3,
            countdown=1.0,
            eta_at=2.0,
            exc_type="E",
            exc_message="m",
        )
    )
    assert state.has_retries() and [view.task_id for view in state.snapshot().retries] == ["b"]


def test_a_complete_config_describes_only_what_differs_from_the_lab_defaults() -> None:
    defaults = e(ev.ConfigChanged, settings={"task_acks_late": False, "worker_concurrency": 1}, complete=True)
    assert defaults.describe() == "config: the lab defaults"
    late = e(
        ev.ConfigChanged,
        settings={"task_acks_late": True, "worker_concurrency": 1},
        task_options={"charge_card": {"max_retries": 5}},
        complete=True,
    )
    assert late.describe() == "config: task_acks_late=True; charge_card max_retries=5 (the rest: lab defaults)"
    change = e(ev.ConfigChanged, task_options={"send_receipt": {"retry_backoff": False}})
    assert change.describe() == "config: send_receipt retry_backoff=False"


def test_a_scan_restore_leaves_the_holders_run_going_and_queues_a_copy() -> None:
    state = started_lab()
    state.apply(e(ev.TaskPublished, task_id="v", task="generate_report"))
    state.apply(e(ev.TaskReceived, task_id="v", task="generate_report", worker="worker1", redelivered=False, retries=0))
    state.apply(
        e(ev.TaskStarted, task_id="v", task="generate_report", worker="worker1", run=1, redelivered=False, retries=0)
    )
    state.apply(
        e(ev.MessageRedelivered, 2.0, task_id="v", task="generate_report", worker="worker1", reason=ev.SCAN_RESTORE)
    )
    snap = state.snapshot()
    assert [(m.task_id, m.redelivered) for m in snap.ready] == [("v", True)]
    worker = snap.worker("worker1")
    assert [task_id for task_id, *_ in worker.running] == ["v"] and worker.unacked == ()
    assert snap.task("v").runs[0].outcome is None


def test_a_scan_restore_of_a_countdown_leaves_it_scheduled_on_its_holder() -> None:
    state = started_lab()
    state.apply(e(ev.TaskPublished, task_id="c", task="add", eta_in=5.0))
    state.apply(e(ev.TaskReceived, task_id="c", task="add", worker="worker1", redelivered=False, retries=0, eta_in=5.0))
    before = state.snapshot().worker("worker1").scheduled
    state.apply(
        e(ev.MessageRedelivered, 2.0, task_id="c", task="add", worker="worker1", reason=ev.SCAN_RESTORE, eta_in=3.0)
    )
    snap = state.snapshot()
    assert before and snap.worker("worker1").scheduled == before
    assert [(m.task_id, m.eta_at) for m in snap.ready] == [("c", 5.0)]


def test_a_dead_connection_ends_the_holders_run() -> None:
    state = started_lab()
    state.apply(e(ev.TaskPublished, task_id="d", task="generate_report"))
    state.apply(e(ev.TaskReceived, task_id="d", task="generate_report", worker="worker1", redelivered=False, retries=0))
    state.apply(
        e(ev.TaskStarted, task_id="d", task="generate_report", worker="worker1", run=1, redelivered=False, retries=0)
    )
    state.apply(e(ev.MessageRedelivered, task_id="d", task="generate_report", worker="worker1", reason="worker died"))
    snap = state.snapshot()
    assert snap.worker("worker1").running == () and snap.task("d").runs[0].outcome == "died"


def test_a_checkpoint_moves_the_run_of_the_worker_that_reached_it_when_two_copies_run() -> None:
    # On Redis a scan can hand a copy to a second worker while the first still runs it.
    state = started_lab()
    state.apply(e(ev.WorkerStarted, worker="worker2", concurrency=1, prefetch_multiplier=4))
    state.name_task("t1", "generate_report", None)
    for worker, run in (("worker1", 1), ("worker2", 2)):
        state.apply(
            e(
                ev.TaskStarted,
                task_id="t1",
                task="generate_report",
                worker=worker,
                run=run,
                redelivered=run > 1,
                retries=0,
            )
        )
    state.apply(
        e(ev.CheckpointReached, task_id="t1", task="generate_report", worker="worker1", run=1, checkpoint="rendered")
    )
    runs = state.snapshot().task("t1").runs
    assert [(r.worker, r.checkpoint) for r in runs] == [("worker1", "rendered"), ("worker2", None)]
    ((_, _, first),) = state.snapshot().worker("worker1").running
    assert first.checkpoint == "rendered"
    state.apply(e(ev.TaskSucceeded, task_id="t1", task="generate_report", worker="worker1", result="ok"))
    assert [r.outcome for r in state.snapshot().task("t1").runs] == ["success", None]


def test_a_run_of_learner_code_past_its_limit_ends_halted_and_the_workers_with_it() -> None:
    state = started_lab()
    state.apply(e(ev.WorkerStarted, worker="worker2", concurrency=1, prefetch_multiplier=4))
    for task_id, worker in (("t1", "worker1"), ("t2", "worker2")):
        state.apply(e(ev.TaskPublished, task_id=task_id, task="spin"))
        state.apply(e(ev.TaskReceived, task_id=task_id, task="spin", worker=worker, redelivered=False, retries=0))
        state.apply(e(ev.TaskStarted, task_id=task_id, task="spin", worker=worker, run=1, redelivered=False, retries=0))
    message = "task spin ran for more than 2 s without reaching a checkpoint"
    state.apply(e(ev.CodeTimedOut, task_id="t1", task="spin", worker="worker1", seconds=2.0, message=message))
    snap = state.snapshot()
    assert snap.task("t1").state == "HALTED" and snap.task("t1").exception == message
    assert snap.task("t1").runs[0].outcome == "timed out"
    assert snap.task("t2").runs[0].outcome == "halted"
    for name in ("worker1", "worker2"):
        worker = snap.worker(name)
        assert worker.status == "killed" and worker.running == () and worker.unacked == ()
