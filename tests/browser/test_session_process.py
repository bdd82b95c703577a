"""A learner's app process ends for sure: quit, then SIGTERM, then SIGKILL, with what it started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from textual_serve.download_manager import DownloadManager

from celery_tutor.serve import QUIT_GRACE, TERM_GRACE
from celery_tutor.serve.session_process import SessionProcess

# A stand-in for the app: it says it is a Textual app, starts a child in its process group
# (as an app may), writes the child's pid, and then never reads its input (so the quit
# message is never acted on). With "ignore-term" it ignores SIGTERM too.
STUBBORN_APP = """
import signal, subprocess, sys, time
if "ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(str(child.pid))
sys.stdout.write("__GANGLION__\\n")
sys.stdout.flush()
while True:
    time.sleep(60)
"""


async def _nothing(*_: object) -> None:
    return None


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


async def _started(tmp_path: Path, *flags: str) -> tuple[SessionProcess, Path]:
    pid_file = tmp_path / "child.pid"
    app = SessionProcess(
        [sys.executable, "-c", STUBBORN_APP, str(pid_file), *flags],
        write_bytes=_nothing,
        write_str=_nothing,
        close=_nothing,
        download_manager=DownloadManager(),
    )
    await app.start(80, 24)
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the stand-in app did not start"
        await asyncio.sleep(0.02)  # a poll interval: the file is looked at again until the deadline
    return app, pid_file


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("flags", "ended_by"),
    [((), signal.SIGTERM), (("ignore-term",), signal.SIGKILL)],
    ids=["ends-on-SIGTERM", "ignores-SIGTERM"],
)
async def test_an_app_that_does_not_quit_is_ended_with_its_children(
    tmp_path: Path, flags: tuple[str, ...], ended_by: signal.Signals
) -> None:
    app, pid_file = await _started(tmp_path, *flags)
    assert app.process is not None
    try:
        child = int(pid_file.read_text())
        assert _running(app.process.pid) and _running(child)
        started = time.monotonic()
        code = await asyncio.wait_for(app.end(), 10)
        took = time.monotonic() - started
        assert code == -ended_by
        assert took < QUIT_GRACE + TERM_GRACE + 1 < 5, took
        deadline = time.monotonic() + 5
        while _running(child):  # reparented when the app died; the group's SIGKILL reaches it all the same
            assert time.monotonic() < deadline, "the app's child outlived it"
            await asyncio.sleep(0.02)  # a poll interval: the process is looked at again until the deadline
    finally:  # a failed test leaves nothing running
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.process.pid, signal.SIGKILL)
