"""Carry out a list of control steps on a lab, waits included, while recording every event.

Scripts (``lab run``), lesson experiments and solutions all run through here, so a
step means the same thing everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from celery_tutor.lab import events as ev
from celery_tutor.lab import settings
from celery_tutor.lab.actions import Action, Until, Wait
from celery_tutor.lab.engine import Lab, LabStateError
from celery_tutor.lab.limits import MAX_WAIT_SECONDS
from celery_tutor.lab.settings import LabConfigError


class ScriptRunner:
    """Records a lab's events from its creation on, and runs steps against it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._events: list[ev.LabEvent] = []
        self._changed = threading.Condition()
        self._interrupted = False
        self._halted: str | None = None
        self._unsubscribe = lab.subscribe(self._record)

    def _record(self, event: ev.LabEvent) -> None:
        # Called by the lab under its lock: record and wake, never call back into the lab.
        with self._changed:
            self._events.append(event)
            if isinstance(event, ev.CodeTimedOut):
                self._halted = event.message  # the lab halted: no wait can be met any more
                self._interrupted = True
            self._changed.notify_all()

    @property
    def events(self) -> list[ev.LabEvent]:
        """Every event so far, in order."""
        with self._changed:
            return list(self._events)

    def close(self) -> None:
        """Stop recording."""
        self._unsubscribe()

    def interrupt(self) -> None:
        """End the run now, waits included (its lab is going away); any thread."""
        with self._changed:
            self._interrupted = True
            self._changed.notify_all()

    def run(
        self, actions: Iterable[Action], where: Callable[[Action], str] = lambda a: f"line {a.pos.line}"
    ) -> str | None:
        """Run steps in order; the first failure (``where: message``) stops the run."""
        for action in actions:
            if self._interrupted:
                return f"{where(action)}: {self._halted or 'interrupted'}"
            failure: str | None = None
            try:
                if isinstance(action, Wait):
                    failure = self.wait(action)
                else:
                    action.apply(self.lab)
            except (LabStateError, LabConfigError) as exc:
                failure = f"{action.control}: {exc}"
            if self._halted is not None:  # learner code overran: say so, not what it broke
                return f"{where(action)}: {self._halted}"
            if failure:
                return f"{where(action)}: {failure}"
        return None

    def wait(self, step: Wait) -> str | None:
        """Carry out one ``wait`` step; a message when it timed out.

        A wait built in code gets the limits a parsed one got: it can never block for
        days (or overflow the standard library's timeouts).
        """
        if step.seconds is not None:
            seconds = settings.named("seconds", settings.number, step.seconds, 0, MAX_WAIT_SECONDS)
            with self._changed:
                self._changed.wait_for(lambda: self._interrupted, seconds)
            return None
        if step.until is None:
            raise LabConfigError("expected either seconds or until")
        until = step.until
        timeout = settings.named("timeout", settings.number, step.timeout, 0, MAX_WAIT_SECONDS)
        timeout = max(timeout, self.lab.wait_floor)  # real workers are slower than the in-process lab
        if self.wait_for(lambda events: self._holds(until, events), timeout):
            return None
        now = ""
        if until.task is not None:
            now = f" (it is {self.lab.snapshot().task(self.lab.task_id(until.task)).state})"
        return f"wait timed out after {timeout:g}s: {until.describe()}{now}"

    def wait_for(self, predicate: Callable[[list[ev.LabEvent]], bool], timeout: float) -> bool:
        """Block until ``predicate(events so far)`` holds, re-checking after each event."""
        deadline = time.monotonic() + timeout
        while True:
            # Never hold our lock while the predicate reads the lab: the lab calls us
            # under its own lock.
            seen = self.events
            if predicate(seen):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._interrupted:
                return False
            with self._changed:
                if len(self._events) == len(seen) and not self._interrupted:
                    self._changed.wait(remaining)

    def _holds(self, until: Until, events: list[ev.LabEvent]) -> bool:
        task_id = self.lab.task_id(until.task) if until.task is not None else None
        if until.event is not None:
            hits = sum(
                1
                for e in events
                if e.kind == until.event and (task_id is None or getattr(e, "task_id", None) == task_id)
            )
            return hits >= until.count
        assert task_id is not None
        return self.lab.snapshot().task(task_id).state == until.state
