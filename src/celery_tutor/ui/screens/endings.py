"""The cards that end things: a lesson (scores, goals, takeaways) and the whole course (totals, review).

Each card is a modal over the screen it ends, and says in words what it counts and which
key does what, so nothing on it depends on colour or on having read the help.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from celery_tutor.course.index import LessonEntry
from celery_tutor.course.scores import CourseTotals, LessonSummary, Tally, review_schedule, time_spent, time_until
from celery_tutor.ui.widgets.key_bar import KeyBar
from celery_tutor.wording import count_of

ON = "on"
"""A card's result: go on (to the lesson list; from the course's card, without a review)."""
BACK = "back"
"""The lesson's card: back into the lesson, at the first thing left."""
REVIEW = "review"
"""The course's card: start the review."""


def _row(text: Text, label: str, value: str, mark: str = "") -> None:
    text.append(f"  {label:<20}", style="bold")
    text.append(value)
    if mark:
        text.append(f"  {mark}")
    text.append("\n")


def _mark(tally: Tally) -> str:
    return "✓" if tally.right == tally.of else ""


def lesson_card_text(summary: LessonSummary) -> Text:
    """The scores part of a lesson's card (the takeaways are Markdown, below it)."""
    text = Text()
    if summary.complete:
        text.append("✓ Lesson done.", style="bold green")
    else:
        text.append("◐ Not done yet: ", style="bold yellow")
        text.append("; ".join(summary.missing) + ".")
    text.append("\n\n")
    if summary.predictions.of:
        _row(text, "Predictions right", str(summary.predictions), _mark(summary.predictions))
    if summary.goals.of:
        _row(text, "Lab goals met", str(summary.goals), _mark(summary.goals))
    if summary.quiz.of:
        _row(text, "Quiz, first answers", f"{summary.quiz} right{summary.quiz.answered_note}", _mark(summary.quiz))
    if summary.to_review:
        missed = count_of(summary.to_review, "questions")
        text.append(f"\nIn the review (v on the lesson list): {missed} you missed.\n", style="italic")
    return text


def next_entry_title(entries: list[LessonEntry], lesson_id: str) -> str | None:
    """The title of the lesson after ``lesson_id`` in the list (broken ones skipped), for the card."""
    lessons = [entry for entry in entries if not entry.broken]
    ids = [entry.id for entry in lessons]
    at = ids.index(lesson_id) if lesson_id in ids else len(ids)
    return lessons[at + 1].title if at + 1 < len(lessons) else None


class EndCard(ModalScreen[str]):
    """A card over the screen it ends: scrolls with ↑/↓ when taller than the screen, closes with a choice."""

    DEFAULT_CSS = """
    EndCard {
        align: center middle;
    }
    EndCard > .end-card {
        width: 90%;
        max-width: 96;
        height: auto;
        max-height: 100%;
        padding: 0 1;
        border: thick $success;
        background: $surface;
    }
    EndCard > .end-card.-unfinished {
        border: thick $warning;
    }
    EndCard .end-card > Markdown {
        margin: 0;
        padding: 0;
    }
    EndCard .end-card > Static {
        margin: 1 0 0 0;
    }
    """

    def on_mount(self) -> None:
        self.query_one("#end-card", VerticalScroll).focus()  # ↑/↓ scroll the card when it is taller than the screen

    def action_close(self, choice: str) -> None:
        """Close the card with what the learner chose."""
        self.dismiss(choice)


class LessonEndScreen(EndCard):
    """The end of a lesson: what went right, what is left, and the line to keep from each step."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "close('on')", "Lessons"),
        Binding("n", "close('on')", "Lessons", show=False),
        Binding("escape", "close('back')", "Back to the lesson"),
        Binding("p", "close('back')", "Back", show=False),
    ]

    def __init__(self, summary: LessonSummary, next_title: str | None) -> None:
        super().__init__()
        self.summary = summary
        self.next_title = next_title

    def compose(self) -> ComposeResult:
        summary = self.summary
        card = VerticalScroll(classes="end-card" + ("" if summary.complete else " -unfinished"), id="end-card")
        card.border_title = f"End of the lesson · {summary.title}"
        with card:
            yield Static(lesson_card_text(summary), id="end-scores")
            if summary.takeaways:
                yield Static(Text("What to keep", style="bold"))
                yield Markdown("\n".join(f"- {line}" for line in summary.takeaways), id="end-takeaways")
            yield Static(self._keys(), id="end-keys")
        yield KeyBar()

    def _keys(self) -> Text:
        on = f"the lesson list, at the next lesson ({self.next_title})" if self.next_title else "the lesson list"
        back = "back to the lesson" if self.summary.complete else "back to the first thing left"
        return Text.assemble(("Enter", "bold reverse"), f" {on}\n", ("Esc", "bold reverse"), f"   {back}")


def course_card_text(totals: CourseTotals, now_due: int, next_due: str | None) -> Text:
    """The course's totals, and what the review holds."""
    text = Text("✓ You finished every lesson.\n\n", style="bold green")
    _row(text, "Lessons done", f"{totals.lessons_done} of {totals.lessons}")
    _row(text, "Quiz, first answers", f"{totals.quiz} right")
    _row(text, "Time in lessons", time_spent(totals.seconds))
    text.append("\n")
    if now_due:
        text.append(f"In the review: {count_of(now_due, 'questions')} you missed. ", style="bold")
        text.append(
            f"Answer one right and it comes back later ({review_schedule()}) until it is learned; "
            "miss it and it comes back at the next review.\n"
        )
    elif next_due:
        text.append(f"Nothing to review now: the next question comes back {next_due}.\n")
    else:
        text.append("Nothing to review: every question was answered right, or learned since.\n")
    return text


class CourseEndScreen(EndCard):
    """The end of the course: the totals, and the review of the questions missed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "close('review')", "Review"),
        Binding("enter", "close('on')", "Lessons"),
        Binding("escape", "close('on')", "Lessons", show=False),
    ]

    def __init__(self, totals: CourseTotals, now: datetime) -> None:
        super().__init__()
        self.totals = totals
        self.now = now
        """The time the totals were made at (when the next review is due is said from it)."""

    def compose(self) -> ComposeResult:
        totals = self.totals
        next_due = time_until(totals.next_due, self.now) if totals.next_due is not None else None
        card = VerticalScroll(classes="end-card", id="end-card")
        card.border_title = "The course is done"
        with card:
            yield Static(course_card_text(totals, totals.due, next_due), id="course-totals")
            keys = Text.assemble(("Enter", "bold reverse"), " the lesson list")
            if totals.due:
                keys = Text.assemble(("v", "bold reverse"), " review now   ", keys)
            yield Static(keys, id="end-keys")
        yield KeyBar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The review key is offered only when there is something to review.
        if action == "close" and parameters == (REVIEW,):
            return bool(self.totals.due)
        return True
