"""What the parts of a lesson share: steps and questions, and the steps that have a goal.

Every step and every question has an id (progress is keyed by it), its place in the
lesson file (problems and ``verify`` point there) and a kind: the key that names it in a
lesson file, given as a class keyword (``class ReadStep(StepBase, kind="read")``). A lab
step and a code step are both reached by a goal, with a ladder of hints and an
explanation once it holds: :class:`GoalStep`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from celery_tutor.course.conditions import Condition
from celery_tutor.yaml_source import Pos


@dataclass(frozen=True)
class LessonPart:
    """A step or a question: an id unique in the lesson, and where it stands in the lesson file."""

    kind: ClassVar[str]
    """The key that names this kind of part in a lesson file."""
    id: str
    pos: Pos

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind = kind


@dataclass(frozen=True)
class StepBase(LessonPart):
    """What every step has besides its kind's own fields."""

    takeaway: str = field(default="", kw_only=True)
    """One line to remember, for the lesson's end card (empty: see :func:`~celery_tutor.course.model.takeaway_of`)."""


@dataclass(frozen=True)
class GoalStep(StepBase):
    """A step the learner finishes by making its goal hold: a lab step, a code step."""

    body: str
    """What to do (Markdown)."""
    goal: tuple[Condition, ...]
    hints: tuple[str, ...]
    """A ladder: shown one at a time."""
    explain: str
    """Shown once the goal holds (Markdown)."""
