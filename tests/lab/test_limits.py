"""The lab itself refuses counts and durations over its limits, whoever calls it (not only scripts)."""

from __future__ import annotations

import threading
import time
import tracemalloc
from typing import TYPE_CHECKING

import pytest

from celery_tutor.lab import Lab, LabConfig, LabConfigError
from celery_tutor.lab.actions import FailNext, Send, Until, Wait
from celery_tutor.lab.limits import MAX_COUNT, MAX_COUNTDOWN
from celery_tutor.lab.runner import ScriptRunner
from celery_tutor.yaml_source import Pos

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

pytestmark = pytest.mark.lab

HERE = Pos(7, 3)


def test_send_many_refuses_a_huge_count_before_publishing_anything(make_lab: LabFactory) -> None:
    lab = make_lab(start=False)
    started = time.perf_counter()
    with pytest.raises(LabConfigError, match=r"^count: 100000000 is over the lab's limit of 10000 messages$"):
        lab.send_many("add", 100_000_000, (1, 2), alias="x")
    assert time.perf_counter() - started < 1.0
    with pytest.raises(LabConfigError, match=r"^count: expected a whole number ≥ 1, got 0$"):
        lab.send_many("add", 0)
    assert lab.ready_in_broker() == []
    assert lab.snapshot().tasks == ()


def test_fail_next_refuses_a_huge_count_and_queues_the_limit_without_expanding_it(make_lab: LabFactory) -> None:
    lab = make_lab(start=False)
    with pytest.raises(LabConfigError, match=r"^times: 100000000 is over the lab's limit of 10000 runs$"):
        lab.fail_next("add", 100_000_000)
    tracemalloc.start()
    try:
        lab.fail_next("add", MAX_COUNT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000  # bytes: one queue entry, not ten thousand
    armed = make_lab.events(lab).of("fault_armed")
    assert [e.description for e in armed] == [f"the next {MAX_COUNT} run(s) of add raise ConnectionError"]


def test_queued_failures_are_used_up_one_run_at_a_time(make_lab: LabFactory) -> None:
    lab = make_lab(task_options={"fetch_exchange_rate": {"max_retries": 3}})
    lab.fail_next("fetch_exchange_rate", 2, "TimeoutError")
    lab.fail_next("fetch_exchange_rate", 1, "ConnectionError")
    task_id = lab.send("fetch_exchange_rate", ("EUR",), alias="rate")
    assert make_lab.wait_for_task(lab, task_id, timeout=20).state == "SUCCESS"
    retries = make_lab.events(lab).of("retry_scheduled", task_id)
    assert [e.exc_type for e in retries] == ["TimeoutError", "TimeoutError", "ConnectionError"]
    assert len(make_lab.events(lab).of("started", task_id)) == 4


@pytest.mark.parametrize("countdown", [1.0e12, MAX_COUNTDOWN + 1, float("nan"), float("inf"), -1])
def test_send_refuses_a_countdown_out_of_range_instead_of_overflowing(make_lab: LabFactory, countdown: float) -> None:
    lab = make_lab(start=False)
    with pytest.raises(LabConfigError, match=r"^countdown: "):
        lab.send("add", (1, 2), countdown=countdown)
    assert lab.ready_in_broker() == []


def test_a_countdown_at_the_limit_is_held_by_the_worker(make_lab: LabFactory) -> None:
    lab = make_lab()
    task_id = lab.send("add", (1, 2), countdown=MAX_COUNTDOWN)
    received = make_lab.events(lab).wait_event("received", task_id)
    assert received.eta_in == pytest.approx(MAX_COUNTDOWN, abs=60)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (LabConfig(settings={"worker_concurrency": 1_000_000}), "1000000 is over the lab's limit of 16 threads"),
        (LabConfig(settings={"worker_prefetch_multiplier": 65}), "65 is over the lab's limit of 64 messages per slot"),
        (LabConfig(task_options={"add": {"default_retry_delay": 1e12}}), "over the lab's limit of 86400 seconds"),
        (LabConfig(workers=5), "workers: expected 1 to 4, got 5"),
    ],
)
def test_a_lab_refuses_settings_over_the_limits(config: LabConfig, message: str) -> None:
    with pytest.raises(LabConfigError, match=message):
        Lab(config)


def test_changing_a_setting_over_a_limit_changes_nothing(make_lab: LabFactory) -> None:
    lab = make_lab()
    with pytest.raises(LabConfigError, match="worker_concurrency: 17 is over the lab's limit of 16 threads"):
        lab.configure(worker_concurrency=17)
    with pytest.raises(LabConfigError, match="retry_backoff_max: 100000000 is over the lab's limit"):
        lab.set_task_options("send_receipt", retry_backoff_max=100_000_000)
    changes = [e for e in make_lab.events(lab).of("config_changed") if not e.complete]
    assert changes == []  # only the start's full config was reported
    assert lab.snapshot().settings["worker_concurrency"] == 1


@pytest.mark.parametrize(
    ("wait", "message"),
    [
        (Wait(HERE, seconds=1e10), "line 7: wait: seconds: 10000000000.0 is over the lab's limit of 600 seconds"),
        (Wait(HERE, seconds=1_000_000), "line 7: wait: seconds: 1000000 is over the lab's limit of 600 seconds"),
        (
            Wait(HERE, until=Until(event="started"), timeout=1e6),
            "line 7: wait: timeout: 1000000.0 is over the lab's limit of 600 seconds",
        ),
        (Wait(HERE), "line 7: wait: expected either seconds or until"),
    ],
)
def test_the_runner_refuses_a_wait_built_in_code_over_the_limit(make_lab: LabFactory, wait: Wait, message: str) -> None:
    lab = make_lab(start=False)
    runner = ScriptRunner(lab)
    outcome: list[str | None] = []
    finished = threading.Event()

    def run() -> None:
        outcome.append(runner.run([wait]))
        finished.set()

    # On a thread: before the limits, this wait blocked for days (or raised OverflowError).
    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(5), "the wait was not refused"
    runner.close()
    assert outcome == [message]


def test_the_runner_stops_at_a_step_over_the_limit(make_lab: LabFactory) -> None:
    lab = make_lab(start=False)
    runner = ScriptRunner(lab)
    steps = [FailNext(HERE, "add", 100_000_000), Send(Pos(8, 3), "add", (1, 2))]
    assert runner.run(steps) == "line 7: fail_next: times: 100000000 is over the lab's limit of 10000 runs"
    runner.close()
    assert lab.snapshot().tasks == ()
