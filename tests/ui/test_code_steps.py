"""A learner writes a task in a code step: the real app, the real lab, keys only.

The lesson is a fixture (tests/data/code-lessons): the shipped lessons' code steps are
not what these tests are about.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static
from ui_helpers import open_at, wait_for

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.code_work import CodeWork
from celery_tutor.course.loader import load_lesson
from celery_tutor.progress import StepProgress
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.code_steps import CodeStepScreen
from celery_tutor.ui.screens.lesson import LessonScreen
from celery_tutor.ui.widgets.code_panel import CodeEditor, next_indent, run_status
from celery_tutor.ui.widgets.key_bar import KeyBar

LESSONS = Path(__file__).parents[1] / "data" / "code-lessons"
LESSON, STEP = "write-a-retry", "write-it"


async def type_text(pilot: Pilot[int], text: str) -> None:
    """Type as a learner does, one key at a time (Enter indents by itself)."""
    keys = {" ": "space", "\n": "enter", "\b": "backspace"}
    await pilot.press(*(keys.get(char, char) for char in text))


async def open_code_step(pilot: Pilot[int]) -> tuple[LessonScreen, CodeEditor]:
    screen = await open_at(pilot, LESSON, STEP)
    await pilot.press("enter")  # into the editor
    editor = screen.query_one(CodeEditor)
    assert editor.has_focus
    return screen, editor


def send_key(app: TutorApp, key: str, character: str) -> None:
    """A key as the terminal driver delivers it, without pilot.press's wait for an idle process."""
    event = events.Key(key, character)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


def shown(screen: LessonScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def replace_the_body(pilot: Pilot[int], editor: CodeEditor, body: str) -> None:
    """Select the task's last line (its body) and type another in its place."""
    last = editor.document.line_count - 2  # the starter ends with a newline
    editor.move_cursor((last, 0))
    await pilot.press("shift+end")
    await type_text(pilot, body)


def test_enter_keeps_the_indentation_and_indents_after_a_colon() -> None:
    assert next_indent("    return x") == 4
    assert next_indent("    try:") == 8
    assert next_indent("def f():  ") == 4
    assert next_indent("") == 0


async def test_a_learner_types_the_retry_and_the_goal_turns_green(make_app: Callable[..., TutorApp]) -> None:
    app = make_app(LESSONS)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, editor = await open_code_step(pilot)
        assert "Goal (checked when your code runs)" in str(
            screen.query_one("#code-goal").query(Static).first().render()
        )
        await replace_the_body(
            pilot,
            editor,
            "    try:\nreturn rates_api.fetch(currency)\n\b\b\b\bexcept ConnectionError as exc:\n"
            "raise self.retry(exc=exc, countdown=1)",
        )
        assert "\n        raise self.retry(exc=exc, countdown=1)\n" in editor.text  # Enter indented it
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.walk.code is not None and screen.walk.code.runs == 1, 45)
        await wait_for(pilot, lambda: "✓ Goal reached." in screen_text(screen), 45)
        goal = screen_text(screen)
        assert "✓ the rate arrives after a retry" in goal and "✓ the task retried once" in goal
        # Next to the editor, not below; said once the experiment's script has ended (the
        # goal can hold a moment before that, while the script's last wait runs out).
        await wait_for(pilot, lambda: "✓ Your code reached the goal." in shown(screen, "#code-status"), 45)
        assert app.progress.lessons[LESSON].steps[STEP].done
        assert "raise self.retry" in (app.progress.lessons[LESSON].steps[STEP].code or "")
        source = screen.task_source("fetch_exchange_rate")  # the lab runs the learner's task, not the library's
        assert source is not None and "raise self.retry" in source


def screen_text(screen: LessonScreen) -> str:
    return " ".join(str(widget.render()) for widget in screen.query("#code-goal Static"))


async def test_a_syntax_error_is_shown_at_its_line_and_no_lab_starts(make_app: Callable[..., TutorApp]) -> None:
    app = make_app(LESSONS)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, editor = await open_code_step(pilot)
        session = screen.session
        editor.move_cursor((4, len(editor.document.get_line(4))))
        await pilot.press("backspace")  # "fetch(currency" is never closed
        editor.move_cursor((0, 0))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.walk.code is not None and screen.walk.code.problem is not None)
        problem = shown(screen, "#code-problem")
        assert "line 5, column 27" in problem and "never closed" in problem
        assert editor.cursor_location == (4, 26) and editor.has_focus  # on the "(" never closed
        assert screen.session is session and screen.walk.code is not None and screen.walk.code.runs == 0
        await pilot.press("end", ")")  # fixed on the line the cursor is on
        assert editor.document.get_line(4).endswith("fetch(currency)")


async def test_an_endless_loop_is_stopped_and_keys_work_while_it_runs(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CodeStepScreen, "code_time_limit", 3.0)
    app = make_app(LESSONS)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, editor = await open_code_step(pilot)
        await replace_the_body(pilot, editor, "    while True:\npass")
        await pilot.press("ctrl+r")
        code = screen.walk.code
        assert code is not None
        await wait_for(pilot, lambda: any(run.state == "STARTED" for run in screen.state.snapshot().tasks), 45)
        lab = screen.session
        # Keys as the terminal sends them: pilot.press would first wait for the process to idle,
        # which it does not while the learner's loop spins.
        send_key(app, "escape", "\x1b")  # out of the editor…
        await wait_for(pilot, lambda: not editor.has_focus)
        send_key(app, "h", "h")  # …and a hint: the screen answers at once
        await wait_for(pilot, lambda: "Hint 1 of 2" in screen_text(screen))
        assert code.halted is None and code.running  # the loop was still running when the key was answered
        await wait_for(pilot, lambda: screen.session is not lab, 45)  # halted, then replaced
        assert code.halted is not None and not code.running
        assert "⏱ Stopped" in shown(screen, "#code-status") and "replaced" in shown(screen, "#code-status")
        await pilot.press("n")  # the lesson goes on
        await wait_for(pilot, lambda: screen.walk.step.id == "after")


async def test_the_code_survives_leaving_the_step_and_restarting_the_app(
    make_app: Callable[..., TutorApp], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    app = make_app(LESSONS, data)
    async with app.run_test(size=(120, 40)) as pilot:
        screen, editor = await open_code_step(pilot)
        editor.move_cursor((0, 0))
        await type_text(pilot, "# my version\n")
        await pilot.press("escape", "n")
        await wait_for(pilot, lambda: screen.walk.step.id == "after")
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.walk.step.id == STEP)
        assert screen.query_one(CodeEditor).text.startswith("# my version\nfrom lab import")
        await pilot.press("enter", "ctrl+home")
        await type_text(pilot, "# and more\n")
        await pilot.press("ctrl+c")  # quit at once, in the editor: the last keys are kept too
    again = make_app(LESSONS, data)
    async with again.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, LESSON, STEP)
        assert screen.query_one(CodeEditor).text.startswith("# and more\n# my version\nfrom lab import")
        await pilot.press("enter", "ctrl+t")  # back to the starter; ctrl+z brings the learner's code back
        assert not screen.query_one(CodeEditor).text.startswith("# and more")
        await pilot.press("ctrl+z")
        assert screen.query_one(CodeEditor).text.startswith("# and more")


async def test_ctrl_r_resets_the_lab_outside_code_steps_and_runs_the_code_in_them(
    make_app: Callable[..., TutorApp],
) -> None:
    app = make_app(LESSONS)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, LESSON, "intro")
        bar = screen.query_one(KeyBar)
        await wait_for(pilot, lambda: "^r Reset lab" in str(bar.render()))
        assert "Run code" not in str(bar.render()) and "Edit code" not in str(bar.render())
        await pilot.press("n")
        await wait_for(pilot, lambda: "^r Run code" in str(bar.render()))
        assert "Reset lab" not in str(bar.render()) and "⏎ Edit code" in str(bar.render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: "esc Leave editor" in str(bar.render()))
        assert "Edit code" not in str(bar.render())


def test_the_run_status_tallies_the_goal_next_to_the_editor() -> None:
    lesson = load_lesson(Path(__file__).parents[1] / "data" / "code-lessons" / "01-write-a-retry.yaml")
    step = next(step for step in lesson.steps if isinstance(step, CodeStep))
    work = CodeWork(step, StepProgress(), lambda: None)
    first, second = step.goal[0], step.goal[-1]
    work.started()
    work.ended(None)
    status = str(run_status(work, [(first, True), (second, False)]))
    assert status == "The experiment ran on your code: 1 of 2 goal conditions hold (the list below says which)."
    assert str(run_status(work, [(first, True), (second, True)])) == "✓ Your code reached the goal."
    work.started()
    work.ended("line 12: wait timed out after 3s")
    assert str(run_status(work, [(first, True), (second, False)])).startswith(
        "The experiment stopped: wait timed out after 3s. 1 of 2 goal conditions hold"
    )
