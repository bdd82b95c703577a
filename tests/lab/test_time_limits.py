"""Time limits on real lab workers: soft and hard, as settings and as task options.

The lab's threads cannot be signalled, so a limit takes effect at the first checkpoint
after it passes. ``generate_report`` reaches 'querying' at once, 'rendering' about 1 s
later and 'uploading' 1 s after that: a limit of 0.3 s is enforced at 'rendering',
however loaded the machine is (a slower run only passes the limit by more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from celery_tutor.lab import Lab, LabConfigError

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

LATE = {"task_acks_late": True}


def report_with(**options: float) -> dict[str, dict[str, float]]:
    return {"generate_report": dict(options)}


def logged(make_lab: LabFactory, lab: Lab, text: str) -> list[str]:
    return [e.message for e in make_lab.events(lab).of("log") if text in e.message]


def test_a_soft_time_limit_raises_soft_time_limit_exceeded_inside_the_task_at_its_next_checkpoint(
    make_lab: LabFactory,
) -> None:
    lab = make_lab(task_options=report_with(soft_time_limit=0.3))
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", (7,))
    view = make_lab.wait_for_task(lab, task_id)
    soft = log.wait_event("soft_time_limit", task_id)
    assert (soft.checkpoint, soft.limit, soft.run) == ("rendering", 0.3, 1)
    assert view.state == "FAILURE" and view.exception is not None
    assert view.exception.startswith("SoftTimeLimitExceeded"), view.exception
    assert lab.app.AsyncResult(task_id).state == "FAILURE"
    # Raised inside the body: it stopped there (no upload), and Celery's own on_timeout logged it.
    assert lab.snapshot().ledger == ()
    assert logged(make_lab, lab, "Soft time limit (0.3s) exceeded for generate_report")
    assert "checkpoint" in soft.describe()


def test_an_uncaught_soft_time_limit_is_an_ordinary_failure_even_with_acks_on_failure_or_timeout_false(
    make_lab: LabFactory,
) -> None:
    # SoftTimeLimitExceeded is an Exception raised in the task: Celery's failure path, not its timeout path.
    lab = make_lab({**LATE, "task_acks_on_failure_or_timeout": False}, report_with(soft_time_limit=0.3))
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", (7,))
    log.wait_event("rejected", task_id)
    make_lab.settle(lab)
    assert log.of("rejected", task_id, requeue=False), log.timeline()
    assert not log.of("redelivered", task_id) and len(log.of("started", task_id)) == 1


def test_task_soft_time_limit_applies_to_every_task(make_lab: LabFactory) -> None:
    lab = make_lab({"task_soft_time_limit": 0.3})
    log = make_lab.events(lab)
    task_id = lab.send("charge_card", (42, 9.99))
    view = make_lab.wait_for_task(lab, task_id)
    assert log.wait_event("soft_time_limit", task_id).checkpoint == "after_charge"
    assert view.state == "FAILURE"
    assert lab.snapshot().ledger[0].key == "order 42"  # the limit passed during the charge: enforced after it


def test_a_hard_time_limit_kills_the_run_and_celery_records_time_limit_exceeded(make_lab: LabFactory) -> None:
    lab = make_lab(task_options=report_with(time_limit=0.3))
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", (7,))
    hard = log.wait_event("time_limit", task_id)
    view = make_lab.wait_for_task(lab, task_id)
    make_lab.settle(lab)
    assert (hard.checkpoint, hard.limit) == ("rendering", 0.3)
    assert view.state == "FAILURE" and view.exception is not None and "TimeLimitExceeded" in view.exception
    assert view.runs[0].outcome == "time limit"
    assert lab.app.AsyncResult(task_id).state == "FAILURE"
    assert logged(make_lab, lab, "Hard time limit (0.3s) exceeded for generate_report")
    # Killed: no soft exception inside it, nothing after 'rendering', no second run (early ack).
    assert not log.of("soft_time_limit", task_id) and lab.snapshot().ledger == ()
    checkpoints = [e.checkpoint for e in log.of("checkpoint", task_id)]
    assert checkpoints == ["querying", "rendering"]
    assert len(log.of("started", task_id)) == 1


def test_a_late_ack_task_that_hits_its_hard_limit_is_acked_by_default(make_lab: LabFactory) -> None:
    lab = make_lab(LATE, report_with(time_limit=0.3))
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", (7,))
    log.wait_event("acked", task_id)
    make_lab.settle(lab)
    kinds = log.kinds(task_id, among=("time_limit", "acked", "rejected", "redelivered", "started"))
    assert kinds == ["started", "time_limit", "acked"]


def test_with_acks_on_failure_or_timeout_false_a_task_that_always_times_out_is_requeued_forever(
    make_lab: LabFactory,
) -> None:
    lab = make_lab({**LATE, "task_acks_on_failure_or_timeout": False}, report_with(time_limit=0.3))
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", (7,))
    third = log.wait_event("started", task_id, count=3)
    assert third.redelivered and third.run == 3
    hits = log.of("time_limit", task_id)
    assert len(hits) >= 2
    # Each kill: Celery's Request.on_failure rejects with requeue, the broker redelivers.
    assert len(log.of("rejected", task_id, requeue=True)) >= 2
    assert all(e.reason == "rejected, requeue=True" for e in log.of("redelivered", task_id))
    assert not log.of("acked", task_id)


def test_the_task_option_beats_the_setting_and_a_limit_not_reached_changes_nothing(make_lab: LabFactory) -> None:
    lab = make_lab({"task_time_limit": 0.3}, report_with(time_limit=30))
    log = make_lab.events(lab)
    report = lab.send("generate_report", (7,))
    assert make_lab.wait_for_task(lab, report).state == "SUCCESS"
    add = lab.send("add", (2, 3))  # the setting's limit holds for it, but add is done at once
    assert make_lab.wait_for_task(lab, add).state == "SUCCESS"
    assert not log.of("time_limit") and not log.of("soft_time_limit")


def test_time_limits_are_checked_before_they_are_used(make_lab: LabFactory) -> None:
    lab = make_lab(start=False)
    with pytest.raises(LabConfigError, match="over the lab's limit of 3600 seconds"):
        lab.configure(task_time_limit=1e9)
    with pytest.raises(LabConfigError, match="time_limit"):
        lab.set_task_options("add", time_limit=-1)
    lab.set_task_options("add", time_limit=None)  # None: no limit, as in Celery
