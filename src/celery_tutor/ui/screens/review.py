"""The review: the missed questions that are due, asked one by one as the lessons ask them.

The screen draws and routes keys; what is asked, the grading and the Leitner boxes belong
to :class:`~celery_tutor.course.review.ReviewSession`. There is no lab here: a question
is answered from what the learner knows now.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Markdown, Static

from celery_tutor.course.grading import Grade
from celery_tutor.course.review import DueQuestion, ReviewSession
from celery_tutor.course.scores import time_until
from celery_tutor.progress import BOX_WAITS, LAST_BOX
from celery_tutor.ui.screens.asking import AskingScreen
from celery_tutor.ui.widgets.answers import answer_widgets, verdict_widgets
from celery_tutor.ui.widgets.key_bar import KeyBar
from celery_tutor.ui.widgets.steps import Notice, swap_box
from celery_tutor.wording import count_of


def _wait(box: int) -> str:
    """When a question in ``box`` comes back, in words."""
    days = BOX_WAITS[box - 1].days
    return "at the next review" if not days else ("tomorrow" if days == 1 else f"in {count_of(days, 'days')}")


class ReviewScreen(AskingScreen):
    """The due questions, one at a time."""

    DEFAULT_CSS = """
    ReviewScreen #review-title {
        height: auto;
        padding: 0 1;
    }
    ReviewScreen #review-pane {
        height: 1fr;
        padding: 0 1;
        border: round $primary;
    }
    ReviewScreen Vertical.review-extra {
        height: auto;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Next"),
        Binding("l", "lessons", "Lessons"),
        Binding("escape", "lessons", "Lessons", show=False),
    ]

    def __init__(self, due: list[DueQuestion]) -> None:
        super().__init__()
        self.review = ReviewSession(due, self.tutor.progress, self.tutor.save_progress, self.tutor.clock)
        self._extra_box = Vertical(classes="review-extra")

    def compose(self) -> ComposeResult:
        yield Static(id="review-title")
        with VerticalScroll(id="review-pane"):
            yield Markdown(id="review-text")
            yield self._extra_box
        yield KeyBar()

    def on_mount(self) -> None:
        self.title = "Review"
        self._show_question()

    def _extra(self, *widgets: Widget) -> None:
        """Replace what is shown under the question."""
        self._extra_box = swap_box(self.query_one("#review-pane", VerticalScroll), self._extra_box, *widgets)

    def _title(self, text: Text) -> None:
        self.query_one("#review-title", Static).update(text)

    def _show_question(self) -> None:
        review = self.review
        if review.finished:
            self._show_outcome()
            return
        current, box = review.current, review.box.box
        self._title(
            Text.assemble(
                ("Review", "bold"),
                f" · question {review.index + 1} of {len(review.due)} · from {current.lesson.title}",
                (f" · box {box} of {LAST_BOX}", "dim"),
            )
        )
        self.query_one("#review-text", Markdown).update(current.question.prompt)
        widgets = answer_widgets(current.question, review.options(), review.answer)
        self._extra(*widgets)
        widgets[-1].focus(scroll_visible=False)
        self.query_one("#review-pane", VerticalScroll).scroll_home(animate=False)

    def asking(self) -> ReviewSession:
        return self.review

    def show_verdict(self, grade: Grade) -> None:
        """The verdict, then where the question goes (which box, when it comes back)."""
        review = self.review
        last = review.index + 1 == len(review.due)
        widgets = verdict_widgets(review.question, review.answer, grade, last)
        if widgets and isinstance(widgets[-1], Notice):
            widgets.pop()  # its "next step" speaks of a lesson: the review says its own
        box = review.box.box
        if grade.correct:
            where = f"Up to box {box}: it comes back {_wait(box)}." if box else "Learned: it leaves the review."
        else:
            where = "Back to box 1: it comes back at the next review."
        go_on = "to see how the review went" if last else "for the next question"
        widgets.append(Notice(Text(f"{where}  Press n {go_on}.", style="italic")))
        self._extra(*widgets)
        self.query_one("#review-pane", VerticalScroll).focus()

    def _show_outcome(self) -> None:
        outcome = self.review.outcome()
        self._title(Text.assemble(("Review", "bold"), " · done"))
        lines = [f"**Review done.** {outcome.right} right, {outcome.wrong} wrong, {outcome.skipped} not answered."]
        if outcome.right:
            when = (
                f"the first comes back {time_until(outcome.next_right, self.tutor.clock())}"
                if outcome.next_right is not None
                else "they are learned, and leave the review"
            )
            lines.append(f"Right answers moved their questions up a box: {when}.")
        if outcome.wrong:
            lines.append("Wrong answers sent theirs back to box 1: they come back at your next review.")
        if outcome.skipped:
            lines.append("Questions not answered stay due, in their box.")
        lines.append("Press **l** (or Esc) for the lesson list.")
        self.query_one("#review-text", Markdown).update("\n\n".join(lines))
        self._extra()
        self.query_one("#review-pane", VerticalScroll).focus()

    def action_next(self) -> None:
        """The next question (answered or skipped), or how the review went."""
        if self.review.finished:
            self.action_lessons()
            return
        self.review.next()
        self._show_question()

    def action_lessons(self) -> None:
        """Back to the lesson list (what was answered is kept)."""
        self.app.pop_screen()
