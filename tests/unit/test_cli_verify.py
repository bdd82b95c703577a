"""``celery-tutor verify`` says what it could not verify, and stops at the first Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.course.lessons import load_course
from celery_tutor.verification import Check, verify
from pty_terminal import Terminal

TWO_PREDICTIONS = """\
schema: 1
id: {id}
title: Two predictions
summary: One quick, one that takes its time.
minutes: 1
lab:
  tasks: [add]
steps:
{steps}
"""

PREDICT = """\
  - id: {id}
    predict:
      question: What happens?
      choices:
        - text: it succeeds
          correct: true
        - text: it fails
      experiment:
        - send: {{task: add, args: [1, 2], as: sum}}
        - wait: {wait}
      expect:
        - label: it succeeded
          state: {{task: sum, is: SUCCESS}}
      explain: It adds.
"""

QUICK = PREDICT.format(id="quick", wait="{until: {task: sum, state: SUCCESS}}")
SLOW = PREDICT.format(id="slow", wait="{seconds: 45}")


def write_lesson(folder: Path, name: str, lesson_id: str, *steps: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(TWO_PREDICTIONS.format(id=lesson_id, steps="".join(steps)))
    return path


def test_verify_names_the_broken_lessons_it_could_not_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "01-broken.yaml").write_text("schema: 1\nid: Not An Id\n")
    assert main(["--lessons", str(folder), "verify"]) == 1
    captured = capsys.readouterr()
    assert "all hold" not in captured.out
    assert f"{folder / '01-broken.yaml'}:2:5: id: 'Not An Id' is not an id" in captured.err
    assert captured.out == (
        "verified 0 lesson(s), 0 claims: nothing to check; could not verify 1 broken lesson file: 01-broken.yaml\n"
    )


def test_verify_on_good_and_broken_lessons_fails_and_says_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "lessons"
    write_lesson(folder, "01-good.yaml", "good", QUICK)
    (folder / "02-broken.yaml").write_text("schema: 1\nid: broken\n")
    assert main(["--lessons", str(folder), "verify"]) == 1
    out = capsys.readouterr().out
    assert "ok   good / quick: the experiment shows what the lesson says" in out
    last = out.rstrip("\n").splitlines()[-1]
    assert last == "verified 1 lesson(s), 1 claims: all hold; could not verify 1 broken lesson file: 02-broken.yaml"


def test_verify_with_no_lessons_at_all_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    assert main(["--lessons", str(folder), "verify"]) == 1
    assert f"no lessons in {folder}" in capsys.readouterr().err


VERIFY = """
import sys
from celery_tutor.cli import main
sys.exit(main(["--lessons", {folder!r}, "verify", "--jobs", "2"]))
"""


def test_the_first_ctrl_c_stops_verify_while_a_check_hangs(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    write_lesson(folder, "01-slow.yaml", "slow", QUICK, SLOW, SLOW.replace("id: slow", "id: slower"))
    with Terminal(VERIFY.format(folder=str(folder))) as terminal:
        # The quick check is reported; the slow one has started beside it and now waits 45 s.
        assert terminal.wait_for(b"ok   slow / quick"), bytes(terminal.output)
        terminal.signal(signal.SIGINT)
        assert terminal.wait(10) == 130
        text = bytes(terminal.output).decode(errors="replace").replace("\r\n", "\n")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.rstrip("\n").splitlines()[-1] == "interrupted"


@pytest.mark.lab
def test_an_interrupted_verify_closes_its_labs_and_starts_no_more_checks(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    write_lesson(folder, "01-slow.yaml", "slow", QUICK, SLOW, QUICK.replace("id: quick", "id: after"))
    [lesson] = load_course([folder]).lessons
    seen: list[str] = []

    def ctrl_c(check: Check) -> None:  # the learner presses Ctrl-C as the first result comes in
        seen.append(check.step)
        raise KeyboardInterrupt

    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        verify([lesson], jobs=2, on_check=ctrl_c)
    assert seen == ["quick"]
    new = set(threading.enumerate()) - before
    # verify did not wait for the slow check: its thread still sleeps in the 45 s wait, and as a
    # daemon it cannot keep the process alive; its lab was closed under it.
    stuck = [t for t in new if t.name.startswith("celery-tutor-verify") and t.is_alive()]
    assert stuck and all(t.daemon for t in stuck)
    labs = [t for t in new if t.name.startswith("celery-tutor-lab")]
    for thread in labs:  # a closed lab's teardown may still be finishing
        thread.join(10)
    assert not [t.name for t in labs if t.is_alive()]
