"""Lesson text is plain text on screen: markup characters are shown, never interpreted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.command import CommandList, CommandPalette
from textual.widgets import Button, OptionList
from ui_helpers import wait_for

from celery_tutor.course.lessons import load_course
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.lesson import LessonScreen

# Each of these is valid YAML text a lesson may hold; as Textual markup each one breaks or acts.
NASTY = ["[/] send", "[bold]x[/italic]", "[@click=app.quit]quit[/]", "back\\", "[link=x]y"]

LESSON = """\
schema: 1
id: markup
title: "Markup [/] title"
summary: "[bold]not bold"
minutes: 5
lab:
  tasks: [add]
controls:
  - key: s
    label: "{0}"
  - key: t
    label: "{1}"
  - key: u
    label: "{2}"
  - key: v
    label: "{3}"
  - key: w
    label: "{4}"
steps:
  - id: quiz
    quiz:
      - id: q
        single: "Pick one [/]"
        choices:
          - text: "{0}"
            feedback: "{1}"
          - text: "{2}"
            correct: true
            feedback: "{3}"
          - text: "{4}"
        explain: "fine"
"""


def nasty_lesson(tmp_path: Path) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    escaped = [text.replace("\\", "\\\\") for text in NASTY]
    text = LESSON.format(*escaped)
    for key in "stuvw":
        text = text.replace(f"  - key: {key}\n", f"  - key: {key}\n    send: {{task: add, args: [1, 2]}}\n")
    (folder / "01-markup.yaml").write_text(text)
    return folder


def test_the_nasty_lesson_is_valid(tmp_path: Path) -> None:
    course = load_course([nasty_lesson(tmp_path)])
    assert course.problems == ()
    lesson = course.lessons[0]
    assert [control.label for control in lesson.controls] == NASTY


async def test_markup_in_lesson_text_is_shown_as_written(make_app: Callable[..., TutorApp], tmp_path: Path) -> None:
    app = make_app(nasty_lesson(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        screen = app.screen
        labels = [str(button.label) for button in screen.query(Button) if (button.id or "").startswith("control-")]
        assert labels == [f"{key} · {text}" for key, text in zip("stuvw", NASTY, strict=True)]
        answers = screen.query_one("#answer", OptionList)
        prompts = [str(answers.get_option_at_index(i).prompt) for i in range(answers.option_count)]
        assert prompts == [f"{n}. {text}" for n, text in enumerate(NASTY[::2], 1)]
        await pilot.press("enter")  # the first (wrong) choice: its feedback is shown
        await wait_for(pilot, lambda: screen.phase == "answered")
        shown = "\n".join(str(widget.render()) for widget in screen.query("#step-pane Static"))
        assert NASTY[0] in shown and NASTY[1] in shown
        await pilot.press("q")
    assert app.return_code == 0


async def test_the_command_palette_shows_lesson_text_as_written(
    make_app: Callable[..., TutorApp], tmp_path: Path
) -> None:
    app = make_app(nasty_lesson(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        commands = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: commands.option_count > len(NASTY))
        shown = [str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)]
        for text in NASTY:
            assert any(f"Lab: {text}\n" in line for line in shown), (text, shown)
        assert any("Open lesson 1: Markup [/] title" in line for line in shown)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        await pilot.press("q")
    assert app.return_code == 0


async def test_resetting_a_lesson_with_markup_in_its_title(make_app: Callable[..., TutorApp], tmp_path: Path) -> None:
    app = make_app(nasty_lesson(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(app._notifications))
        assert [n.message for n in app._notifications] == ["Progress of 'Markup [/] title' reset."]
        await pilot.press("q")
    assert app.return_code == 0
