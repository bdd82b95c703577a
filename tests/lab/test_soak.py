"""Many crash/restart cycles: every message is accounted for, and no thread leaks."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

pytestmark = pytest.mark.lab

CYCLES = 200


def test_crash_restart_soak_accounts_for_every_message(make_lab: LabFactory) -> None:
    baseline_threads = set(threading.enumerate())
    baseline_count = threading.active_count()

    # One lab, two ack modes: `add` acks late, `fetch_exchange_rate` acks early (the default).
    lab = make_lab(task_options={"add": {"acks_late": True}})
    log = make_lab.events(lab)
    late_crashed: list[str] = []  # running when the worker died, message unacked: redelivered
    early_crashed: list[str] = []  # running when the worker died, already acked: lost
    bystanders: list[str] = []  # prefetched or still queued when the worker died: never lost

    for cycle in range(CYCLES):
        if cycle % 2 == 0:
            lab.crash_at("adding", task="add")
            late_crashed.append(lab.send("add", (cycle, 1)))
        else:
            lab.crash_at("got_rate", task="fetch_exchange_rate")
            early_crashed.append(lab.send("fetch_exchange_rate", ("EUR",)))
        bystanders.append(lab.send("fetch_exchange_rate", ("GBP",)))
        bystanders.append(lab.send("add", (cycle, 2)))

        assert lab.wait_until(lambda s: s.worker("worker1").status == "killed", 10), f"cycle {cycle}: no crash"
        lab.restart_worker()
        # Wait until this cycle's messages are all done before the next crash is armed.
        cycle_ids = [*late_crashed[-1:], *early_crashed[-1:], *bystanders[-2:]]
        assert lab.wait_until(lambda s, ids=cycle_ids: all(s.task(t).state in ("SUCCESS", "LOST") for t in ids), 10), (
            f"cycle {cycle} did not settle:\n{log.timeline()[-3000:]}"
        )

    make_lab.settle(lab)
    snap = lab.snapshot()
    assert len(log.of("worker_killed")) == CYCLES

    for task_id in late_crashed:
        view = snap.task(task_id)
        assert view.state == "SUCCESS", view
        assert [(r.redelivered, r.outcome) for r in view.runs] == [(False, "died"), (True, "success")], view
    for task_id in early_crashed:
        view = snap.task(task_id)
        assert view.state == "LOST", view
        assert [r.outcome for r in view.runs] == ["lost"], view
    for task_id in bystanders:
        view = snap.task(task_id)
        assert view.state == "SUCCESS", view
        assert len(view.runs) == 1, view  # never started by a worker that was dying

    celery_states = {t: lab.app.AsyncResult(t).state for t in [*late_crashed, *early_crashed, *bystanders]}
    assert {celery_states[t] for t in late_crashed} == {"SUCCESS"}
    assert {celery_states[t] for t in early_crashed} == {"PENDING"}
    assert {celery_states[t] for t in bystanders} == {"SUCCESS"}
    assert [lab.app.AsyncResult(t).result for t in late_crashed] == [c + 1 for c in range(0, CYCLES, 2)]

    assert lab.ready_in_broker() == []
    worker = snap.worker("worker1")
    assert (worker.status, worker.unacked, worker.running, worker.scheduled) == ("alive", (), (), ())

    lab.close()
    assert lab.live_threads() == []
    leaked = [t.name for t in set(threading.enumerate()) - baseline_threads]
    assert leaked == []
    assert threading.active_count() == baseline_count - sum(1 for t in baseline_threads if not t.is_alive())
