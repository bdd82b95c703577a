"""The lab's controls: checked names, state errors, kill, purge, reset, configure, stop."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from celery_tutor.lab import Lab, LabConfig, LabConfigError, LabStateError
from celery_tutor.lab.library import LAB_TASKS, all_checkpoints
from celery_tutor.lab.settings import EXCEPTIONS, SETTINGS, TASK_OPTIONS
from celery_tutor.lab.worker import LabWorker

if TYPE_CHECKING:  # conftest is not imported at run time: pytest owns it
    from conftest import LabFactory

pytestmark = pytest.mark.lab

TASKS = tuple(LAB_TASKS)

# (control, the names its error message must list)
UNKNOWN_NAMES = {
    "task to send": (lambda lab: lab.send("no_such_task"), TASKS),
    "task to fail": (lambda lab: lab.fail_next("no_such_task"), TASKS),
    "task of a crash": (lambda lab: lab.crash_at("adding", task="no_such_task"), TASKS),
    "task to configure": (lambda lab: lab.set_task_options("no_such_task", max_retries=1), TASKS),
    "setting": (lambda lab: lab.configure(task_acks_lately=True), tuple(SETTINGS)),
    "task option": (lambda lab: lab.set_task_options("add", max_retry=1), tuple(TASK_OPTIONS)),
    "checkpoint": (lambda lab: lab.crash_at("halfway"), all_checkpoints()),
    "checkpoint of a task": (
        lambda lab: lab.crash_at("adding", task="charge_card"),
        ("before_charge", "after_charge", "task_finished"),
    ),
    "checkpoint of a child kill": (lambda lab: lab.kill_child_at("halfway"), all_checkpoints()),
    "exception": (lambda lab: lab.fail_next("add", exc="OutOfCheese"), tuple(EXCEPTIONS)),
    "worker to crash": (lambda lab: lab.crash_worker("worker9"), ("worker1", "worker2")),
    "worker to stop": (lambda lab: lab.stop_worker("worker9"), ("worker1", "worker2")),
    "worker to restart": (lambda lab: lab.restart_worker("worker9"), ("worker1", "worker2")),
    "setting in LabConfig": (lambda lab: Lab(LabConfig(settings={"task_acks_lately": True})), tuple(SETTINGS)),
    "task in LabConfig": (lambda lab: Lab(LabConfig(task_options={"no_such_task": {}})), TASKS),
}


@pytest.mark.parametrize("what", UNKNOWN_NAMES)
def test_unknown_names_raise_config_error_listing_valid_names(make_lab: LabFactory, what: str) -> None:
    control, valid = UNKNOWN_NAMES[what]
    lab = make_lab(workers=2)
    with pytest.raises(LabConfigError) as raised:
        control(lab)
    message = str(raised.value)
    assert "valid:" in message
    listed = {name.strip() for name in message.split("valid:", 1)[1].split(",")}
    assert set(valid) <= listed, message
    # A rejected control changes nothing: the lab still works.
    make_lab.settle(lab)


def test_controls_without_a_live_worker_raise_state_error(make_lab: LabFactory) -> None:
    lab = make_lab()
    lab.crash_worker()
    with pytest.raises(LabStateError):
        lab.crash_worker()
    with pytest.raises(LabStateError):
        lab.crash_worker("worker1")
    with pytest.raises(LabStateError):
        lab.stop_worker()
    lab.restart_worker()
    make_lab.settle(lab)
    lab.close()
    with pytest.raises(LabStateError):
        lab.send("add", (1, 2))
    with pytest.raises(LabStateError):
        lab.crash_worker()


class _HeldBack:
    """A worker method that waits for ``release`` before doing its work, then sets ``done``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.done = threading.Event()


def _held_back(monkeypatch: pytest.MonkeyPatch, method: str) -> _HeldBack:
    held = _HeldBack()
    original = getattr(LabWorker, method)

    def wrapper(self: LabWorker, *args: Any, **kwargs: Any) -> Any:
        held.release.wait(30)
        try:
            return original(self, *args, **kwargs)
        finally:
            held.done.set()

    monkeypatch.setattr(LabWorker, method, wrapper)
    return held


def test_crash_control_returns_at_once(make_lab: LabFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    task_id = lab.send("generate_report", (1,))
    make_lab.wait_for_task(lab, task_id, states={"STARTED"})

    teardown = _held_back(monkeypatch, "terminate")
    lab.crash_worker()
    assert not teardown.done.is_set()  # it returned while the teardown was still held back
    teardown.release.set()
    killed = log.of("worker_killed")  # reported before crash_worker() returned
    assert len(killed) == 1 and killed[0].lost == 1
    assert lab.snapshot().worker("worker1").status == "killed"
    assert lab.snapshot().task(task_id).state == "LOST"


def test_purge_removes_ready_messages_only(make_lab: LabFactory) -> None:
    lab = make_lab({"worker_prefetch_multiplier": 1})  # early acks: one running, one reserved
    log = make_lab.events(lab)
    running, reserved, queued_1, queued_2 = (lab.send("charge_card", (n, 1.0)) for n in range(1, 5))
    assert lab.wait_until(
        lambda s: s.task(running).state == "STARTED" and s.worker("worker1").unacked == (reserved,), 10
    )
    assert lab.ready_in_broker() == [queued_1, queued_2]

    assert lab.purge() == 2
    assert log.of("purged")[0].count == 2
    assert lab.ready_in_broker() == []
    assert lab.snapshot().ready == ()

    for task_id in (running, reserved):  # the worker's messages were not touched
        assert make_lab.wait_for_task(lab, task_id).state == "SUCCESS"
    make_lab.settle(lab)
    snap = lab.snapshot()
    for task_id in (queued_1, queued_2):
        assert snap.task(task_id).runs == ()
        assert not log.of("received", task_id)
        assert lab.app.AsyncResult(task_id).state == "PENDING"
    assert sorted(e.key for e in snap.ledger) == ["order 1", "order 2"]


def test_reset_clears_everything_and_leaves_a_fresh_worker(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    charged = lab.send("charge_card", (1, 5.0))
    assert make_lab.wait_for_task(lab, charged).state == "SUCCESS"
    lab.configure(task_acks_late=True)
    running = lab.send("generate_report", (9,))
    make_lab.wait_for_task(lab, running, states={"STARTED"})
    queued = lab.send("add", (1, 1))
    lab.crash_at("adding", task="add")
    lab.fail_next("fetch_exchange_rate", 1)
    assert lab.snapshot().ledger

    lab.reset()

    reset_seq = log.wait_event("lab_reset").seq
    snap = lab.snapshot()
    assert snap.tasks == ()
    assert snap.ledger == ()
    assert snap.ready == ()
    assert [(w.name, w.status, w.unacked, w.running) for w in snap.workers] == [("worker1", "alive", (), ())]
    assert lab.ready_in_broker() == []
    assert lab.app.AsyncResult(charged).state == "PENDING"  # Celery's stored results are gone too

    # A fresh worker, with the initial configuration (early acks) and no armed faults.
    fresh = lab.send("add", (1, 2))
    assert make_lab.wait_for_task(lab, fresh).state == "SUCCESS"
    assert log.kinds(fresh, among={"acked", "started", "succeeded"}) == ["acked", "started", "succeeded"]
    rate = lab.send("fetch_exchange_rate", ("EUR",))
    assert make_lab.wait_for_task(lab, rate).state == "SUCCESS"
    assert len(lab.snapshot().task(rate).runs) == 1
    make_lab.settle(lab)

    after = [e for e in log.events if e.seq > reset_seq]
    assert not [e for e in after if e.kind == "worker_killed"]
    assert not [e for e in after if getattr(e, "task_id", None) in (running, queued)]  # gone for good
    assert lab.snapshot().ledger == ()


def test_configure_acks_late_restarts_the_worker_and_acks_after_the_run(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    early = lab.send("add", (1, 1))
    make_lab.wait_for_task(lab, early)
    log.wait_event("acked", early)
    assert log.kinds(early, among={"acked", "started", "succeeded"}) == ["acked", "started", "succeeded"]

    lab.configure(task_acks_late=True)
    changed = log.wait_event("config_changed", complete=False)
    assert (changed.settings, changed.task_options) == ({"task_acks_late": True}, {})
    restarted = log.wait_event("worker_started", count=2)
    assert restarted.seq > changed.seq
    assert log.wait_event("worker_stopping").seq > changed.seq

    late = lab.send("add", (2, 2))
    make_lab.wait_for_task(lab, late)
    acked = log.wait_event("acked", late)
    succeeded = log.of("succeeded", late)[0]
    assert acked.seq > succeeded.seq
    assert log.kinds(late, among={"acked", "started", "succeeded"}) == ["started", "succeeded", "acked"]
    assert lab.app.AsyncResult(late).state == "SUCCESS"


def test_stop_worker_finishes_running_task_and_requeues_prefetched(
    make_lab: LabFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab({"task_acks_late": True})
    log = make_lab.events(lab)
    running = lab.send("charge_card", (1, 5.0))
    held = [lab.send("add", (n, n)) for n in (1, 2)]
    assert lab.wait_until(
        lambda s: s.task(running).state == "STARTED" and set(held) <= set(s.worker("worker1").unacked), 10
    )

    teardown = _held_back(monkeypatch, "stop")
    lab.stop_worker()
    assert not teardown.done.is_set()  # a control returns at once: the stop runs in the background
    teardown.release.set()
    log.wait_event("worker_stopped")

    assert lab.snapshot().task(running).state == "SUCCESS"
    assert lab.app.AsyncResult(running).state == "SUCCESS"
    assert log.kinds(running, among={"succeeded", "acked", "redelivered"}) == ["succeeded", "acked"]
    for task_id in held:
        (back,) = log.of("redelivered", task_id)
        assert back.reason == "worker stopped"
        assert lab.snapshot().task(task_id).runs == ()
        assert lab.app.AsyncResult(task_id).state == "PENDING"
    assert lab.ready_in_broker() == held  # back in their original order
    assert [m.task_id for m in lab.snapshot().ready] == held
    assert lab.snapshot().worker("worker1").status == "stopped"

    lab.restart_worker()
    for task_id in held:
        view = make_lab.wait_for_task(lab, task_id)
        assert view.state == "SUCCESS"
        assert [r.redelivered for r in view.runs] == [True]


def test_ready_view_matches_the_broker_when_quiet(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    make_lab.settle(lab)
    assert lab.snapshot().ready == ()
    assert lab.ready_in_broker() == []

    lab.stop_worker()
    log.wait_event("worker_stopped")
    waiting = [
        lab.send("add", (1, 2)),
        lab.send("fetch_exchange_rate", ("EUR",), countdown=30),  # an ETA waits in a worker, not here
        lab.send("charge_card", (3, 4.0)),
    ]
    snap = lab.snapshot()
    assert [m.task_id for m in snap.ready] == lab.ready_in_broker() == waiting
    assert snap.ready[1].eta_at is not None

    lab.purge()
    assert [m.task_id for m in lab.snapshot().ready] == lab.ready_in_broker() == []


def test_ready_view_matches_the_broker_after_crashes(make_lab: LabFactory) -> None:
    # The race shows mostly on a lab's first crash, so each round uses a fresh lab.
    for _ in range(10):
        lab = make_lab({"task_acks_late": True})
        lab.crash_at("adding", task="add")
        lab.send("add", (1, 1))  # kills the worker as soon as it runs
        bystander = lab.send("add", (2, 2))  # fetched by the dying worker around the kill
        assert lab.wait_until(lambda s: s.worker("worker1").status == "killed", 10)
        lab.restart_worker()
        make_lab.wait_for_task(lab, bystander)
        make_lab.settle(lab)
        assert lab.ready_in_broker() == []
        assert lab.snapshot().ready == ()


def test_snapshot_shows_the_restarted_worker_alive(make_lab: LabFactory) -> None:
    lab = make_lab()
    log = make_lab.events(lab)
    for round_ in range(30):
        lab.configure(worker_prefetch_multiplier=1 + round_ % 2)
        assert lab.join(), "the replaced worker's warm stop did not finish"
        assert lab.worker_status("worker1") == "alive"
        assert lab.snapshot().worker("worker1").status == "alive", f"round {round_}:\n{log.timeline()[-800:]}"
