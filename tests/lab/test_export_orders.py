"""``export_orders``: a lab task that catches ``SoftTimeLimitExceeded`` to clean up, on real lab workers.

It reaches 'reading' at once, 'writing' about 1 s later and 'uploading' 1 s after that.
The lab raises a soft limit's exception, and kills a run past its hard limit, at the
first checkpoint after the limit, so a limit of 0.5 s acts at 'writing' and one of
1.5 s at 'uploading', however loaded the machine is (a slow run only passes it by more).
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from celery_tutor.lab import kit
from celery_tutor.lab.library import LAB_TASKS

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

pytestmark = pytest.mark.lab

LATE = {"task_acks_late": True}


def uploads(make_lab: LabFactory, lab_index: int = -1) -> list[str]:
    lab = make_lab.labs[lab_index]
    return [entry.key for entry in lab.snapshot().ledger if entry.action == "upload"]


def test_without_limits_it_exports_the_whole_file(make_lab: LabFactory) -> None:
    lab = make_lab()
    task_id = lab.send("export_orders", (7,))
    view = make_lab.wait_for_task(lab, task_id)
    assert (view.state, view.result) == ("SUCCESS", "'complete'")
    assert uploads(make_lab) == ["exports/7.csv"]
    checkpoints = [e.checkpoint for e in make_lab.events(lab).of("checkpoint", task_id)]
    assert checkpoints == ["reading", "writing", "uploading", "task_finished"]


def test_past_its_soft_limit_it_catches_the_exception_keeps_a_partial_file_and_succeeds(
    make_lab: LabFactory,
) -> None:
    lab = make_lab({"task_soft_time_limit": 0.5})
    log = make_lab.events(lab)
    task_id = lab.send("export_orders", (7,))
    view = make_lab.wait_for_task(lab, task_id)
    assert log.wait_event("soft_time_limit", task_id).checkpoint == "writing"
    # The except clause ran: a partial file, no whole one, and Celery stored what the task returned.
    assert (view.state, view.result) == ("SUCCESS", "'partial'")
    assert uploads(make_lab) == ["exports/7-partial.csv"]
    stored = lab.app.AsyncResult(task_id)
    assert (stored.state, stored.result) == ("SUCCESS", "partial")
    checkpoints = [e.checkpoint for e in log.of("checkpoint", task_id)]
    assert checkpoints == ["reading", "writing", "saved_partial", "task_finished"]


def test_a_hard_limit_kills_it_before_its_except_clause_can_run(make_lab: LabFactory) -> None:
    lab = make_lab({"task_time_limit": 1.5})
    log = make_lab.events(lab)
    task_id = lab.send("export_orders", (7,))
    view = make_lab.wait_for_task(lab, task_id)
    make_lab.settle(lab)
    assert log.wait_event("time_limit", task_id).checkpoint == "uploading"
    assert view.state == "FAILURE" and view.exception is not None and "TimeLimitExceeded" in view.exception
    assert uploads(make_lab) == []  # no file at all: the clean-up never ran
    assert not log.of("checkpoint", task_id, checkpoint="saved_partial")


def test_a_soft_limit_below_the_hard_one_leaves_it_time_to_clean_up(make_lab: LabFactory) -> None:
    lab = make_lab({"task_soft_time_limit": 0.5, "task_time_limit": 1.5})
    log = make_lab.events(lab)
    task_id = lab.send("export_orders", (7,))
    view = make_lab.wait_for_task(lab, task_id)
    make_lab.settle(lab)
    assert (view.state, view.result) == ("SUCCESS", "'partial'")
    assert uploads(make_lab) == ["exports/7-partial.csv"]
    assert not log.of("time_limit")


def test_a_late_acked_export_that_always_times_out_is_requeued_while_celery_stores_failure(
    make_lab: LabFactory,
) -> None:
    lab = make_lab({**LATE, "task_acks_on_failure_or_timeout": False, "task_time_limit": 0.5})
    log = make_lab.events(lab)
    task_id = lab.send("export_orders", (7,))
    third = log.wait_event("started", task_id, count=3)
    assert third.redelivered
    # Every kill so far: FAILURE stored (Celery's on_timeout), then the message requeued.
    failed = log.of("failed", task_id)
    assert len(failed) >= 2 and {e.exc_type for e in failed} == {"TimeLimitExceeded"}
    assert len(log.of("rejected", task_id, requeue=True)) >= 2
    assert lab.app.AsyncResult(task_id).state == "FAILURE"
    assert not log.of("acked", task_id) and uploads(make_lab) == []


def test_the_kit_s_exceptions_are_celery_s_own() -> None:
    assert kit.exceptions.SoftTimeLimitExceeded is SoftTimeLimitExceeded
    with pytest.raises(AttributeError):
        kit.exceptions.NoSuchError  # noqa: B018
    with pytest.raises(AttributeError):
        kit.exceptions.__wrapped__  # noqa: B018


def test_reading_the_task_library_does_not_import_celery() -> None:
    # The lesson model reads the library (names, checkpoints, sources); Celery loads only when a task runs.
    code = (
        "import sys; from celery_tutor.lab.library import LAB_TASKS; "
        "import inspect; [inspect.getmembers(s.func) for s in LAB_TASKS.values()]; "
        "print('celery' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_its_checkpoints_and_source_are_what_the_learner_reads() -> None:
    spec = LAB_TASKS["export_orders"]
    assert spec.checkpoints == ("reading", "writing", "uploading", "saved_partial")
    assert "except exceptions.SoftTimeLimitExceeded:" in spec.source
    assert spec.calls == ("storage.upload", "storage.upload")
