"""The app in a real terminal: a crash exits non-zero, signals leave the terminal as it was."""

from __future__ import annotations

from pathlib import Path

from pty_terminal import Terminal

CRASH_ON_START = """
import sys
from celery_tutor.ui.screens.catalog import CatalogScreen
def boom(self):
    raise RuntimeError("boom on purpose")
CatalogScreen.on_mount = boom
from celery_tutor.cli import main
sys.exit(main(["--data-dir", sys.argv[1]]))
"""


def test_a_crash_of_the_app_exits_non_zero(tmp_path: Path) -> None:
    code = CRASH_ON_START.replace("sys.argv[1]", repr(str(tmp_path / "data")))
    with Terminal(code) as terminal:
        assert terminal.wait(60) == 1
        assert b"boom on purpose" in terminal.output
