"""A screen's lab session: one owner per lab, nothing after close, every job in order.

A scripted stand-in replaces the Celery lab, so each race is set up with events, not
timing luck: the lab's start blocks until the test lets it finish, a setup script
blocks until the test releases it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from textual.app import App
from textual.message import Message
from textual.screen import Screen

from celery_tutor.lab import engine
from celery_tutor.lab.actions import Action, Wait
from celery_tutor.ui.bridge import LabBridge
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.yaml_source import Pos

WAIT = 10.0
SESSION_MESSAGES = (LabSession.Ready, LabSession.Failed, LabSession.ScriptDone, LabBridge.Activity)


class FakeLab:
    """Just enough of a lab: records what was done to it, in order."""

    made: ClassVar[list[FakeLab]] = []
    hold_start: threading.Event | None = None
    fail_start = False

    def __init__(self, config: Any = None) -> None:
        self.config = config
        self.applied: list[object] = []
        self.changed = threading.Condition()
        self.start_entered = threading.Event()
        self.closed = threading.Event()
        FakeLab.made.append(self)

    def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        return lambda: None

    def start(self) -> None:
        self.start_entered.set()
        if FakeLab.fail_start:
            raise RuntimeError("no broker today")
        if FakeLab.hold_start is not None:
            assert FakeLab.hold_start.wait(WAIT)

    def record(self, what: object) -> None:
        with self.changed:
            self.applied.append(what)
            self.changed.notify_all()

    def wait_applied(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.applied) >= count, WAIT)

    def reset(self) -> None:
        self.record("reset")

    def now(self) -> float:
        return 0.0

    def close(self, timeout: float = 0.0) -> None:
        self.closed.set()


@dataclass(frozen=True)
class Record(Action):
    """A control that notes itself on the lab (optionally waiting for a release first)."""

    what: object = None
    release: threading.Event | None = None

    def apply(self, lab: Any) -> None:
        if self.release is not None:
            lab.record(f"{self.what} began")
            assert self.release.wait(WAIT)
        lab.record(self.what)


class Host(Screen[None]):
    """A screen that owns a lab session and notes every message the session sends it."""

    def __init__(self) -> None:
        super().__init__()
        self.session = LabSession(self, None)
        self.received: list[str] = []

    def on_mount(self) -> None:
        self.session.start()

    def on_unmount(self) -> None:
        self.session.close()

    def on_lab_session_ready(self, _: LabSession.Ready) -> None:
        self.received.append("ready")

    def on_lab_session_failed(self, message: LabSession.Failed) -> None:
        self.received.append(f"failed: {message.what}")

    def on_lab_session_script_done(self, message: LabSession.ScriptDone) -> None:
        self.received.append(f"done: {message.purpose}" + (f": {message.failure}" if message.failure else ""))


class HostApp(App[None]):
    pass


@pytest.fixture
def fake_lab(monkeypatch: pytest.MonkeyPatch) -> type[FakeLab]:
    FakeLab.made = []
    FakeLab.hold_start = None
    FakeLab.fail_start = False
    monkeypatch.setattr(engine, "Lab", FakeLab)
    return FakeLab


async def until(condition: Callable[[], bool]) -> None:
    """Let the app run until ``condition`` holds (the session works on its own thread)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")


async def test_a_lab_that_finishes_starting_after_its_screen_closed_is_closed_and_posts_nothing(
    fake_lab: type[FakeLab],
) -> None:
    release = threading.Event()
    fake_lab.hold_start = release
    app = HostApp()
    async with app.run_test() as pilot:
        host = Host()
        await app.push_screen(host)
        await until(lambda: bool(fake_lab.made) and fake_lab.made[0].start_entered.is_set())
        lab = fake_lab.made[0]
        posted: list[Message] = []
        original = host.post_message

        def record(message: Message) -> bool:
            if isinstance(message, SESSION_MESSAGES):
                posted.append(message)
            return original(message)

        host.post_message = record  # type: ignore[method-assign]
        app.pop_screen()  # the learner leaves while the lab is still starting
        await pilot.pause()
        release.set()  # ...and only now does the lab finish starting
        assert await asyncio.to_thread(lab.closed.wait, WAIT), "the late lab was left running"
        await pilot.pause()
        assert posted == [], posted
        assert host.session.lab is None
        assert len(fake_lab.made) == 1


async def test_controls_sent_during_a_slow_setup_are_applied_after_it_in_order(fake_lab: type[FakeLab]) -> None:
    release = threading.Event()
    pos = Pos(1, 1)
    app = HostApp()
    async with app.run_test() as pilot:
        host = Host()
        await app.push_screen(host)
        await until(lambda: host.session.lab is not None)
        lab = fake_lab.made[0]
        host.session.run_script("setup", (Record(pos, "setup", release),))
        assert await asyncio.to_thread(lab.wait_applied, 2)  # the reset, then the setup began
        for number in range(200):
            host.session.control(Record(pos, number))
        await pilot.pause()
        assert lab.applied == ["reset", "setup began"]  # nothing overtook the setup
        release.set()
        assert await asyncio.to_thread(lab.wait_applied, 203)
        assert lab.applied == ["reset", "setup began", "setup", *range(200)]
        await until(lambda: "done: setup" in host.received)
        assert host.received == ["ready", "done: setup"]


async def test_a_reset_pressed_during_a_setup_waits_for_it(fake_lab: type[FakeLab]) -> None:
    release = threading.Event()
    pos = Pos(1, 1)
    app = HostApp()
    async with app.run_test() as pilot:
        host = Host()
        await app.push_screen(host)
        await until(lambda: host.session.lab is not None)
        lab = fake_lab.made[0]
        host.session.run_script("setup", (Record(pos, "first setup", release),))
        host.session.run_script("setup", (Record(pos, "second setup"),))
        assert await asyncio.to_thread(lab.wait_applied, 2)
        await pilot.pause()
        assert lab.applied == ["reset", "first setup began"]
        release.set()
        assert await asyncio.to_thread(lab.wait_applied, 5)
        assert lab.applied == ["reset", "first setup began", "first setup", "reset", "second setup"]


async def test_controls_sent_before_the_lab_started_wait_for_it(fake_lab: type[FakeLab]) -> None:
    release = threading.Event()
    fake_lab.hold_start = release
    pos = Pos(1, 1)
    app = HostApp()
    async with app.run_test() as pilot:
        host = Host()
        await app.push_screen(host)
        await until(lambda: bool(fake_lab.made) and fake_lab.made[0].start_entered.is_set())
        lab = fake_lab.made[0]
        for number in range(3):
            host.session.control(Record(pos, number))
        release.set()
        assert await asyncio.to_thread(lab.wait_applied, 3)
        assert lab.applied == [0, 1, 2]
        await pilot.pause()
        assert host.received == ["ready"]  # no "the lab is still starting" failures


async def test_closing_interrupts_a_running_script_and_drops_the_queued_jobs(fake_lab: type[FakeLab]) -> None:
    pos = Pos(1, 1)
    app = HostApp()
    async with app.run_test() as pilot:
        host = Host()
        await app.push_screen(host)
        await until(lambda: host.session.lab is not None)
        lab = fake_lab.made[0]
        host.session.run_script("experiment", (Wait(pos, seconds=600.0), Record(pos, "after")))
        host.session.control(Record(pos, "queued"))
        assert await asyncio.to_thread(lab.wait_applied, 1)  # the reset: the script runs
        app.pop_screen()
        await pilot.pause()
        # Not ten minutes: the wait ends, nothing after it runs, the thread is free again.
        assert await asyncio.to_thread(host.session.wait_idle, WAIT)
        assert lab.applied == ["reset"]
        assert lab.closed.wait(WAIT)


async def test_a_lab_that_fails_to_start_is_closed_and_later_jobs_say_so(fake_lab: type[FakeLab]) -> None:
    fake_lab.fail_start = True
    app = HostApp()
    async with app.run_test() as pilot:
        host = Host()
        await app.push_screen(host)
        await until(lambda: bool(host.received))
        assert host.received == ["failed: the lab did not start: no broker today"]
        assert fake_lab.made[0].closed.wait(WAIT)
        host.session.run_script("setup", (Record(Pos(1, 1), "never"),))
        await until(lambda: len(host.received) == 2)
        assert host.received[1:] == ["done: setup: the lab is not running"]  # said once, by the script's end
        assert fake_lab.made[0].applied == [] and host.session.lab is None
        await pilot.pause()


async def test_a_setup_asked_for_before_the_lab_starts_runs_once_it_has_started(fake_lab: type[FakeLab]) -> None:
    """A lesson opened at a lab step asks for the step's setup in its own on_mount, which
    Textual runs before the lab screen's (that starts the lab)."""
    pos = Pos(1, 1)

    class SetupFirst(Host):
        def on_mount(self) -> None:  # runs before Host.on_mount, as LessonScreen's before LabScreen's
            self.session.run_script("setup", (Record(pos, "setup"),))
            self.session.control(Record(pos, "control"))

    app = HostApp()
    async with app.run_test() as pilot:
        host = SetupFirst()
        await app.push_screen(host)
        await until(lambda: bool(fake_lab.made))
        lab = fake_lab.made[0]
        assert await asyncio.to_thread(lab.wait_applied, 3)
        assert lab.applied == ["reset", "setup", "control"]
        await until(lambda: "done: setup" in host.received)
        await pilot.pause()
        assert host.received == ["ready", "done: setup"]  # no "the lab is not running"
