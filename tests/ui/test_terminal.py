"""The app in a real terminal: a crash exits non-zero, signals leave the terminal as it was."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pty_terminal import Terminal

CRASH_ON_START = """
import sys
from celery_tutor.ui.screens.lesson_list import LessonListScreen
def boom(self):
    raise RuntimeError("boom on purpose")
LessonListScreen.on_mount = boom
from celery_tutor.cli import main
sys.exit(main(["--data-dir", sys.argv[1]]))
"""


def test_a_crash_of_the_app_exits_non_zero(tmp_path: Path) -> None:
    code = CRASH_ON_START.replace("sys.argv[1]", repr(str(tmp_path / "data")))
    with Terminal(code) as terminal:
        assert terminal.wait(60) == 1
        assert b"boom on purpose" in terminal.output


APP = """
import sys
from celery_tutor.cli import main
sys.exit(main(["--data-dir", {data!r}]))
"""

ENTER_ALT_SCREEN = b"\x1b[?1049h"
LEAVE_ALT_SCREEN = b"\x1b[?1049l"
MOUSE_OFF = (b"\x1b[?1000l", b"\x1b[?1003l", b"\x1b[?1006l")


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_restores_the_terminal_and_exits(tmp_path: Path, number: signal.Signals) -> None:
    with Terminal(APP.format(data=str(tmp_path / "data"))) as terminal:
        assert terminal.wait_for(b"Acknowledgement"), bytes(terminal.output)[-2000:]
        terminal.send(b"s")  # the sandbox: a real lab runs, and must be shut down too
        assert terminal.wait_for(b"alive"), bytes(terminal.output)[-2000:]
        terminal.signal(number)
        code = terminal.wait(10)
        output = bytes(terminal.output)
    assert code == 128 + number
    tail = output[output.rindex(ENTER_ALT_SCREEN) :]
    assert LEAVE_ALT_SCREEN in tail, tail[-500:]
    for sequence in MOUSE_OFF:
        assert sequence in tail, (sequence, tail[-500:])
    assert b"Traceback" not in output
