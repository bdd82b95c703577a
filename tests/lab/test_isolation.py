"""Two labs in one process share nothing: broker, workers, results, ledger, timers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import EventLog, LabFactory

pytestmark = pytest.mark.lab


def task_ids_seen(log: EventLog) -> set[str]:
    return {e.task_id for e in log.events if hasattr(e, "task_id")}


def test_two_labs_do_not_interfere(make_lab: LabFactory) -> None:
    lab_a = make_lab()
    lab_b = make_lab()
    log_a, log_b = make_lab.events(lab_a), make_lab.events(lab_b)

    # B is busy: a slow report running (~2 s), and a countdown message held in its worker's timer.
    b_report = lab_b.send("generate_report", (100,))
    b_later = lab_b.send("add", (2, 3), countdown=1)
    assert lab_b.wait_until(
        lambda s: (
            s.task(b_report).state == "STARTED" and any(r.task_id == b_later for r in s.worker("worker1").scheduled)
        ),
        10,
    )

    # A message sent to A is handled by A's worker only.
    a_add = lab_a.send("add", (1, 1))
    assert make_lab.wait_for_task(lab_a, a_add).state == "SUCCESS"
    assert log_a.of("received", a_add)[0].worker == "worker1"

    # Crash A's worker mid-charge; B's running task and B's timer are not touched.
    lab_a.crash_at("after_charge", task="charge_card")
    a_charge = lab_a.send("charge_card", (200, 2.0))
    log_a.wait_event("worker_killed", checkpoint="after_charge")
    assert lab_b.snapshot().task(b_report).state == "STARTED"  # B was mid-task when A died
    a_queued = lab_a.send("add", (5, 5))  # A has no worker now: it waits in A's queue only
    assert lab_a.ready_in_broker() == [a_queued]
    assert a_queued not in lab_b.ready_in_broker()
    lab_a.restart_worker()

    assert make_lab.wait_for_task(lab_b, b_report).state == "SUCCESS"
    assert make_lab.wait_for_task(lab_b, b_later).state == "SUCCESS"
    assert make_lab.wait_for_task(lab_a, a_queued).state == "SUCCESS"
    assert [r.outcome for r in lab_b.snapshot().task(b_report).runs] == ["success"]
    assert lab_b.snapshot().worker("worker1").status == "alive"
    assert not log_b.of("worker_killed")
    assert not log_b.of("redelivered")
    assert lab_a.snapshot().task(a_charge).state == "LOST"

    # Neither lab ever saw the other's messages.
    a_ids = {a_add, a_charge, a_queued}
    b_ids = {b_report, b_later}
    assert task_ids_seen(log_a) == a_ids
    assert task_ids_seen(log_b) == b_ids

    # Ledgers and results are separate.
    assert [(e.task_id, e.key) for e in lab_a.snapshot().ledger] == [(a_charge, "order 200")]
    assert [(e.task_id, e.key) for e in lab_b.snapshot().ledger] == [(b_report, "reports/100.pdf")]
    assert lab_a.app.AsyncResult(a_add).state == "SUCCESS"
    assert lab_b.app.AsyncResult(a_add).state == "PENDING"
    assert lab_a.app.AsyncResult(b_report).state == "PENDING"
    assert lab_b.app.AsyncResult(b_report).state == "SUCCESS"


def test_a_closed_lab_leaves_nothing_behind() -> None:
    """kombu's process-wide caches must not keep a closed lab (and its messages) alive."""
    import gc
    import weakref

    from celery_tutor.lab import Lab

    lab = Lab()
    lab.start()
    task_id = lab.send("add", (1, 2))
    assert lab.wait_until(lambda s: s.task(task_id).state == "SUCCESS", 10)
    lab.crash_worker()
    lab.restart_worker()
    lab.close()
    ref = weakref.ref(lab)
    del lab
    gc.collect()
    assert ref() is None
