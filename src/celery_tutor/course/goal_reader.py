"""Read what a lab step and a code step share (:class:`~celery_tutor.course.parts.GoalStep`).

Both are finished by making a goal hold, helped by a ladder of hints, and explained once
it holds: these keys mean the same in both, so they are declared and read here once.
"""

from __future__ import annotations

from typing import NamedTuple

from celery_tutor.course.conditions import Condition
from celery_tutor.course.conditions_reader import read_conditions
from celery_tutor.course.format import TEXT, Key, list_of
from celery_tutor.course.reading import Reader, Scope
from celery_tutor.yaml_source import Node

HINTS = Key("hints", list_of(TEXT), "A ladder of hints, shown one at a time.", required=True)
EXPLAIN = Key("explain", TEXT, "Shown once the goal is reached (Markdown).", required=True)


class GoalParts(NamedTuple):
    """A goal step's shared fields, in :class:`~celery_tutor.course.parts.GoalStep`'s order."""

    body: str
    goal: tuple[Condition, ...]
    hints: tuple[str, ...]
    explain: str


def read_goal_parts(r: Reader, node: Node, where: str, scope: Scope) -> GoalParts:
    """The body, goal, hints and explanation of a step already checked against its keys."""
    return GoalParts(
        r.text(node.get("body"), f"{where}.body"),
        read_conditions(r, node.get("goal"), f"{where}.goal", scope),
        r.texts(node.get("hints"), f"{where}.hints"),
        r.text(node.get("explain"), f"{where}.explain"),
    )
