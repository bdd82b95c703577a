"""Learner code cannot freeze the app: endless loops are stopped, the lab is replaced.

A learner's task runs on a real worker's pool thread. These tests run code that never
ends in the ways a learner writes it (a spinning loop, a long sleep, a loop that
swallows every exception, a stack overflow that switches tracing off) and check that
the thread really ends, that the rest of the process keeps its speed meanwhile, and
that the lab says what happened.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from celery_tutor.lab import LabStateError, code_trace
from celery_tutor.lab.learner_code import LearnerCode, compile_code

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from celery_tutor.lab import Lab
    from conftest import LabFactory

pytestmark = pytest.mark.lab

SPIN = """
@app.task()
def spin():
    checkpoint("spinning")
    while True:
        pass


@app.task()
def quick(x):
    checkpoint("quick")
    return x * 2
"""

THREAD_GONE = 10.0
"""How long a stopped thread may take to end (only reached on failure)."""


def specs(source: str) -> tuple:
    code = compile_code(source)
    assert isinstance(code, LearnerCode), code
    return code.specs


def start_spinning(
    make_lab: LabFactory, source: str = SPIN, task: str = "spin", **config: object
) -> tuple[Lab, threading.Thread]:
    """A lab whose worker runs ``task`` (which never ends); returns the thread running it."""
    lab = make_lab(extra_tasks=specs(source), **config)
    log = make_lab.events(lab)
    lab.send(task)
    log.wait_event("checkpoint", checkpoint="spinning")
    (thread,) = lab.code_threads()
    return lab, thread


def test_an_endless_loop_is_stopped_at_the_time_limit_and_the_lab_halts(make_lab: LabFactory) -> None:
    lab, thread = start_spinning(make_lab, code_time_limit=0.5)
    log = make_lab.events(lab)

    timed_out = log.wait_event("code_timed_out")
    assert (timed_out.task, timed_out.worker, timed_out.seconds) == ("spin", "worker1", 0.5)
    assert timed_out.message == (
        "your task spin ran for more than 0.5 s without finishing: the lab was stopped and must be restarted"
    )
    assert lab.halted == timed_out.message
    thread.join(THREAD_GONE)
    assert not thread.is_alive(), "the spinning thread is still running"
    assert lab.code_threads() == []
    with pytest.raises(LabStateError, match=r"ran for more than 0\.5 s"):
        lab.send("quick", (1,))
    with pytest.raises(LabStateError, match=r"ran for more than 0\.5 s"):
        lab.restart_worker()

    fresh = make_lab(extra_tasks=specs(SPIN), code_time_limit=0.5)  # what the app does: a new lab
    task_id = fresh.send("quick", (21,))
    assert make_lab.wait_for_task(fresh, task_id).state == "SUCCESS"
    assert fresh.app.AsyncResult(task_id).result == 42
    assert fresh.halted is None


def wakeups_in(seconds: float) -> int:
    """How often this (the main) thread wakes from a short sleep in ``seconds``: an event loop's rhythm.

    Each wake-up needs the GIL back. A thread spinning without ever letting go makes
    each one wait for Python's 5 ms switch interval.
    """
    count = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        time.sleep(0.0002)
        count += 1
    return count


def ratios(lab_factory: LabFactory, attempts: int, enough: float | None = None) -> list[float]:
    """The main thread's wake-ups while a learner task spins, relative to a baseline just before."""
    found = []
    for _ in range(attempts):
        baseline = wakeups_in(0.3)
        lab, thread = start_spinning(lab_factory, code_time_limit=60)
        spinning = wakeups_in(0.3)
        assert thread.is_alive()
        lab.crash_worker()
        thread.join(THREAD_GONE)
        assert not thread.is_alive()
        found.append(spinning / baseline)
        if enough is not None and found[-1] >= enough:
            break
    return found


RESPONSIVE = 0.3
"""The share of its wake-ups the main thread keeps while learner code spins (~0.7 with the
guard's GIL yields, ~0.05 without)."""


def test_a_spinning_learner_task_leaves_the_main_thread_responsive(make_lab: LabFactory) -> None:
    found = ratios(make_lab, attempts=3, enough=RESPONSIVE)  # the best of three: other processes share the CPU
    assert max(found) >= RESPONSIVE, found


def test_without_the_gil_yield_the_main_thread_would_wait(
    make_lab: LabFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The measurement above can fail: with the yields switched off it does.
    monkeypatch.setattr(code_trace, "YIELD_EVERY", 10**12)
    (ratio,) = ratios(make_lab, attempts=1)
    assert ratio < RESPONSIVE


def test_killing_the_worker_stops_a_spinning_task_at_once(make_lab: LabFactory) -> None:
    lab, thread = start_spinning(make_lab, code_time_limit=60)
    log = make_lab.events(lab)

    lab.crash_worker()
    thread.join(THREAD_GONE)
    assert not thread.is_alive()
    assert lab.halted is None
    assert not log.of("code_timed_out")
    assert [e.task for e in log.of("lost")] == ["spin"]  # early ack: the message was already gone
    lab.restart_worker()
    assert make_lab.wait_for_task(lab, lab.send("quick", (2,))).state == "SUCCESS"


def test_a_loop_that_swallows_every_exception_is_still_stopped(make_lab: LabFactory) -> None:
    source = """
@app.task()
def stubborn():
    checkpoint("spinning")
    while True:
        try:
            x = 1
            y = x + 1
        except BaseException:
            pass
        finally:
            pass
"""
    lab, thread = start_spinning(make_lab, source, "stubborn", code_time_limit=0.5)

    make_lab.events(lab).wait_event("code_timed_out")
    thread.join(THREAD_GONE)
    assert not thread.is_alive()


def test_a_loop_after_a_stack_overflow_is_stopped_by_the_watchdog(make_lab: LabFactory) -> None:
    # Python switches a thread's trace off when the trace function hits the recursion
    # limit: the loop after it runs untraced, and only the watchdog's stop can end it.
    source = """
def deeper(n):
    return deeper(n + 1)


@app.task()
def overflow():
    checkpoint("spinning")
    try:
        deeper(0)
    except RecursionError:
        pass
    while True:
        pass
"""
    lab, thread = start_spinning(make_lab, source, "overflow", code_time_limit=0.5)

    make_lab.events(lab).wait_event("code_timed_out")
    thread.join(THREAD_GONE)
    assert not thread.is_alive()


def test_a_long_sleep_dies_with_its_worker(make_lab: LabFactory) -> None:
    source = """
import time


@app.task()
def nap():
    checkpoint("spinning")
    time.sleep(600)
"""
    lab, thread = start_spinning(make_lab, source, "nap", code_time_limit=60)

    lab.crash_worker()
    thread.join(THREAD_GONE)
    assert not thread.is_alive()
    assert lab.halted is None


def test_a_long_wait_past_the_limit_halts_the_lab_and_ends(make_lab: LabFactory) -> None:
    source = """
@app.task()
def slow():
    checkpoint("spinning")
    work(600)
"""
    lab, thread = start_spinning(make_lab, source, "slow", code_time_limit=0.5)

    assert make_lab.events(lab).wait_event("code_timed_out").task == "slow"
    thread.join(THREAD_GONE)
    assert not thread.is_alive()


def test_a_task_that_finishes_in_time_is_not_stopped(make_lab: LabFactory) -> None:
    source = """
@app.task()
def busy(n):
    total = 0
    for i in range(n):
        total += i
    checkpoint("counted")
    return total
"""
    lab = make_lab(extra_tasks=specs(source), code_time_limit=5)
    task_id = lab.send("busy", (200_000,))  # ~200 GIL yields on the way

    assert make_lab.wait_for_task(lab, task_id).state == "SUCCESS"
    assert lab.app.AsyncResult(task_id).result == sum(range(200_000))
    assert lab.halted is None
    assert lab.code_threads() == []


def test_closing_a_lab_ends_a_spinning_task(make_lab: LabFactory) -> None:
    lab, thread = start_spinning(make_lab, code_time_limit=60)

    lab.close()
    assert not thread.is_alive()
    assert lab.live_threads() == []
