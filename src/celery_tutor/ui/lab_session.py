"""One screen's lab: started, reset and closed off the event loop, fed back through the bridge.

Starting Celery (the first import takes a moment) and stopping workers are blocking;
they run on threads. Every outcome comes back as a message.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.message_pump import MessagePump

from celery_tutor.ui.bridge import LabBridge

if TYPE_CHECKING:
    from celery_tutor.lab.actions import Action
    from celery_tutor.lab.engine import Lab, LabConfig
    from celery_tutor.lab.state import LabSnapshot


class LabSession:
    """A lab owned by one screen."""

    class Ready(Message, bubble=False):
        """The lab is consuming."""

    class Failed(Message, bubble=False):
        """Something in the lab went wrong; the screen shows it and lives on."""

        def __init__(self, what: str) -> None:
            super().__init__()
            self.what = what

    class ScriptDone(Message, bubble=False):
        """A script (experiment, setup, solution) finished."""

        def __init__(self, purpose: str, failure: str | None) -> None:
            super().__init__()
            self.purpose = purpose
            self.failure = failure

    def __init__(self, owner: MessagePump, config: LabConfig | None) -> None:
        self.owner = owner
        self.config = config
        self.bridge = LabBridge(owner)
        self.lab: Lab | None = None
        self._busy = threading.Lock()

    def start(self) -> None:
        """Create and start the lab on a thread."""
        threading.Thread(target=self._start, name="celery-tutor-lab-start", daemon=True).start()

    def _start(self) -> None:
        try:
            from celery_tutor.lab.engine import Lab

            lab = Lab(self.config)
            self.bridge.attach(lab.subscribe)
            lab.start()
            self.lab = lab
            self.owner.post_message(self.Ready())
        except Exception as exc:  # the lab failing must never take the UI down
            self.owner.post_message(self.Failed(f"the lab did not start: {exc}"))

    def snapshot(self) -> LabSnapshot | None:
        """The lab now (None before it started)."""
        return self.lab.snapshot() if self.lab is not None else None

    def now(self) -> float:
        """The lab's clock."""
        return self.lab.now() if self.lab is not None else 0.0

    def control(self, action: Action) -> None:
        """Apply one control on a thread (a restart waits for the new worker)."""
        self._in_thread("control", lambda lab: action.apply(lab), report=False)

    def call(self, what: str, fn: Any) -> None:
        """Run ``fn(lab)`` on a thread; failures are reported, not raised."""
        self._in_thread(what, fn, report=False)

    def run_script(self, purpose: str, actions: tuple[Action, ...], reset_first: bool = True) -> None:
        """Reset the lab (optionally) and run a script on a thread; ``ScriptDone`` follows."""

        def body(lab: Lab) -> None:
            from celery_tutor.lab.runner import ScriptRunner

            if reset_first:
                lab.reset()
            runner = ScriptRunner(lab)
            try:
                failure = runner.run(actions)
            finally:
                runner.close()
            self.owner.post_message(self.ScriptDone(purpose, failure))

        self._in_thread(purpose, body, report=True)

    def _in_thread(self, what: str, fn: Any, report: bool) -> None:
        lab = self.lab
        if lab is None:
            self.owner.post_message(self.Failed("the lab is still starting"))
            return

        def run() -> None:
            try:
                fn(lab)
            except Exception as exc:  # shown in the UI, never raised into it
                self.owner.post_message(self.Failed(f"{what}: {exc}"))
                if report:
                    self.owner.post_message(self.ScriptDone(what, str(exc)))

        threading.Thread(target=run, name=f"celery-tutor-{what}", daemon=True).start()

    def shutdown(self) -> None:
        """Kill the lab now and return at once (the app is quitting: nothing waits for it)."""
        self.bridge.detach()
        lab, self.lab = self.lab, None
        if lab is not None:
            lab.close(timeout=0)

    def close(self) -> None:
        """Stop receiving and close the lab in the background (the screen is going away)."""
        self.bridge.detach()
        lab, self.lab = self.lab, None
        if lab is not None:
            threading.Thread(
                target=lab.close, kwargs={"timeout": 2.0}, name="celery-tutor-lab-close", daemon=True
            ).start()
