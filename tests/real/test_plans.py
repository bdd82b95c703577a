"""Plans armed in a worker's main process are taken, once, by whichever pool child meets them."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from celery_tutor.lab.real.plans import PlanStore


def test_a_plan_is_taken_once_where_it_matches(tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "plans.json")
    store.arm({"id": "a", "kind": "crash", "checkpoint": "after_charge", "task": "charge_card"})
    assert store.take_checkpoint_plan("charge_card", "before_charge") is None
    assert store.take_checkpoint_plan("add", "after_charge") is None
    taken = store.take_checkpoint_plan("charge_card", "after_charge")
    assert taken is not None and taken["id"] == "a"
    assert store.take_checkpoint_plan("charge_card", "after_charge") is None


def test_a_child_plan_without_a_checkpoint_fires_at_the_next_one(tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "plans.json")
    store.arm({"id": "c", "kind": "child", "checkpoint": None, "task": None})
    taken = store.take_checkpoint_plan("add", "adding")
    assert taken is not None and taken["kind"] == "child"


def test_failures_count_down_and_disarm_forgets(tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "plans.json")
    store.arm({"id": "f", "kind": "failure", "task": "add", "exc": "ConnectionError", "left": 2})
    store.arm({"id": "g", "kind": "failure", "task": "add", "exc": "TimeoutError", "left": 5})
    assert [store.take_failure("add")["exc"] for _ in range(2)] == ["ConnectionError", "ConnectionError"]  # type: ignore[index]
    store.disarm("g")
    assert store.take_failure("add") is None
    store.arm({"id": "h", "kind": "crash", "checkpoint": "x", "task": None})
    store.disarm(None)
    assert store.all() == []


def _take_in_child(path: str, queue: multiprocessing.Queue) -> None:
    plan = PlanStore(Path(path)).take_checkpoint_plan("add", "adding")
    queue.put(plan["id"] if plan else None)


def test_another_process_sees_and_takes_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "plans.json"
    PlanStore(path).arm({"id": "p", "kind": "child", "checkpoint": "adding", "task": "add"})
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_take_in_child, args=(str(path), queue))
    child.start()
    child.join(30)
    assert queue.get(timeout=30) == "p"
    assert PlanStore(path).all() == []
