"""The example scripts behind the lessons on connection loss, time limits and deploys show what they say.

Each is what a learner runs with ``celery-tutor lab run examples/NAME.yaml`` to see a
lesson's claim again, or on the broker the lesson only talks about (Redis).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.experiment import Report, run_script
from celery_tutor.lab.redis_server import find_server_binary
from celery_tutor.lab.script import load_script

EXAMPLES = Path(__file__).parents[2] / "examples"

pytestmark = [
    pytest.mark.lab,
    # Celery warns, on a connection loss without the cancel setting, that its default will change in 6.0.
    pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning"),
]

needs_redis = pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary")


def run(name: str) -> Report:
    report = run_script(load_script(EXAMPLES / name))
    assert report.ok, report.failures
    return report


def of(report: Report, kind: str, task_id: str | None = None) -> list[Any]:
    return [e for e in report.events if e.kind == kind and task_id in (None, getattr(e, "task_id", None))]


def ledger(report: Report, action: str) -> list[str]:
    return [entry["key"] for entry in report.ledger if entry["action"] == action]


def test_a_soft_limit_below_the_hard_one_leaves_a_partial_file_and_success() -> None:
    report = run("soft-time-limit-cleanup.yaml")
    export = report.tasks["export"]
    assert (export.runs, export.state, export.result) == (1, "SUCCESS", "partial")
    assert ledger(report, "upload") == ["exports/7-partial.csv"]
    assert of(report, "soft_time_limit", export.task_id) and not of(report, "time_limit")


def test_with_early_acks_a_dropped_connection_loses_nothing_and_runs_nothing_twice() -> None:
    report = run("connection-loss-early-ack.yaml")
    order, waiting = report.tasks["order"], report.tasks["waiting"]
    assert (order.runs, order.redelivered, order.state) == (1, [False], "SUCCESS")
    assert (waiting.runs, waiting.redelivered, waiting.state) == (1, [True], "SUCCESS")
    assert [e.reason for e in of(report, "redelivered", waiting.task_id)] == [ev.CONNECTION_LOST]
    assert ledger(report, "charge") == ["order 42"]


def test_a_cancel_after_the_charge_leaves_two_charges() -> None:
    report = run("connection-loss-cancel-too-late.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.redelivered, order.state) == (2, [False, True], "SUCCESS")
    (cancelled,) = of(report, "cancelled", order.task_id)
    first_charge = next(e for e in report.events if e.kind == "ledger")
    assert first_charge.seq < cancelled.seq  # the charge came first: a cancel undoes nothing
    assert ledger(report, "charge") == ["order 42", "order 42"]


@needs_redis
def test_on_redis_a_deploy_s_sigkill_leaves_the_work_invisible_until_a_scan() -> None:
    report = run("redis-deploy-sigkill.yaml")
    task = report.tasks["report"]
    assert (task.runs, task.redelivered, task.state) == (2, [False, True], "SUCCESS")
    assert of(report, "sigkill") and of(report, "worker_killed")
    (back,) = of(report, "redelivered", task.task_id)
    assert back.reason == ev.SCAN_RESTORE
    killed = of(report, "worker_killed")[0]
    assert back.at - killed.at > 2  # nothing came back before the message was older than the 3 s timeout


@needs_redis
def test_on_redis_a_cold_shutdown_gives_the_work_back_at_once_without_sigkill() -> None:
    report = run("redis-deploy-cold-shutdown.yaml")
    task = report.tasks["report"]
    assert (task.runs, task.redelivered, task.state) == (2, [False, True], "SUCCESS")
    assert not of(report, "sigkill")
    assert [e.reason for e in of(report, "cancelled", task.task_id)] == ["cold shutdown"]
    assert [e.reason for e in of(report, "redelivered", task.task_id)] == [ev.CLEAN_CLOSE]


@needs_redis
def test_on_redis_in_reach_kombu_s_clean_up_gives_the_message_back_and_it_runs_twice() -> None:
    report = run("redis-connection-loss.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.redelivered, order.state) == (2, [False, True], "SUCCESS")
    (lost,) = of(report, "connection_lost")
    assert (lost.broker, lost.requeued, lost.noticed) == ("redis", 0, True)  # Redis itself gave nothing back
    assert [e.reason for e in of(report, "redelivered", order.task_id)] == [ev.CONNECTION_LOST]
    assert ledger(report, "charge") == ["order 42", "order 42"]


@needs_redis
def test_on_redis_remote_control_notices_a_drop_with_the_prefetch_full_and_the_task_runs_twice() -> None:
    report = run("redis-connection-loss-remote-control.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.redelivered, order.state) == (2, [False, True], "SUCCESS")
    (lost,) = of(report, "connection_lost")
    assert lost.noticed and of(report, "reconnected")
    assert ledger(report, "charge") == ["order 42", "order 42"]


@needs_redis
def test_on_redis_a_worker_not_reading_does_not_notice_and_the_task_runs_once() -> None:
    report = run("redis-connection-loss-prefetch-full.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.redelivered, order.state) == (1, [False], "SUCCESS")
    (lost,) = of(report, "connection_lost")
    assert not lost.noticed and not of(report, "reconnected") and not of(report, "redelivered")
    assert ledger(report, "charge") == ["order 42"]


def test_with_two_workers_a_crash_s_late_ack_message_runs_again_at_once_on_the_other() -> None:
    report = run("two-workers-late-ack-crash.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.redelivered, order.state) == (2, [False, True], "SUCCESS")
    started = of(report, "started", order.task_id)
    (killed,) = of(report, "worker_killed")
    assert started[0].worker == killed.worker and started[1].worker != killed.worker
    (back,) = of(report, "redelivered", order.task_id)
    assert back.reason == ev.CONNECTION_DIED
    assert ledger(report, "charge") == ["order 42", "order 42"]


@needs_redis
def test_on_redis_a_living_idle_worker_gets_the_dead_one_s_message_only_from_its_scan() -> None:
    report = run("redis-two-workers-late-ack-crash.yaml")
    order = report.tasks["order"]
    assert (order.runs, order.redelivered, order.state) == (2, [False, True], "SUCCESS")
    (killed,) = of(report, "worker_killed")
    (back,) = of(report, "redelivered", order.task_id)
    assert back.reason == ev.SCAN_RESTORE
    assert back.at - killed.at > 1  # nothing came back before the message was older than the 2 s timeout
    second = of(report, "started", order.task_id)[1]
    assert second.worker != killed.worker
    assert ledger(report, "charge") == ["order 42", "order 42"]
