"""The sandbox: a free lab with every control, outside any lesson."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Markdown

from celery_tutor.course.model import Control
from celery_tutor.lab import actions as c
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.widgets.control_bar import ControlBar
from celery_tutor.yaml_source import Pos

_P = Pos(0, 0)

SANDBOX_CONTROLS: tuple[Control, ...] = (
    Control("s", "send add(2, 3)", c.Send(_P, "add", (2, 3))),
    Control("c", "send charge_card(42)", c.Send(_P, "charge_card", (42, 9.99))),
    Control("i", "send charge_card_idempotent(42)", c.Send(_P, "charge_card_idempotent", (42, 9.99))),
    Control("r", "send 3 slow reports", c.Send(_P, "generate_report", (1,), count=3)),
    Control("e", "send fetch_exchange_rate (self.retry)", c.Send(_P, "fetch_exchange_rate", ("EUR",))),
    Control("b", "send send_receipt (autoretry, backoff)", c.Send(_P, "send_receipt", (42,))),
    Control("f", "fail the next 3 runs of fetch_exchange_rate", c.FailNext(_P, "fetch_exchange_rate", 3)),
    Control("g", "fail the next 3 runs of send_receipt", c.FailNext(_P, "send_receipt", 3)),
    Control("a", "toggle task_acks_late", None, toggle="task_acks_late"),
    Control("j", "toggle task_reject_on_worker_lost", None, toggle="task_reject_on_worker_lost"),
    Control("d", "toggle worker_deduplicate_successful_tasks", None, toggle="worker_deduplicate_successful_tasks"),
    Control("k", "kill the worker now", c.Crash(_P)),
    Control("x", "kill the worker after the next charge", c.Crash(_P, at="after_charge")),
    Control("z", "kill the pool child at its next checkpoint", c.KillChild(_P)),
    Control("w", "restart the worker", c.RestartWorker(_P)),
    Control("t", "stop the worker (warm)", c.StopWorker(_P)),
    Control("u", "purge the queue", c.Purge(_P)),
)

INTRO = """\
# Sandbox

Every control, no lesson. Send tasks, turn settings on and off (the worker
restarts to apply them), make runs fail, kill the worker or only its pool
child, and watch the broker, the worker, the retries and the ledger.
"""


class SandboxScreen(LabScreen):
    """A free lab."""

    BINDINGS: ClassVar[list[BindingType]] = LabScreen.with_controls(SANDBOX_CONTROLS)
    controls = SANDBOX_CONTROLS
    controls_beside_lab = False  # seventeen controls: they get the left-hand pane

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with VerticalScroll(id="step-pane"):
                yield Markdown(INTRO)
                yield ControlBar(self.controls, id="controls")
            yield from self.compose_lab()
        yield Footer()

    def on_mount(self) -> None:
        # Textual also calls LabScreen.on_mount (handlers run along the MRO): no super() here,
        # or the screen would start a second lab.
        self.title = "Sandbox"
