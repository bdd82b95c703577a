"""Deploys on real lab workers: SIGTERM (warm, or cold with a soft shutdown), then SIGKILL after the grace.

``generate_report`` runs about 2 s; ``add`` sent after it waits in the worker, prefetched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from celery.exceptions import WorkerShutdown

from celery_tutor.lab import Lab, LabConfigError, LabStateError, jobs
from celery_tutor.lab.redis_server import find_server_binary
from celery_tutor.lab.runtime import RunContext, WorkerRuntime

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import EventLog, LabFactory

LATE = {"task_acks_late": True}

needs_redis = pytest.mark.skipif(find_server_binary() is None, reason="no Redis server binary")


def busy(lab: Lab, log: EventLog) -> tuple[str, str]:
    """A report running and an add waiting behind it in the worker; their ids."""
    report = lab.send("generate_report", (7,))
    waiting = lab.send("add", (2, 3))
    log.wait_event("started", report)
    log.wait_event("received", waiting)
    return report, waiting


def stopped_or_killed(log: EventLog) -> str:
    log.wait_for(lambda events: any(e.kind in ("worker_stopped", "worker_killed") for e in events))
    return next(e.kind for e in log.events if e.kind in ("worker_stopped", "worker_killed"))


# --- SIGTERM as Celery takes it by default: a warm shutdown ----------------------------------


def test_a_warm_shutdown_within_the_grace_finishes_the_task_and_gives_back_what_waited(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    report, waiting = busy(lab, log)
    lab.deploy(grace=30)
    signal = log.wait_event("sigterm")
    assert stopped_or_killed(log) == "worker_stopped"
    assert (signal.grace, signal.remap_sigterm) == (30, False)
    assert lab.snapshot().task(report).state == "SUCCESS"
    assert log.of("acked", report)  # the late ack went out before the connection closed
    assert [e.reason for e in log.of("redelivered", waiting)] == ["worker stopped"]
    assert not log.of("started", waiting) and not log.of("sigkill")
    assert lab.ready_in_broker() == [waiting]


def test_when_the_grace_ends_first_sigkill_loses_an_early_acked_task(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    report, waiting = busy(lab, log)
    lab.deploy(grace=0.2)
    assert stopped_or_killed(log) == "worker_killed"
    assert log.wait_event("sigkill").grace == 0.2
    assert lab.snapshot().task(report).state == "LOST"
    assert [e.reason for e in log.of("redelivered", waiting)] == ["worker died"]
    assert lab.worker_status("worker1") == "killed"


def test_when_the_grace_ends_first_a_late_acked_task_comes_back_and_runs_again(make_lab: LabFactory) -> None:
    lab = make_lab(LATE)
    log = make_lab.events(lab)
    report, _waiting = busy(lab, log)
    lab.deploy(grace=0.2)
    assert stopped_or_killed(log) == "worker_killed"
    assert [e.reason for e in log.of("redelivered", report)] == ["worker died"]
    lab.restart_worker()
    view = make_lab.wait_for_task(lab, report)
    assert view.state == "SUCCESS" and [r.outcome for r in view.runs] == ["died", "success"]
    assert view.runs[1].redelivered


# --- SIGTERM with REMAP_SIGTERM=SIGQUIT: a cold shutdown, soft shutdown first ----------------


def test_a_soft_shutdown_then_cancel_requeues_a_late_acked_task_cleanly_before_the_sigkill(
    make_lab: LabFactory,
) -> None:
    lab = make_lab({**LATE, "worker_soft_shutdown_timeout": 0.3})
    log = make_lab.events(lab)
    report, waiting = busy(lab, log)
    lab.deploy(grace=30, remap_sigterm=True)
    assert stopped_or_killed(log) == "worker_stopped"
    soft = log.wait_event("soft_shutdown")
    cancelled = log.wait_event("cancelled", report)
    assert (soft.timeout, soft.running) == (0.3, 1)
    assert (cancelled.reason, cancelled.acks_late) == ("cold shutdown", True)
    assert cancelled.at - soft.at >= 0.3
    # Back in the queue when the worker's connection closed: no SIGKILL, no loss.
    assert {e.task_id for e in log.of("redelivered")} == {report, waiting}
    assert not log.of("sigkill") and not log.of("lost")
    lab.restart_worker()
    view = make_lab.wait_for_task(lab, report)
    assert [r.outcome for r in view.runs] == ["cancelled", "success"]


def test_a_cancelled_run_reaches_no_more_checkpoints(make_lab: LabFactory) -> None:
    """Celery's cancel kills the prefork child at once (SIGTERM): the run reports no checkpoint after it.

    A real worker's child dies inside the task's sleep. The lab's thread unwinds at its next
    checkpoint, which it used to report first: a step the real run never reaches (it showed
    when the checkpoint came before the worker's cold shutdown had ended).
    """
    lab = make_lab()
    log = make_lab.events(lab)
    job = jobs.new_job("t-1", None, None, None)
    job.accept()
    job.terminate()  # what Request.cancel does through pool.terminate_job
    run = RunContext(worker=WorkerRuntime("worker1", lab), task_id="t-1", task="generate_report", run=1)
    jobs.bind(job)
    try:
        with pytest.raises(jobs.JobTerminated):
            lab.reached(run, "rendering")
    finally:
        jobs.bind(None)
    assert run.dead
    assert not log.of("checkpoint", "t-1")


def test_a_cold_shutdown_loses_an_early_acked_task_it_cancels(make_lab: LabFactory) -> None:
    lab = make_lab({"worker_soft_shutdown_timeout": 0.3})
    log = make_lab.events(lab)
    report, waiting = busy(lab, log)
    lab.deploy(grace=30, remap_sigterm=True)
    assert stopped_or_killed(log) == "worker_stopped"
    cancelled = log.wait_event("cancelled", report)
    assert not cancelled.acks_late and "LOST" in cancelled.describe()
    view = lab.snapshot().task(report)
    assert view.state == "LOST" and view.runs[0].outcome == "cancelled"
    assert not log.of("redelivered", report)
    assert [e.reason for e in log.of("redelivered", waiting)] == ["worker stopped"]
    assert lab.app.AsyncResult(report).state == "RETRY"  # what Celery stores for a cancelled task


def test_a_task_that_ends_within_the_soft_shutdown_is_not_cancelled_but_the_wait_is_whole(
    make_lab: LabFactory,
) -> None:
    lab = make_lab({**LATE, "worker_soft_shutdown_timeout": 1.5})
    log = make_lab.events(lab)
    task_id = lab.send("charge_card", (42, 9.99))  # about 0.5 s
    log.wait_event("started", task_id)
    lab.deploy(grace=30, remap_sigterm=True)
    assert stopped_or_killed(log) == "worker_stopped"
    signal = log.wait_event("sigterm")
    assert lab.snapshot().task(task_id).state == "SUCCESS" and log.of("acked", task_id)
    assert not log.of("cancelled")
    # Celery sleeps the whole worker_soft_shutdown_timeout when tasks were running.
    assert log.wait_event("worker_stopped").at - signal.at >= 1.5


def test_a_soft_shutdown_longer_than_the_grace_ends_in_sigkill(make_lab: LabFactory) -> None:
    lab = make_lab({**LATE, "worker_soft_shutdown_timeout": 10})
    log = make_lab.events(lab)
    report, _waiting = busy(lab, log)
    lab.deploy(grace=0.3, remap_sigterm=True)
    assert stopped_or_killed(log) == "worker_killed"
    log.wait_event("sigkill")
    assert not log.of("cancelled")
    assert [e.reason for e in log.of("redelivered", report)] == ["worker died"]


def test_an_idle_worker_skips_the_soft_shutdown_unless_told_to_wait_on_idle(make_lab: LabFactory) -> None:
    idle = make_lab({"worker_soft_shutdown_timeout": 1.0})
    idle_log = make_lab.events(idle)
    idle.deploy(grace=30, remap_sigterm=True)
    assert stopped_or_killed(idle_log) == "worker_stopped"
    assert not idle_log.of("soft_shutdown")

    waits = make_lab({"worker_soft_shutdown_timeout": 0.5, "worker_enable_soft_shutdown_on_idle": True})
    log = make_lab.events(waits)
    waits.deploy(grace=30, remap_sigterm=True)
    assert stopped_or_killed(log) == "worker_stopped"
    soft = log.wait_event("soft_shutdown")
    assert soft.running == 0 and log.wait_event("worker_stopped").at - soft.at >= 0.5


def test_deploy_is_checked(make_lab: LabFactory) -> None:
    lab = make_lab()
    with pytest.raises(LabConfigError, match="over the lab's limit of 600 seconds"):
        lab.deploy(grace=601)
    with pytest.raises(LabConfigError, match="unknown worker"):
        lab.deploy("worker7")
    with pytest.raises(LabConfigError, match="worker_soft_shutdown_timeout"):
        lab.configure(worker_soft_shutdown_timeout=-1)
    lab.deploy(grace=30)
    with pytest.raises(LabStateError):
        lab.deploy("worker1")  # it is stopping already


# --- Redis: what a SIGKILL leaves behind stays in Redis until a restore scan ------------------

RedisLab = Callable[..., Lab]


@pytest.fixture
def redis_lab(make_lab: LabFactory) -> RedisLab:
    def build(settings: dict[str, Any]) -> Lab:
        return make_lab(settings, broker="redis")

    return build


SCAN_SOON = {"visibility_timeout": 3, "unacked_restore_interval": 0.25, "unacked_restore_throttle": 1}
"""A scan every 0.25 s restores what is 3 s old: long after the deploys below end (even on a loaded machine)."""


@needs_redis
def test_on_redis_sigkill_gives_nothing_back_until_a_scan_but_a_cold_shutdown_does_at_once(
    redis_lab: RedisLab, make_lab: LabFactory
) -> None:
    killed = redis_lab({**LATE, "broker_transport_options": SCAN_SOON})
    log = make_lab.events(killed)
    report, _waiting = busy(killed, log)
    killed.deploy(grace=0.2)
    assert stopped_or_killed(log) == "worker_killed"
    assert not log.of("redelivered")  # Redis keeps them invisible
    killed.restart_worker()
    back = log.wait_event("redelivered", report)
    assert back.reason == "restored by the scan"

    clean = redis_lab({**LATE, "worker_soft_shutdown_timeout": 0.3, "broker_transport_options": SCAN_SOON})
    clean_log = make_lab.events(clean)
    report, _waiting = busy(clean, clean_log)
    clean.deploy(grace=30, remap_sigterm=True)
    assert stopped_or_killed(clean_log) == "worker_stopped"
    assert [e.reason for e in clean_log.of("redelivered", report)] == ["worker stopped"]


@needs_redis
def test_a_kill_that_meets_a_warm_shutdown_ends_the_worker_thread_without_an_uncaught_error(
    redis_lab: RedisLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deploy's SIGKILL can come while its warm shutdown is closing a Redis worker's event
    # loop: the loop runs the kill's request as it closes, inside Celery's stop().
    uncaught: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    lab = redis_lab(LATE)
    handle = lab._fleet.handles()[0]  # the worker itself: the test acts on its event loop
    worker = handle.worker

    def warm_shutdown_meets_a_kill() -> None:  # on the worker's loop, between two turns
        assert worker.request_cold_shutdown()  # queued for the loop's next turn, which never comes
        raise WorkerShutdown(0)  # what a SIGTERM raises there: Celery stops warm and closes the loop

    worker.hub.call_soon(warm_shutdown_meets_a_kill)
    handle.thread.join(10)
    assert not handle.thread.is_alive()
    assert [args.exc_type for args in uncaught] == []
