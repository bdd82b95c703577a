"""Ctrl-C on the command line: one line, exit 130, at once; never a traceback or a hang."""

from __future__ import annotations

import signal
from pathlib import Path

from pty_terminal import Terminal

LAB_RUN = """
import sys
from celery_tutor.cli import main
sys.exit(main(["lab", "run", {script!r}]))
"""


def test_ctrl_c_stops_lab_run_with_one_line_and_exit_130(tmp_path: Path) -> None:
    script = tmp_path / "long-wait.yaml"
    script.write_text("steps:\n  - send: {task: add, args: [1, 2]}\n  - wait: {seconds: 60}\n")
    with Terminal(LAB_RUN.format(script=str(script))) as terminal:
        assert terminal.wait_for(b"Ctrl-C stops it"), bytes(terminal.output)
        terminal.signal(signal.SIGINT)
        assert terminal.wait(30) == 130
        text = bytes(terminal.output).decode(errors="replace").replace("\r\n", "\n")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.rstrip("\n").splitlines()[-1] == "interrupted"


SWALLOWED = """
import os, signal, sys
from celery_tutor.lab import experiment

class Swallow:
    def __del__(self):
        # Python runs the SIGINT handler right here; a KeyboardInterrupt raised inside __del__
        # (or a weakref callback, as logging's are) is printed and ignored, and the program goes on.
        os.kill(os.getpid(), signal.SIGINT)

original = experiment.run_script

def run_script(script):
    Swallow()
    return original(script)

experiment.run_script = run_script
from celery_tutor.cli import main
sys.exit(main(["lab", "run", {script!r}]))
"""


def test_ctrl_c_stops_lab_run_even_where_python_would_swallow_it(tmp_path: Path) -> None:
    script = tmp_path / "long-wait.yaml"
    script.write_text("steps:\n  - send: {task: add, args: [1, 2]}\n  - wait: {seconds: 60}\n")
    with Terminal(SWALLOWED.format(script=str(script))) as terminal:
        assert terminal.wait(30) == 130
        text = bytes(terminal.output).decode(errors="replace").replace("\r\n", "\n")
    assert text.rstrip("\n").splitlines()[-1] == "interrupted", text
    assert "Exception ignored" not in text, text
