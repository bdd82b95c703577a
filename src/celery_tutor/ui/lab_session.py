"""One screen's lab: started, driven and closed off the event loop, one job at a time.

Starting Celery (the first import takes a moment), restarting workers and running
scripts block, so they run on a Textual thread worker of the owning screen. Every job
of a session (the start, each control, each script) goes into one queue and runs in
the order it was asked for: a control pressed during a setup waits for the setup, and
two scripts never run at once. (A thread worker cannot be interrupted and
``exclusive=True`` would cancel, not queue, so the session serialises the jobs itself.)

One owner per lab: once :meth:`LabSession.close` ran, the session posts nothing more,
queued jobs are dropped, a running script is interrupted, and a lab that finishes
starting only afterwards is closed at once. Every outcome reaches the screen as a
message; events come through the :class:`~celery_tutor.ui.bridge.LabBridge`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from celery_tutor.ui.bridge import LabBridge
from celery_tutor.ui.handoff import Handoff

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from celery_tutor.lab.actions import Action
    from celery_tutor.lab.engine import Lab, LabConfig
    from celery_tutor.lab.runner import ScriptRunner
    from celery_tutor.ui.real_broker import RealBroker

CLOSE_TIMEOUT = 2.0
"""How long the background close of a lab waits for its threads."""


@dataclass(frozen=True)
class _Job:
    what: str
    run: Callable[[Lab], object]
    report: bool
    """A script: its end (or its failure) is reported with ``ScriptDone``."""


class LabSession:
    """A lab owned by one screen; its jobs run in order on one thread at a time."""

    class Ready(Message, bubble=False):
        """The lab is consuming."""

        def __init__(self, session: LabSession | None = None) -> None:
            super().__init__()
            self.session = session
            """The session whose lab it is (a screen that replaced its lab ignores the old one's)."""

    class Failed(Message, bubble=False):
        """Something in the lab went wrong; the screen shows it and lives on."""

        def __init__(self, what: str) -> None:
            super().__init__()
            self.what = what

    class ScriptDone(Message, bubble=False):
        """A script (experiment, setup, solution) finished."""

        def __init__(self, purpose: str, failure: str | None, session: LabSession | None = None) -> None:
            super().__init__()
            self.purpose = purpose
            self.failure = failure
            self.session = session
            """The session whose script it was (a screen that replaced its lab ignores the old one's)."""

    def __init__(self, owner: DOMNode, config: LabConfig | None) -> None:
        self.owner = owner
        self.config = config
        self.bridge = LabBridge(owner)
        self.lab: Lab | None = None
        """The running lab (None while starting, and after close)."""
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._jobs: Handoff[_Job | None] = Handoff()
        """Waiting jobs; None is the start. Awake: a worker thread runs them."""
        self._before_start: list[_Job] | None = []
        """Jobs asked for before :meth:`start` (None once started): they run after the start.
        A subclass screen's ``on_mount`` runs before its base's, so a lesson opened at a lab
        step asks for the step's setup before the lab screen starts the lab."""
        self._closed = False
        self._runner: ScriptRunner | None = None
        self.real: RealBroker | None = None
        """The app's ``--broker`` (read at start): a lab that fits it runs on real worker processes."""
        self.on_real_broker = False
        """The running lab is a real one (worker processes on the app's broker)."""
        self.in_process_because: str | None = None
        """With ``--broker``: why this lab runs in process all the same (None: it does not, or no broker)."""
        self._needs: frozenset[str] = frozenset()
        """The controls the owner drives the lab with (read at start when there is a broker)."""

    # -- what the screen asks for (event loop only) --------------------------------------

    def start(self) -> None:
        """Create and start the lab: the first job of the queue."""
        self.real = getattr(self.owner.app, "real_broker", None)
        if self.real is not None:
            needs: Callable[[], frozenset[str]] | None = getattr(self.owner, "lab_controls", None)
            self._needs = needs() if needs is not None else frozenset()
        self._submit(None)

    def placed(self) -> dict[str, tuple[str, int, bool]]:
        """Real workers: name → (host, pid, started elsewhere). Empty for the in-process lab."""
        lab = self.lab
        if lab is None or not self.on_real_broker:
            return {}
        placed: Callable[[], dict[str, tuple[str, int, bool]]] = getattr(lab, "placed", dict)
        return placed()

    def join_command(self, name: str) -> str | None:
        """Real lab: what to paste into another terminal to (re)start worker ``name`` in it, with the lab's settings."""
        lab, real, prefix = self.lab, self.real, self.prefix
        if lab is None or real is None or prefix is None:
            return None
        join_options: Callable[[], tuple[dict[str, Any], dict[str, Any]]] = getattr(lab, "join_options")  # noqa: B009
        plain, options = join_options()
        return real.worker_command(prefix, name, plain, options)

    @property
    def prefix(self) -> str | None:
        """Real lab: the prefix a worker from another terminal needs (None otherwise)."""
        lab = self.lab
        return getattr(lab, "prefix", None) if lab is not None and self.on_real_broker else None

    def now(self) -> float:
        """The lab's clock (0 before it started)."""
        lab = self.lab
        return lab.now() if lab is not None else 0.0

    def control(self, action: Action) -> None:
        """Apply one control after every job asked for before it."""
        self._submit(_Job("control", action.apply, report=False))

    def call(self, what: str, fn: Callable[[Lab], object]) -> None:
        """Run ``fn(lab)`` in turn; a failure is reported, never raised."""
        self._submit(_Job(what, fn, report=False))

    def run_script(self, purpose: str, actions: tuple[Action, ...], reset_first: bool = True) -> None:
        """Reset the lab (optionally) and run a script in turn; ``ScriptDone`` follows."""

        def body(lab: Lab) -> None:
            from celery_tutor.lab.runner import ScriptRunner

            if reset_first:
                lab.reset()
            runner = ScriptRunner(lab)
            with self._lock:
                self._runner = runner
                closed = self._closed
            if closed:
                runner.interrupt()
            try:
                failure = runner.run(actions)
            finally:
                with self._lock:
                    self._runner = None
                runner.close()
            self._post(self.ScriptDone(purpose, failure, self))

        self._submit(_Job(purpose, body, report=True))

    def _submit(self, job: _Job | None) -> None:
        with self._lock:
            if job is not None and self._before_start is not None:
                self._before_start.append(job)
                return
            jobs: list[_Job | None] = [job]
            if job is None:  # the start, then whatever was asked for before it
                jobs += self._before_start or []
                self._before_start = None
            wake = self._jobs.put(jobs[0])  # False: a thread runs the jobs already, or closed
            for later in jobs[1:]:
                self._jobs.put(later)
            if not wake:
                return
        self.owner.run_worker(self._drain, name="lab session", group="lab-session", exit_on_error=False, thread=True)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job runs or waits (any thread but the event loop); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._jobs.awake, timeout)

    # -- the worker thread ---------------------------------------------------------------

    def _drain(self) -> None:
        """Run the queued jobs in order until none is left (or the session closed)."""
        while True:
            with self._lock:
                next_job = self._jobs.take_one()
                if not next_job:
                    self._idle.notify_all()
                    return
            (job,) = next_job
            if job is None:
                self._start()
            else:
                self._run(job)

    def _start(self) -> None:
        lab: Lab | None = None
        try:
            lab = self._make_lab()
            self.bridge.attach(lab.subscribe)
            lab.start()
        except Exception as exc:  # the lab failing must never take the UI down
            self._post(self.Failed(f"the lab did not start: {exc}"))
            if lab is not None:
                _close_in_background(lab)
            return
        with self._lock:
            if not self._closed:
                self.lab = lab
                self.owner.post_message(self.Ready(self))
                return
        # The owner let go while the lab was starting: nobody will ever close it but us.
        _close_in_background(lab)

    def _make_lab(self) -> Lab:
        """An in-process lab, or a real one when the app has a broker and this lab fits it."""
        from celery_tutor.lab.engine import Lab, LabConfig

        real = self.real
        if real is None:
            return Lab(self.config)
        # A screen with no lab of its own (the sandbox) runs on the app's broker.
        config = self.config if self.config is not None else LabConfig(broker=real.kind)
        why = real.why_in_process(config, self._needs)
        if why is not None:
            self.in_process_because = why
            return Lab(config)
        self.on_real_broker = True
        return real.make_lab(config)

    def _run(self, job: _Job) -> None:
        lab = self.lab
        try:
            if lab is None:
                raise RuntimeError("the lab is not running")
            job.run(lab)
        except Exception as exc:  # shown in the UI, never raised into it
            # A script's end says why it failed (the screen shows it once); a control's, Failed.
            self._post(self.ScriptDone(job.what, str(exc), self) if job.report else self.Failed(f"{job.what}: {exc}"))

    def _post(self, message: Message) -> None:
        with self._lock:  # close() takes this lock: once it returned, nothing is posted
            if not self._closed:
                self.owner.post_message(message)

    # -- letting go ----------------------------------------------------------------------

    def _let_go(self) -> Lab | None:
        """Mark the session closed; returns the lab to close, if it was running."""
        with self._lock:
            self._closed = True
            self._jobs.shut_down()
            lab, self.lab = self.lab, None
            runner = self._runner
        self.bridge.detach()
        if runner is not None:
            runner.interrupt()
        return lab

    def shutdown(self) -> None:
        """Kill the lab now and return at once (the app is quitting: nothing waits for it)."""
        lab = self._let_go()
        if lab is not None:
            lab.close(timeout=0)

    def close(self) -> None:
        """Stop receiving and close the lab in the background (the screen is going away)."""
        lab = self._let_go()
        if lab is not None:
            _close_in_background(lab)


def _close_in_background(lab: Lab) -> None:
    # A plain thread, not a Textual worker: the owner may be gone, and an app that exits
    # must not wait for a lab's teardown.
    threading.Thread(
        target=lab.close, kwargs={"timeout": CLOSE_TIMEOUT}, name="celery-tutor-lab-close", daemon=True
    ).start()
