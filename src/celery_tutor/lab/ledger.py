"""The side-effect ledger: what the lab's tasks did to the outside world, and how often.

This is the "bank" the lessons look at: a charge counted twice is the duplicate that
late acks plus a crash produce. An idempotency key, as real payment providers honour
it, makes a second charge with the same key a no-op, reported as skipped.
"""

from __future__ import annotations

import threading
from collections import Counter

from celery_tutor.lab import events as ev
from celery_tutor.lab.bus import EventBus
from celery_tutor.lab.runtime import RunContext


class Ledger:
    """Counts side effects per (action, key) and remembers used idempotency keys."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        # Taken before the bus's lock (never while holding it): counts and events stay in step.
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._keys: set[str] = set()

    def record(self, run: RunContext, action: str, key: str, detail: str, idempotency_key: str | None) -> bool:
        """Count a side effect and report it; False (and nothing counted) when its key was used."""
        with self._lock:
            if idempotency_key is not None and idempotency_key in self._keys:
                self._bus.emit(ev.SideEffectSkipped, task_id=run.task_id, task=run.task, action=action, key=key)
                return False
            if idempotency_key is not None:
                self._keys.add(idempotency_key)
            self._counts[(action, key)] += 1
            self._bus.emit(
                ev.LedgerWritten,
                task_id=run.task_id,
                task=run.task,
                action=action,
                key=key,
                detail=detail,
                count=self._counts[(action, key)],
            )
            return True

    def clear(self) -> None:
        """Forget every side effect and key (the lab is reset)."""
        with self._lock:
            self._counts.clear()
            self._keys.clear()
