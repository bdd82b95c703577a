"""Further Celery 5.7 behaviours the course relies on, each proven on the real worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import LabFactory

pytestmark = pytest.mark.lab

LATE = {"task_acks_late": True}
EXAMPLES = Path(__file__).parents[2] / "examples"


def test_acks_on_failure_false_rejects_without_requeue(make_lab: LabFactory) -> None:
    lab = make_lab({**LATE, "task_acks_on_failure_or_timeout": False})
    log = make_lab.events(lab)
    lab.fail_next("add", 1, "ValueError")
    task_id = lab.send("add", (1, 2))
    rejected = log.wait_event("rejected", task_id)
    assert rejected.requeue is False  # dropped (dead-lettered on RabbitMQ if configured), not redelivered
    make_lab.settle(lab)
    assert log.kinds(task_id, among={"started"}) == ["started"]
    assert not log.of("acked", task_id)
    assert not log.of("redelivered", task_id)
    assert lab.app.AsyncResult(task_id).state == "FAILURE"


def test_crash_after_success_is_stored_runs_the_body_again(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    lab.crash_at("task_finished", task="charge_card")
    task_id = lab.send("charge_card", (7, 5.0))
    log.wait_event("worker_killed")
    assert lab.app.AsyncResult(task_id).state == "SUCCESS"  # stored before the worker died
    lab.restart_worker()
    log.wait_event("acked", task_id)
    runs = make_lab.wait_for_task(lab, task_id).runs
    assert [run.redelivered for run in runs] == [False, True]
    assert [entry.count for entry in lab.snapshot().ledger] == [1, 2]  # charged twice


def test_deduplicate_successful_tasks_skips_that_redelivery(make_lab: LabFactory) -> None:
    lab = make_lab({**LATE, "worker_deduplicate_successful_tasks": True})
    log = make_lab.events(lab)
    lab.crash_at("task_finished", task="charge_card")
    task_id = lab.send("charge_card", (7, 5.0))
    log.wait_event("worker_killed")
    lab.restart_worker()
    log.wait_event("run_skipped", task_id)
    log.wait_event("acked", task_id)
    assert log.kinds(task_id, among={"started"}) == ["started"]  # the body ran once
    assert len(lab.snapshot().ledger) == 1


def test_deduplication_does_not_cover_a_crash_before_the_result_is_stored(make_lab: LabFactory) -> None:
    lab = make_lab({**LATE, "worker_deduplicate_successful_tasks": True})
    log = make_lab.events(lab)
    lab.crash_at("after_charge", task="charge_card")
    task_id = lab.send("charge_card", (8, 5.0))
    log.wait_event("worker_killed")
    lab.restart_worker()
    make_lab.wait_for_task(lab, task_id, {"SUCCESS"})
    assert not log.of("run_skipped", task_id)
    assert [entry.count for entry in lab.snapshot().ledger] == [1, 2]


def test_retry_on_worker_lost_retries_a_dead_child_within_max_retries(make_lab: LabFactory) -> None:
    lab = make_lab({"task_retry_on_worker_lost": True}, task_options={"charge_card": {"default_retry_delay": 0}})
    log = make_lab.events(lab)
    lab.kill_child_at("after_charge", task="charge_card")
    task_id = lab.send("charge_card", (9, 5.0))
    retry = log.wait_event("retry_scheduled", task_id)
    assert (retry.attempt, retry.max_retries, retry.exc_type) == (1, 3, "WorkerLostError")
    view = make_lab.wait_for_task(lab, task_id, {"SUCCESS"})
    assert [run.retries for run in view.runs] == [0, 1]


def test_retry_through_the_task_object_without_bind(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    lab.fail_next("notify_warehouse", 1)
    task_id = lab.send("notify_warehouse", (3,))
    retry = log.wait_event("retry_scheduled", task_id)
    assert (retry.attempt, retry.max_retries, retry.countdown) == (1, 5, 2.0)
    view = make_lab.wait_for_task(lab, task_id, {"SUCCESS"})
    assert [run.retries for run in view.runs] == [0, 1]


def test_default_retry_delay_is_180_seconds(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    lab.fail_next("sync_inventory", 1)
    task_id = lab.send("sync_inventory", ("SKU-9",))
    retry = log.wait_event("retry_scheduled", task_id)
    assert retry.countdown == 180.0
    scheduled = log.wait_event("received", task_id, count=2)  # may come before or after retry_scheduled
    assert 175.0 <= scheduled.eta_in <= 180.5  # the worker holds it, unacked, until then


def test_the_lab_never_writes_to_the_terminal() -> None:
    """Celery's loggers go to the lab's timeline, not to stderr (which a TUI draws on)."""
    result = subprocess.run(
        [sys.executable, "-m", "celery_tutor", "lab", "run", str(EXAMPLES / "child-kill.yaml"), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stderr == ""
    assert '"kind": "log"' in result.stdout  # Celery did log an error: it went to the timeline


def test_the_5_7_setting_acks_on_failure_false_also_rejects_without_requeue(make_lab: LabFactory) -> None:
    lab = make_lab({**LATE, "task_acks_on_failure": False})
    log = make_lab.events(lab)
    lab.fail_next("add", 1, "ValueError")
    task_id = lab.send("add", (1, 2))
    assert log.wait_event("rejected", task_id).requeue is False
    make_lab.settle(lab)
    assert not log.of("redelivered", task_id)
