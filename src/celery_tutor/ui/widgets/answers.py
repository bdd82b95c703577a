"""How a quiz question is answered on screen, and how its verdict reads.

The answer itself is data in :class:`~celery_tutor.course.asking.QuizAnswer` (ticked
choices, picked order); this module turns it into marks, widgets and text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events
from textual.visual import RichVisual
from textual.widget import Widget
from textual.widgets import Input, Markdown

from celery_tutor.course.asking import QuizAnswer, Refusal
from celery_tutor.course.conditions import Condition, GoalTracker, Not
from celery_tutor.course.grading import Grade
from celery_tutor.course.model import Choice, Numeric, Question
from celery_tutor.course.phases import Phase
from celery_tutor.lab.events import LabEvent
from celery_tutor.ui.widgets.steps import ChoiceList, Feedback, Notice, checklist
from celery_tutor.ui.widgets.time_travel import replay_offer
from celery_tutor.ui.widgets.timeline import event_row

QUOTED = 3
"""Evidence lines quoted under each expectation (the first ones; the rest are counted)."""

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


def quote(event: LabEvent) -> tuple[Text, Text]:
    """One line of evidence: the event's time, and what happened as the timeline says it.

    No glyph: a quoted ✓ or ✗ would read as the verdict on the expectation above it.
    """
    return Text(f"{event.at:6.2f}s ", style="dim"), event_row(event)[1]


class _Worded(RichVisual):
    """A Rich renderable on screen whose ``str`` is its words (what a test or a reader of the screen sees)."""

    def __init__(self, widget: Widget, renderable: RenderableType, words: str) -> None:
        super().__init__(widget, renderable)
        self.words = words

    def __str__(self) -> str:
        return self.words


class EvidenceCard(Notice):
    """What happened in the lab: each expectation with ✓/✗ and, under it, the lines that bear it out.

    The quotes are a grid (indent | time | text), so a long line wraps in its own column.
    """

    def __init__(self, goal: list[tuple[Condition, bool]], tracker: GoalTracker, title: str) -> None:
        parts: list[RenderableType] = [Text(title, style="bold")]
        words = [title]
        for condition, ok in goal:
            mark, style = ("✓", "green") if ok else ("✗", "red")
            parts.append(Text.assemble("  ", (mark, style), " ", condition.label))
            words.append(f"  {mark} {condition.label}")
            grid = Table.grid(expand=True)
            grid.add_column(width=6, no_wrap=True)
            grid.add_column(no_wrap=True)
            grid.add_column(ratio=1, overflow="fold")
            quoted = tracker.evidence(condition)
            notes: list[Text] = []
            for event in quoted[:QUOTED]:
                when, what = quote(event)
                grid.add_row("", when, what)
                words.append(f"      {when.plain}{what.plain}")
            more = tracker.matched(condition) - min(len(quoted), QUOTED)
            if more > 0:
                notes.append(Text(f"…and {more} more like it", style="dim italic"))
            if not quoted:
                absent = (
                    "nothing of the kind happened" if isinstance(condition, Not) else "nothing in the timeline matched"
                )
                notes.append(Text(f"({absent})", style="dim italic"))
            for note in notes:
                grid.add_row("", "", note)
                words.append(f"      {note.plain}")
            parts.append(grid)
        card = Group(*parts)
        super().__init__(card)
        self.words = "\n".join(words)
        """The card's words, plain (``str`` of what it renders)."""
        self._visual = _Worded(self, card, self.words)

    def render(self) -> _Worded:
        return self._visual


def prediction_widgets(
    choice: Choice, goal: list[tuple[Condition, bool]], failure: str | None, tracker: GoalTracker | None = None
) -> list[Widget]:
    """A locked prediction beside what the lab did: the verdict, the choice's feedback, the checklist.

    Given the goal's tracker, the checklist quotes its evidence (the timeline and ledger lines
    each expectation matched: the learner sees *why* it holds) and offers the slow replay.
    """
    verdict = ("✓ Your prediction was right.", "green") if choice.correct else ("✗ Not what happened.", "red")
    text = Text.assemble(("You predicted: ", "bold"), choice.text, "\n", (verdict[0], f"bold {verdict[1]}"))
    widgets: list[Widget] = [Notice(text)]
    if choice.feedback:
        widgets.append(Feedback(choice.feedback))
    title = "What happened in the lab:"
    widgets.append(EvidenceCard(goal, tracker, title) if tracker is not None else Notice(checklist(goal, title)))
    if failure:
        widgets.append(Notice(Text(f"The experiment stopped early: {failure}", style="yellow")))
    if tracker is not None:
        widgets.append(Notice(replay_offer()))
    return widgets


class Answering(Protocol):
    """A lesson's quiz or the review: whoever is asking a question now."""

    @property
    def phase(self) -> Phase: ...

    @property
    def question(self) -> Question: ...

    @property
    def answer(self) -> QuizAnswer: ...

    def options(self) -> list[str] | None: ...

    def pick(self, index: int) -> Grade | Refusal | None: ...

    def give(self, answer: Any) -> Grade | None: ...


def give_number(answering: Answering, text: str, notify: Callable[..., object]) -> Grade | None:
    """Grade a number typed as the answer; None when nothing is asked or the text is no number (then said)."""
    if answering.phase is not Phase.ASKING:
        return None
    try:
        value = float(text)
    except ValueError:
        notify("Type a number.", severity="warning")
        return None
    return answering.give(value)
