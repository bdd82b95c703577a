"""The lesson screen's code steps: load the learner's code, run it on a fresh lab, say what happened.

Run (``ctrl+r``) keeps the code, compiles it off the event loop (its top level may loop
for the lab's import limit), and then either shows the problem at its line and column
without touching the lab, or replaces the screen's lab with a fresh one that has the
learner's tasks and runs the step's experiment on it, through the lab session's one
queue like every other lab job. When the lab halts (the learner's task ran past the
code time limit) the learner is told and the lab is replaced again, so the app never
waits on the learner's code.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import TextArea

from celery_tutor.course.code_step import CodeStep
from celery_tutor.lab import events as ev
from celery_tutor.lab.code_source import CodeProblem
from celery_tutor.lab.limits import MAX_CODE_CHARS
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.screens.tutor_screen import PaletteCommand
from celery_tutor.ui.widgets.code_panel import EDIT_KEY, RUN_KEY, STARTER_KEY, CodePanel
from celery_tutor.ui.widgets.lab_panel import LabPanel

if TYPE_CHECKING:
    from celery_tutor.course.model import Lesson
    from celery_tutor.course.session import LessonSession
    from celery_tutor.lab.lab_config import LabConfig
    from celery_tutor.lab.learner_code import LearnerCode

KEEP_DELAY = 0.5
"""Seconds after the last edit before the code is kept in the progress (one write per pause, not per key)."""
CODE_ACTIONS = ("run_code", "edit_code", "starter_code", "leave_editor")


class CodeStepScreen(LabScreen):
    """A lab screen that can run a code step's learner code (the lesson screen's base)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # A subclass's bindings replace its bases' for the same key: ctrl+r keeps both here,
        # and check_action lets one through (reset the lab; in a code step, run the code).
        Binding(RUN_KEY, "reset_lab", "Reset lab"),
        Binding(RUN_KEY, "run_code", "Run code"),
        Binding(EDIT_KEY, "edit_code", "Edit code"),
        Binding(STARTER_KEY, "starter_code", "Starter code", show=False),
    ]
    walk: LessonSession
    lesson: Lesson
    code_time_limit: float | None = None
    """Seconds one run of learner code may take (None: the lab's default); tests shorten it."""

    class Compiled(Message, bubble=False):
        """The learner's code was loaded off the event loop: a lab to start, or why not."""

        def __init__(self, step: CodeStep, outcome: tuple[LabConfig, LearnerCode] | CodeProblem) -> None:
            super().__init__()
            self.step = step
            self.outcome = outcome

    def __init__(self) -> None:
        super().__init__()
        self._code_lab = False
        """The lab runs a learner's code (leaving the code step brings back the lesson's own lab)."""
        self._compiling = False
        self._keep_timer: Timer | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Code keys only in a code step (where ctrl+r runs the code instead of resetting the lab)."""
        walk = getattr(self, "walk", None)
        coding = walk is not None and walk.code is not None
        if action in CODE_ACTIONS:
            return coding and (action != "edit_code" or not isinstance(self.focused, TextArea))
        if action == "reset_lab" and coding:
            return False
        return super().check_action(action, parameters)

    # -- the editor ---------------------------------------------------------------------

    def code_panel(self) -> CodePanel | None:
        """The code step's panel, while a code step is shown."""
        panels = self.query(CodePanel)
        return panels.first() if panels else None

    def switch_step(self) -> None:
        """Before a step is entered: keep the code left behind; a step that is not code gets the lesson's lab back."""
        self.keep_code()
        coding = isinstance(self.walk.step, CodeStep)
        if not coding:
            self.restore_lesson_lab()
        self.set_class(coding, "-code-step")
        self.refresh_bindings()  # the key bar: a code step's keys come and go with it

    def new_code_panel(self) -> CodePanel:
        """The panel of the code step just entered, with the learner's code (or the starter)."""
        assert self.walk.code is not None
        self.call_after_refresh(self.show_code)
        return CodePanel(self.walk.code.source)

    def show_code(self, reveal_hint: bool = False, reveal_status: bool = False) -> bool:
        """Bring the panel's problem, run status and goal up to date (``reveal_…``: scroll to it).

        False outside a code step (nothing to show).
        """
        panel, work = self.code_panel(), self.walk.code
        if panel is None or work is None:
            return work is not None
        panel.show_problem(work)
        panel.show_status(work, self.walk.goal(), reveal_status)
        panel.show_goal(self.walk, reveal_hint)
        return True

    def on_text_area_changed(self, _: TextArea.Changed) -> None:
        """An edit: keep the code once the learner pauses."""
        if self._keep_timer is not None:
            self._keep_timer.stop()
        self._keep_timer = self.set_timer(KEEP_DELAY, self.keep_code)

    def keep_code(self) -> None:
        """Keep what the editor holds in the progress now (leaving the step, the lesson, the app)."""
        if self._keep_timer is not None:
            self._keep_timer.stop()
            self._keep_timer = None
        panel, work = self.code_panel(), self.walk.code
        if panel is not None and work is not None and not work.keep(panel.editor.text):
            self.notify(f"Your code is over {MAX_CODE_CHARS:,} characters: it is not kept.", severity="warning")

    def action_edit_code(self) -> None:
        """Into the editor."""
        panel = self.code_panel()
        if panel is not None:
            panel.editor.focus()

    def action_leave_editor(self) -> None:
        """Out of the editor: the lesson's keys (n, p, h, l…) work again."""
        self.keep_code()
        self.query_one("#step-pane", VerticalScroll).focus()

    def action_starter_code(self) -> None:
        """Back to the starter code (one edit: ctrl+z in the editor brings the learner's back)."""
        panel, work = self.code_panel(), self.walk.code
        if panel is None or work is None:
            return
        panel.load(work.reset())
        self.show_code()
        self.notify("Back to the starter code. ctrl+z in the editor undoes it.", timeout=4)

    def show_solution_code(self) -> bool:
        """Put the reference solution in the editor (undoable); it counts as revealed. False outside code steps."""
        panel, work = self.code_panel(), self.walk.code
        if panel is None or work is None:
            return False
        panel.load(work.reveal_solution())
        self.show_code()
        self.notify("The solution is in the editor (ctrl+z undoes). ctrl+r runs it.", timeout=5)
        return True

    def action_lessons(self) -> None:
        """Back to the lesson list: the code being written is kept."""
        self.keep_code()
        super().action_lessons()

    def palette_commands(self) -> list[PaletteCommand]:
        """A code step's actions (in code steps only), then the lab's."""
        code: list[PaletteCommand] = []
        if self.walk.code is not None:
            code = [
                self.command("Run your code", "run_code", "a fresh lab runs the step's experiment on it"),
                self.command("Edit your code", "edit_code", "into the editor; esc leaves it"),
                self.command("Back to the starter code", "starter_code", "ctrl+z in the editor undoes it"),
            ]
        return [*code, *super().palette_commands()]

    # -- running ------------------------------------------------------------------------

    def action_run_code(self) -> None:
        """Run the learner's code: the step's experiment on a fresh lab with the learner's tasks."""
        panel, work, step = self.code_panel(), self.walk.code, self.walk.step
        if panel is None or work is None or not isinstance(step, CodeStep):
            return
        if self._compiling:
            self.notify("Your code is still loading…", timeout=2)
            return
        source = panel.editor.text
        if not work.keep(source):
            self.notify(f"Your code is over {MAX_CODE_CHARS:,} characters: shorten it.", severity="error")
            return
        self._compiling = True
        panel.show_loading()
        self.run_worker(lambda: self._compile(step, source), thread=True, group="code", exit_on_error=False)

    def _compile(self, step: CodeStep, source: str) -> None:
        """On a worker thread: run the code's top level (it defines the tasks) and build the lab's config."""
        from celery_tutor.lesson_labs import code_lab_config

        try:
            outcome = code_lab_config(self.lesson, step, source)
        except Exception as exc:  # the learner's code must never take the app down
            outcome = CodeProblem(1, 1, f"{type(exc).__name__}: {exc}", "import")
        self.post_message(self.Compiled(step, outcome))

    def on_code_step_screen_compiled(self, message: Compiled) -> None:
        """Show the problem (nothing runs), or start the fresh lab and the experiment."""
        self._compiling = False
        work, panel = self.walk.code, self.code_panel()
        if work is None or panel is None or self.walk.step is not message.step:
            return  # the learner moved on meanwhile
        if isinstance(message.outcome, CodeProblem):
            work.refused(message.outcome)
            self.show_code(reveal_status=True)
            panel.editor.focus()
            return
        config, _ = message.outcome
        if self.code_time_limit is not None:
            config = dataclasses.replace(config, code_time_limit=self.code_time_limit)
        self.restart_lab(config)
        self._code_lab = True
        self.walk.lab_replaced(self.state)
        script = work.started()
        self.show_code(reveal_status=True)
        self.session.run_script(script.purpose, script.actions, reset_first=False)

    def code_run_ended(self, failure: str | None, session: LabSession | None) -> None:
        """The experiment on the learner's code ended (on ``session``'s lab: an older run's end is not this one's)."""
        if session not in (None, self.session):
            return
        if self.walk.code is not None and self.walk.code.ended(failure):
            self.show_code(reveal_status=True)

    def watch_code_lab(self, events: list[ev.LabEvent]) -> None:
        """The lab halted (learner code past its time limit): replace it, once the events are shown."""
        if any(isinstance(event, ev.CodeTimedOut) for event in events):
            self.call_later(self._replace_halted_lab)

    def _replace_halted_lab(self) -> None:
        work = self.walk.code
        halted = work.halted if work is not None else None
        if work is not None:
            work.ended(halted)
        if self.lab_config is not None:
            self.restart_lab(self.lab_config)
            self.walk.lab_replaced(self.state)
        self.query_one(LabPanel).note(f"the last lab halted: {halted or 'learner code overran'}; this one is fresh")
        self.notify("Your code ran past the lab's time limit: the lab stopped it and was replaced.", severity="warning")
        self.show_code(reveal_status=True)

    def restore_lesson_lab(self) -> None:
        """Leaving a code step whose code ran: the lesson's own lab again (goals read its state)."""
        from celery_tutor.lesson_labs import lab_config

        if not self._code_lab:
            return
        self._code_lab = False
        self.restart_lab(lab_config(self.lesson))
        self.walk.lab_replaced(self.state)
