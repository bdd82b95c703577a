"""The lesson list: progress at a glance, and where to continue. Broken lessons show why.

Under the lessons, "Review (n due)" leads to the questions missed in quizzes, once any
is waiting; when the course is done, the line at the top says so, with the totals.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from celery_tutor.course.index import LessonEntry
from celery_tutor.course.scores import CourseTotals, course_totals, quiz_score, review_schedule, time_spent, time_until
from celery_tutor.ui.screens.tutor_screen import PaletteCommand, TutorScreen
from celery_tutor.ui.widgets.key_bar import KeyBar
from celery_tutor.wording import count_of

MARKS = {"done": "✓", "started": "◐", "new": "○"}
REVIEW_OPTION = "review"
"""The id of the list's review entry (after the lessons)."""


class LessonListScreen(TutorScreen[None]):
    """The lessons in order."""

    # The continue line docked on top, the list and the details side by side under it: no
    # container around the two (one widget fewer to style, mount and paint at start-up).
    DEFAULT_CSS = """
    LessonListScreen {
        layout: horizontal;
    }
    #continue {
        dock: top;
        height: auto;
        padding: 0 1;
    }
    #lessons {
        width: 1fr;
        height: 1fr;
        border: round $primary;
    }
    #details {
        width: 1fr;
        height: 1fr;
        padding: 0 1;
        border: round $secondary;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "continue", "Continue"),
        Binding("s", "sandbox", "Sandbox"),
        Binding("v", "review", "Review"),
        Binding("r", "reset_lesson", "Reset lesson"),
        Binding("R", "reset_all", "Reset all", show=False),  # in the help and the palette: the bar fits 80 columns
    ]

    def __init__(self) -> None:
        super().__init__()
        self._ended: tuple[str, bool] | None = None
        self._shown_once = False
        """False until the first resume, which follows the mount's own refresh of the list."""

    def compose(self) -> ComposeResult:
        yield Static(id="continue")
        yield OptionList(id="lessons")
        yield Static(id="details")
        yield KeyBar()

    def on_mount(self) -> None:
        self.title = "celery-tutor"
        self.sub_title = "how Celery keeps work safe, or loses it"
        self.refresh_list()
        self.query_one("#lessons", OptionList).focus()

    def on_screen_resume(self) -> None:
        if self._shown_once:  # back from a lesson, the review or the sandbox: the progress moved
            self.refresh_list()
        self._shown_once = True
        ended, self._ended = self._ended, None
        if ended is None:
            return
        lesson_id, newly_complete = ended
        self._highlight_after(lesson_id)
        if newly_complete:
            from celery_tutor.ui.screens.endings import CourseEndScreen  # its Markdown stays out of start-up

            self.app.push_screen(CourseEndScreen(self._totals(), self.tutor.clock()), self._after_course_card)

    def lesson_ended(self, lesson_id: str, newly_complete: bool) -> None:
        """A lesson's end card was closed: on return, the cursor moves to the next lesson.

        ``newly_complete``: that lesson completed the course, whose card then shows.
        """
        self._ended = (lesson_id, newly_complete)

    def _highlight_after(self, lesson_id: str) -> None:
        """Put the cursor on the lesson after ``lesson_id`` (the review, after the last one)."""
        entries = self._entries()
        at = next((i for i, entry in enumerate(entries) if entry.id == lesson_id), None)
        if at is None:
            return
        options = self.query_one("#lessons", OptionList)
        following = next((i for i in range(at + 1, len(entries)) if not entries[i].broken), None)
        if following is None and options.option_count > len(entries):
            following = len(entries)  # the review entry
        if following is not None:
            options.highlighted = following

    def _after_course_card(self, choice: str | None) -> None:
        from celery_tutor.ui.screens.endings import REVIEW

        if choice == REVIEW:
            self.tutor.open_review()

    def _totals(self) -> CourseTotals:
        return course_totals(self._entries(), self.tutor.progress, self.tutor.clock())

    def _entries(self) -> list[LessonEntry]:
        return self.tutor.entries

    def _lessons(self) -> list[LessonEntry]:
        return [entry for entry in self._entries() if not entry.broken]

    def _status(self, lesson: LessonEntry) -> str:
        return self.tutor.progress.peek(lesson.id).status(list(lesson.step_ids))

    def refresh_list(self) -> None:
        """Redraw the list and the continue line from the progress."""
        options = self.query_one("#lessons", OptionList)
        highlighted = options.highlighted
        shown: list[Option] = []
        for number, entry in enumerate(self._entries(), 1):
            if not entry.broken:
                status = self._status(entry)
                line = Text.assemble(f"{MARKS[status]} {number}. {entry.title}", (f"  {entry.minutes} min", "dim"))
            else:
                line = Text.assemble(("⚠ ", "bold yellow"), f"{number}. {entry.title}", ("  cannot be opened", "dim"))
            shown.append(Option(line, id=f"entry:{number}"))
        totals = self._totals()
        if totals.in_review:
            line = Text.assemble("↻ Review ", (f"({totals.due} due)", "bold" if totals.due else "dim"))
            shown.append(Option(line, id=REVIEW_OPTION))
        options.clear_options()
        options.add_options(shown)  # at once: one refresh of the list, not one per lesson
        if highlighted is not None and highlighted >= options.option_count:
            highlighted = options.option_count - 1
        options.highlighted = highlighted if highlighted is not None else self._continue_index()
        last = self._continue_lesson()
        real = getattr(self.app, "real_broker", None)  # --broker: said in place of the tagline (80 columns)
        if real is None:
            text = Text.assemble(("celery-tutor", "bold"), (" · how Celery keeps work safe, or loses it\n", "dim"))
        else:
            text = Text.assemble(("celery-tutor", "bold"), (" · ", "dim"), (f"real workers on {real.shown}\n", "bold"))
        if totals.complete:
            text.append("✓ Course done: ", style="bold")
            lessons = count_of(totals.lessons_done, "lessons")
            text.append(f"{lessons}, quiz {totals.quiz} right, {time_spent(totals.seconds)}. ")
            if totals.due:
                text.append("[v]", style="bold reverse")
                text.append(f" review {totals.due} due")
        elif last is not None:
            text.append("Continue where you left off: ", style="bold")
            text.append(f"{last.title}  ")
            text.append("[c]", style="bold reverse")
        else:
            text.append("Pick a lesson and press Enter. ", style="bold")
            text.append("[s]", style="bold reverse")
            text.append(" opens the sandbox; ")
            text.append("[?]", style="bold reverse")
            text.append(" shows every key.")
        self.query_one("#continue", Static).update(text)
        self._show_details()

    def _continue_lesson(self) -> LessonEntry | None:
        progress = self.tutor.progress
        lessons = self._lessons()
        if progress.last_lesson is not None:
            for lesson in lessons:
                if lesson.id == progress.last_lesson and self._status(lesson) != "done":
                    return lesson
        if not progress.lessons:
            return None
        return next((lesson for lesson in lessons if self._status(lesson) != "done"), None)

    def _continue_index(self) -> int:
        last = self._continue_lesson()
        return next((i for i, e in enumerate(self._entries()) if e is last), 0)

    def _selected(self) -> LessonEntry | None:
        index = self.query_one("#lessons", OptionList).highlighted
        entries = self._entries()
        return entries[index] if index is not None and index < len(entries) else None

    def _review_selected(self) -> bool:
        options = self.query_one("#lessons", OptionList)
        index = options.highlighted
        return (
            index is not None
            and index < options.option_count
            and options.get_option_at_index(index).id == REVIEW_OPTION
        )

    def _review_details(self) -> Text:
        totals, now = self._totals(), self.tutor.clock()
        text = Text.assemble(("Review", "bold"), "\n\n")
        text.append("Questions you answered wrong in a quiz come back here. A right answer moves one up a box, ")
        text.append(f"so it comes back later: {review_schedule()}, then it is learned. ")
        text.append("A wrong answer puts it back in box 1: it comes back at the next review.\n\n")
        waiting = count_of(totals.in_review, "questions")
        text.append(f"{waiting} in the review, {totals.due} due now")
        if totals.next_due is not None:
            text.append(f"; the next one comes back {time_until(totals.next_due, now)}")
        text.append(".\n")
        text.append("\nEnter (or v) starts it." if totals.due else "\nNothing is due yet.", style="italic")
        return text

    @on(OptionList.OptionHighlighted)
    def _show_details(self) -> None:
        details = self.query_one("#details", Static)
        if self._review_selected():
            details.update(self._review_details())
            return
        entry = self._selected()
        if entry is None:
            details.update("No lessons found.")
            return
        if entry.broken:
            text = Text(f"{entry.path}\n\nThis lesson file has problems:\n", style="bold")
            for problem in entry.problems[:8]:
                text.append(f"  {problem}\n", style="")
            if len(entry.problems) > 8:
                text.append(f"  …and {len(entry.problems) - 8} more (celery-tutor check)\n", style="")
            details.update(text)
            return
        lesson_progress = self.tutor.progress.peek(entry.id)
        done = sum(
            1 for step_id in entry.step_ids if step_id in lesson_progress.steps and lesson_progress.steps[step_id].done
        )
        status = {"done": "✓ done", "started": "◐ started", "new": "○ not started"}[self._status(entry)]
        text = Text.assemble((entry.title, "bold"), "\n\n", entry.summary, "\n\n")
        steps, minutes = count_of(len(entry.step_ids), "steps"), count_of(entry.minutes, "minutes")
        text.append(f"{status}: {done} of {steps} · about {minutes}\n")
        quiz = quiz_score(entry, lesson_progress)
        if quiz.answered:
            text.append(f"quiz: {quiz} right on the first try{quiz.answered_note}\n")
        if lesson_progress.seconds >= 60:
            text.append(f"time spent: {time_spent(lesson_progress.seconds)}\n")
        if entry.concepts:
            text.append(f"concepts: {', '.join(entry.concepts)}\n", style="dim")
        text.append("\nEnter opens it.", style="italic")
        details.update(text)

    @on(OptionList.OptionSelected, "#lessons")
    def _open(self) -> None:
        if self._review_selected():
            self.tutor.open_review()
            return
        entry = self._selected()
        if entry is None:
            return
        if entry.broken:
            self.notify("Fix the problems listed on the right (celery-tutor check shows them too).", severity="warning")
        else:
            self.tutor.open_lesson(entry.id)

    def action_continue(self) -> None:
        """Open the lesson to continue."""
        lessons = self._lessons()
        lesson = self._continue_lesson() or (lessons[0] if lessons else None)
        if lesson is not None:
            self.tutor.open_lesson(lesson.id)

    def action_sandbox(self) -> None:
        """Open the free lab."""
        self.tutor.open_sandbox()

    def palette_commands(self) -> list[PaletteCommand]:
        """The list's actions, for the command palette."""
        return [
            self.command("Review the questions you missed", "review", "the ones due now"),
            self.command("Continue where you left off", "continue"),
            self.command("Reset the highlighted lesson's progress", "reset_lesson"),
            self.command("Reset all progress", "reset_all", "every lesson and the review"),
        ]

    def action_review(self) -> None:
        """Ask the missed questions that are due."""
        self.tutor.open_review()

    def action_reset_lesson(self) -> None:
        """Forget the highlighted lesson's progress (after a yes)."""
        entry = self._selected()
        if entry is None or entry.broken:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.tutor.progress.reset(entry.id)
                self.tutor.save_progress()
                self.refresh_list()
                self.notify(f"Progress of '{entry.title}' reset.", markup=False)

        from celery_tutor.ui.screens.confirm import Confirm  # not needed to start

        self.app.push_screen(Confirm(f"Forget your progress in '{entry.title}'?"), done)

    def action_reset_all(self) -> None:
        """Forget all progress (after a yes)."""

        def done(yes: bool | None) -> None:
            if yes:
                self.tutor.progress.reset()
                self.tutor.save_progress()
                self.refresh_list()
                self.notify("All progress reset.")

        from celery_tutor.ui.screens.confirm import Confirm

        self.app.push_screen(Confirm("Forget your progress in every lesson?"), done)
