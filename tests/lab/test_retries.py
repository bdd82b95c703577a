"""Retries are new messages with ETAs held by the worker (reference §4, appendix).

These tests cost real seconds: the countdowns are the point. Gaps are measured between
the starts of consecutive runs, with tolerances only on those measurements.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

import pytest

from celery_tutor.lab.views import TaskView

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

pytestmark = pytest.mark.lab

GAP_TOLERANCE = 1.5
"""Seconds a run may start after its ETA (worker pickup, timer tick, a loaded CI box)."""
EARLY = 0.2
"""Seconds a run may seem to start before its ETA (it cannot: this is measurement slack only)."""


def start_gaps(view: TaskView) -> list[float]:
    starts = [run.started_at for run in view.runs]
    return [later - earlier for earlier, later in pairwise(starts)]


def test_self_retry_with_countdown_and_exc_fails_with_the_original_error(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    lab.fail_next("fetch_exchange_rate", 10)
    task_id = lab.send("fetch_exchange_rate", ("EUR",))

    view = make_lab.wait_for_task(lab, task_id, timeout=15)
    assert view.state == "FAILURE"
    assert len(view.runs) == 4  # max_retries=3: one run and three retries
    assert [r.retries for r in view.runs] == [0, 1, 2, 3]
    assert [r.outcome for r in view.runs] == ["retry", "retry", "retry", "failure"]
    assert not any(r.redelivered for r in view.runs)  # a retry is a new message, not a redelivery
    for gap in start_gaps(view):
        assert 1 - EARLY <= gap <= 1 + GAP_TOLERANCE, start_gaps(view)

    retries = log.of("retry_scheduled", task_id)
    assert [(e.attempt, e.countdown, e.max_retries, e.exc_type) for e in retries] == [
        (1, 1.0, 3, "ConnectionError"),
        (2, 1.0, 3, "ConnectionError"),
        (3, 1.0, 3, "ConnectionError"),
    ]
    assert [e.retries for e in log.of("published", task_id)] == [0, 1, 2, 3]
    assert all(e.by_retry for e in log.of("published", task_id)[1:])

    result = lab.app.AsyncResult(task_id)
    assert result.state == "FAILURE"
    assert isinstance(result.result, ConnectionError)  # exc= makes the final error the original one
    assert view.exception is not None and view.exception.startswith("ConnectionError(")


def test_self_retry_without_countdown_uses_default_retry_delay_then_max_retries_exceeded(make_lab: LabFactory) -> None:
    lab = make_lab(task_options={"sync_inventory": {"default_retry_delay": 1}})
    log = make_lab.events(lab)
    lab.fail_next("sync_inventory", 10)
    task_id = lab.send("sync_inventory", ("sku-1",))

    view = make_lab.wait_for_task(lab, task_id, timeout=15)
    assert view.state == "FAILURE"
    assert len(view.runs) == 4
    for gap in start_gaps(view):
        assert 1 - EARLY <= gap <= 1 + GAP_TOLERANCE, start_gaps(view)
    assert [e.countdown for e in log.of("retry_scheduled", task_id)] == [1.0, 1.0, 1.0]

    result = lab.app.AsyncResult(task_id)
    assert result.state == "FAILURE"
    assert type(result.result).__name__ == "MaxRetriesExceededError"
    assert view.exception is not None and view.exception.startswith("MaxRetriesExceededError(")


def test_autoretry_backoff_schedules(make_lab: LabFactory) -> None:
    """Three labs at once (they are isolated), so the slowest schedule sets the cost (~15 s)."""
    schedules = {
        "no jitter": {"retry_jitter": False, "max_retries": 4},
        "no jitter, capped at 2 s": {"retry_jitter": False, "max_retries": 4, "retry_backoff_max": 2},
        "jitter, capped at 2 s": {"max_retries": 4, "retry_backoff_max": 2},
    }
    sent = {}
    for name, options in schedules.items():
        lab = make_lab(task_options={"send_receipt": options})
        lab.fail_next("send_receipt", 10)
        sent[name] = (lab, lab.send("send_receipt", (42,)))

    observed = {}
    for name, (lab, task_id) in sent.items():
        view = make_lab.wait_for_task(lab, task_id, timeout=30)
        assert view.state == "FAILURE", (name, view)
        assert len(view.runs) == 5, (name, view.runs)  # max_retries=4
        result = lab.app.AsyncResult(task_id)
        assert result.state == "FAILURE", name
        assert isinstance(result.result, ConnectionError), name  # autoretry passes exc=
        countdowns = [e.countdown for e in make_lab.events(lab).of("retry_scheduled", task_id)]
        observed[name] = (start_gaps(view), countdowns)

    gaps, countdowns = observed["no jitter"]
    assert countdowns == [1.0, 2.0, 4.0, 8.0]
    for gap, expected in zip(gaps, [1, 2, 4, 8], strict=True):
        assert -EARLY <= gap - expected <= GAP_TOLERANCE, gaps

    gaps, countdowns = observed["no jitter, capped at 2 s"]
    assert countdowns == [1.0, 2.0, 2.0, 2.0]
    for gap, expected in zip(gaps, [1, 2, 2, 2], strict=True):
        assert -EARLY <= gap - expected <= GAP_TOLERANCE, gaps

    # Full jitter: each delay is a whole number of seconds in [0, min(cap, 2**n)].
    gaps, countdowns = observed["jitter, capped at 2 s"]
    for countdown, ceiling in zip(countdowns, [1, 2, 2, 2], strict=True):
        assert countdown == int(countdown) and 0 <= countdown <= ceiling, countdowns
    for gap, countdown in zip(gaps, countdowns, strict=True):
        assert 0 <= gap <= 2 + GAP_TOLERANCE, gaps
        assert -EARLY <= gap - countdown <= GAP_TOLERANCE, (gaps, countdowns)
