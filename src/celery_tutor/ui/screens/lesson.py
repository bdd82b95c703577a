"""A lesson: the current step beside the live lab, the task's real source, and the controls."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Collapsible, Footer, Input, Markdown, OptionList, Static

from celery_tutor.course.conditions import GoalTracker
from celery_tutor.course.grading import grade
from celery_tutor.course.model import Control, LabStep, Lesson, PredictStep, Question, QuizStep, ReadStep, Step
from celery_tutor.lab import settings as lab_settings
from celery_tutor.lab.actions import Send
from celery_tutor.lab.catalog import CATALOG
from celery_tutor.lab.events import ConfigChanged, LabEvent, LabReset
from celery_tutor.progress import StepProgress
from celery_tutor.ui.bridge import LabBridge
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.widgets.controls import ControlBar
from celery_tutor.ui.widgets.lab_panel import LabPanel
from celery_tutor.ui.widgets.steps import ChoiceList, Notice, checklist

if TYPE_CHECKING:
    from celery_tutor.lab.engine import LabConfig
    from celery_tutor.ui.app import TutorApp

REDRAW_INTERVAL = 0.1
"""Seconds between lab panel redraws while events pour in."""
BURST_REDRAW_INTERVAL = 0.3
"""…and during a burst (a batch of more than BURST events), so keys stay quick."""
BURST = 50
TIMELINE_BATCH = 60
"""The most timeline lines one redraw writes; older ones of a burst are summarised."""


class LabScreen(Screen[None]):
    """A screen with a live lab and controls on keys (the base of lessons and the sandbox)."""

    CSS_PATH = Path(__file__).with_name("lesson.tcss")
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reset_lab", "Reset lab"),
        Binding("l", "lessons", "Lessons"),
        Binding("escape", "lessons", "Lessons", show=False),
    ]
    controls: tuple[Control, ...] = ()
    lab_config: LabConfig | None = None
    start_settings: dict[str, Any] = {}  # noqa: RUF012  (replaced per instance)
    start_options: dict[str, Any] = {}  # noqa: RUF012  ("task.option" → value, replaced per instance)
    source_task: str | None = None
    controls_beside_lab = True
    session_class: type[LabSession] = LabSession
    """What runs the lab (tests swap in a scripted one)."""

    @classmethod
    def with_controls(cls, controls: tuple[Control, ...]) -> list[BindingType]:
        """Key bindings for a set of controls (each runs ``action_control``)."""
        return [Binding(c.key, f"control({c.key!r})", c.label, show=False) for c in controls]

    def __init__(self) -> None:
        super().__init__()
        self.session = self.session_class(self, self.lab_config)
        self.settings_now = dict(self.start_settings)
        self.options_now = dict(self.start_options)
        self._unshown: list[LabEvent] = []
        self._cleared = False
        self._redraw_pending = False
        self._last_redraw = 0.0
        self._last_batch = 0

    @property
    def tutor(self) -> TutorApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose_lab(self) -> ComposeResult:
        """The right-hand side: the lab and its controls."""
        with Vertical(id="lab-pane"):
            yield LabPanel(id="lab")
            if self.controls_beside_lab:
                yield ControlBar(self.controls, id="controls")

    def compose_source(self) -> ComposeResult:
        """The real source of the lesson's main task, as it runs."""
        if self.source_task is None:
            return
        spec = CATALOG[self.source_task]
        with Collapsible(title=f"the code that runs: {spec.name}", collapsed=False, id="source"):
            yield Static(Syntax(spec.source, "python", line_numbers=False, word_wrap=True), id="source-code")
            yield Static(id="source-options")

    def show_source(self, task: str) -> None:
        """Show the code of another lab task."""
        if task == self.source_task or task not in CATALOG:
            return
        self.source_task = task
        for panel in self.query("#source").results(Collapsible):
            panel.title = f"the code that runs: {task}"
        for code in self.query("#source-code").results(Static):
            code.update(Syntax(CATALOG[task].source, "python", line_numbers=False, word_wrap=True))
        self._show_options()

    def _show_options(self) -> None:
        """The task options the lab applies on top of the decorator, if any."""
        if self.source_task is None:
            return
        prefix = f"{self.source_task}."
        options = {k.removeprefix(prefix): v for k, v in self.options_now.items() if k.startswith(prefix)}
        text = ""
        if options:
            shown = ", ".join(f"{k}={v!r}" for k, v in options.items())
            text = f"the lab runs it with these options on top of the decorator's: {shown}"
        for widget in self.query("#source-options").results(Static):
            widget.update(Text(text, style="italic"))

    def on_mount(self) -> None:
        self.session.start()
        self.set_interval(0.25, self._tick)
        self._show_controls()

    def on_unmount(self) -> None:
        self.session.close()

    # -- lab feed -----------------------------------------------------------------------

    def on_lab_bridge_activity(self, _: LabBridge.Activity | None = None) -> None:
        """Lab events are waiting: take them in at the next redraw (at most ten a second).

        The bridge posts again only after the redraw drained it, so a burst of events
        costs one message per redraw, and keys never queue behind a flood of them.
        """
        if self._redraw_pending:
            return
        self._redraw_pending = True
        interval = BURST_REDRAW_INTERVAL if self._last_batch > BURST else REDRAW_INTERVAL
        wait = self._last_redraw + interval - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self.redraw)
        else:
            self.call_later(self.redraw)

    def take_in(self) -> list[LabEvent]:
        """Drain the bridge and fold the events into what the screen tracks."""
        events = self.session.bridge.drain()
        self._last_batch = len(events)
        for event in events:
            if isinstance(event, LabReset):
                self._unshown.clear()
                self._cleared = True
                self.settings_now = dict(self.start_settings)
                self.options_now = dict(self.start_options)
            elif isinstance(event, ConfigChanged):
                self.settings_now.update({k: v for k, v in event.changes.items() if "." not in k})
                self.options_now.update({k: v for k, v in event.changes.items() if "." in k})
            self._unshown.append(event)
        if events:
            self.observe(events)
        return events

    def redraw(self) -> None:
        """Take in the waiting events and bring the lab panel up to date."""
        self._redraw_pending = False
        self._last_redraw = time.monotonic()
        self.take_in()
        panel = self.query_one(LabPanel)
        if self._cleared:
            panel.clear_timeline()
            self._cleared = False
        events, self._unshown = self._unshown, []
        if len(events) > TIMELINE_BATCH:
            panel.note(f"… {len(events) - TIMELINE_BATCH} events not shown here (a burst)")
            events = events[-TIMELINE_BATCH:]
        panel.add_events(events)
        panel.show(self.session.snapshot(), self.session.now())
        self._show_controls()
        self._show_options()

    def observe(self, events: list[LabEvent]) -> None:
        """Subclasses fold events into their goals."""

    def _tick(self) -> None:
        snapshot = self.session.snapshot()
        if snapshot is not None and any(t.state == "RETRY" for t in snapshot.tasks):
            self.query_one(LabPanel).show(snapshot, self.session.now())

    def on_lab_session_ready(self, _: LabSession.Ready) -> None:
        """The lab is consuming."""
        self.query_one(LabPanel).show(self.session.snapshot(), self.session.now())
        self.lab_ready()

    def lab_ready(self) -> None:
        """Subclasses start what waited for the lab."""

    def on_lab_session_failed(self, message: LabSession.Failed) -> None:
        """The lab reported a problem: show it, carry on."""
        self.notify(message.what, title="lab", severity="warning")

    # -- controls -----------------------------------------------------------------------

    def _show_controls(self) -> None:
        for bar in self.query(ControlBar):
            bar.show_settings(self.settings_now)

    def on_control_bar_pressed(self, message: ControlBar.Pressed) -> None:
        """A control's button was clicked (the same as its key)."""
        self.action_control(message.key)

    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """The screen's actions, for the command palette."""
        commands: list[tuple[str, str, Callable[[], object]]] = [
            ("Reset the lab", "back to the lab's starting point (ctrl+r)", self.action_reset_lab),
            ("Back to the lessons", "the lesson list (l)", self.action_lessons),
        ]
        for control in self.controls:
            label = f"toggle {control.toggle}" if control.toggle else control.label
            commands.append((f"Lab: {label}", f"key {control.key}", lambda key=control.key: self.action_control(key)))
        return commands

    def action_control(self, key: str) -> None:
        """Press a lesson control."""
        control = next((c for c in self.controls if c.key == key), None)
        if control is None:
            return
        if control.toggle is not None:
            name = control.toggle
            value = not self.settings_now.get(name, False)
            self.session.call("toggle", lambda lab: lab.configure(**{name: value}))
            self.notify(f"{name} → {value}: the worker restarts to apply it", timeout=3)
        elif control.action is not None:
            self.session.control(control.action)

    def action_reset_lab(self) -> None:
        """Back to the lab's starting point."""
        self.session.call("reset", lambda lab: lab.reset())

    def action_lessons(self) -> None:
        """Back to the lesson list."""
        self.app.pop_screen()


class LessonScreen(LabScreen):
    """One lesson, step by step."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next_step", "Next"),
        Binding("p", "previous_step", "Prev"),
        Binding("h", "hint", "Hint"),
        Binding("ctrl+o", "solution", "Solution"),
    ]

    @classmethod
    def for_lesson(cls, lesson: Lesson) -> type[LessonScreen]:
        """A screen class whose key bindings include this lesson's controls."""
        return type(f"LessonScreen_{lesson.id}", (cls,), {"BINDINGS": cls.with_controls(lesson.controls)})

    def __init__(self, lesson: Lesson, start_at: str | None = None) -> None:
        from celery_tutor.verification import lab_config

        self.lesson = lesson
        self.controls = lesson.controls
        self.lab_config = lab_config(lesson)
        self.start_settings = lab_settings.with_defaults(lesson.lab.settings)
        self.start_options = {
            f"{task}.{name}": lab_settings.plain_value(value)
            for task, values in lesson.lab.task_options.items()
            for name, value in values.items()
        }
        self.source_task = lesson.lab.tasks[0] if lesson.lab.tasks else None
        super().__init__()
        ids = [step.id for step in lesson.steps]
        self.index = ids.index(start_at) if start_at in ids else 0
        self.tracker: GoalTracker | None = None
        self.phase = ""
        self.choice: int | None = None
        self.hints_shown = 0
        self.question_index = 0
        self.quiz_marks: list[str] = []
        self.order: list[int] = []
        self.shuffled: list[str] = []
        self.quiz_results: dict[str, bool] = {}
        self._pending_lab_entry = False
        self._extra_box = Vertical(classes="step-extra")
        self._goal_shown: tuple[str, tuple[bool, ...]] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with VerticalScroll(id="step-pane"):
                yield Static(id="step-title")
                yield Markdown(id="step-text")
                yield self._extra_box
                yield from self.compose_source()
            yield from self.compose_lab()
        yield Footer()

    def on_mount(self) -> None:
        # Textual also calls LabScreen.on_mount (handlers run along the MRO): no super() here,
        # or the screen would start a second lab.
        self.title = self.lesson.title
        self.enter_step()

    @property
    def step(self) -> Step:
        """The current step."""
        return self.lesson.steps[self.index]

    def _progress(self) -> StepProgress:
        lesson = self.tutor.progress.lesson(self.lesson.id)
        return lesson.steps.setdefault(self.step.id, StepProgress())

    def _save(self) -> None:
        lesson = self.tutor.progress.lesson(self.lesson.id)
        lesson.current = self.step.id
        self.tutor.progress.last_lesson = self.lesson.id
        self.tutor.save_progress()

    # -- steps --------------------------------------------------------------------------

    def enter_step(self) -> None:
        """Show the current step from its beginning."""
        step = self.step
        self.tracker = None
        self.phase = ""
        self.choice = None
        self.hints_shown = 0
        self.question_index = 0
        kind = type(step).__name__.removesuffix("Step").lower()
        done = " ✓ done" if self._progress().done else ""
        self.query_one("#step-title", Static).update(
            Text.assemble(
                (self.lesson.title, "bold"), f" · step {self.index + 1} of {len(self.lesson.steps)} · {kind}{done}"
            )
        )
        self._extra()
        self.show_source(self._task_of(step))
        if isinstance(step, ReadStep):
            self._set_text(step.body)
            self._progress().done = True
        elif isinstance(step, PredictStep):
            self._enter_predict(step)
        elif isinstance(step, LabStep):
            self._enter_lab(step)
        else:
            self._enter_quiz(step)
        pane = self.query_one("#step-pane", VerticalScroll)
        pane.scroll_home(animate=False)
        if isinstance(step, (ReadStep, LabStep)):
            pane.focus()  # ↑/↓ and page keys scroll the text
        self._save()

    def _task_of(self, step: Step) -> str:
        """The task a step is about: the first one its scripts send, else the lesson's first."""
        scripts: tuple[Any, ...] = ()
        if isinstance(step, PredictStep):
            scripts = step.experiment
        elif isinstance(step, LabStep):
            scripts = (*step.setup, *step.solution)
        for action in scripts:
            if isinstance(action, Send):
                return action.task
        return self.lesson.lab.tasks[0] if self.lesson.lab.tasks else next(iter(CATALOG))

    def _set_text(self, markdown: str) -> None:
        self.query_one("#step-text", Markdown).update(markdown)

    def _extra(self, *widgets: Any) -> None:
        """Replace what the step shows under its text (a new box: ids inside stay unique)."""
        old, self._extra_box = self._extra_box, Vertical(*widgets, classes="step-extra")
        self.query_one("#step-pane", VerticalScroll).mount(self._extra_box, after=old)
        old.remove()

    def action_next_step(self) -> None:
        """Go on (inside a quiz: the next question)."""
        step = self.step
        if isinstance(step, QuizStep) and self.phase == "answered" and self.question_index + 1 < len(step.questions):
            self.question_index += 1
            self._show_question()
            return
        if self.index + 1 < len(self.lesson.steps):
            self.index += 1
            self.enter_step()
        else:
            self._save()
            self.notify("That was the last step of this lesson.", title=self.lesson.title)
            self.app.pop_screen()

    def action_previous_step(self) -> None:
        """Go back one step."""
        if self.index > 0:
            self.index -= 1
            self.enter_step()

    # -- predict ------------------------------------------------------------------------

    def _enter_predict(self, step: PredictStep) -> None:
        self._set_text(step.question)
        self.phase = "ask"
        self.tracker = GoalTracker(step.expect, dict(self.start_settings))
        choices = ChoiceList([c.text for c in step.choices], id="choices")
        choices.border_title = "your prediction: ↑/↓, then Enter locks it and the lab runs the experiment"
        self._extra(choices)
        choices.focus()

    def _predict_chosen(self, index: int) -> None:
        step = self.step
        assert isinstance(step, PredictStep)
        if self.phase != "ask":
            return
        self.phase = "running"
        self.choice = index
        self.tracker = GoalTracker(step.expect, dict(self.start_settings))
        self._extra(
            Notice(
                Text.assemble(
                    ("You predict: ", "bold"),
                    step.choices[index].text,
                    "\n\nThe lab is running the experiment… watch the panel.",
                )
            )
        )
        self.session.run_script("experiment", step.experiment)

    def _predict_done(self, failure: str | None) -> None:
        step = self.step
        assert isinstance(step, PredictStep) and self.tracker is not None and self.choice is not None
        self.phase = "result"
        choice = step.choices[self.choice]
        verdict = ("✓ Your prediction was right.", "green") if choice.correct else ("✗ Not what happened.", "red")
        text = Text.assemble(("You predicted: ", "bold"), choice.text, "\n", (verdict[0], f"bold {verdict[1]}"))
        if choice.feedback:
            text.append(f"\n{choice.feedback}")
        widgets: list[Any] = [Notice(text), Notice(checklist(self.tracker.results(), "What happened in the lab:"))]
        if failure:
            widgets.append(Notice(Text(f"The experiment stopped early: {failure}", style="yellow")))
        widgets.append(Markdown(step.explain))
        widgets.append(Notice(Text("Press n for the next step (↓ scrolls).", style="italic")))
        self._extra(*widgets)
        self.query_one("#step-pane", VerticalScroll).focus()
        progress = self._progress()
        if not progress.done:
            progress.done = True
            progress.correct = choice.correct
        self._save()

    # -- lab ----------------------------------------------------------------------------

    def _enter_lab(self, step: LabStep) -> None:
        self._set_text(step.body)
        self.phase = "working"
        self.tracker = GoalTracker(step.goal, dict(self.start_settings))
        self._show_goal()
        if self.session.lab is None:
            self._pending_lab_entry = True
        else:
            self.session.run_script("setup", step.setup)

    def lab_ready(self) -> None:
        if self._pending_lab_entry and isinstance(self.step, LabStep):
            self._pending_lab_entry = False
            self.session.run_script("setup", self.step.setup)

    def _show_goal(self) -> None:
        step = self.step
        assert isinstance(step, LabStep) and self.tracker is not None
        self._goal_shown = (self.phase, tuple(ok for _, ok in self.tracker.results()))
        widgets: list[Any] = [Notice(checklist(self.tracker.results(), "Goal:"))]
        if self.hints_shown:
            for number, hint in enumerate(step.hints[: self.hints_shown], 1):
                widgets.append(Notice(Text(f"Hint {number} of {len(step.hints)}: {hint}", style="italic")))
        if self.phase == "done":
            widgets.append(Notice(Text("✓ Goal reached.", style="bold green")))
            widgets.append(Markdown(step.explain))
            widgets.append(Notice(Text("Press n for the next step.", style="italic")))
        else:
            more = f"h: hint ({self.hints_shown} of {len(step.hints)} shown)" if step.hints else ""
            widgets.append(
                Notice(Text(f"Use the controls below the lab.  {more}  ^o: replay the solution", style="dim"))
            )
        self._extra(*widgets)

    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """The lesson's actions, then the lab's."""
        return [
            ("Next step", "n", self.action_next_step),
            ("Previous step", "p", self.action_previous_step),
            ("Show a hint", "h (lab steps)", self.action_hint),
            ("Replay the solution", "ctrl+o (lab steps)", self.action_solution),
            *super().palette_commands(),
        ]

    def action_hint(self) -> None:
        """Show the next hint of a lab step."""
        step = self.step
        if not isinstance(step, LabStep):
            self.notify("Hints are for lab steps.")
            return
        if self.hints_shown < len(step.hints):
            self.hints_shown += 1
            self._progress().hints = max(self._progress().hints, self.hints_shown)
            self._show_goal()
            self._save()
        else:
            self.notify("No more hints: ctrl+o replays the solution on the lab.")

    def action_reset_lab(self) -> None:
        """Back to the lab's starting point; in a lab step, to the step's start (its setup again)."""
        step = self.step
        if isinstance(step, LabStep):
            self.tracker = GoalTracker(step.goal, dict(self.start_settings))
            self.phase = "done" if self.phase == "done" else "working"
            self._show_goal()
            self.session.run_script("setup", step.setup)
        else:
            super().action_reset_lab()

    def action_solution(self) -> None:
        """Replay the lab step's solution on the live lab."""
        step = self.step
        if not isinstance(step, LabStep):
            self.notify("Only lab steps have a solution to replay.")
            return
        self._progress().solution_used = True
        self.tracker = GoalTracker(step.goal, dict(self.start_settings))
        self.phase = "working"
        self._show_goal()
        self.notify("Replaying the solution on the lab…")
        self.session.run_script("solution", (*step.setup, *step.solution))

    # -- quiz ---------------------------------------------------------------------------

    def _enter_quiz(self, step: QuizStep) -> None:
        self.question_index = 0
        self.quiz_results = {}
        self._show_question()

    def _question(self) -> Question:
        step = self.step
        assert isinstance(step, QuizStep)
        return step.questions[self.question_index]

    def _show_question(self) -> None:
        step = self.step
        assert isinstance(step, QuizStep)
        q = self._question()
        self.phase = "ask"
        self._set_text(f"**Question {self.question_index + 1} of {len(step.questions)}.** {q.prompt}")
        if q.kind in ("single", "multiple"):
            texts = [c.text for c in q.choices]
            if q.kind == "multiple":
                texts.append("→ check my answer")
                self.quiz_marks = ["☐"] * len(q.choices)
            widget: Any = ChoiceList(texts, id="answer")
            hint = (
                "Enter picks an answer."
                if q.kind == "single"
                else "Enter ticks ☑ a choice; then pick 'check my answer'."
            )
        elif q.kind == "true_false":
            widget = ChoiceList(["True", "False"], id="answer")
            hint = "Enter picks an answer."
        elif q.kind == "numeric":
            widget = Input(
                placeholder=f"a number{' of ' + q.unit if q.unit else ''}, then Enter", type="number", id="answer"
            )
            hint = "Type a number and press Enter."
        else:
            rng = random.Random(f"{self.lesson.id}/{q.id}")
            self.order = []
            self.shuffled = list(q.items)
            while self.shuffled == list(q.items):
                rng.shuffle(self.shuffled)
            widget = ChoiceList(self.shuffled, marks=["·"] * len(self.shuffled), id="answer")
            hint = "Enter picks the next item, first to last."
        if isinstance(widget, ChoiceList):
            widget.border_title = hint  # the hint rides on the list's border: one row less
            self._extra(widget)
        else:
            self._extra(Notice(Text(hint, style="dim")), widget)
        widget.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """An answer was picked."""
        index = int(event.option.id or 0)
        if isinstance(self.step, PredictStep):
            self._predict_chosen(index)
            return
        if not isinstance(self.step, QuizStep) or self.phase != "ask":
            return
        q = self._question()
        answers = event.option_list
        assert isinstance(answers, ChoiceList)
        if q.kind == "single":
            self._answer(q, index)
        elif q.kind == "true_false":
            self._answer(q, index == 0)
        elif q.kind == "multiple":
            if index == len(q.choices):
                self._answer(q, {i for i, mark in enumerate(self.quiz_marks) if mark == "☑"})
                return
            self.quiz_marks[index] = "☐" if self.quiz_marks[index] == "☑" else "☑"
            answers.set_marks([c.text for c in q.choices] + ["check my answer"], [*self.quiz_marks, "→"])
        else:
            if index in self.order:
                return
            self.order.append(index)
            marks = [f"{self.order.index(i) + 1}." if i in self.order else "·" for i in range(len(self.shuffled))]
            answers.set_marks(self.shuffled, marks)
            if len(self.order) == len(self.shuffled):
                self._answer(q, [self.shuffled[i] for i in self.order])

    @on(Input.Submitted, "#answer")
    def _number_submitted(self, event: Input.Submitted) -> None:
        if self.phase != "ask" or not isinstance(self.step, QuizStep):
            return
        try:
            value = float(event.value)
        except ValueError:
            self.notify("Type a number.", severity="warning")
            return
        self._answer(self._question(), value)

    def _answer(self, q: Question, answer: Any) -> None:
        step = self.step
        assert isinstance(step, QuizStep)
        result = grade(q, answer)
        self.phase = "answered"
        verdict = Text(
            "✓ Correct." if result.correct else "✗ Not quite.", style="bold green" if result.correct else "bold red"
        )
        if not result.correct:
            verdict.append(f"  The answer: {self._right_answer(q)}", style="")
        widgets: list[Any] = [
            Notice(Text.assemble(("Your answer: ", "bold"), self._describe_answer(q, answer))),
            Notice(verdict),
        ]
        widgets += [Notice(text) for text in result.feedback]
        widgets.append(Markdown(result.explanation))
        last = self.question_index + 1 == len(step.questions)
        widgets.append(Notice(Text("Press n for the " + ("next step." if last else "next question."), style="italic")))
        self._extra(*widgets)
        self.query_one("#step-pane", VerticalScroll).focus()
        progress = self._progress()
        self.quiz_results.setdefault(q.id, result.correct)
        if last:
            progress.done = True
            progress.correct = all(self.quiz_results.get(question.id, False) for question in step.questions)
        self._save()

    @staticmethod
    def _describe_answer(q: Question, answer: Any) -> str:
        if q.kind == "single":
            return q.choices[answer].text
        if q.kind == "multiple":
            return "; ".join(q.choices[i].text for i in sorted(answer)) or "(nothing ticked)"
        if q.kind == "true_false":
            return "true" if answer else "false"
        if q.kind == "numeric":
            return f"{answer:g}"
        return " → ".join(answer)

    @staticmethod
    def _right_answer(q: Question) -> str:
        if q.kind in ("single", "multiple"):
            return "; ".join(c.text for c in q.choices if c.correct)
        if q.kind == "true_false":
            return "true" if q.answer else "false"
        if q.kind == "numeric":
            unit = f" {q.unit}" if q.unit else ""
            return f"{q.answer:g}{unit}"
        return " → ".join(q.items)

    # -- events -------------------------------------------------------------------------

    def observe(self, events: list[LabEvent]) -> None:
        if self.tracker is None:
            return
        for event in events:
            self.tracker.observe(event)
        step = self.step
        if isinstance(step, LabStep):
            if self.phase == "working" and self.tracker.satisfied:
                self.phase = "done"
                self._progress().done = True
                self._save()
            shown = (self.phase, tuple(ok for _, ok in self.tracker.results()))
            if shown != self._goal_shown:
                self._show_goal()

    def on_lab_session_script_done(self, message: LabSession.ScriptDone) -> None:
        """A script ended: take in its last events, then move the step on."""
        self.redraw()
        if message.purpose == "experiment" and isinstance(self.step, PredictStep) and self.phase == "running":
            self._predict_done(message.failure)
        elif message.failure:
            self.notify(f"{message.purpose}: {message.failure}", severity="warning")
