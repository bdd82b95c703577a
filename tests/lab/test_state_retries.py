"""The retry countdown's number, limit and wait come from one event (issue #8).

Celery publishes a retry message before it reports the retry, so between the two events
the fold once paired the previous retry's number with this retry's wait ("retry 2 of 4
in 4.0s" where 4 s was retry 3's wait).
"""

from __future__ import annotations

from itertools import count
from typing import Any

from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState
from celery_tutor.lab.views import LabSnapshot

_seq = count(1)


def e(cls: type[ev.LabEvent], at: float = 0.0, **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=at, **fields)


def run_and_fail(state: LabState, at: float, run: int, retries: int, wait: float) -> LabSnapshot:
    """One run of send_receipt that fails and asks for retry ``retries + 1`` in ``wait`` seconds.

    Returns the snapshot between the retry message and the retry report.
    """
    common = {"task_id": "r", "task": "send_receipt"}
    state.apply(e(ev.TaskStarted, at, **common, worker="worker1", run=run, redelivered=False, retries=retries))
    # Celery's order: the retry message first, then the retry signal.
    state.apply(e(ev.TaskPublished, at, **common, retries=retries + 1, eta_in=wait, by_retry=True))
    between = state.snapshot()
    state.apply(
        e(
            ev.RetryScheduled,
            at,
            **common,
            worker="worker1",
            attempt=retries + 1,
            max_retries=4,
            countdown=wait,
            eta_at=at + wait,
            exc_type="ConnectionError",
            exc_message="down",
        )
    )
    return between


def rows(snapshot: LabSnapshot, now: float) -> list[tuple[int | None, float | None]]:
    """(retry number, seconds left) of every retry countdown the panel would draw."""
    return [(v.retry_attempt, v.retry_eta_at - now if v.retry_eta_at is not None else None) for v in snapshot.retries]


def test_between_the_retry_message_and_the_retry_report_no_row_mixes_two_retries() -> None:
    state = LabState()
    state.apply(e(ev.WorkerStarted, worker="worker1", concurrency=1, prefetch_multiplier=4))
    state.apply(e(ev.TaskPublished, task_id="r", task="send_receipt"))
    waits = {1: 1.0, 2: 2.0, 3: 4.0}
    at = 0.0
    for retry, wait in waits.items():
        between = run_and_fail(state, at, run=retry, retries=retry - 1, wait=wait)
        for number, left in rows(between, at):
            assert (number, left) == (retry, wait), f"retry {number} shown with retry {retry}'s wait {left}s"
        assert rows(state.snapshot(), at) == [(retry, wait)]
        view = state.snapshot().task("r")
        assert view.max_retries == 4 and view.state == "RETRY"
        at += wait
