"""Walking through a lesson, without a screen: steps, phases, answers, goals and progress.

:class:`LessonSession` is the lesson's state machine. The UI calls it when the learner
does something and draws what it says; the session never touches a widget and never
runs the lab. When the lab must do something (a step's setup, an experiment, a
solution), the session returns a :class:`LabScript` for the caller to run; what the lab
then does arrives as events, folded by the caller into the shared
:class:`~celery_tutor.lab.state.LabState` and passed to :meth:`LessonSession.observe`.
Progress is written into the :class:`~celery_tutor.progress.Progress` it is given, and
``save`` is called whenever the learner's progress should be kept.

A question is asked by an :class:`Asking`, which the lesson's quiz and the review
(:mod:`celery_tutor.course.review`) share: the same options, ticks, order and grading.
Times (the Leitner boxes' due dates, the time spent in the lesson) come from the clock the
session is given, so tests never read the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from celery_tutor.course.asking import Asking, AskingSession
from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.code_work import CodeWork
from celery_tutor.course.conditions import Condition, GoalTracker
from celery_tutor.course.grading import Grade
from celery_tutor.course.model import (
    Choice,
    LabStep,
    Lesson,
    PredictStep,
    Question,
    QuizStep,
    ReadStep,
    Step,
)
from celery_tutor.course.parts import GoalStep
from celery_tutor.course.phases import LabScript, Move, Phase
from celery_tutor.lab import events as ev
from celery_tutor.lab.actions import Action, Send
from celery_tutor.lab.state import LabState
from celery_tutor.progress import Clock, LessonProgress, Progress, StepProgress, wall_clock

if TYPE_CHECKING:
    from celery_tutor.course.scores import LessonSummary

IDLE_CAP = timedelta(minutes=5)
"""The most one stretch without a key press adds to the time spent in a lesson (the learner may have left)."""


class LessonSession(AskingSession):
    """One learner in one lesson: the current step, its phase, and what was done in it."""

    def __init__(
        self,
        lesson: Lesson,
        state: LabState,
        progress: Progress,
        save: Callable[[], None],
        start_at: str | None = None,
        clock: Clock = wall_clock,
    ) -> None:
        super().__init__(progress, save, clock)
        self.lesson = lesson
        self.state = state
        """The lab state the caller folds from the lab's events (goals read it)."""
        ids = [step.id for step in lesson.steps]
        self.index = ids.index(start_at) if start_at in ids else 0
        self.phase = Phase.READING
        self.tracker: GoalTracker | None = None
        self.choice: int | None = None
        """Predict: the locked prediction."""
        self.hints_shown = 0
        self.question_index = 0
        self.quiz_results: dict[str, bool] = {}
        """Quiz: each question's first verdict in this visit of the step."""
        self._goal_shown: tuple[Phase, tuple[bool, ...]] | None = None
        self.done_before = False
        """Was the current step done before this visit? (A read step is done once entered.)"""
        self._last_action: datetime | None = None
        self.code: CodeWork | None = None
        """A code step: the learner's code and how its last run went (None in other steps)."""

    # -- what is shown ---------------------------------------------------------------------

    @property
    def step(self) -> Step:
        """The current step."""
        return self.lesson.steps[self.index]

    @property
    def lesson_progress(self) -> LessonProgress:
        """The learner's progress in this lesson."""
        return self.progress.lesson(self.lesson.id)

    @property
    def step_progress(self) -> StepProgress:
        """What the learner did in the current step (created when first asked for)."""
        return self.progress.lesson(self.lesson.id).steps.setdefault(self.step.id, StepProgress())

    @property
    def question(self) -> Question:
        """The current question of a quiz step."""
        step = self.step
        assert isinstance(step, QuizStep)
        return step.questions[self.question_index]

    @property
    def last_question(self) -> bool:
        """Is the current question the quiz's last?"""
        step = self.step
        return isinstance(step, QuizStep) and self.question_index + 1 == len(step.questions)

    @property
    def prediction(self) -> Choice | None:
        """Predict: the choice the learner locked."""
        step = self.step
        if not isinstance(step, PredictStep) or self.choice is None:
            return None
        return step.choices[self.choice]

    def goal(self) -> list[tuple[Condition, bool]]:
        """The current goal (lab) or expectation (predict), each with whether it holds."""
        return self.tracker.results() if self.tracker is not None else []

    def hints(self) -> tuple[str, ...]:
        """The hints shown so far."""
        step = self.step
        return step.hints[: self.hints_shown] if isinstance(step, GoalStep) else ()

    def source_task(self) -> str | None:
        """The lab task the step is about: the one it names, the first its scripts send, else the lesson's first."""
        step = self.step
        scripts: tuple[Action, ...] = ()
        if isinstance(step, ReadStep) and step.task is not None:
            return step.task
        if isinstance(step, CodeStep):
            return step.tasks[0]
        if isinstance(step, PredictStep):
            scripts = step.experiment
        elif isinstance(step, LabStep):
            scripts = (*step.setup, *step.solution)
        for action in scripts:
            if isinstance(action, Send):
                return action.task
        return self.lesson.lab.tasks[0] if self.lesson.lab.tasks else None

    def summary(self) -> LessonSummary:
        """The lesson so far: scores, goals met, what is left, the takeaways (its end card)."""
        from celery_tutor.course.scores import lesson_summary

        return lesson_summary(self.lesson, self.progress.peek(self.lesson.id))

    def first_unfinished(self) -> int | None:
        """The position of the first step not done yet (None: every step is)."""
        steps = self.progress.peek(self.lesson.id).steps
        return next(
            (i for i, step in enumerate(self.lesson.steps) if not (steps.get(step.id) or StepProgress()).done), None
        )

    def go_to(self, index: int) -> None:
        """Move to step ``index`` (then :meth:`enter` it), as ``next`` and ``previous`` do."""
        self._spend()
        self.index = max(0, min(index, len(self.lesson.steps) - 1))

    def leave(self) -> None:
        """The learner leaves the lesson: the time up to now is counted and kept."""
        self._spend()
        self._save_progress()

    def _spend(self) -> None:
        """Count the time since the learner's last action (an idle stretch counts :data:`IDLE_CAP` at most)."""
        now = self._now()
        if self._last_action is not None:
            elapsed = (now - self._last_action).total_seconds()
            self.lesson_progress.seconds += min(max(elapsed, 0.0), IDLE_CAP.total_seconds())
        self._last_action = now

    # -- moving through the lesson ---------------------------------------------------------

    def enter(self) -> LabScript | None:
        """Start the current step from its beginning; a lab step returns its setup to run."""
        self._spend()
        step = self.step
        self.tracker = None
        self.choice = None
        self.hints_shown = 0
        self.question_index = 0
        self.quiz_results = {}
        self._asking = None  # a quiz step asks its question below
        self._goal_shown = None
        progress = self.step_progress  # visiting a step gives it an entry in the progress
        self.done_before = progress.done
        self.code = None
        script = None
        if isinstance(step, PredictStep):
            self.phase = Phase.ASKING
            self.tracker = GoalTracker(step.expect, self.state, from_reset=True)
        elif isinstance(step, GoalStep):
            self.phase = Phase.WORKING
            self.tracker = GoalTracker(step.goal, self.state, from_reset=True)
            self._goal_shown = self._goal_now()
            if isinstance(step, LabStep):
                script = LabScript("setup", step.setup)
            else:  # a code step: nothing runs until the learner runs the code
                self.code = CodeWork(step, progress, self._save_progress)
        elif isinstance(step, QuizStep):
            if not progress.done:  # back in a quiz left unfinished: at its first unanswered question
                self.question_index = self._first_unanswered(step)
            self._ask()
        else:
            self.phase = Phase.READING
            progress.done = True
        self._save()
        return script

    def next(self) -> Move:
        """Go on: the quiz's next question (answered or skipped), else the next step.

        A question skipped stays unanswered: the quiz is done only when every question
        has an answer (coming back to the quiz starts at the first one left).
        """
        self._spend()
        step = self.step
        if isinstance(step, QuizStep) and not self.last_question:
            self.question_index += 1
            self._ask()
            return Move.QUESTION
        if self.index + 1 < len(self.lesson.steps):
            self.index += 1
            return Move.STEP
        self._save()
        return Move.END

    def previous(self) -> bool:
        """Go back one step (False on the first)."""
        self._spend()
        if self.index == 0:
            return False
        self.index -= 1
        return True

    def _save(self) -> None:
        lesson = self.progress.lesson(self.lesson.id)
        lesson.current = self.step.id
        self.progress.last_lesson = self.lesson.id
        self._save_progress()

    # -- predict ---------------------------------------------------------------------------

    def predict(self, index: int) -> LabScript | None:
        """Lock a prediction; returns the experiment to run (None when not asking)."""
        step = self.step
        if not isinstance(step, PredictStep) or self.phase is not Phase.ASKING:
            return None
        self._spend()
        self.phase = Phase.RUNNING
        self.choice = index
        self.tracker = GoalTracker(step.expect, self.state, from_reset=True)
        return LabScript("experiment", step.experiment)

    def experiment_done(self) -> bool:
        """The experiment ended: show the result (False when no experiment was running)."""
        prediction = self.prediction
        if self.phase is not Phase.RUNNING or prediction is None:
            return False
        self._spend()  # the learner watched it run
        self.phase = Phase.RESULT
        progress = self.step_progress
        if not progress.done:
            progress.done = True
            progress.correct = prediction.correct
        self._save()
        return True

    # -- lab -------------------------------------------------------------------------------

    def observe(self, events: Iterable[ev.LabEvent]) -> bool:
        """Take in events already folded into the state; True when the goal shown changed."""
        if self.tracker is None or (self.code is not None and not self.code.runs):
            return False  # a code step's goal is about the learner's code: nothing before its first run
        for event in events:
            self.tracker.observe(event)
            if isinstance(event, ev.CodeTimedOut) and self.code is not None:
                self.code.halted = event.message
        if not isinstance(self.step, GoalStep):
            return False
        if self.phase is Phase.WORKING and self.tracker.satisfied:
            self._spend()  # the learner's own controls got it there
            self.phase = Phase.DONE
            self.step_progress.done = True
            self._save()
        shown = self._goal_now()
        if shown == self._goal_shown:
            return False
        self._goal_shown = shown
        return True

    def _goal_now(self) -> tuple[Phase, tuple[bool, ...]]:
        return self.phase, tuple(ok for _, ok in self.goal())

    def hint(self) -> bool:
        """Show one more hint of a lab step (False when there is none left)."""
        step = self.step
        if not isinstance(step, GoalStep) or self.hints_shown >= len(step.hints):
            return False
        self._spend()
        self.hints_shown += 1
        self.step_progress.hints = max(self.step_progress.hints, self.hints_shown)
        self._save()
        return True

    def restart(self) -> LabScript | None:
        """Back to a lab step's start (its setup again); None outside lab steps."""
        step = self.step
        if not isinstance(step, LabStep):
            return None
        self._spend()
        self.tracker = GoalTracker(step.goal, self.state, from_reset=True)
        self.phase = Phase.DONE if self.phase is Phase.DONE else Phase.WORKING
        self._goal_shown = self._goal_now()
        return LabScript("setup", step.setup)

    def solution(self) -> LabScript | None:
        """Replay a lab step's solution from the step's start; None outside lab steps."""
        step = self.step
        if not isinstance(step, LabStep):
            return None
        self._spend()
        self.step_progress.solution_used = True
        self.tracker = GoalTracker(step.goal, self.state, from_reset=True)
        self.phase = Phase.WORKING
        self._goal_shown = self._goal_now()
        return LabScript("solution", (*step.setup, *step.solution))

    def lab_replaced(self, state: LabState) -> None:
        """The caller replaced the lab (a code run's, the lesson's own back): the goal counts on ``state`` from now."""
        self.state = state
        if self.tracker is not None:
            self.tracker = GoalTracker(self.tracker.conditions, state)
            self._goal_shown = self._goal_now()

    # -- quiz ------------------------------------------------------------------------------

    def _ask(self) -> None:
        self.phase = Phase.ASKING
        self._asking = Asking(self.question, self.lesson.id)

    def _first_unanswered(self, step: QuizStep) -> int:
        questions = self.progress.peek(self.lesson.id).questions
        return next(
            (i for i, q in enumerate(step.questions) if not (questions.get(q.id) and questions[q.id].answered)), 0
        )

    def _taking(self) -> Asking | None:
        """The question an answer goes to; answering is the learner at work (the time counts)."""
        asking = super()._taking() if isinstance(self.step, QuizStep) else None
        if asking is not None:
            self._spend()
        return asking

    def _graded(self, grade: Grade) -> None:
        """Keep the verdict: the question's first one is its score, a miss sends it to the review.

        The quiz is done once every question has an answer, whichever visit gave it.
        """
        step = self.step
        assert isinstance(step, QuizStep)
        question = self.question
        self.phase = Phase.ANSWERED
        self.quiz_results.setdefault(question.id, grade.correct)
        lesson = self.lesson_progress
        lesson.question(question.id).answer(grade.correct, self._now())
        verdicts = [lesson.questions.get(q.id) for q in step.questions]
        if all(v is not None and v.answered for v in verdicts):
            progress = self.step_progress
            progress.done = True
            progress.correct = all(v is not None and v.correct for v in verdicts)
        self._save()
