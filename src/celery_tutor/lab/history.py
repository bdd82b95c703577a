"""The lab's events since its last reset, and its state after any of them.

The lab's state is a fold over its events (:class:`~.state.LabState`), so the state after
event *k* is the fold of events 1..k. :class:`History` keeps the events since the lab's
last reset (at most ``limit``: a longer run keeps the newest) and answers
:meth:`History.snapshot` quickly: it keeps checkpoints of the fold (a copy every
``every`` events near where someone travels, never while the lab merely runs)
and the snapshots of the positions it computed last. Where the view is in time lives in
:mod:`.time_travel`. Pure: no Textual, no Celery, and no clock of its own (callers pass
the time), so tests drive it exactly.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from itertools import islice

from celery_tutor.lab.events import LabEvent, LabReset
from celery_tutor.lab.state import LabState
from celery_tutor.lab.views import LabSnapshot

MAX_EVENTS = 10_000
"""The most events a history keeps; beyond that it forgets the oldest."""
CHECKPOINT_EVERY = 500
"""Positions between two checkpoints of the fold (a copy of a 1,000-task state: about 7 ms)."""
BLOCK = 64
"""Stepping back, the snapshots of this many positions are computed in one pass."""
CACHED = 256
"""Snapshots kept (the most recently used)."""


class History:
    """The events since the lab's last reset, and the state after each of them.

    Positions count events since the history started (the reset is event 1): the state
    at position *k* is the fold of events 1..k. Positions stay put when the oldest events
    are forgotten; :attr:`first` moves on.
    """

    def __init__(self, limit: int = MAX_EVENTS, every: int = CHECKPOINT_EVERY) -> None:
        self.limit = limit
        self.every = every
        self.generation = 0
        """Counts restarts (lab resets): a position means nothing in another generation."""
        self._begin()

    def _begin(self) -> None:
        self._events: deque[LabEvent] = deque()
        self._forgotten = 0
        self._base = LabState()
        """The state at position ``forgotten``: the oldest events are folded into it as they go."""
        self._checkpoints: dict[int, LabState] = {}
        self._snapshots: OrderedDict[int, LabSnapshot] = OrderedDict()
        self._cursor: tuple[int, LabState] | None = None
        """The state a pass ended at, to go on from (a private copy, changed in place)."""

    # -- the events -------------------------------------------------------------------------

    def append(self, event: LabEvent) -> None:
        """Keep one more event (a reset starts the history over, from the reset)."""
        if isinstance(event, LabReset):
            self.generation += 1
            self._begin()
        self._events.append(event)
        if len(self._events) > self.limit:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        self._base.apply(self._events.popleft())
        self._forgotten += 1
        gone = self._forgotten - 1
        self._checkpoints.pop(gone, None)
        self._snapshots.pop(gone, None)
        if self._cursor is not None and self._cursor[0] < self._forgotten:
            self._cursor = None

    @property
    def first(self) -> int:
        """The position of the oldest event kept."""
        return self._forgotten + 1

    @property
    def last(self) -> int:
        """The position of the newest event (0: none yet)."""
        return self._forgotten + len(self._events)

    @property
    def forgotten(self) -> int:
        """How many of the oldest events were let go (the history keeps at most ``limit``)."""
        return self._forgotten

    def event(self, position: int) -> LabEvent:
        """The event at a position kept."""
        if not self.first <= position <= self.last:
            raise IndexError(position)
        return self._events[position - self.first]

    def events(self, low: int, high: int) -> list[tuple[int, LabEvent]]:
        """The kept events from ``low`` to ``high`` (both included), with their positions."""
        low, high = max(low, self.first), min(high, self.last)
        if low > high:
            return []
        window = islice(self._events, low - self.first, high - self.first + 1)
        return list(zip(range(low, high + 1), window, strict=True))

    def previous(self, position: int) -> int | None:
        """The shown event before ``position`` (a quiet one, like an empty Redis scan, is stepped over)."""
        for at in range(min(position - 1, self.last), self.first - 1, -1):
            if not self.event(at).quiet:
                return at
        return None

    def following(self, position: int) -> int | None:
        """The shown event after ``position``."""
        for at in range(max(position + 1, self.first), self.last + 1):
            if not self.event(at).quiet:
                return at
        return None

    def newest(self) -> int | None:
        """The newest shown event."""
        return self.previous(self.last + 1)

    def since(self, seconds: float) -> int | None:
        """The first shown event at most ``seconds`` of the lab's time before the newest event."""
        newest = self.newest()
        if newest is None:
            return None
        start = self.event(newest).at - seconds
        found = newest
        for at, event in zip(range(self.last, self.first - 1, -1), reversed(self._events), strict=True):
            if at > newest or event.quiet:
                continue
            if event.at < start:
                break
            found = at
        return found

    # -- the state at a position ------------------------------------------------------------

    def snapshot(self, position: int) -> LabSnapshot:
        """The lab as it was right after the event at ``position``."""
        if not self._forgotten <= position <= self.last:
            raise IndexError(position)
        cached = self._snapshots.get(position)
        if cached is not None:
            self._snapshots.move_to_end(position)
            return cached
        start, state = self._start_for(position)
        keep_from = position - BLOCK + 1  # stepping back goes on from here: keep the block on the way
        # Checkpoints only near the position: a copy costs as much as folding a few thousand
        # events, and stepping back needs the nearest ones first (a later pass leaves its own).
        mark_from = position - 2 * self.every
        if start >= keep_from:
            self._remember(start, state.snapshot())
        for at, event in self.events(start + 1, position):
            state.apply(event)
            if at % self.every == 0 and at > mark_from and at not in self._checkpoints:
                self._checkpoints[at] = state.copy()
            if at >= keep_from:
                self._remember(at, state.snapshot())
        self._cursor = (position, state)
        return self._snapshots[position]

    def _start_for(self, position: int) -> tuple[int, LabState]:
        """A private state at or before ``position`` to fold on from: the cursor, a checkpoint, or the base."""
        cursor, self._cursor = self._cursor, None
        if cursor is not None and cursor[0] <= position and position - cursor[0] <= 2 * self.every:
            return cursor  # folding a few hundred events costs less than a copy
        marks = sorted(at for at in self._checkpoints if at <= position)
        if marks:
            return marks[-1], self._checkpoints[marks[-1]].copy()
        return self._forgotten, self._base.copy()

    def _remember(self, position: int, snapshot: LabSnapshot) -> None:
        self._snapshots[position] = snapshot
        self._snapshots.move_to_end(position)
        while len(self._snapshots) > CACHED:
            self._snapshots.popitem(last=False)

    def remember(self, position: int, snapshot: LabSnapshot) -> None:
        """Keep a snapshot someone else folded (the live state's, when pausing at the newest event)."""
        if self._forgotten <= position <= self.last:
            self._remember(position, snapshot)
