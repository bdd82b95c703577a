"""The words the lesson session and the screens share.

Where a learner is in a step (:class:`Phase`), what going on did (:class:`Move`), and
what the lab must run (:class:`LabScript`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from celery_tutor.lab.actions import Action


class Phase(StrEnum):
    """Where the learner is inside the current step."""

    READING = "reading"
    """A read step: nothing to do but read."""
    ASKING = "ask"
    """A predict step before the prediction is locked, or a quiz question not yet answered."""
    RUNNING = "running"
    """A predict step's experiment is running on the lab."""
    RESULT = "result"
    """A predict step's prediction and what the lab did are shown side by side."""
    WORKING = "working"
    """A lab step whose goal is not reached yet."""
    DONE = "done"
    """A lab step whose goal was reached."""
    ANSWERED = "answered"
    """A quiz question was answered; its verdict is shown."""


class Move(Enum):
    """What going on did."""

    QUESTION = "question"
    """The next question of the same quiz."""
    STEP = "step"
    """The next step."""
    END = "end"
    """That was the last step: the lesson is over."""


@dataclass(frozen=True)
class LabScript:
    """Something the lab must run now (it resets first): a setup, an experiment, a solution."""

    purpose: str
    actions: tuple[Action, ...]
