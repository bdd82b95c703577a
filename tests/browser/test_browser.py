"""The course in a real headless Chromium, served by ``celery-tutor serve`` on a loopback port.

Each test starts its own server and browser. The screen is read from the page's terminal
(see cdp.py); the app processes are counted as the server's children.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cdp import Browser, Tab
from serve_helpers import ARTIFACTS, Served

from celery_tutor.course.lessons import load_course
from celery_tutor.paths import bundled_lessons
from celery_tutor.serve.server import FULL, TAKEN_OVER

pytestmark = [pytest.mark.browser, pytest.mark.lab]

LIST = "Pick a lesson and press Enter"
FIRST_LESSON = "1. Acknowledgement"


async def _open_course(tab: Tab, served: Served) -> float:
    """Load the page and wait for the lesson list; the seconds from the request to the list drawn."""
    started = time.monotonic()
    await tab.open(served.url + "/")
    await tab.wait_for(lambda s: LIST in s and FIRST_LESSON in s, timeout=60, what="the lesson list")
    elapsed = time.monotonic() - started
    await tab.focus_terminal()
    return elapsed


async def _body_text(tab: Tab) -> str:
    return str(await tab.evaluate("document.body.innerText"))


async def _wait_for_body(tab: Tab, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while text not in (body := await _body_text(tab)):
        assert time.monotonic() < deadline, f"{text!r} not on the page:\n{body}"
        await asyncio.sleep(0.1)  # a poll interval: the page is read again until the deadline
    return body


async def test_a_lesson_runs_in_the_browser(serve: Callable[..., Served], browser: Browser) -> None:
    served = serve()
    tab = await browser.new_tab(1280, 800)
    elapsed = await _open_course(tab, served)
    print(f"\nrequest to lesson list drawn: {elapsed:.2f} s")
    await tab.press("Enter")
    await tab.wait_for_text("Acknowledgement · step 1 of", timeout=60)
    await tab.wait_for_text("alive", timeout=60)  # the lesson's worker runs
    await tab.press("s")  # the lab control: send add(2, 3)
    screen = await tab.wait_for(lambda s: "succeeded: 5" in s, timeout=60, what="the task in the lab panel")
    assert "message published for add[" in screen
    assert "worker1 received add[" in screen
    await tab.click_text("send 3 slow reports")  # a lab control's button, clicked
    await tab.wait_for_text("generate_report[", timeout=60)
    shot = await tab.screenshot(ARTIFACTS / "lesson-1-lab.png")
    print(f"screenshot: {shot}")
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


async def test_keys_help_palette_and_resizing_work_as_in_a_terminal(
    serve: Callable[..., Served], browser: Browser
) -> None:
    served = serve()
    tab = await browser.new_tab(1280, 800)
    await _open_course(tab, served)
    await tab.press("?")
    await tab.wait_for_text("The lab panel")
    await tab.press("Escape")
    await tab.wait_for_text(LIST)
    await tab.press("ctrl+p")
    await tab.wait_for_text("Search for commands")
    await tab.press("Escape")
    await tab.wait_for(lambda s: "Search for commands" not in s and LIST in s, what="the palette closed")
    wide = await tab.evaluate("window.__celeryTutorTerminal.cols")

    await tab.resize(760, 600)
    narrow = await tab.wait_for(lambda s: LIST in s and max(map(len, s.splitlines())) < wide - 20, what="a redraw")
    cols = await tab.evaluate("window.__celeryTutorTerminal.cols")
    assert 80 <= cols < wide
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= cols
    await tab.resize(400, 300)
    await tab.wait_for_text("The terminal is too small")
    await tab.resize(1280, 800)
    await tab.wait_for_text(LIST)
    await tab.press("Down")  # the second lesson's details replace the first's
    second = load_course([bundled_lessons()]).entries()[1]
    await tab.wait_for_text(" ".join(second.summary.split()[:3]), timeout=10)


async def test_two_learners_keep_separate_progress(serve: Callable[..., Served], browser: Browser) -> None:
    served = serve()
    ann, bob = await browser.new_tab(), await browser.new_tab()  # two browser contexts: two learners
    await _open_course(ann, served)
    await _open_course(bob, served)
    assert len(served.app_processes()) == 2
    await ann.press("Enter")
    await ann.wait_for_text("step 1 of")
    await ann.press("n")
    await ann.wait_for_text("step 2 of")

    await ann.open(served.url + "/")  # a reload: the same learner, a new app on the same progress
    await ann.wait_for(
        lambda s: "Continue where you left off: Acknowledgement" in s and "◐ started: 1 of" in s,
        timeout=60,
        what="Ann's progress in her lesson list",
    )
    await bob.open(served.url + "/")
    await bob.wait_for(
        lambda s: LIST in s and "○ not started: 0 of" in s, timeout=60, what="Bob's lesson list, untouched"
    )

    folders = served.learner_dirs()
    assert len(folders) == 2
    saved = [json.loads((f / "progress.json").read_text()) if (f / "progress.json").exists() else {} for f in folders]
    started = ["acknowledgement" in json.dumps(progress) for progress in saved]
    assert sorted(started) == [False, True], saved


async def test_closing_the_tab_ends_its_process_within_5_s(serve: Callable[..., Served], browser: Browser) -> None:
    served = serve()
    tab = await browser.new_tab()
    await _open_course(tab, served)
    await tab.press("s")  # the sandbox: a lab with its worker threads
    await tab.wait_for_text("alive", timeout=60)
    [app] = served.app_processes()
    threads = int(
        next(
            line.split()[1]
            for line in Path(f"/proc/{app}/status").read_text().splitlines()
            if line.startswith("Threads:")
        )
    )
    assert threads > 3, "the lab's worker threads run in the app's process"

    await tab.close()
    took = served.wait_for_apps(0, timeout=5)
    print(f"\ntab closed: its app process ended in {took:.2f} s")
    assert not Path(f"/proc/{app}").exists()


async def test_a_full_server_says_so_in_the_page(serve: Callable[..., Served], browser: Browser) -> None:
    served = serve("--max-sessions", "1")
    first, second = await browser.new_tab(), await browser.new_tab()
    await _open_course(first, served)
    await second.open(served.url + "/")
    body = await _body_text(second)
    assert "celery-tutor is full" in body and "The one place on this server is in use" in body
    assert FULL not in body  # the page's own words, not the websocket's
    await first.close()
    served.wait_for_apps(0, timeout=5)
    served.wait_for_room(timeout=10)
    await _open_course(second, served)  # the place is free again


async def test_a_second_tab_of_one_learner_takes_the_session_and_the_first_says_so(
    serve: Callable[..., Served], browser: Browser
) -> None:
    served = serve()
    first = await browser.new_tab()
    await _open_course(first, served)
    second = await browser.new_tab_in(first.context)  # the same browser: the same cookie
    await _open_course(second, served)
    body = await _wait_for_body(first, TAKEN_OVER)
    assert "This session has ended" in body
    assert len(served.app_processes()) == 1
