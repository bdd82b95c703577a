"""Learner code cannot freeze the app: each run of it is watched, and stopped when it must end.

Python cannot kill a thread, and a learner's ``while True: pass`` never reaches a
checkpoint, where lab tasks die with their worker. So, while a learner's task runs on a
pool thread (and while the top level of learner code runs, see :class:`~.code_trace.TopLevelWatch`):

* A trace function sees every line of the learner's own code, and nothing else (other
  frames are not traced, so Celery's code runs at full speed). When the run must stop
  (its worker was killed, or the lab killed every worker because the run hit its time
  limit) it schedules :class:`~.runtime.SimulatedKill` in the thread, which Python raises
  at the next bytecode boundary. The trace stays on, so a bare ``except:`` that swallows
  the stop is handed it again on its next line.
* Every thousand traced lines the thread yields the GIL (``time.sleep(0)``). A spinning
  loop then costs the rest of the app almost nothing; without it, each wake-up of the UI
  thread waits up to Python's 5 ms switch interval for the spinning thread.
* A watchdog thread per lab reports a run that outlived the limit (the lab then halts,
  see :attr:`~.engine.Lab.halted`, and kills its workers), and keeps sending the stop to
  a run whose worker is dead but whose thread is still in the learner's code (its trace
  was lost: Python switches off a trace function that hits the recursion limit). It only
  sends while the thread's stack holds a learner frame, so the stop lands there.

Known limits, said in the README: a single C call that never returns (``sum(range(10**15))``)
holds the GIL and cannot be interrupted inside the process; memory is not limited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task

from celery_tutor.lab import runtime
from celery_tutor.lab.code_trace import (
    RESEND_EVERY,
    STUCK_GRACE,
    RunWatch,
    in_learner_code,
)
from celery_tutor.lab.logs import log
from celery_tutor.lab.runtime import SimulatedKill

_ATTRIBUTE = "_celery_tutor_code_guard"


@dataclass(frozen=True)
class Overrun:
    """A run of learner code that took longer than the limit."""

    task: str
    task_id: str
    worker: str
    seconds: float

    @property
    def message(self) -> str:
        """What the learner is told."""
        return (
            f"your task {self.task} ran for more than {self.seconds:g} s without finishing: "
            "the lab was stopped and must be restarted"
        )


class CodeGuard:
    """Watches every run of learner code in one lab: its time limit, and its stop."""

    def __init__(self, name: str, limit: float, on_overrun: Callable[[Overrun], None]) -> None:
        self.name = name
        self.limit = limit
        self._on_overrun = on_overrun
        self._lock = threading.Lock()
        """Guards the watches; the watchdog sends a stop only while holding it (and the watch is still there)."""
        self._watches: dict[int, RunWatch] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._overran = False

    # -- on the pool thread ------------------------------------------------------------

    def begin(self, task: str, task_id: str) -> RunWatch | None:
        """A learner task starts on this thread: trace it and start its clock (None when nested)."""
        ident = threading.get_ident()
        run = runtime.maybe_current_run()
        with self._lock:
            outer = self._watches.get(ident)
            if outer is not None and not outer.killed.is_set():
                return None  # a task called inside another: the outer run's watch covers both
            watch = RunWatch(task, task_id, run, time.monotonic() + self.limit)
            self._watches[ident] = watch
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._watchdog, name=f"celery-tutor-{self.name}-code-guard", daemon=True
                )
                self._thread.start()
        self._wake.set()
        watch.install()
        return watch

    def end(self, watch: RunWatch) -> None:
        """The run left the learner's code: forget it (idempotent; see :class:`GuardedTask`)."""
        with self._lock:
            if self._watches.get(watch.ident) is watch:
                del self._watches[watch.ident]
            watch.uninstall()

    # -- the watchdog ----------------------------------------------------------------

    def _watchdog(self) -> None:
        while True:
            overruns: list[RunWatch] = []
            with self._lock:
                if self._closed:
                    return
                timeout = self._look(time.monotonic(), overruns)
            for watch in overruns:
                try:
                    self._on_overrun(Overrun(watch.task, watch.task_id, watch.worker, self.limit))
                except Exception:  # the watchdog must keep stopping runs; and nothing may reach the terminal
                    log.exception("halting %s after learner code overran failed", self.name)
            if not overruns:
                self._wake.wait(timeout)
                self._wake.clear()

    def _look(self, now: float, overruns: list[RunWatch]) -> float | None:
        """One look at every run (under the lock); seconds until the next look is needed."""
        timeout: float | None = None
        for ident, watch in list(self._watches.items()):
            killed = watch.killed.is_set()
            inside = not killed or in_learner_code(ident)
            if not watch.thread.is_alive() or not inside:
                # Its worker is dead and the thread has left the learner's code (its
                # own ``end`` may have been cut short by the stop): nothing to watch.
                del self._watches[ident]
                continue
            if not watch.overran and not self._overran:
                if now >= watch.deadline:
                    watch.overran = self._overran = True
                    overruns.append(watch)
                else:
                    timeout = _sooner(timeout, watch.deadline - now)
            if killed:
                timeout = _sooner(timeout, self._kick(watch, now))
        return timeout

    def _kick(self, watch: RunWatch, now: float) -> float:
        """Send the stop to a run its worker outlived for too long; seconds until the next look."""
        if watch.stuck_since is None:
            watch.stuck_since = now
        waited = now - watch.stuck_since
        if waited < STUCK_GRACE:
            return STUCK_GRACE - waited
        if now - watch.last_sent >= RESEND_EVERY:
            watch.last_sent = now
            watch.stop()
        return RESEND_EVERY

    # -- the lab's side ----------------------------------------------------------------

    def close(self) -> None:
        """Stop the watchdog (called when the lab closes)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def join(self, timeout: float) -> bool:
        """Wait for the threads still in learner code to leave it; True when none is left."""
        deadline = time.monotonic() + timeout
        for thread in self.running_threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.running_threads()

    def running_threads(self) -> list[threading.Thread]:
        """The threads running learner code now."""
        with self._lock:
            return [watch.thread for watch in self._watches.values() if watch.thread.is_alive()]

    def live_threads(self) -> list[threading.Thread]:
        """Threads the guard started, or watches, that are still running."""
        with self._lock:
            own = [self._thread] if self._thread is not None and self._thread.is_alive() else []
        return own + self.running_threads()


def _sooner(current: float | None, candidate: float) -> float:
    candidate = max(candidate, 0.0)
    return candidate if current is None else min(current, candidate)


def attach(app: Celery, guard: CodeGuard) -> None:
    """The guard that watches the learner tasks of ``app``."""
    setattr(app, _ATTRIBUTE, guard)


def guard_of(app: Any) -> CodeGuard | None:
    """The guard attached to an app, if any."""
    guard: CodeGuard | None = getattr(app, _ATTRIBUTE, None)
    return guard


class GuardedTask(Task[Any, Any]):
    """The base class of every learner task: its body runs watched by the lab's guard.

    Celery's worker calls a task's own ``__call__`` when it has one; this one runs the
    body (Celery's tracer has already pushed the request, so ``self.request`` is the
    real one) between the guard's ``begin`` and ``end``.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        guard = guard_of(self.app)
        if guard is None:
            return self.run(*args, **kwargs)
        watch = guard.begin(self.name, str(self.request.id or ""))
        try:
            return self.run(*args, **kwargs)
        finally:
            # A stop sent to this thread may raise on the way into ``end`` (at the call);
            # ``end`` is idempotent, so it is called again. A stop caught here was meant
            # for this run (its worker is dead): the run ends with it.
            stopped = False
            while watch is not None:
                try:
                    guard.end(watch)
                    watch = None
                except SimulatedKill:
                    stopped = True
            if stopped:
                raise SimulatedKill()
