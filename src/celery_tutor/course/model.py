"""What a lesson is, once its file has been read and checked: plain immutable data.

A lesson sets up the lab, offers controls, and walks through steps: ``read`` (Markdown),
``predict`` (answer, then watch an experiment), ``lab`` (reach a goal with the controls)
and ``quiz``. Everything is keyed by stable ids so progress survives edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from celery_tutor.course.conditions import Condition
from celery_tutor.lab.actions import Action
from celery_tutor.yaml_source import Pos

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LabSetup:
    """How the lesson's lab starts."""

    settings: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: int = 1
    tasks: tuple[str, ...] = ()
    """The lab tasks this lesson is about; the first one's source is shown."""


@dataclass(frozen=True)
class Control:
    """A control the learner can use in this lesson: a key, a label, and what it does."""

    key: str
    label: str
    action: Action | None
    toggle: str | None = None
    """For a toggle, the boolean Celery setting it flips (``action`` is then None)."""


@dataclass(frozen=True)
class Choice:
    """An answer option, with what to say when it is chosen."""

    text: str
    correct: bool = False
    feedback: str = ""


@dataclass(frozen=True)
class ReadStep:
    """Text to read."""

    id: str
    pos: Pos
    body: str


@dataclass(frozen=True)
class PredictStep:
    """Lock an answer, run the experiment, then compare the prediction with what happened."""

    id: str
    pos: Pos
    question: str
    choices: tuple[Choice, ...]
    experiment: tuple[Action, ...]
    expect: tuple[Condition, ...]
    explain: str


@dataclass(frozen=True)
class WrongSolution:
    """A tempting approach that must NOT reach a lab step's goal (``verify`` proves it)."""

    why: str
    script: tuple[Action, ...]


@dataclass(frozen=True)
class LabStep:
    """Reach a goal with the lesson's controls."""

    id: str
    pos: Pos
    body: str
    goal: tuple[Condition, ...]
    hints: tuple[str, ...]
    solution: tuple[Action, ...]
    explain: str
    setup: tuple[Action, ...] = ()
    wrong_solutions: tuple[WrongSolution, ...] = ()


@dataclass(frozen=True)
class Measure:
    """A number the lab can compute by running an experiment (checked by ``verify``)."""

    experiment: tuple[Action, ...]
    count: Condition | None = None
    """Count the events matching this condition…"""
    retry_countdown: tuple[str, int] | None = None
    """…or read the countdown of retry number N of a task (alias, N)."""


@dataclass(frozen=True)
class Question:
    """One quiz question (``kind``: single, multiple, true_false, numeric, ordering)."""

    id: str
    pos: Pos
    kind: str
    prompt: str
    explain: str
    choices: tuple[Choice, ...] = ()
    answer: Any = None
    """true_false: the bool; numeric: the number; ordering: unused (items are in order)."""
    tolerance: float = 0.0
    unit: str = ""
    items: tuple[str, ...] = ()
    feedback: dict[Any, str] = field(default_factory=dict)
    """true_false: per answer; numeric: per common wrong value."""
    measure: Measure | None = None


@dataclass(frozen=True)
class QuizStep:
    """Questions, each with feedback and an explanation."""

    id: str
    pos: Pos
    questions: tuple[Question, ...]


Step = ReadStep | PredictStep | LabStep | QuizStep
STEP_KINDS = ("read", "predict", "lab", "quiz")


@dataclass(frozen=True)
class Lesson:
    """A checked lesson."""

    id: str
    path: str
    title: str
    summary: str
    minutes: int
    concepts: tuple[str, ...]
    lab: LabSetup
    controls: tuple[Control, ...]
    steps: tuple[Step, ...]

    def step(self, step_id: str) -> Step:
        """A step by id."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
