"""What a step shows under its text: a predict step's choices and result, a lab step's goal.

Built from the :class:`~celery_tutor.course.session.LessonSession` alone, so the lesson
screen only places them.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Markdown

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.model import LabStep, PredictStep
from celery_tutor.course.phases import Phase
from celery_tutor.course.session import LessonSession
from celery_tutor.ui.widgets.answers import prediction_widgets
from celery_tutor.ui.widgets.steps import ChoiceList, Notice, checklist


def goal_widgets(walk: LessonSession, reveal_hint: bool = False, reveal_outcome: bool = False) -> list[Widget]:
    """The goal's checklist and the hints so far (``reveal_hint``: scroll to the newest).

    ``reveal_outcome``: the goal was just reached, so "✓ Goal reached." and the explanation
    scroll into view (at 80×24 they are below the fold, under the step's text).
    """
    step = walk.step
    assert isinstance(step, LabStep)
    widgets: list[Widget] = [Notice(checklist(walk.goal(), "Goal:"))]
    widgets += hints_and_outcome(walk, reveal_hint, "Press n for the next step.", reveal_outcome)
    if walk.phase is not Phase.DONE:
        more = f"h: hint ({walk.hints_shown} of {len(step.hints)} shown)" if step.hints else ""
        note = f"Use the controls below the lab.  {more}  ^o: replay the solution"
        widgets.append(Notice(Text(note, style="dim")))
    return widgets


def hints_and_outcome(
    walk: LessonSession, reveal_hint: bool, next_note: str, reveal_outcome: bool = False
) -> list[Widget]:
    """Below a goal (lab and code steps): the hints so far, then, once reached, the explanation."""
    step = walk.step
    assert isinstance(step, LabStep | CodeStep)
    widgets: list[Widget] = []
    for number, hint in enumerate(walk.hints(), 1):
        notice = Notice(Text(f"Hint {number} of {len(step.hints)}: {hint}", style="italic"))
        notice.reveal = reveal_hint and number == walk.hints_shown
        widgets.append(notice)
    if walk.phase is Phase.DONE:
        reached = Notice(Text("✓ Goal reached.", style="bold green"), classes="goal-reached")
        reached.reveal_at_top = reveal_outcome
        widgets.append(reached)
        widgets.append(Markdown(step.explain))
        widgets.append(Notice(Text(next_note, style="italic")))
    return widgets


def prediction_choices(step: PredictStep) -> ChoiceList:
    """The choices of a predict step, to lock one in."""
    choices = ChoiceList([c.text for c in step.choices], id="choices")
    choices.border_title = "Enter locks it in and runs the lab"
    return choices


def result_widgets(walk: LessonSession, failure: str | None) -> list[Widget]:
    """A predict step's prediction beside what the lab did, then the explanation."""
    step, choice = walk.step, walk.prediction
    assert isinstance(step, PredictStep) and choice is not None
    widgets = prediction_widgets(choice, walk.goal(), failure, walk.tracker)
    widgets.append(Markdown(step.explain))
    widgets.append(Notice(Text("Press n for the next step (↓ scrolls).", style="italic")))
    return widgets
