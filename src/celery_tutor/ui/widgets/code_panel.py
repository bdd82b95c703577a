"""A code step's editor: the learner's task code, the keys that run it, and what the last run did.

The panel is mounted once per visit of a code step and lives until the step is left, so
the editor keeps its text, cursor and undo history while the goal below it is redrawn
as the lab's events arrive. What it shows comes from the session's
:class:`~celery_tutor.course.code_work.CodeWork`; the keys run the screen's actions.
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static, TextArea

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.code_work import CodeWork
from celery_tutor.course.conditions import Condition
from celery_tutor.course.session import LessonSession
from celery_tutor.ui.widgets.step_parts import hints_and_outcome
from celery_tutor.ui.widgets.steps import Notice, checklist

RUN_KEY = "ctrl+r"
STARTER_KEY = "ctrl+t"
CODE_HINT_KEY = "ctrl+g"
EDIT_KEY = "enter"
"""Into the editor: not a letter, which a lesson may give one of its controls."""
INDENT = 4


class CodeEditor(TextArea):
    """The learner's code: Python, highlighted; tab indents, Enter keeps the indentation, escape leaves.

    Enter starts the new line at the current line's indentation, one level deeper after a
    ``:``, as Python editors do: typing a ``try:`` block needs no counting of spaces.
    """

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "escape":  # TextArea would move the focus to the next widget; the screen says where
            event.stop()
            event.prevent_default()
            await self.run_action("screen.leave_editor")
            return
        if event.key == "enter" and not self.read_only:
            event.stop()
            event.prevent_default()
            start, end = sorted(self.selection)
            self.replace(
                "\n" + " " * next_indent(self.document.get_line(start[0])[: start[1]]),
                start,
                end,
                maintain_selection_offset=False,
            )
            return
        await super()._on_key(event)


def next_indent(before_cursor: str) -> int:
    """The indentation of a new line started after ``before_cursor``: the same, or one level more after a ``:``."""
    indent = len(before_cursor) - len(before_cursor.lstrip(" "))
    return indent + INDENT if before_cursor.rstrip().endswith(":") else indent


class CodePanel(Vertical):
    """The editor, the problem found in the code, the run's status, and the goal with the hints."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(RUN_KEY, "screen.run_code", "Run code"),
        Binding(STARTER_KEY, "screen.starter_code", "Starter"),
        Binding(CODE_HINT_KEY, "screen.hint", "Hint"),
        Binding("escape", "screen.leave_editor", "Leave editor"),
    ]

    def __init__(self, source: str) -> None:
        super().__init__(id="code-panel")
        self._source = source

    def compose(self) -> ComposeResult:
        editor = CodeEditor.code_editor(self._source, language="python", id="code-editor", soft_wrap=False)
        editor.border_title = "your code"
        editor.border_subtitle = "^r run · ^t starter · ^g hint · ^o solution · esc leave"
        yield editor
        yield Static(id="code-problem")
        yield Static(id="code-status")
        yield Vertical(id="code-goal")

    @property
    def editor(self) -> CodeEditor:
        """The learner's code as typed."""
        return self.query_one(CodeEditor)

    def load(self, source: str) -> None:
        """Put ``source`` in the editor as one edit the learner can undo (ctrl+z)."""
        editor = self.editor
        editor.replace(source, (0, 0), editor.document.end)
        editor.move_cursor((0, 0))

    def show_problem(self, work: CodeWork) -> None:
        """The problem that kept the code from running, with the cursor on its place."""
        problem = work.problem
        widget = self.query_one("#code-problem", Static)
        widget.display = problem is not None
        if problem is None:
            widget.update("")
            return
        text = Text.assemble(
            ("✗ Not run: ", "bold red"),
            f"line {problem.line}, column {problem.column}: {problem.message}",
            ("\n  The cursor is there; fix it and press ^r again. Nothing ran: the lab is as it was.", "dim"),
        )
        widget.update(text)
        lines = self.editor.document.line_count
        row = max(0, min(problem.line - 1, lines - 1))
        column = max(0, min(problem.column - 1, len(self.editor.document.get_line(row))))
        self.editor.move_cursor((row, column), center=True)

    def show_status(self, work: CodeWork, goal: list[tuple[Condition, bool]], reveal: bool = False) -> None:
        """How the last run went, in words (``reveal``: scrolled into view, with the problem above it)."""
        status = self.query_one("#code-status", Static)
        status.update(run_status(work, goal))
        if reveal:
            self.call_after_refresh(status.scroll_visible, animate=False)

    def show_loading(self) -> None:
        """Run was pressed: the code's top level is being run (it defines the tasks)."""
        self.query_one("#code-status", Static).update(Text("Loading your code…", style="bold"))

    def show_goal(self, walk: LessonSession, reveal_hint: bool = False) -> None:
        """The goal's checklist, the hints so far and, once the goal holds, the explanation."""
        box = self.query_one("#code-goal", Vertical)
        box.remove_children()
        box.mount_all(code_goal_widgets(walk, reveal_hint))


def run_status(work: CodeWork, goal: list[tuple[Condition, bool]]) -> Text:
    """One or two lines on the last run: not run yet, running, stopped at the time limit, failed, how far it got.

    The tally of the goal is said here, next to the editor, because on a small terminal the
    checklist itself may be below the fold.
    """
    if work.halted is not None:
        return Text.assemble(
            ("⏱ Stopped: ", "bold red"),
            f"{work.halted}.",
            "\nDone: a fresh lab replaced it. An endless loop, or a wait that never ends? Fix the code and press ^r.",
        )
    if work.running:
        return Text("▶ Running your code on a fresh lab… watch the lab panel.", style="bold")
    held = sum(ok for _, ok in goal)
    tally = f"{held} of {len(goal)} goal conditions hold (the list below says which)."
    if work.failure is not None:
        why = re.sub(r"^line \d+: ", "", work.failure)  # the line is the lesson file's, not the learner's
        return Text.assemble(("The experiment stopped: ", "bold yellow"), why, f". {tally}")
    if work.runs and held == len(goal):
        return Text("✓ Your code reached the goal.", style="bold green")
    if work.runs:
        return Text.assemble(("The experiment ran on your code: ", "bold"), tally)
    return Text(
        f"Enter edits your code; {RUN_KEY.replace('ctrl+', '^')} runs it on a fresh lab (the step's experiment).",
        style="dim",
    )


def code_goal_widgets(walk: LessonSession, reveal_hint: bool = False) -> list[Widget]:
    """A code step's goal (✓/✗ after a run), its hints so far, and the explanation once it is reached."""
    step = walk.step
    assert isinstance(step, CodeStep) and walk.code is not None
    if walk.code.runs:
        goal = checklist(walk.goal(), "Goal:")
    else:  # nothing ran yet: neither ✓ nor ✗
        goal = Text("Goal (checked when your code runs):\n", style="bold")
        for condition in step.goal:
            goal.append(f"  ○ {condition.label}\n", style="not bold")
    next_note = "Press n for the next step (esc leaves the editor first)."
    return [Notice(goal), *hints_and_outcome(walk, reveal_hint, next_note)]
