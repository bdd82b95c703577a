"""A lesson: the current step beside the live lab, the task's real source, and the controls.

The screen draws and routes keys; what a step is, where the learner is in it, grading,
goals and progress belong to :class:`~celery_tutor.course.session.LessonSession`.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Markdown, OptionList, Static

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.grading import Grade
from celery_tutor.course.model import LabStep, Lesson, PredictStep, QuizStep, ReadStep, Step
from celery_tutor.course.phases import LabScript, Move, Phase
from celery_tutor.course.scores import course_totals
from celery_tutor.course.session import LessonSession
from celery_tutor.lab.events import LabEvent
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.asking import AskingScreen
from celery_tutor.ui.screens.code_steps import CodeStepScreen
from celery_tutor.ui.screens.endings import BACK, LessonEndScreen, next_entry_title
from celery_tutor.ui.screens.lab_view_keys import TIME_BINDINGS
from celery_tutor.ui.screens.tutor_screen import PaletteCommand
from celery_tutor.ui.widgets.answers import answer_widgets, verdict_widgets
from celery_tutor.ui.widgets.key_bar import KeyBar
from celery_tutor.ui.widgets.step_parts import goal_widgets, prediction_choices, result_widgets
from celery_tutor.ui.widgets.steps import Notice, swap_box


class LessonScreen(CodeStepScreen, AskingScreen):
    """One lesson, step by step."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next_step", "Next"),
        Binding("p", "previous_step", "Prev"),
        Binding("h", "hint", "Hint"),
        Binding("ctrl+o", "solution", "Solution"),
        *TIME_BINDINGS,
    ]

    @classmethod
    def for_lesson(cls, lesson: Lesson) -> type[LessonScreen]:
        """A screen class whose key bindings include this lesson's controls."""
        return type(f"LessonScreen_{lesson.id}", (cls,), {"BINDINGS": cls.with_controls(lesson.controls)})

    def __init__(self, lesson: Lesson, start_at: str | None = None) -> None:
        from celery_tutor.lesson_labs import lab_config

        self.lesson = lesson
        self.controls = lesson.controls
        self.lab_config = lab_config(lesson)
        self.source_task = lesson.lab.tasks[0] if lesson.lab.tasks else None
        super().__init__()
        self.walk = LessonSession(
            lesson, self.state, self.tutor.progress, self.tutor.save_progress, start_at, self.tutor.clock
        )
        """Where the learner is in the lesson (it reads the screen's lab state)."""
        self._course_was_complete = self._course_complete()
        self._extra_box = Vertical(classes="step-extra")

    def lab_controls(self) -> frozenset[str]:
        """The lesson's controls, and every control its experiments, setups and solutions use."""
        names = set(super().lab_controls())
        for step in self.lesson.steps:
            for part in ("experiment", "setup", "solution"):
                names.update(action.control for action in getattr(step, part, ()))
            for wrong in getattr(step, "wrong_solutions", ()):
                names.update(action.control for action in wrong.script)
            measure = getattr(step, "measure", None)
            if measure is not None:
                names.update(action.control for action in measure.experiment)
        return frozenset(names)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with VerticalScroll(id="step-pane"):
                yield Static(id="step-title")
                yield Markdown(id="step-text")
                yield self._extra_box
                yield from self.compose_source()
            yield from self.compose_lab()
        yield KeyBar()

    def on_mount(self) -> None:
        # Textual also calls LabScreen.on_mount (handlers run along the MRO): no super() here,
        # or the screen would start a second lab.
        self.title = self.lesson.title
        self.tutor.drop_passing_notices()  # "that was the last step" spoke of the lesson before
        self.enter_step()

    @property
    def step(self) -> Step:
        """The current step."""
        return self.walk.step

    @property
    def index(self) -> int:
        """The current step's position in the lesson."""
        return self.walk.index

    @property
    def phase(self) -> Phase:
        """Where the learner is inside the current step."""
        return self.walk.phase

    # -- drawing ------------------------------------------------------------------------

    def _set_text(self, markdown: str) -> None:
        self.query_one("#step-text", Markdown).update(markdown)

    def _extra(self, *widgets: Widget) -> None:
        """Replace what the step shows under its text."""
        self._extra_box = swap_box(self.query_one("#step-pane", VerticalScroll), self._extra_box, *widgets)

    def _focus_pane(self) -> None:
        self.query_one("#step-pane", VerticalScroll).focus()  # ↑/↓ and page keys scroll the text

    def _run(self, script: LabScript | None) -> None:
        if script is not None:
            self.session.run_script(script.purpose, script.actions)

    def enter_step(self) -> None:
        """Show the current step from its beginning (a lab step's setup runs on the lab)."""
        self.switch_step()
        script = self.walk.enter()
        step = self.walk.step
        done = " ✓ done" if self.walk.done_before else ""
        position = f" · step {self.index + 1} of {len(self.lesson.steps)} · {step.kind}{done}"
        self.query_one("#step-title", Static).update(Text.assemble((self.lesson.title, "bold"), position))
        self._extra()
        self.action_unzoom()  # a new step is read first
        self.show_source(self.walk.source_task() or next(iter(LAB_TASKS)))
        match step:
            case ReadStep():
                self._set_text(step.body)
            case PredictStep():
                self._set_text(step.question)
                choices = prediction_choices(step)
                self._extra(choices)
                choices.focus(scroll_visible=False)  # the question above it stays in view
            case LabStep():
                self._set_text(step.body)
                self._show_goal()
            case CodeStep():
                self._set_text(step.body)
                self._extra(self.new_code_panel())
            case QuizStep():
                self._show_question()
        self._run(script)
        self.query_one("#step-pane", VerticalScroll).scroll_home(animate=False)
        if step.kind in ("read", "lab", "code"):
            self._focus_pane()

    def _show_goal(self, reveal_hint: bool = False, reveal_outcome: bool = False) -> None:
        """The goal's checklist and the hints so far (``reveal_hint``: scroll to the newest)."""
        if not self.show_code(reveal_hint):
            self._extra(*goal_widgets(self.walk, reveal_hint, reveal_outcome))

    def _show_result(self, failure: str | None) -> None:
        self._extra(*result_widgets(self.walk, failure))
        self._focus_pane()

    def _show_question(self) -> None:
        step = self.walk.step
        assert isinstance(step, QuizStep)
        question = self.walk.question
        number = f"**Question {self.walk.question_index + 1} of {len(step.questions)}.**"
        self._set_text(f"{number} {question.prompt}")
        widgets = answer_widgets(question, self.walk.options(), self.walk.answer)
        self._extra(*widgets)
        widgets[-1].focus(scroll_visible=False)  # the question stays in view: the pane starts at its top
        self.query_one("#step-pane", VerticalScroll).scroll_home(animate=False)

    def asking(self) -> LessonSession:
        return self.walk

    def show_verdict(self, grade: Grade) -> None:
        """The verdict on the quiz answer, with its feedback and explanation."""
        self._extra(*verdict_widgets(self.walk.question, self.walk.answer, grade, self.walk.last_question))
        self._focus_pane()

    # -- keys and answers ---------------------------------------------------------------

    def action_next_step(self) -> None:
        """Go on (inside a quiz: the next question)."""
        move = self.walk.next()
        if move is Move.QUESTION:
            self._show_question()
        elif move is Move.STEP:
            self.enter_step()
        else:
            self._end_of_lesson()

    def action_previous_step(self) -> None:
        """Go back one step."""
        if self.walk.previous():
            self.enter_step()

    # -- the end of the lesson ----------------------------------------------------------

    def _course_complete(self) -> bool:
        return course_totals(self.tutor.entries, self.tutor.progress, self.tutor.clock()).complete

    def _end_of_lesson(self) -> None:
        """The last step is behind: the lesson's card (scores, goals, takeaways), then the lesson list."""
        self.app.push_screen(
            LessonEndScreen(self.walk.summary(), next_entry_title(self.tutor.entries, self.lesson.id)),
            self._after_end_card,
        )

    def _after_end_card(self, choice: str | None) -> None:
        if choice == BACK:
            index = self.walk.first_unfinished()
            if index is not None:  # the first thing left, else the step the learner was on
                self.walk.go_to(index)
                self.enter_step()
            return
        self.walk.leave()
        newly_complete = self._course_complete() and not self._course_was_complete
        self.tutor.lesson_ended(self.lesson.id, newly_complete)
        self.app.pop_screen()

    def action_lessons(self) -> None:
        """Back to the lesson list (the time spent so far is kept)."""
        self.walk.leave()
        super().action_lessons()

    def palette_commands(self) -> list[PaletteCommand]:
        """The lesson's actions, then the lab's."""
        return [
            self.command("Next step", "next_step"),
            self.command("Previous step", "previous_step"),
            self.command("Show a hint", "hint", "lab and code steps"),
            self.command("Show the solution", "solution", "lab steps: replayed; code steps: in the editor"),
            *super().palette_commands(),
        ]

    def action_hint(self) -> None:
        """Show the next hint of a lab or code step."""
        if self.walk.step.kind not in ("lab", "code"):
            self.notify("Hints are for lab and code steps.")
        elif self.walk.hint():
            self._show_goal(reveal_hint=True)
        else:
            self.notify("No more hints: ctrl+o shows the solution.")

    def action_reset_lab(self) -> None:
        """Back to the lab's starting point; in a lab step, to the step's start (its setup again)."""
        script = self.walk.restart()
        if script is None:
            super().action_reset_lab()
            return
        self._show_goal()
        self._run(script)

    def action_solution(self) -> None:
        """Replay the lab step's solution on the live lab; a code step's goes into the editor."""
        if self.show_solution_code():
            return
        script = self.walk.solution()
        if script is None:
            self.notify("Only lab steps have a solution to replay.")
            return
        self._show_goal()
        self.notify("Replaying the solution on the lab…")
        self._run(script)

    @on(OptionList.OptionSelected, "#choices")
    def _prediction_picked(self, event: OptionList.OptionSelected) -> None:
        """A prediction was locked in: the lab runs the experiment (quiz answers: :class:`AskingScreen`)."""
        script = self.walk.predict(int(event.option.id or 0))
        if script is not None and self.walk.prediction is not None:
            running = "\n\nThe lab is running the experiment… watch the panel."
            self._extra(Notice(Text.assemble(("You predict: ", "bold"), self.walk.prediction.text, running)))
            self._run(script)

    # -- the lab ------------------------------------------------------------------------

    def observe(self, events: list[LabEvent]) -> None:
        was_done = self.phase is Phase.DONE
        if self.walk.observe(events):
            self._show_goal(reveal_outcome=not was_done and self.phase is Phase.DONE)
        self.watch_code_lab(events)

    def on_lab_session_script_done(self, message: LabSession.ScriptDone) -> None:
        """A script ended: take in its last events, then move the step on."""
        self.redraw()
        if message.purpose == "experiment" and self.walk.experiment_done():
            self._show_result(message.failure)
        elif message.purpose == "code":
            self.code_run_ended(message.failure, message.session)
        elif message.failure:
            self.notify(f"{message.purpose}: {message.failure}", severity="warning")
