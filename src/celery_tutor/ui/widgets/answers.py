"""How a quiz question is answered on screen, and how its verdict reads.

The answer itself is data in :class:`~celery_tutor.course.session.QuizAnswer` (ticked
choices, picked order); this module turns it into marks, widgets and text.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widget import Widget
from textual.widgets import Input, Markdown

from celery_tutor.course.conditions import Condition
from celery_tutor.course.grading import Grade
from celery_tutor.course.model import Choice, Numeric, Question
from celery_tutor.course.session import QuizAnswer
from celery_tutor.ui.widgets.steps import ChoiceList, Feedback, Notice, checklist

HOW_TO_ANSWER = {
    "single": "Enter picks an answer · n skips",
    "true_false": "Enter picks an answer · n skips",
    "multiple": "Enter ticks ☑ a choice, then pick 'check my answer' · n skips",
    "numeric": "Type a number and press Enter · n skips",
    "ordering": "Enter picks the next item, first to last · n skips",
}


NUMBER_CHARACTERS = frozenset("0123456789.-+eE")


class NumberInput(Input):
    """A numeric answer's field: it takes only what a number is written with.

    A plain Input claims every printable key, so ``n`` (next question), ``p`` and the
    lesson's control keys would be typed into it, and refused.
    """

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and character in NUMBER_CHARACTERS

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character not in NUMBER_CHARACTERS:
            event.prevent_default()  # Input's own handler would swallow it: let it bubble to the screen


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
        field = NumberInput(placeholder=f"a number{unit}, then Enter", type="number", id="answer")
        return [Notice(Text(hint, style="dim")), field]
    choices = ChoiceList(options, marks=marks(question, answer, len(options)), id="answer")
    choices.border_title = hint  # the hint rides on the list's border: one row less
    return [choices]


def labelled(label: str, text: str) -> Text:
    """``label`` then ``text``; an answer of several lines (ticked choices) gets one bullet per line."""
    if "\n" not in text:
        return Text.assemble((label, "bold"), " ", text)
    return Text.assemble((label, "bold"), *(f"\n  • {line}" for line in text.splitlines()))


def verdict_widgets(question: Question, answer: QuizAnswer, grade: Grade, last: bool) -> list[Widget]:
    """The learner's answer, right or wrong (with the right one), feedback and explanation."""
    if grade.correct:
        verdict = Text("✓ Correct.", style="bold green")
    else:
        verdict = Text("✗ Not quite.", style="bold red")
        verdict.append_text(labelled("  The answer:", question.right_answer()))
    widgets: list[Widget] = [Notice(labelled("Your answer:", question.describe(answer.given))), Notice(verdict)]
    widgets += [Feedback(text) for text in grade.feedback]
    widgets.append(Markdown(grade.explanation))
    widgets.append(Notice(Text("Press n for the " + ("next step." if last else "next question."), style="italic")))
    return widgets


def prediction_widgets(choice: Choice, goal: list[tuple[Condition, bool]], failure: str | None) -> list[Widget]:
    """A locked prediction beside what the lab did: the verdict, the choice's feedback, the checklist."""
    verdict = ("✓ Your prediction was right.", "green") if choice.correct else ("✗ Not what happened.", "red")
    text = Text.assemble(("You predicted: ", "bold"), choice.text, "\n", (verdict[0], f"bold {verdict[1]}"))
    widgets: list[Widget] = [Notice(text)]
    if choice.feedback:
        widgets.append(Feedback(choice.feedback))
    widgets.append(Notice(checklist(goal, "What happened in the lab:")))
    if failure:
        widgets.append(Notice(Text(f"The experiment stopped early: {failure}", style="yellow")))
    return widgets
