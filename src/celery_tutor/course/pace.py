"""How long a lesson takes: the rule behind a lesson's ``minutes``.

The lesson list promises each lesson's minutes, and a team lead plans a course with them.
A number guessed once drifts as a lesson grows (one lesson reached three times its words
and kept its "12 minutes"), so it comes from a rule anyone can recompute from the file,
and ``celery-tutor check`` warns when a lesson strays from it:

- **reading**: the words a learner reads on the way through, at
  :data:`WORDS_PER_MINUTE`: read steps, questions, choices, goal and expectation labels,
  explanations and ordering items. Hints and the feedback to an answer are left out: a
  learner reads them only when stuck or wrong, and the time per question covers them;
- **doing**: :data:`PREDICT_SECONDS` per prediction (choose, lock, compare),
  :data:`LAB_SECONDS` per lab step (work out the controls, press them),
  :data:`CODE_SECONDS` per code step (read the starter, write a few lines, run them),
  :data:`QUESTION_SECONDS` per quiz question;
- **lab time**: every wait of every prediction's experiment, lab step's solution and code
  step's experiment, as written: ``seconds`` for a plain wait, the ``timeout`` of a wait ``until`` something
  (the longest it may take). A quiz question's ``measure`` runs only under ``verify``, so
  it costs the learner nothing.

The estimate is the sum, rounded to whole minutes (at least 1). Pure: no Celery, no lab.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from celery_tutor.course.model import (
    CodeStep,
    LabStep,
    Lesson,
    MultipleChoice,
    Ordering,
    PredictStep,
    QuizStep,
    ReadStep,
    SingleChoice,
    Step,
)
from celery_tutor.course.parts import GoalStep
from celery_tutor.lab.actions import Action, Wait
from celery_tutor.wording import count_of
from celery_tutor.yaml_source import Pos, Problem

WORDS_PER_MINUTE = 200
"""Reading speed for technical text with code in it (a novel reads faster)."""
PREDICT_SECONDS = 30
"""One prediction: read the choices, lock one, watch the lab, compare."""
LAB_SECONDS = 60
"""One lab step: work out which controls reach the goal, press them, check the goal."""
CODE_SECONDS = 120
"""One code step: read the starter, change a few lines, run it, read the goal; once or twice."""
QUESTION_SECONDS = 20
"""One quiz question: think, answer, read the feedback."""
MARGIN_MINUTES = 2
"""How far a lesson's ``minutes`` may stray from the estimate before ``check`` warns."""
MAX_LESSON_MINUTES = 15
"""The longest a lesson should take: a longer one is split, so a learner can stop between lessons."""


@dataclass(frozen=True)
class Pace:
    """What a lesson asks of a learner, counted by the rule, and the minutes it comes to."""

    words: int
    predictions: int
    labs: int
    questions: int
    wait_seconds: float
    """The experiments' and solutions' waits, as written."""
    code_steps: int = 0

    @property
    def seconds(self) -> float:
        """Reading, doing and waiting, in seconds."""
        reading = self.words * 60 / WORDS_PER_MINUTE
        doing = (
            self.predictions * PREDICT_SECONDS
            + self.labs * LAB_SECONDS
            + self.code_steps * CODE_SECONDS
            + self.questions * QUESTION_SECONDS
        )
        return reading + doing + self.wait_seconds

    @property
    def minutes(self) -> int:
        """The estimate in whole minutes, half a minute rounding up, at least 1."""
        return max(1, math.floor(self.seconds / 60 + 0.5))

    def describe(self) -> str:
        """What the estimate is made of, in words."""
        parts = (
            count_of(self.words, "words"),
            count_of(self.predictions, "predictions"),
            count_of(self.labs, "lab steps"),
            *((count_of(self.code_steps, "code steps"),) if self.code_steps else ()),
            count_of(self.questions, "questions"),
        )
        return f"{', '.join(parts)} and {count_of(round(self.wait_seconds), 'seconds')} of lab waits"


def words(text: str) -> int:
    """The words of a text, as a reader counts them (Markdown and code included)."""
    return len(text.split())


def read_texts(step: Step) -> Iterator[str]:
    """Every text of a step that the rule counts as read."""
    if isinstance(step, ReadStep):
        yield step.body
    elif isinstance(step, PredictStep):
        yield step.question
        yield from (choice.text for choice in step.choices)
        yield from (condition.label for condition in step.expect)
        yield step.explain
    elif isinstance(step, GoalStep):
        yield step.body
        yield from (condition.label for condition in step.goal)
        yield step.explain
    elif isinstance(step, QuizStep):
        for question in step.questions:
            yield question.prompt
            if isinstance(question, (SingleChoice, MultipleChoice)):
                yield from (choice.text for choice in question.choices)
            elif isinstance(question, Ordering):
                yield from question.items
            yield question.explain


def wait_seconds(script: tuple[Action, ...]) -> float:
    """How long a script's waits may take: a plain wait's seconds, an ``until``'s timeout."""
    return sum(
        (action.seconds if action.seconds is not None else action.timeout)
        for action in script
        if isinstance(action, Wait)
    )


def estimate(lesson: Lesson) -> Pace:
    """What the lesson asks of a learner, by the rule."""
    steps = lesson.steps
    return Pace(
        words=sum(words(text) for step in steps for text in read_texts(step)),
        predictions=sum(isinstance(step, PredictStep) for step in steps),
        labs=sum(isinstance(step, LabStep) for step in steps),
        questions=sum(len(step.questions) for step in steps if isinstance(step, QuizStep)),
        wait_seconds=sum(wait_seconds(_lab_time(step)) for step in steps),
        code_steps=sum(isinstance(step, CodeStep) for step in steps),
    )


def _lab_time(step: Step) -> tuple[Action, ...]:
    """The script whose waits the learner sits through in a step (none for reading and quizzes)."""
    if isinstance(step, PredictStep | CodeStep):
        return step.experiment
    if isinstance(step, LabStep):
        return step.solution
    return ()


def pace_warnings(lesson: Lesson, minutes_pos: Pos) -> tuple[Problem, ...]:
    """Warnings (not errors) for a lesson whose ``minutes`` strays from the rule, or that runs too long.

    ``minutes_pos`` is where the file says ``minutes``: the warnings point there.
    """
    pace = estimate(lesson)
    found: list[str] = []
    if abs(lesson.minutes - pace.minutes) > MARGIN_MINUTES:
        found.append(
            f"warning: minutes: {lesson.minutes}, but the lesson takes about {pace.minutes} "
            f"({pace.describe()}; docs/lesson-format.md, Minutes); set minutes: {pace.minutes}"
        )
    if pace.minutes > MAX_LESSON_MINUTES:
        found.append(
            f"warning: minutes: the lesson takes about {pace.minutes} minutes, over the "
            f"{MAX_LESSON_MINUTES} a lesson should take; split it"
        )
    return tuple(Problem(lesson.path, minutes_pos, message) for message in found)
