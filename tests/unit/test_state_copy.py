"""A copy of the lab state is equal to it and independent of it: time travel keeps them as checkpoints."""

from __future__ import annotations

from itertools import count
from typing import Any

from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState

W = "worker1"
_seq = count(1)


def e(cls: type[ev.LabEvent], at: float = 0.0, **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=at, **fields)


def mid_run() -> LabState:
    """A charge running (at a checkpoint), one message waiting, a ledger line, task options set."""
    state = LabState()
    state.apply(e(ev.ConfigChanged, settings={"task_acks_late": True}, task_options={"add": {"x": 1}}, complete=True))
    state.apply(e(ev.WorkerStarted, worker=W, concurrency=1, prefetch_multiplier=4))
    state.apply(e(ev.TaskPublished, 0.1, task_id="t1", task="charge_card", alias="order"))
    state.apply(e(ev.TaskPublished, 0.1, task_id="t2", task="add"))
    state.apply(e(ev.TaskReceived, 0.2, task_id="t1", task="charge_card", worker=W, redelivered=False, retries=0))
    state.apply(e(ev.TaskStarted, 0.2, task_id="t1", task="charge_card", worker=W, run=1, redelivered=False, retries=0))
    state.apply(e(ev.CheckpointReached, 0.3, task_id="t1", task="charge_card", worker=W, run=1, checkpoint="before"))
    state.apply(
        e(ev.LedgerWritten, 0.4, task_id="t1", task="charge_card", action="charge", key="o 42", detail="$1", count=1)
    )
    return state


def test_a_copy_is_equal_to_its_original() -> None:
    state = mid_run()
    twin = state.copy()
    assert twin.snapshot() == state.snapshot()
    assert twin.aliases == state.aliases and twin.seq == state.seq and twin.at == state.at


def test_folding_into_the_copy_leaves_the_original_as_it_was() -> None:
    state = mid_run()
    before = state.snapshot()
    twin = state.copy()
    twin.apply(e(ev.CheckpointReached, 0.5, task_id="t1", task="charge_card", worker=W, run=1, checkpoint="after"))
    twin.apply(e(ev.ConfigChanged, settings={"task_acks_late": False}, task_options={"add": {"x": 2}}))
    twin.apply(e(ev.WorkerKilled, 0.6, worker=W, requeued=1, lost=0))
    twin.apply(e(ev.TaskPublished, 0.7, task_id="t3", task="add", alias="later"))
    assert state.snapshot() == before
    assert state.task_options["add"] == {"x": 1} and "later" not in state.aliases
    assert twin.snapshot().task("t1").runs[0].outcome == "died"


def test_folding_into_the_original_leaves_the_copy_as_it_was() -> None:
    state = mid_run()
    twin = state.copy()
    kept = twin.snapshot()
    state.apply(e(ev.CheckpointReached, 0.5, task_id="t1", task="charge_card", worker=W, run=1, checkpoint="after"))
    state.apply(e(ev.TaskSucceeded, 0.6, task_id="t1", task="charge_card", worker=W, result="1"))
    assert twin.snapshot() == kept


def test_in_the_copy_a_running_run_is_still_one_record_for_the_worker_and_the_task() -> None:
    twin = mid_run().copy()
    twin.apply(e(ev.CheckpointReached, 0.5, task_id="t1", task="charge_card", worker=W, run=1, checkpoint="after"))
    snap = twin.snapshot()
    (_, _, running), *_ = snap.worker(W).running
    assert running.checkpoint == "after" and snap.task("t1").runs[0].checkpoint == "after"


def test_a_copy_folds_on_to_the_same_state_as_the_original() -> None:
    state = mid_run()
    twin = state.copy()
    rest = [
        e(ev.TaskSucceeded, 0.6, task_id="t1", task="charge_card", worker=W, result="1"),
        e(ev.MessageAcked, 0.6, task_id="t1", task="charge_card", worker=W),
        e(ev.TaskReceived, 0.7, task_id="t2", task="add", worker=W, redelivered=False, retries=0),
    ]
    for event in rest:
        state.apply(event)
        twin.apply(event)
    assert twin.snapshot() == state.snapshot()
