"""The sandbox: a free lab with every control, outside any lesson.

One control is the sandbox's own: switching the broker between the RabbitMQ-like one
and Redis starts a new lab on the other broker with the settings in effect.

With ``celery-tutor --broker URL`` the sandbox starts on real worker processes on that
broker, and says what to paste into another terminal to add a worker to this lab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Markdown, Static

from celery_tutor.course.model import Control
from celery_tutor.lab import actions as c
from celery_tutor.lab.events import ConfigChanged, LabEvent
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.real_broker import NEXT_WORKER
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.screens.lab_view_keys import TIME_BINDINGS
from celery_tutor.ui.screens.tutor_screen import PaletteCommand
from celery_tutor.ui.widgets.control_bar import ControlBar
from celery_tutor.ui.widgets.key_bar import KeyBar
from celery_tutor.yaml_source import Pos

if TYPE_CHECKING:
    from celery_tutor.lab.engine import LabConfig

_P = Pos(0, 0)

BROKER_KEY = "m"
"""Switch the broker (RabbitMQ-like ⇄ Redis): the sandbox's own control."""
CRASH_KEY = "k"
"""Kill the worker now: with several alive, the sandbox picks a busy one."""
BROKER_NAMES = {"rabbitmq": "RabbitMQ-like", "redis": "Redis"}
SHORT_VISIBILITY = {"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
"""Redis timings a person can watch (kombu's defaults: 3600 s, 10 s, 10)."""

SANDBOX_CONTROLS: tuple[Control, ...] = (
    Control("s", "send add(2, 3)", c.Send(_P, "add", (2, 3))),
    Control("c", "send charge_card(42)", c.Send(_P, "charge_card", (42, 9.99)), short="charge_card(42)"),
    Control(
        "i",
        "send charge_card_idempotent(42)",
        c.Send(_P, "charge_card_idempotent", (42, 9.99)),
        short="charge, idempotent",
    ),
    Control("r", "send 3 slow reports", c.Send(_P, "generate_report", (1,), count=3), short="3 slow reports"),
    Control(
        "v",
        "send transcode_video(7, 5): a 5 s job",
        c.Send(_P, "transcode_video", (7, 5)),
        short="video, 5 s job",
    ),
    Control(
        "e",
        "send fetch_exchange_rate (self.retry)",
        c.Send(_P, "fetch_exchange_rate", ("EUR",)),
        short="rate (self.retry)",
    ),
    Control(
        "b",
        "send send_receipt (autoretry, backoff)",
        c.Send(_P, "send_receipt", (42,)),
        short="receipt (autoretry)",
    ),
    Control(
        "f",
        "fail the next 3 runs of fetch_exchange_rate",
        c.FailNext(_P, "fetch_exchange_rate", 3),
        short="rate fails ×3",
    ),
    Control("g", "fail the next 3 runs of send_receipt", c.FailNext(_P, "send_receipt", 3), short="receipt fails ×3"),
    Control("a", "toggle task_acks_late", None, toggle="task_acks_late"),
    Control(
        "j", "toggle task_reject_on_worker_lost", None, toggle="task_reject_on_worker_lost", short="reject_on_lost"
    ),
    Control(
        "d",
        "toggle worker_deduplicate_successful_tasks",
        None,
        toggle="worker_deduplicate_successful_tasks",
        short="dedupe_success",
    ),
    Control(
        "y",
        "Redis: visibility_timeout=3 s, a restore scan every 1 s (kombu's defaults: 3600 s, about every 100 s)",
        c.SetSettings(_P, {"broker_transport_options": dict(SHORT_VISIBILITY)}),
        short="visibility 3 s",
    ),
    Control(CRASH_KEY, "kill the worker now", c.Crash(_P), short="kill worker now"),
    Control("x", "kill the worker after the next charge", c.Crash(_P, at="after_charge"), short="kill @after_charge"),
    Control("z", "kill the pool child at its next checkpoint", c.KillChild(_P), short="kill pool child"),
    Control("w", "restart the worker", c.RestartWorker(_P), short="restart worker"),
    Control("t", "stop the worker (warm)", c.StopWorker(_P), short="warm stop"),
    Control("u", "purge the queue", c.Purge(_P), short="purge queue"),
    Control(BROKER_KEY, "switch the broker (RabbitMQ-like ⇄ Redis)", None, short="switch broker"),
)

INTRO = """\
# Sandbox

Every control, no lesson. Send tasks, turn settings on and off (the worker
restarts to apply them), make runs fail, kill the worker or only its pool
child, and watch the broker, the worker, the retries and the ledger.
`m` switches the broker between RabbitMQ-like and Redis, where a dead
connection gives nothing back until a restore scan.
"""


class SandboxScreen(LabScreen):
    """A free lab."""

    BINDINGS: ClassVar[list[BindingType]] = [*LabScreen.with_controls(SANDBOX_CONTROLS), *TIME_BINDINGS]
    controls = SANDBOX_CONTROLS
    controls_beside_lab = False  # seventeen controls: they get the left-hand pane
    beside_lab = "the controls"

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with VerticalScroll(id="step-pane"):
                yield Static(id="join")  # on real workers, first: what to paste into another terminal
                yield Markdown(INTRO)
                yield ControlBar(self.controls, id="controls")
            yield from self.compose_lab()
        yield KeyBar()

    def on_mount(self) -> None:
        # Textual also calls LabScreen.on_mount (handlers run along the MRO): no super() here,
        # or the screen would start a second lab.
        self.title = "Sandbox"
        self.query_one("#join", Static).display = False

    def on_lab_session_ready(self, message: LabSession.Ready) -> None:
        """On real workers: the command that adds a worker from another terminal (and its prefix)."""
        if message.session is None or message.session is self.session:
            self._show_join()

    def observe(self, events: list[LabEvent]) -> None:
        """A setting changed: the command for another terminal carries the lab's settings."""
        if any(isinstance(event, ConfigChanged) for event in events):
            self._show_join()

    def _show_join(self) -> None:
        join = self.query_one("#join", Static)
        real, prefix = self.session.real, self.session.prefix
        if real is None:
            join.display = False
            return
        join.display = True
        if prefix is None:
            why = self.session.in_process_because or "this lab runs in process"
            join.update(Text(f"Not on your broker now ({why}): m switches back to it.", style="italic"))
            return
        text = Text(f"Real workers on {real.shown}", style="bold")
        text.append(f" (lab prefix {prefix}). Add a worker from another terminal (ctrl+p › Copy the worker command):\n")
        text.append(self.session.join_command(NEXT_WORKER) or "", style="bold")
        text.append(
            "\nIt shows in the panel once online. k kills a busy worker, w restarts ours. A setting you change "
            "restarts ours; start the other one again with the command above (it carries your settings)."
        )
        if real.kind == "redis":
            text.append(" Redis: press y first, so a killed worker's messages come back after 3 s.")
        join.update(text)

    def action_control(self, key: str) -> None:
        """Press a control; the broker switch is the sandbox's own."""
        if key == BROKER_KEY:
            self.switch_broker()
        elif key == CRASH_KEY and (busy := self.busy_worker()) is not None:
            self.session.control(c.Crash(_P, worker=busy))
        else:
            super().action_control(key)

    def busy_worker(self) -> str | None:
        """With several workers alive, the first that runs or holds a task: the one whose crash shows something."""
        alive = [w for w in self.state.snapshot().workers if w.status == "alive"]
        if len(alive) < 2:
            return None
        return next((w.name for w in alive if w.running or w.unacked), None)

    def palette_commands(self) -> list[PaletteCommand]:
        """The lab's commands, and on real workers: copy the command for another terminal."""
        commands = super().palette_commands()
        if self.session.prefix is not None:
            commands.append(
                ("Copy the worker command", "a second worker from another terminal", self.copy_join_command)
            )
        return commands

    def copy_join_command(self) -> None:
        """Put the command for another terminal on the clipboard (where the terminal allows it)."""
        command = self.session.join_command(NEXT_WORKER)
        if command is None:
            return
        self.app.copy_to_clipboard(command)
        self.notify("copied (if your terminal lets apps set the clipboard); paste it in another terminal", timeout=4)

    def switch_broker(self) -> None:
        """A new lab on the other broker, with the settings and task options now in effect."""
        config = self._config_on(self._other_broker())
        self.restart_lab(config)
        self.query_one("#join", Static).display = False  # the old lab's prefix: shown again once the new one is up
        self.notify(f"the lab restarts on the {BROKER_NAMES[config.broker]} broker, with the same settings", timeout=3)

    def _other_broker(self) -> str:
        real = self.session.real  # with --broker, a sandbox of no config of its own starts on that broker
        default = real.kind if real is not None else "rabbitmq"
        current = self.lab_config.broker if self.lab_config is not None else default
        return "redis" if current == "rabbitmq" else "rabbitmq"

    def _config_on(self, broker: str) -> LabConfig:
        from celery_tutor.lab.engine import LabConfig  # Celery loads with the lab, not with the screen
        from celery_tutor.lab.settings import SETTINGS

        # What differs from the lab's defaults (a default may be a value no one may set, like None).
        settings: dict[str, Any] = {
            name: value
            for name, value in self.state.settings.items()
            if name in SETTINGS and value != SETTINGS[name].default
        }
        options = {task: dict(values) for task, values in self.state.task_options.items() if values}
        workers = self.lab_config.workers if self.lab_config is not None else 1
        return LabConfig(settings=settings, task_options=options, workers=workers, broker=broker)
