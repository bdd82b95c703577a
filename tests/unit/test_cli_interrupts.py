"""Ctrl-C on the command line: one line, exit 130, at once; never a traceback or a hang."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from celery_tutor.cli import main
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


ELSEWHERE = """
import signal, sys, threading
from celery_tutor.lab import experiment

def run_script(script):
    # The main thread blocks SIGINT and waits on a lock: the kernel hands Ctrl-C to another
    # thread, as it may when the main thread waits. Python runs its handlers only in the main
    # thread, so a handler alone would wait as long as the lock does.
    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGINT}})
    sys.stdout.write("waiting\\n")
    sys.stdout.flush()
    threading.Event().wait()

experiment.run_script = run_script
from celery_tutor.cli import main
sys.exit(main(["lab", "run", {script!r}]))
"""


def test_ctrl_c_stops_lab_run_when_the_main_thread_cannot_take_it(tmp_path: Path) -> None:
    script = tmp_path / "any.yaml"
    script.write_text("steps:\n  - send: {task: add, args: [1, 2]}\n")
    with Terminal(ELSEWHERE.format(script=str(script))) as terminal:
        assert terminal.wait_for(b"waiting\r\n"), bytes(terminal.output)
        terminal.signal(signal.SIGINT)
        assert terminal.wait(30) == 130
        text = bytes(terminal.output).decode(errors="replace").replace("\r\n", "\n")
    assert text.rstrip("\n").splitlines()[-1] == "interrupted", text


def test_a_command_run_in_process_gives_back_the_signal_handling_it_found(tmp_path: Path) -> None:
    lesson = tmp_path / "broken.yaml"
    lesson.write_text("schema: 1\n")
    handler = signal.getsignal(signal.SIGINT)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert main(["check", str(lesson)]) == 1
    assert signal.getsignal(signal.SIGINT) is handler
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == mask
    assert not [t for t in threading.enumerate() if t.name == "celery-tutor-ctrl-c"]
