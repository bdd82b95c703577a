"""Helpers the UI tests share: waiting on the live app, reading its timeline."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import RichLog

from celery_tutor.ui.app import TutorApp


async def wait_for(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until ``condition`` holds (the lab works on its own threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def timeline(app: TutorApp) -> str:
    """The timeline's text, with its wrapped lines joined again."""
    log = app.screen.query_one("#timeline", RichLog)
    return " ".join(" ".join(line.text.split()) for line in log.lines)
