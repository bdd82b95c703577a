"""The fold on Redis, with hand-made events: invisible messages, restore scans, shared delivery tags.

On Redis nothing goes back when a connection dies: the broker keeps the dead worker's
unacked messages, invisible, until a restore scan finds them older than the visibility
timeout. These tests fold the events a Redis lab emits and check what the snapshot says;
the same events on the RabbitMQ-like broker must fold as before.
"""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.state import LabState

_seq = count(1)


def e(cls: type[ev.LabEvent], at: float = 0.0, **fields: Any) -> ev.LabEvent:
    return cls(seq=next(_seq), at=at, **fields)


def lab_on(broker: str, settings: dict[str, Any] | None = None, workers: tuple[str, ...] = ("worker1",)) -> LabState:
    """A folded lab that started on ``broker`` with its workers up."""
    state = LabState()
    state.apply(e(ev.ConfigChanged, settings=dict(settings or {}), complete=True, broker=broker))
    for worker in workers:
        state.apply(e(ev.WorkerStarted, worker=worker, concurrency=1, prefetch_multiplier=4))
    return state


def receive(state: LabState, task_id: str, worker: str = "worker1", at: float = 0.0, **fields: Any) -> None:
    state.apply(e(ev.TaskPublished, at, task_id=task_id, task="charge_card"))
    state.apply(
        e(ev.TaskReceived, at, task_id=task_id, task="charge_card", worker=worker, redelivered=False, retries=0)
    )


def test_a_killed_workers_unacked_messages_stay_invisible_with_their_delivery_time_on_redis() -> None:
    state = lab_on("redis", {"broker_transport_options": {"visibility_timeout": 30}})
    receive(state, "a", at=1.0)
    receive(state, "b", at=2.0)
    state.apply(e(ev.WorkerKilled, 3.0, worker="worker1", requeued=0, lost=0, kept=2))
    snap = state.snapshot()
    assert [(m.task_id, m.holder, m.delivered_at) for m in snap.invisible] == [
        ("a", "worker1", 1.0),
        ("b", "worker1", 2.0),
    ]
    assert snap.worker("worker1").unacked == () and snap.ready == ()
    assert snap.visibility_timeout == 30
    assert [snap.visible_again_at(m) for m in snap.invisible] == [31.0, 32.0]


def test_a_killed_workers_unacked_messages_are_not_kept_on_rabbitmq() -> None:
    state = lab_on("rabbitmq")
    receive(state, "a", at=1.0)
    state.apply(e(ev.MessageRedelivered, 2.0, task_id="a", task="charge_card", worker="worker1", reason="worker died"))
    state.apply(e(ev.WorkerKilled, 2.0, worker="worker1", requeued=1, lost=0))
    snap = state.snapshot()
    assert snap.invisible == () and [m.task_id for m in snap.ready] == ["a"]
    assert snap.broker == "rabbitmq" and snap.visibility_timeout is None and snap.next_scan_at is None


def test_a_scan_restores_an_invisible_message_even_when_its_holders_name_is_alive_again() -> None:
    # The restarted worker1 is a new process: the message is not its own, but the scan
    # names the holder it remembers, worker1.
    state = lab_on("redis")
    receive(state, "a", at=1.0)
    state.apply(e(ev.WorkerKilled, 2.0, worker="worker1", requeued=0, lost=0, kept=1))
    state.apply(e(ev.RestoreScan, 2.5, worker="worker1", restored=0, next_in=100.0))
    state.apply(e(ev.WorkerStarted, 2.5, worker="worker1", concurrency=1, prefetch_multiplier=4))
    assert [m.task_id for m in state.snapshot().invisible] == ["a"]
    state.apply(
        e(ev.MessageRedelivered, 103.0, task_id="a", task="charge_card", worker="worker1", reason=ev.SCAN_RESTORE)
    )
    snap = state.snapshot()
    assert snap.invisible == () and [(m.task_id, m.redelivered) for m in snap.ready] == [("a", True)]


def test_the_next_scan_is_the_earliest_due_among_live_workers() -> None:
    state = lab_on("redis", workers=())
    assert state.snapshot().next_scan_at is None
    # A worker's start-up scan comes before its worker_started.
    state.apply(e(ev.RestoreScan, 1.0, worker="worker1", restored=0, next_in=100.0))
    state.apply(e(ev.WorkerStarted, 1.0, worker="worker1", concurrency=1, prefetch_multiplier=4))
    state.apply(e(ev.RestoreScan, 5.0, worker="worker2", restored=0, next_in=100.0))
    state.apply(e(ev.WorkerStarted, 5.0, worker="worker2", concurrency=1, prefetch_multiplier=4))
    snap = state.snapshot()
    assert snap.next_scan_at == 101.0 and snap.worker("worker2").next_scan_at == 105.0
    state.apply(e(ev.WorkerKilled, 6.0, worker="worker1", requeued=0, lost=0))
    assert state.snapshot().next_scan_at == 105.0, "a dead worker scans no more"
    state.apply(e(ev.WorkerStopping, 7.0, worker="worker2"))
    state.apply(e(ev.WorkerStopped, 7.5, worker="worker2"))
    assert state.snapshot().next_scan_at is None


def test_the_visibility_timeout_is_the_settings_or_kombus_default() -> None:
    assert lab_on("redis").snapshot().visibility_timeout == 3600
    options = {"broker_transport_options": {"visibility_timeout": 2}}
    assert lab_on("redis", options).snapshot().visibility_timeout == 2
    assert lab_on("rabbitmq", options).snapshot().visibility_timeout is None


def test_an_ack_deletes_the_copy_another_worker_holds_under_the_same_tag_on_redis() -> None:
    # kombu keeps a message's delivery tag when a scan restores it, and the broker keeps one
    # entry per tag: worker1's late ack of the first delivery deletes the entry of the copy
    # that worker2 received after the scan.
    state = lab_on("redis", workers=("worker1", "worker2"))
    receive(state, "t", "worker1", at=0.0)
    state.apply(
        e(ev.MessageRedelivered, 1.0, task_id="t", task="charge_card", worker="worker1", reason=ev.SCAN_RESTORE)
    )
    state.apply(e(ev.TaskReceived, 1.0, task_id="t", task="charge_card", worker="worker2", redelivered=True, retries=0))
    assert state.snapshot().worker("worker2").unacked == ("t",)
    state.apply(e(ev.MessageAcked, 2.0, task_id="t", task="charge_card", worker="worker1"))
    snap = state.snapshot()
    assert snap.worker("worker1").unacked == () and snap.worker("worker2").unacked == ()
    state.apply(e(ev.WorkerKilled, 2.5, worker="worker2", requeued=0, lost=0))
    assert state.snapshot().invisible == (), "nothing left for a scan to bring back"


def test_an_ack_of_an_invisible_copy_by_a_live_first_holder_removes_it() -> None:
    state = lab_on("redis", workers=("worker1", "worker2"))
    receive(state, "t", "worker1", at=0.0)
    state.apply(
        e(ev.MessageRedelivered, 1.0, task_id="t", task="charge_card", worker="worker1", reason=ev.SCAN_RESTORE)
    )
    state.apply(e(ev.TaskReceived, 1.0, task_id="t", task="charge_card", worker="worker2", redelivered=True, retries=0))
    state.apply(e(ev.WorkerKilled, 1.5, worker="worker2", requeued=0, lost=0, kept=1))
    assert [m.holder for m in state.snapshot().invisible] == ["worker2"]
    state.apply(e(ev.MessageAcked, 2.0, task_id="t", task="charge_card", worker="worker1"))
    assert state.snapshot().invisible == ()


def test_on_rabbitmq_an_ack_touches_only_the_acking_workers_messages() -> None:
    state = lab_on("rabbitmq", workers=("worker1", "worker2"))
    receive(state, "t", "worker2")
    state.apply(e(ev.MessageAcked, 1.0, task_id="t", task="charge_card", worker="worker1"))
    assert state.snapshot().worker("worker2").unacked == ("t",)


def test_a_late_ack_retry_keeps_the_retry_message_when_the_first_delivery_is_acked() -> None:
    # Two deliveries of one task id (the original and its retry message): an ack removes the oldest.
    state = lab_on("redis")
    receive(state, "r", at=0.0)
    state.apply(
        e(ev.TaskReceived, 1.0, task_id="r", task="charge_card", worker="worker1", redelivered=False, retries=1)
    )
    state.apply(e(ev.MessageAcked, 1.1, task_id="r", task="charge_card", worker="worker1"))
    held = state.snapshot().worker("worker1").held
    assert [(m.task_id, m.delivered_at) for m in held] == [("r", 1.0)]


def test_a_reset_forgets_the_invisible_messages_and_the_scans() -> None:
    state = lab_on("redis")
    receive(state, "a")
    state.apply(e(ev.RestoreScan, 0.5, worker="worker1", restored=0, next_in=10.0))
    state.apply(e(ev.WorkerKilled, 1.0, worker="worker1", requeued=0, lost=0, kept=1))
    state.apply(e(ev.LabReset, 2.0))
    snap = state.snapshot()
    assert snap.invisible == () and snap.next_scan_at is None and snap.broker == "rabbitmq"
    state.apply(e(ev.ConfigChanged, 2.0, complete=True, broker="redis", broker_server="Valkey 9.1.2"))
    snap = state.snapshot()
    assert snap.broker == "redis" and snap.broker_server == "Valkey 9.1.2"


def test_countdowns_tick_on_redis_while_a_worker_scans() -> None:
    rabbit = lab_on("rabbitmq")
    assert not rabbit.has_countdowns()
    redis = lab_on("redis")
    assert not redis.has_countdowns()
    redis.apply(e(ev.RestoreScan, 0.5, worker="worker1", restored=0, next_in=10.0))
    assert redis.has_countdowns()


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        (ev.CONNECTION_DIED, "back in the queue: requeued because the connection died"),
        (ev.SCAN_RESTORE, "back in the queue: restored by the scan (worker1 held it unacked past the visibility"),
        (ev.CLEAN_CLOSE, "back in the queue: worker1 stopped cleanly and gave it back"),
        ("rejected, requeue=True", "back in the queue: rejected, requeue=True"),
    ],
)
def test_the_timeline_says_how_a_message_came_back(reason: str, says: str) -> None:
    event = e(ev.MessageRedelivered, task_id="0123456789", task="add", worker="worker1", reason=reason)
    assert event.describe().startswith(f"add[01234567] {says}")


def test_a_scan_restore_whose_holder_is_unknown_names_no_one() -> None:
    event = e(ev.MessageRedelivered, task_id="0123456789", task="add", worker="?", reason=ev.SCAN_RESTORE)
    assert (
        event.describe()
        == "add[01234567] back in the queue: restored by the scan (held unacked past the visibility timeout)"
    )


def test_a_restore_scan_is_quiet_unless_it_restored_something() -> None:
    nothing = e(ev.RestoreScan, worker="worker1", restored=0, next_in=100.0)
    two = e(ev.RestoreScan, worker="worker1", restored=2, next_in=100.0)
    assert nothing.quiet and not two.quiet
    assert two.describe() == "worker1's restore scan put 2 message(s) back; next scan in 100s"
    assert not e(ev.MessageAcked, task_id="x", task="add", worker="worker1").quiet


def test_a_kill_on_redis_says_what_the_broker_keeps() -> None:
    killed = e(ev.WorkerKilled, worker="worker1", requeued=0, lost=0, kept=2)
    assert "broker keeps 2 unacked message(s) invisible until a restore scan" in killed.describe()
    rabbit = e(ev.WorkerKilled, worker="worker1", requeued=1, lost=0)
    assert "broker requeued 1 unacked message(s)" in rabbit.describe()
