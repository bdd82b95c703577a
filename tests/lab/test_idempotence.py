"""acks_late is at-least-once: a redelivered task runs its side effects again (reference §7.12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from celery_tutor.lab import Lab
    from conftest import EventLog, LabFactory

pytestmark = pytest.mark.lab


def redeliver_after_charge(make_lab: LabFactory, task: str) -> tuple[Lab, EventLog, str]:
    """Late acks; kill the worker right after the charge; let a new worker finish the job."""
    lab = make_lab({"task_acks_late": True})
    log = make_lab.events(lab)
    lab.crash_at("after_charge", task=task)
    task_id = lab.send(task, (7, 19.99))
    log.wait_event("worker_killed", checkpoint="after_charge")
    lab.restart_worker()
    view = make_lab.wait_for_task(lab, task_id)
    assert view.state == "SUCCESS"
    assert [r.redelivered for r in view.runs] == [False, True]
    assert lab.app.AsyncResult(task_id).state == "SUCCESS"
    log.wait_event("acked", task_id)
    return lab, log, task_id


def test_non_idempotent_charge_is_written_twice_under_redelivery(make_lab: LabFactory) -> None:
    lab, log, task_id = redeliver_after_charge(make_lab, "charge_card")

    ledger = lab.snapshot().ledger
    assert [(e.task_id, e.action, e.key, e.count, e.duplicate) for e in ledger] == [
        (task_id, "charge", "order 7", 1, False),
        (task_id, "charge", "order 7", 2, True),
    ]
    assert [e.duplicate for e in log.of("ledger", task_id)] == [False, True]
    assert not log.of("skipped", task_id)
    assert lab.app.AsyncResult(task_id).result == "ch_7"


def test_idempotent_charge_is_written_once_under_redelivery(make_lab: LabFactory) -> None:
    lab, log, task_id = redeliver_after_charge(make_lab, "charge_card_idempotent")

    (entry,) = lab.snapshot().ledger
    assert (entry.task_id, entry.action, entry.key, entry.duplicate) == (task_id, "charge", "order 7", False)
    (skipped,) = log.of("skipped", task_id)
    assert (skipped.action, skipped.key) == ("charge", "order 7")
    # The skip happened during the second (redelivered) run.
    second_start = log.of("started", task_id)[1]
    assert second_start.redelivered is True
    assert skipped.seq > second_start.seq
    assert lab.app.AsyncResult(task_id).result == "ch_7 (already charged)"
