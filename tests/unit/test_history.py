"""Time travel: the state after any event equals the fold of the events up to it; replays keep time."""

from __future__ import annotations

import random
from typing import Any

import pytest

from celery_tutor.lab import events as ev
from celery_tutor.lab.history import History
from celery_tutor.lab.state import LabState
from celery_tutor.lab.time_travel import (
    END_HOLD,
    LONGEST_WAIT,
    SHORTEST_STEP,
    STEP_BUDGET,
    Mode,
    Replay,
    TimeTravel,
)
from celery_tutor.lab.views import LabSnapshot

W = "worker1"


class Stream:
    """Hand-made lab events in order: seq and time go up by themselves."""

    def __init__(self) -> None:
        self.seq = 0
        self.at = 0.0
        self.events: list[ev.LabEvent] = []

    def add(self, cls: type[ev.LabEvent], dt: float = 0.1, **fields: Any) -> ev.LabEvent:
        self.seq += 1
        self.at += dt
        event = cls(seq=self.seq, at=round(self.at, 3), **fields)
        self.events.append(event)
        return event


def busy(tasks: int, seed: int = 7, stream: Stream | None = None) -> list[ev.LabEvent]:
    """A lab's life: a worker, tasks that run, charge, succeed or die and come back, quiet scans."""
    rng = random.Random(seed)
    s = stream or Stream()
    s.add(ev.ConfigChanged, settings={"task_acks_late": True}, complete=True)
    s.add(ev.WorkerStarted, worker=W, concurrency=2, prefetch_multiplier=4)
    for n in range(tasks):
        tid, task = f"t{n:04d}", rng.choice(["charge_card", "add"])
        s.add(ev.TaskPublished, task_id=tid, task=task, alias="order" if n == 0 else None)
        s.add(ev.TaskReceived, task_id=tid, task=task, worker=W, redelivered=False, retries=0)
        s.add(ev.TaskStarted, task_id=tid, task=task, worker=W, run=1, redelivered=False, retries=0)
        s.add(ev.CheckpointReached, task_id=tid, task=task, worker=W, run=1, checkpoint="after_charge")
        if task == "charge_card":
            s.add(ev.LedgerWritten, task_id=tid, task=task, action="charge", key=f"order {n}", detail="$1", count=1)
        if rng.random() < 0.2:
            s.add(ev.MessageRedelivered, task_id=tid, task=task, worker=W, reason="worker died")
            s.add(ev.WorkerKilled, worker=W, requeued=1, lost=0)
            s.add(ev.WorkerStarted, worker=W, concurrency=2, prefetch_multiplier=4)
            s.add(ev.TaskReceived, task_id=tid, task=task, worker=W, redelivered=True, retries=0)
            s.add(ev.TaskStarted, task_id=tid, task=task, worker=W, run=2, redelivered=True, retries=0)
        if rng.random() < 0.1:
            s.add(ev.RestoreScan, worker=W, restored=0, next_in=1.0)  # quiet: the timeline leaves it out
        s.add(ev.TaskSucceeded, task_id=tid, task=task, worker=W, result="1")
        s.add(ev.MessageAcked, task_id=tid, task=task, worker=W)
    return s.events


def folded(events: list[ev.LabEvent]) -> LabSnapshot:
    state = LabState()
    for event in events:
        state.apply(event)
    return state.snapshot()


def history_of(events: list[ev.LabEvent], **kw: Any) -> History:
    history = History(**kw)
    for event in events:
        history.append(event)
    return history


def test_the_snapshot_at_any_position_is_the_fold_of_the_events_up_to_it() -> None:
    events = busy(40)
    history = history_of(events, every=16)
    positions = list(range(len(events) + 1))
    random.Random(3).shuffle(positions)  # any order: back, forth, far jumps
    for k in positions:
        assert history.snapshot(k) == folded(events[:k]), k


def test_stepping_back_a_hundred_events_folds_far_fewer_events_than_folding_each_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = busy(300)
    history = history_of(events, every=100)
    applied = [0]
    apply = LabState.apply

    def counting(self: LabState, event: ev.LabEvent) -> None:
        applied[0] += 1
        apply(self, event)

    monkeypatch.setattr(LabState, "apply", counting)
    position = history.last
    for _ in range(100):
        position -= 1
        assert history.snapshot(position).seq == events[position - 1].seq
    # The first step folds the whole run once (and keeps checkpoints); the others are cheap.
    assert applied[0] < len(events) + 3 * 100, applied[0]


def test_a_long_run_keeps_the_newest_events_and_still_knows_the_state_at_each() -> None:
    events = busy(30)
    history = history_of(events, limit=50, every=8)
    assert history.last == len(events) and history.forgotten == len(events) - 50
    assert history.first == history.forgotten + 1
    for k in (history.first, history.first + 13, history.last):
        assert history.snapshot(k) == folded(events[:k])
    with pytest.raises(IndexError):
        history.event(history.first - 1)


def test_a_reset_starts_the_history_over_from_the_reset() -> None:
    stream = Stream()
    before = busy(3, stream=stream)[:]
    history = history_of(before)
    generation = history.generation
    reset = stream.add(ev.LabReset)
    after = busy(2, stream=stream)[len(before) + 1 :]
    for event in (reset, *after):
        history.append(event)
    assert history.generation == generation + 1
    assert history.first == 1 and history.event(1) is reset
    assert history.snapshot(history.last) == folded([*before, reset, *after])


def test_stepping_passes_over_quiet_events() -> None:
    s = Stream()
    s.add(ev.WorkerStarted, worker=W, concurrency=1, prefetch_multiplier=4)
    s.add(ev.RestoreScan, worker=W, restored=0, next_in=1.0)
    s.add(ev.RestoreScan, worker=W, restored=1, next_in=1.0)
    s.add(ev.RestoreScan, worker=W, restored=0, next_in=1.0)
    history = history_of(s.events)
    assert history.newest() == 3
    assert history.previous(3) == 1 and history.following(1) == 3
    assert history.following(3) is None and history.previous(1) is None


def test_since_finds_the_first_event_within_the_last_seconds() -> None:
    s = Stream()
    for dt in (0.0, 5.0, 1.0, 1.0, 1.0):
        s.add(ev.FaultArmed, dt=dt, description="x")
    history = history_of(s.events)  # at 0.1, 5.1, 6.1, 7.1, 8.1
    assert history.since(2.0) == 3
    assert history.since(100.0) == 1
    assert History().since(1.0) is None


def test_a_replay_slows_the_lab_down_and_shortens_long_waits() -> None:
    s = Stream()
    s.add(ev.FaultArmed, dt=1.0, description="a")  # 1.0
    s.add(ev.FaultArmed, dt=0.5, description="b")  # 1.5: 2 s later at x0.25
    s.add(ev.FaultArmed, dt=10.0, description="c")  # 11.5: a 10 s wait, LONGEST_WAIT on screen
    s.add(ev.FaultArmed, dt=0.0, description="d")  # at once: still shown for a moment
    replay = Replay.of(list(enumerate(s.events, 1)), speed=0.25)
    assert replay.due == (0.0, 2.0, 2.0 + LONGEST_WAIT, 2.0 + LONGEST_WAIT + SHORTEST_STEP)
    assert [replay.positions[replay.index(t)] for t in (0.0, 1.9, 2.0, 4.9, 5.0, 5.4, 5.5)] == [1, 1, 2, 2, 3, 3, 4]
    assert replay.lab_time(1.0) == pytest.approx(1.25)  # halfway through a slowed gap
    assert replay.lab_time(2.0 + LONGEST_WAIT / 2) == pytest.approx(6.5)  # halfway through the long wait
    assert replay.shortened(1.0) is None and replay.shortened(3.0) == pytest.approx(10.0)
    assert not replay.finished(replay.duration) and replay.finished(replay.duration + END_HOLD)


def test_in_a_replay_of_many_events_each_shows_for_its_share_of_the_budget() -> None:
    s = Stream()
    for n in range(600):
        s.add(ev.FaultArmed, dt=0.0, description=f"{n}")  # a burst: all at once
    replay = Replay.of(list(enumerate(s.events, 1)))
    assert replay.duration == pytest.approx(STEP_BUDGET * 599 / 600)


def test_pausing_stepping_and_going_live() -> None:
    events = busy(2)
    history = history_of(events)
    travel = TimeTravel(history)
    assert travel.live and not travel.forward()
    assert travel.pause() and travel.mode is Mode.PAUSED and travel.position == history.last
    assert travel.lab_now == events[-1].at
    assert travel.back() and travel.position == history.last - 1
    assert travel.forward() and travel.position == history.last
    assert travel.forward() and travel.live  # past the newest event: live again
    assert travel.back() and travel.position == history.last - 1  # from live: one back from the newest
    while travel.back():
        pass
    assert travel.position == 1 and not travel.live


def test_the_lab_runs_on_under_a_paused_view_and_a_reset_brings_it_live() -> None:
    stream = Stream()
    history = history_of(busy(1, stream=stream))
    travel = TimeTravel(history)
    travel.pause()
    held = travel.position
    history.append(stream.add(ev.FaultArmed, description="later"))
    assert not travel.sync() and travel.position == held and history.last == held + 1
    history.append(stream.add(ev.LabReset))
    assert travel.sync() and travel.live


def test_a_paused_view_moves_to_the_oldest_event_kept_when_its_own_is_forgotten() -> None:
    stream = Stream()
    history = history_of(busy(2, stream=stream), limit=20)
    travel = TimeTravel(history)
    while travel.back():
        pass
    for n in range(10):
        history.append(stream.add(ev.FaultArmed, description=f"{n}"))
    assert not travel.sync() and travel.position == history.first


def test_a_replay_follows_the_clock_it_is_given_and_ends_live() -> None:
    s = Stream()
    s.add(ev.LabReset, dt=0.0)
    s.add(ev.WorkerStarted, dt=0.5, worker=W, concurrency=1, prefetch_multiplier=4)  # 0.5
    s.add(ev.RestoreScan, dt=0.1, worker=W, restored=0, next_in=1.0)  # quiet: not a step of the replay
    s.add(ev.WorkerKilled, dt=0.4, worker=W, requeued=0, lost=0)  # 1.0
    history = history_of(s.events)
    travel = TimeTravel(history)
    assert travel.start_replay(1, now=100.0)
    assert travel.mode is Mode.REPLAY and travel.position == 1
    assert not travel.frame(100.0)  # the clock did not move: nothing to redraw
    assert travel.frame(101.0) and travel.position == 1 and travel.lab_now == pytest.approx(0.25)
    assert travel.frame(102.0) and travel.position == 2
    assert travel.frame(104.0) and travel.position == 4 and travel.lab_now == pytest.approx(1.0)
    assert travel.frame(104.0 + END_HOLD) and travel.live


def test_stepping_during_a_replay_pauses_it_where_it_is() -> None:
    history = history_of(busy(2))
    travel = TimeTravel(history)
    travel.start_replay(1, now=0.0)
    travel.frame(3.0)
    at = travel.position
    assert travel.back() and travel.mode is Mode.PAUSED and travel.position < at
    assert not travel.frame(10.0)  # paused: the clock no longer moves it


def test_nothing_to_travel_through_before_the_lab_said_anything() -> None:
    travel = TimeTravel(History())
    assert not travel.pause() and not travel.back() and travel.live
    assert not travel.start_replay(1, now=0.0) and travel.live


def test_a_replay_keeps_quiet_events_in_step_without_giving_them_a_moment_of_their_own() -> None:
    s = Stream()
    s.add(ev.WorkerStarted, dt=0.0, worker=W, concurrency=1, prefetch_multiplier=4)  # 0.0
    s.add(ev.RestoreScan, dt=0.01, worker=W, restored=0, next_in=1.0)  # 0.01: quiet
    s.add(ev.WorkerKilled, dt=0.01, worker=W, requeued=0, lost=0)  # 0.02
    history = history_of(s.events)
    travel = TimeTravel(history)
    assert travel.start_replay(1, now=0.0)
    replay = travel.replay
    assert replay is not None and replay.positions == (1, 2, 3)
    assert replay.due == pytest.approx((0.0, 0.04, 0.04 + SHORTEST_STEP))  # the scan: its own gap, no more
    travel.frame(0.1)
    assert travel.position == 2 and travel.shown == 1  # the scan has no timeline row: the event before it
    assert history.snapshot(travel.position).workers[0].next_scan_at == pytest.approx(1.01)
