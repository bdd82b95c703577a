"""Where the view of the lab is in time: live, paused at an event, or replaying slowly.

:class:`TimeTravel` moves through a :class:`~.history.History` (which answers the lab's
state after any event); :class:`Replay` is the schedule of a slowed-down replay. Pure:
no Textual, no Celery, and no clock of its own (callers pass the time), so tests drive
it exactly.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import StrEnum

from celery_tutor.lab.events import LabEvent
from celery_tutor.lab.history import History

REPLAY_SPEED = 0.25
"""A replay shows the lab at a quarter of its speed."""
REPLAY_WINDOW = 60.0
"""A replay covers at most this many seconds of the lab's time, up to its last event."""
LONGEST_WAIT = 3.0
"""Seconds on screen that a quiet stretch of the lab takes at most in a replay (the rest is fast-forwarded)."""
SHORTEST_STEP = 0.5
"""Seconds on screen that each event of a replay shows at least (a kill and its aftermath may be
a millisecond apart: slowed down fourfold they would still flash by)…"""
STEP_BUDGET = 30.0
"""…unless there are many: then each shows at least this many seconds divided among them all."""
END_HOLD = 1.0
"""Seconds a replay holds its last picture before the view goes live again."""


@dataclass(frozen=True)
class Replay:
    """When each event of a replay shows: the lab's own gaps, slowed down, long waits shortened.

    Every event stays on screen a moment at least (:data:`SHORTEST_STEP`, less when there
    are many), so nothing that happened in the same millisecond as the next flashes by.
    Quiet events (a Redis scan that found nothing) take no moment of their own: they are
    in the schedule only so that what they change (the next scan's countdown) moves on.

    Times are seconds from the replay's start (``elapsed``). Between two events the lab's
    clock (for the countdowns on screen) runs on from the earlier event's time.
    """

    positions: tuple[int, ...]
    lab_times: tuple[float, ...]
    """Each event's time on the lab's clock."""
    due: tuple[float, ...]
    """When each event shows, in seconds from the start of the replay."""
    speed: float

    @classmethod
    def of(cls, events: list[tuple[int, LabEvent]], speed: float = REPLAY_SPEED) -> Replay:
        """The schedule of a replay of these events (position, event), in order."""
        due: list[float] = []
        lab: list[float] = []
        shortest = min(SHORTEST_STEP, STEP_BUDGET / max(1, sum(not event.quiet for _, event in events)))
        for _, event in events:
            at = max(event.at, lab[-1]) if lab else event.at  # clocks of two threads may disagree by a hair
            least = 0.0 if event.quiet else shortest
            due.append(due[-1] + min(max((at - lab[-1]) / speed, least), LONGEST_WAIT) if due else 0.0)
            lab.append(at)
        return cls(tuple(p for p, _ in events), tuple(lab), tuple(due), speed)

    @property
    def duration(self) -> float:
        """Seconds from the first event shown to the last one."""
        return self.due[-1] if self.due else 0.0

    def index(self, elapsed: float) -> int:
        """Which event of the replay is shown ``elapsed`` seconds after its start."""
        return max(0, bisect.bisect_right(self.due, elapsed) - 1)

    def lab_time(self, elapsed: float) -> float:
        """The lab's clock in the replay: the shown event's time, running on slowly until the next."""
        i = self.index(elapsed)
        if i + 1 >= len(self.due):
            return self.lab_times[-1]
        span = self.due[i + 1] - self.due[i]
        if span <= 0:
            return self.lab_times[i]
        fraction = min(1.0, (elapsed - self.due[i]) / span)
        return self.lab_times[i] + fraction * (self.lab_times[i + 1] - self.lab_times[i])

    def shortened(self, elapsed: float) -> float | None:
        """Inside a wait shown faster than the replay's speed: how long that wait is in the lab."""
        i = self.index(elapsed)
        if i + 1 >= len(self.due):
            return None
        wait = self.lab_times[i + 1] - self.lab_times[i]
        return wait if wait / self.speed > LONGEST_WAIT else None

    def finished(self, elapsed: float) -> bool:
        """Has the replay shown its last event and held it long enough?"""
        return elapsed >= self.duration + END_HOLD


class Mode(StrEnum):
    """What the lab panel shows."""

    LIVE = "live"
    PAUSED = "paused"
    REPLAY = "replay"


class TimeTravel:
    """Where the view of the lab is in time; the lab itself runs on, whatever the view does.

    Live, the panel follows the lab. Paused, it shows the state right after the event
    at :attr:`position`, and ``back``/``forward`` step through the events. Replaying, the
    position follows a :class:`Replay` schedule on a clock the caller passes.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self.mode = Mode.LIVE
        self.position = 0
        self.replay: Replay | None = None
        self._replay_start = 0.0
        self._elapsed = 0.0
        self._generation = history.generation

    @property
    def live(self) -> bool:
        """Does the view follow the lab?"""
        return self.mode is Mode.LIVE

    @property
    def lab_now(self) -> float:
        """The lab's clock at the moment shown (for countdowns): the event's time, or the replay's clock."""
        if self.mode is Mode.REPLAY and self.replay is not None:
            return self.replay.lab_time(self._elapsed)
        if self.mode is Mode.PAUSED and self.history.first <= self.position <= self.history.last:
            return self.history.event(self.position).at
        return 0.0

    @property
    def shown(self) -> int:
        """The event whose timeline row marks the moment: the position, or the shown event before a quiet one."""
        history = self.history
        if history.first <= self.position <= history.last and history.event(self.position).quiet:
            return history.previous(self.position) or self.position
        return self.position

    @property
    def shortened_wait(self) -> float | None:
        """Replaying a long wait faster than the rest: its length on the lab's clock."""
        if self.mode is Mode.REPLAY and self.replay is not None:
            return self.replay.shortened(self._elapsed)
        return None

    def pause(self) -> bool:
        """Freeze the view at the newest event (False: nothing happened yet)."""
        newest = self.history.newest()
        if newest is None:
            return False
        self._hold(newest)
        return True

    def back(self) -> bool:
        """One event back (from live: the event before the newest); False when nothing moved."""
        if self.mode is Mode.LIVE and not self.pause():
            return False
        self.mode, self.replay = Mode.PAUSED, None
        earlier = self.history.previous(self.position)
        if earlier is None:
            return False
        self.position = earlier
        return True

    def forward(self) -> bool:
        """One event on; past the newest, the view is live again. False when it was live."""
        if self.mode is Mode.LIVE:
            return False
        self.mode, self.replay = Mode.PAUSED, None
        later = self.history.following(self.position)
        if later is None:
            self.go_live()
        else:
            self.position = later
        return True

    def go_live(self) -> None:
        """Follow the lab again."""
        self.mode, self.replay, self.position = Mode.LIVE, None, 0

    def start_replay(self, start: int, now: float, speed: float = REPLAY_SPEED) -> bool:
        """Replay from the event at ``start`` to the newest, slowly; ``now`` is the caller's clock."""
        events = self.history.events(start, self.history.last)
        if all(event.quiet for _, event in events):
            return False
        self.replay = Replay.of(events, speed)
        self._replay_start, self._elapsed = now, 0.0
        self._generation = self.history.generation
        self.mode, self.position = Mode.REPLAY, events[0][0]
        return True

    def frame(self, now: float) -> bool:
        """Move a replay on to ``now``; True when the picture changed (position, clock, or live again)."""
        if self.mode is not Mode.REPLAY or self.replay is None:
            return False
        elapsed = now - self._replay_start
        if elapsed == self._elapsed:
            return False
        self._elapsed = elapsed
        if self.replay.finished(elapsed):
            self.go_live()
            return True
        self.position = self.replay.positions[self.replay.index(elapsed)]
        if self.position < self.history.first:  # a flood made the history forget it: nothing to show
            self.go_live()
        return True

    def sync(self) -> bool:
        """After new events: True when the view had to go live (the lab was reset under it)."""
        if self.mode is Mode.LIVE:
            self._generation = self.history.generation
            return False
        if self.history.generation != self._generation:
            self.go_live()
            self._generation = self.history.generation
            return True
        if self.position < self.history.first and self.mode is Mode.REPLAY:
            self.go_live()  # the replay's events were forgotten (a flood of more than the history keeps)
            return True
        if self.position < self.history.first:  # forgotten under a paused view: the oldest kept
            following = self.history.following(self.history.first - 1)
            self.position = following if following is not None else self.history.first
        return False

    def _hold(self, position: int) -> None:
        self.mode, self.replay, self.position = Mode.PAUSED, None, position
        self._generation = self.history.generation
