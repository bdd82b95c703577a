"""The example scripts of the production faults show what their descriptions say (``lab run``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.experiment import Report, run_script
from celery_tutor.lab.redis_server import find_server_binary
from celery_tutor.lab.script import load_script

EXAMPLES = Path(__file__).parents[2] / "examples"

# Celery warns, on a connection loss without the cancel setting, that its default will change in 6.0.
pytestmark = pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning")


def run(name: str) -> Report:
    report = run_script(load_script(EXAMPLES / name))
    assert report.ok, report.failures
    return report


def kinds(report: Report, task_id: str) -> list[str]:
    return [e.kind for e in report.events if getattr(e, "task_id", None) == task_id]


def charges(report: Report) -> int:
    return sum(1 for entry in report.ledger if entry["action"] == "charge")


def test_a_dropped_connection_runs_a_late_ack_task_twice() -> None:
    report = run("connection-loss-late-ack.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.redelivered, order.state) == (2, [False, True], "SUCCESS")
    assert charges(report) == 2
    assert any("Couldn't ack" in getattr(e, "message", "") for e in report.events)


def test_cancelling_on_connection_loss_leaves_one_charge() -> None:
    report = run("connection-loss-cancel.yaml")
    order = report.tasks["order"]
    assert order.state == "SUCCESS" and order.redelivered[-1]
    assert "cancelled" in kinds(report, order.task_id) and charges(report) == 1


@pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary")
def test_on_redis_out_of_reach_the_late_ack_lands_and_the_task_runs_once() -> None:
    report = run("redis-connection-loss-outage.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.state) == (1, "SUCCESS") and charges(report) == 1
    assert "redelivered" not in kinds(report, order.task_id)


def test_a_task_that_always_times_out_is_requeued_again_and_again() -> None:
    report = run("time-limit-loop.yaml")
    task = report.tasks["report"]
    assert task.runs >= 3 and task.redelivered[:3] == [False, True, True]
    assert task.state == "FAILURE" and task.exception is not None and "TimeLimitExceeded" in task.exception


def test_a_soft_time_limit_fails_the_task_from_inside() -> None:
    report = run("soft-time-limit.yaml")
    task = report.tasks["report"]
    assert (task.runs, task.state) == (1, "FAILURE")
    assert task.exception is not None and task.exception.startswith("SoftTimeLimitExceeded")
    assert report.ledger == []


def test_a_grace_period_too_short_loses_the_early_acked_task() -> None:
    report = run("deploy-sigkill.yaml")
    assert report.tasks["report"].observed == "LOST"
    waiting = report.tasks["waiting"]
    assert (waiting.runs, waiting.redelivered, waiting.state) == (1, [True], "SUCCESS")
    assert [e.kind for e in report.events].count("sigkill") == 1


def test_a_soft_shutdown_requeues_the_late_acked_task_before_the_sigkill() -> None:
    report = run("deploy-soft-shutdown.yaml")
    task = report.tasks["report"]
    assert (task.runs, task.redelivered, task.state) == (2, [False, True], "SUCCESS")
    all_kinds = [e.kind for e in report.events]
    assert "soft_shutdown" in all_kinds and "cancelled" in all_kinds and "sigkill" not in all_kinds


# --- the examples the real-broker comparison added (tests/real/test_compare.py) ---------------


def test_a_warm_deploy_within_the_grace_finishes_the_task_and_gives_back_what_waited() -> None:
    report = run("deploy-warm.yaml")
    report_task, waiting = report.tasks["report"], report.tasks["waiting"]
    assert (report_task.runs, report_task.state) == (1, "SUCCESS")
    assert (waiting.runs, waiting.redelivered, waiting.state) == (1, [True], "SUCCESS")
    assert not any(e.kind in ("sigkill", "worker_killed", "cancelled") for e in report.events)


def test_a_cold_deploy_without_soft_shutdown_loses_the_early_acked_task_it_cancels() -> None:
    report = run("deploy-cold-no-soft-shutdown.yaml")
    report_task, waiting = report.tasks["report"], report.tasks["waiting"]
    assert (report_task.runs, report_task.observed, report_task.state) == (1, "LOST", "RETRY")
    assert (waiting.runs, waiting.redelivered, waiting.state) == (1, [True], "SUCCESS")
    assert not any(e.kind in ("soft_shutdown", "sigkill") for e in report.events)


def test_a_late_ack_failure_without_acks_on_failure_is_rejected_and_dropped() -> None:
    report = run("late-ack-failure-dropped.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.state) == (1, "FAILURE")
    rejected = [e for e in report.events if e.kind == "rejected"]
    assert [e.requeue for e in rejected] == [False]
    assert not any(e.kind in ("acked", "redelivered") for e in report.events)


def test_retry_on_worker_lost_retries_a_task_whose_child_died() -> None:
    report = run("child-kill-retry.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.retries, order.redelivered, order.state) == (2, [0, 1], [False, False], "SUCCESS")
    assert charges(report) == 2


@pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary")
def test_on_redis_a_prefetched_message_of_a_crashed_worker_comes_back_after_a_scan() -> None:
    report = run("redis-prefetch-crash.yaml")
    tasks = report.tasks
    assert (tasks["report1"].observed, tasks["report1"].runs) == ("LOST", 1)
    assert (tasks["report2"].redelivered, tasks["report2"].state) == ([True], "SUCCESS")
    assert (tasks["report3"].redelivered, tasks["report3"].state) == ([False], "SUCCESS")
    back = [e for e in report.events if e.kind == "redelivered"]
    assert [e.reason for e in back] == [ev.SCAN_RESTORE], [e.describe() for e in back]
