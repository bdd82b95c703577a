"""Claims the corrected lessons make about Celery 5.7, each proven on a real lab worker.

``task_retry_on_worker_lost`` (a real 5.7 setting, ``celery/app/defaults.py``; the task
attribute ``retry_on_worker_lost``) is handled in ``Request.on_failure`` before any
``acks_late`` branch, and ``Request._retry_worker_lost`` publishes the retry with
``countdown=task.default_retry_delay``: the capstone says it works with early acks too and
is spaced by ``default_retry_delay``. ``Task.retry`` raises ``MaxRetriesExceededError``
inside the task's ``except`` block, so the caught error stays in the stored traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import LabFactory

pytestmark = pytest.mark.lab

RETRY_ON_LOST = {"task_retry_on_worker_lost": True}


@pytest.mark.parametrize("acks_late", [False, True], ids=["early acks", "late acks"])
def test_retry_on_worker_lost_retries_a_dead_child_after_default_retry_delay(
    make_lab: LabFactory, acks_late: bool
) -> None:
    lab = make_lab(
        {**RETRY_ON_LOST, "task_acks_late": acks_late},
        task_options={"charge_card": {"default_retry_delay": 1.5}},
    )
    log = make_lab.events(lab)
    lab.kill_child_at("after_charge", task="charge_card")
    task_id = lab.send("charge_card", (42, 9.99))
    retry = log.wait_event("retry_scheduled", task_id)
    assert (retry.attempt, retry.exc_type, retry.countdown) == (1, "WorkerLostError", 1.5)
    view = make_lab.wait_for_task(lab, task_id, {"SUCCESS"})
    assert [run.retries for run in view.runs] == [0, 1]
    starts = log.of("started", task_id)
    assert starts[1].at - log.of("child_killed", task_id)[0].at >= 1.4  # it waited default_retry_delay
    # The dead run's message was settled with an ack in both modes, never a requeue.
    assert not log.of("rejected", task_id)
    assert not log.of("redelivered", task_id)
    assert len(log.of("acked", task_id)) == 2
    assert [entry.count for entry in lab.snapshot().ledger] == [1, 2]  # charged on both runs


def test_retry_on_worker_lost_stops_at_max_retries_with_a_failure(make_lab: LabFactory) -> None:
    lab = make_lab(RETRY_ON_LOST, task_options={"charge_card": {"default_retry_delay": 0, "max_retries": 1}})
    log = make_lab.events(lab)
    lab.kill_child_at("after_charge", task="charge_card")
    lab.kill_child_at("after_charge", task="charge_card")
    task_id = lab.send("charge_card", (42, 9.99))
    view = make_lab.wait_for_task(lab, task_id, {"FAILURE"})
    assert [run.retries for run in view.runs] == [0, 1]
    assert len(log.of("retry_scheduled", task_id)) == 1
    assert log.of("failed", task_id)[0].exc_type == "WorkerLostError"


def test_max_retries_exceeded_keeps_the_caught_error_in_its_traceback(make_lab: LabFactory) -> None:
    lab = make_lab(task_options={"sync_inventory": {"default_retry_delay": 0}})
    lab.fail_next("sync_inventory", 10, "ConnectionError")
    task_id = lab.send("sync_inventory", ("SKU-1",))
    make_lab.wait_for_task(lab, task_id, {"FAILURE"})
    result = lab.app.AsyncResult(task_id)
    assert type(result.result).__name__ == "MaxRetriesExceededError"  # the type changed…
    traceback = result.traceback or ""
    assert "ConnectionError: injected by the lab" in traceback  # …the caught error is still in it
    assert "During handling of the above exception, another exception occurred" in traceback
