"""Tracing learner code: how a run is watched line by line, and how it is stopped.

A trace function (:class:`RunWatch` for a task's run on a pool thread,
:class:`TopLevelWatch` for the top level of learner code) sees each line of the
learner's own code only, yields the GIL now and then, and raises the stop in the thread
(:func:`raise_in_thread`) when the run must end. :mod:`.code_guard` owns the watches and
the watchdog.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from celery_tutor.lab import runtime
from celery_tutor.lab.code_source import FILENAME_PREFIX
from celery_tutor.lab.runtime import RunContext, SimulatedKill

YIELD_EVERY = 1000
"""Traced lines between two GIL yields: ~0.2 ms of a spinning loop."""

STUCK_GRACE = 0.2
"""Seconds a run may take to leave after its worker died before the watchdog sends the stop itself."""

RESEND_EVERY = 0.05
"""Seconds between two stops the watchdog sends to a run that is still stuck."""


TraceFunction = Callable[[FrameType, str, Any], Any]

_SET_ASYNC = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


def raise_in_thread(ident: int, exc: type[BaseException]) -> None:
    """Make ``exc`` raise in thread ``ident`` at its next bytecode boundary.

    There is deliberately no way to take it back: CPython 3.11's ``PyThreadState_SetAsyncExc``
    called with NULL leaves the interpreter's "something is pending" flag set with nothing
    pending, and a traced thread then loops forever on its next function entry. A stop
    that arrives late is caught where it lands instead (see :class:`GuardedTask`).
    """
    _SET_ASYNC(ident, exc)


class CodeTimeLimit(BaseException):
    """The top level of learner code ran longer than its limit.

    A ``BaseException``, like the lab's kills: ``except Exception`` in the code cannot swallow it.
    """


def is_learner_frame(frame: FrameType) -> bool:
    """A frame running learner code (compiled by :mod:`.learner_code`)."""
    return frame.f_code.co_filename.startswith(FILENAME_PREFIX)


class _Tracer:
    """Traces the learner's frames on one thread; subclasses say when to stop and how."""

    stop_with: type[BaseException] = SimulatedKill

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.thread = threading.current_thread()
        self.lines = 0
        self._previous: Any = None

    def should_stop(self) -> bool:
        """Has this run been told to end?"""
        raise NotImplementedError

    def stop(self) -> None:
        """End the run: its thread raises :attr:`stop_with` at its next bytecode boundary."""
        raise_in_thread(self.ident, self.stop_with)

    def on_call(self, frame: FrameType, event: str, arg: Any) -> TraceFunction | None:
        """The thread's trace function: learner frames only get a line trace."""
        if not is_learner_frame(frame):
            return None
        if self.should_stop():
            self.stop()
        return self.on_line

    def on_line(self, frame: FrameType, event: str, arg: Any) -> TraceFunction:
        """Each line of learner code: stop when told, and let other threads run now and then."""
        if event == "line":
            self.lines += 1
            if self.should_stop():
                self.stop()
            elif self.lines % YIELD_EVERY == 0:
                time.sleep(0)  # releases the GIL: a waiting thread (the UI) takes it at once
        return self.on_line

    def install(self) -> None:
        """Trace this thread from now on (must be called on the watched thread)."""
        self._previous = sys.gettrace()
        sys.settrace(self.on_call)

    def uninstall(self) -> None:
        """Give the thread its previous trace function back (a coverage tool's, say)."""
        sys.settrace(self._previous)


class TopLevelWatch(_Tracer):
    """The top level of learner code, run by :func:`~.learner_code.compile_code` on the caller's thread.

    The trace stops it at the limit. If the trace was lost (see the module's documentation),
    a short-lived helper thread sends the stop itself, for as long as the caller's thread
    is still in the learner's code.
    """

    stop_with = CodeTimeLimit
    _local = threading.local()

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self._done = threading.Event()
        self._helper: threading.Thread | None = None

    def should_stop(self) -> bool:
        return self.lines % 64 == 0 and self.remaining() <= 0

    def remaining(self) -> float:
        """Seconds left before the limit."""
        return self.deadline - time.monotonic()

    def start(self) -> None:
        """Trace this thread and start the clock (on the thread that runs the code)."""
        type(self)._local.watch = self
        self._helper = threading.Thread(target=self._back_up, name="celery-tutor-code-top-level", daemon=True)
        self._helper.start()
        self.install()

    def finish(self) -> None:
        """Stop tracing and watching (idempotent: called again if a late stop interrupts it)."""
        self._done.set()
        self.uninstall()
        type(self)._local.watch = None
        if self._helper is not None:
            self._helper.join()

    def _back_up(self) -> None:
        if self._done.wait(self.seconds + STUCK_GRACE):
            return
        while not self._done.is_set():
            if in_learner_code(self.ident):
                self.stop()
            self._done.wait(RESEND_EVERY)

    @classmethod
    def current(cls) -> TopLevelWatch | None:
        """The top-level watch of this thread, while learner code's top level runs on it."""
        watch: TopLevelWatch | None = getattr(cls._local, "watch", None)
        return watch


class RunWatch(_Tracer):
    """One run of a learner's task on a pool thread."""

    def __init__(self, task: str, task_id: str, run: RunContext | None, deadline: float) -> None:
        super().__init__()
        self.task = task
        self.task_id = task_id
        self.run = run
        worker = run.worker if run is not None else runtime.bound_worker()
        self.worker = worker.name if worker is not None else "?"
        self.killed = worker.killed if worker is not None else threading.Event()
        self.deadline = deadline
        self.overran = False
        self.stuck_since: float | None = None
        self.last_sent = 0.0

    def should_stop(self) -> bool:
        return self.killed.is_set()

    def stop(self) -> None:
        if self.run is not None:
            self.run.dead = True  # what Celery still reports while the stack unwinds is dropped
        super().stop()


def in_learner_code(ident: int) -> bool:
    """Is thread ``ident`` inside learner code now (any frame of its stack)?"""
    frame: FrameType | None = sys._current_frames().get(ident)
    while frame is not None:
        if is_learner_frame(frame):
            return True
        frame = frame.f_back
    return False
