"""How a quiz question is answered on screen, and how its verdict reads.

The answer itself is data in :class:`~celery_tutor.course.session.QuizAnswer` (ticked
choices, picked order); this module turns it into marks, widgets and text.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, Markdown

from celery_tutor.course.grading import Grade
from celery_tutor.course.model import Numeric, Question
from celery_tutor.course.session import QuizAnswer
from celery_tutor.ui.widgets.steps import ChoiceList, Notice

HOW_TO_ANSWER = {
    "single": "Enter picks an answer.",
    "true_false": "Enter picks an answer.",
    "multiple": "Enter ticks ☑ a choice; then pick 'check my answer'.",
    "numeric": "Type a number and press Enter.",
    "ordering": "Enter picks the next item, first to last.",
}


def marks(question: Question, answer: QuizAnswer, count: int) -> list[str] | None:
    """The mark before each option: ☑/☐ for ticks, order numbers, or None for plain numbering."""
    if question.kind == "multiple":
        return ["☑" if i in answer.ticked else "☐" for i in range(count - 1)] + ["→"]
    if question.kind == "ordering":
        return [f"{answer.ordered.index(i) + 1}." if i in answer.ordered else "·" for i in range(count)]
    return None


def answer_widgets(question: Question, options: list[str] | None, answer: QuizAnswer) -> list[Widget]:
    """What the learner answers with (the last widget takes the focus)."""
    hint = HOW_TO_ANSWER.get(question.kind, "")
    if options is None:
        unit = f" of {question.unit}" if isinstance(question, Numeric) and question.unit else ""
        field = Input(placeholder=f"a number{unit}, then Enter", type="number", id="answer")
        return [Notice(Text(hint, style="dim")), field]
    choices = ChoiceList(options, marks=marks(question, answer, len(options)), id="answer")
    choices.border_title = hint  # the hint rides on the list's border: one row less
    return [choices]


def verdict_widgets(question: Question, answer: QuizAnswer, grade: Grade, last: bool) -> list[Widget]:
    """The learner's answer, right or wrong (with the right one), feedback and explanation."""
    verdict = Text(
        "✓ Correct." if grade.correct else "✗ Not quite.", style="bold green" if grade.correct else "bold red"
    )
    if not grade.correct:
        verdict.append(f"  The answer: {question.right_answer()}", style="")
    widgets: list[Widget] = [
        Notice(Text.assemble(("Your answer: ", "bold"), question.describe(answer.given))),
        Notice(verdict),
    ]
    widgets += [Notice(text) for text in grade.feedback]
    widgets.append(Markdown(grade.explanation))
    widgets.append(Notice(Text("Press n for the " + ("next step." if last else "next question."), style="italic")))
    return widgets
