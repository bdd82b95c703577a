"""``celery-tutor serve`` in a subprocess on a free loopback port, and a headless Chromium.

Browser tests are skipped, with the reason, where no Chromium is installed (CI installs
Debian's ``chromium``; ``CELERY_TUTOR_CHROMIUM`` names another one).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from cdp import CHROMIUM_ENV, Browser, find_chromium
from serve_helpers import Served, start_server, stop_server


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start servers on free loopback ports (each with its own data dir); all stop at the end."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        served = start_server(tmp_path / f"data{len(started)}", *args)
        started.append(served)
        return served

    yield start
    for served in started:
        stop_server(served)


@pytest.fixture
def chromium() -> str:
    """The Chromium to drive; the test is skipped, saying why, when there is none."""
    executable = find_chromium()
    named = os.environ.get(CHROMIUM_ENV)
    if executable is None and named:
        pytest.skip(f"{CHROMIUM_ENV} names {named}, which cannot be run")
    if executable is None:
        pytest.skip(
            "no Chromium on this machine: install Debian's chromium (apt-get install chromium) "
            "or name one in CELERY_TUTOR_CHROMIUM"
        )
    return executable


@pytest.fixture
async def browser(chromium: str, tmp_path: Path) -> AsyncIterator[Browser]:
    """A headless Chromium with a fresh profile."""
    launched = await Browser.launch(chromium, tmp_path / "chromium-profile")
    try:
        yield launched
    finally:
        await launched.close()
