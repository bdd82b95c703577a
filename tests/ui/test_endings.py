"""A course that ends: the lesson's card, the list moving on, the course's card, and the review (keys only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Markdown, OptionList, Static
from ui_helpers import wait_for

from celery_tutor.course.model import MultipleChoice, Numeric, Ordering, Question, SingleChoice, TrueFalse
from celery_tutor.course.phases import Phase
from celery_tutor.lab.actions import Action
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress import StepProgress
from celery_tutor.progress_store import ProgressStore
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.endings import CourseEndScreen, LessonEndScreen
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.screens.lesson import LessonScreen
from celery_tutor.ui.screens.lesson_list import LessonListScreen
from celery_tutor.ui.screens.review import ReviewScreen

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LESSON_1 = bundled_lessons() / "01-acknowledgement.yaml"
BEFORE_THE_QUIZ = ("lifecycle", "send-one", "predict-prefetch")


class StubSession(LabSession):
    """No Celery: the lesson's quiz needs no lab."""

    def start(self) -> None:
        pass

    def run_script(self, purpose: str, actions: tuple[Action, ...], reset_first: bool = True) -> None:
        pass

    def now(self) -> float:
        return 0.0


@pytest.fixture(autouse=True)
def stub_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LabScreen, "session_class", StubSession)


@pytest.fixture
def one_lesson(tmp_path: Path) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / LESSON_1.name).write_text(LESSON_1.read_text())
    return folder


def at_the_quiz(app: TutorApp) -> None:
    """Lesson 1 done up to its quiz: the lab goal met, the prediction right."""
    app.clock = lambda: T0
    lesson = app.progress.lesson("acknowledgement")
    for step_id in BEFORE_THE_QUIZ:
        lesson.steps[step_id] = StepProgress(done=True, correct=True if step_id.startswith("predict") else None)
    lesson.current = "quiz"
    app.progress.last_lesson = "acknowledgement"


async def answer(pilot: Pilot[int], question: Question, shuffled: tuple[str, ...], right: bool) -> None:
    """Answer the question on screen with keys, rightly or not."""
    if isinstance(question, SingleChoice):
        index = next(i for i, c in enumerate(question.choices) if c.correct == right)
        await pilot.press("home", *["down"] * index, "enter")
    elif isinstance(question, TrueFalse):
        await pilot.press("home", *([] if question.answer == right else ["down"]), "enter")
    elif isinstance(question, Ordering):
        items = question.items if right else tuple(reversed(question.items))
        for item in items:
            await pilot.press("home", *["down"] * shuffled.index(item), "enter")
    elif isinstance(question, Numeric):
        await pilot.press(*f"{question.answer if right else question.answer + 1:g}", "enter")
    elif isinstance(question, MultipleChoice):
        for i, choice in enumerate(question.choices):
            if choice.correct == right:
                await pilot.press("home", *["down"] * i, "enter")
        await pilot.press("end", "enter")


async def open_lesson_1(pilot: Pilot[int]) -> LessonScreen:
    app = pilot.app
    assert isinstance(app, TutorApp)
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
    screen = app.screen
    assert isinstance(screen, LessonScreen)
    await pilot.pause()
    return screen


async def take_the_quiz(pilot: Pilot[int], screen: LessonScreen, wrong: tuple[str, ...] = ()) -> None:
    """Answer every question of the quiz on screen (the ones in ``wrong`` wrongly), then go on."""
    while isinstance(pilot.app.screen, LessonScreen):
        question = screen.walk.question
        await answer(pilot, question, screen.walk.answer.shuffled, question.id not in wrong)
        await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)
        await pilot.press("n")
        await pilot.pause()


def card_text(app: TutorApp) -> str:
    parts = [str(widget.render()) for widget in app.screen.query("#end-card Static")]
    parts += [widget.source for widget in app.screen.query("#end-card Markdown").results(Markdown)]
    return "\n".join(parts)


def list_entries(app: TutorApp) -> list[str]:
    options = app.screen.query_one("#lessons", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_a_lessons_end_shows_its_card_then_the_list_moves_to_the_next_lesson(
    make_app: Callable[..., TutorApp],
) -> None:
    app = make_app()
    at_the_quiz(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson_1(pilot)
        await take_the_quiz(pilot, screen, wrong=("when-early-ack",))
        await wait_for(pilot, lambda: isinstance(app.screen, LessonEndScreen))
        shown = card_text(app)
        assert "✓ Lesson done." in shown
        assert "Predictions right   1 of 1" in shown and "Lab goals met       1 of 1" in shown
        assert "Quiz, first answers 3 of 4 right" in shown
        assert "1 question you missed" in shown
        for step in screen.lesson.steps[:3]:
            assert f"- {step.takeaway}" in shown
        assert "the next lesson (Early vs late acks)" in shown
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        await pilot.pause()
        options = app.screen.query_one("#lessons", OptionList)
        assert options.highlighted == 1  # the next lesson
        details = str(app.screen.query_one("#details", Static).render())
        assert details.startswith("Early vs late acks")
        entries = list_entries(app)
        assert entries[0].startswith("✓ 1. Acknowledgement")
        assert entries[-1] == "↻ Review (1 due)"
        await pilot.press("up")
        details = str(app.screen.query_one("#details", Static).render())
        assert "quiz: 3 of 4 right on the first try" in details


async def test_a_lesson_left_unfinished_says_what_is_left_and_esc_goes_back_to_it(
    make_app: Callable[..., TutorApp],
) -> None:
    app = make_app()
    app.clock = lambda: T0
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")  # lesson 1, from its start
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        while isinstance(app.screen, LessonScreen):  # n all the way: no goal, no prediction, no answer
            await pilot.press("n")
            await pilot.pause()
        await wait_for(pilot, lambda: isinstance(app.screen, LessonEndScreen))
        shown = card_text(app)
        assert "◐ Not done yet: the lab goal of step 2; the prediction of step 3; " in shown
        assert "4 unanswered questions in the quiz of step 4." in shown
        assert "back to the first thing left" in shown
        assert app.progress.peek("acknowledgement").status([s.id for s in screen.lesson.steps]) == "started"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen and screen.step.id == "send-one")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        assert list_entries(app)[0].startswith("◐ 1. Acknowledgement")  # ✓ only with the goals and the quiz


async def test_the_review_asks_the_missed_questions_and_moves_their_boxes(
    make_app: Callable[..., TutorApp], tmp_path: Path
) -> None:
    data = tmp_path / "kept"
    app = make_app(data=data)
    lesson = app.progress.lesson("acknowledgement")
    lesson.question("when-early-ack").answer(False, T0)
    lesson.question("acked-is-gone").answer(False, T0)
    lesson.question("lifecycle-order").answer(True, T0)
    now = T0 + timedelta(hours=1)
    app.clock = lambda: now
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert list_entries(app)[-1] == "↻ Review (2 due)"
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
        review = app.screen
        assert isinstance(review, ReviewScreen)
        await pilot.pause()
        title = str(review.query_one("#review-title", Static).render())
        assert "question 1 of 2 · from Acknowledgement · box 1 of 5" in title
        await answer(pilot, review.review.question, review.review.answer.shuffled, right=True)
        await wait_for(pilot, lambda: review.review.phase is Phase.ANSWERED)
        await wait_for(pilot, lambda: "Up to box 2: it comes back tomorrow." in pane_text(review))
        await pilot.press("n")
        await wait_for(pilot, lambda: review.review.index == 1)
        await answer(pilot, review.review.question, review.review.answer.shuffled, right=False)
        await wait_for(pilot, lambda: "Back to box 1" in pane_text(review))
        await pilot.press("n")
        await wait_for(pilot, lambda: review.review.finished)
        await wait_for(pilot, lambda: "1 right, 1 wrong, 0 not answered" in pane_text(review))
        assert "the first comes back tomorrow" in pane_text(review)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        await pilot.pause()
        assert list_entries(app)[-1] == "↻ Review (1 due)"
        await pilot.press("q")
    app._saver.shutdown(wait=True)
    kept = ProgressStore(data).load().progress.lessons["acknowledgement"].questions
    assert (kept["when-early-ack"].box, kept["when-early-ack"].due) == (2, now + timedelta(days=1))
    assert (kept["acked-is-gone"].box, kept["acked-is-gone"].due) == (1, now)
    assert kept["when-early-ack"].correct is False  # the quiz score keeps the first answer


def pane_text(screen: ReviewScreen) -> str:
    parts = [str(widget.render()) for widget in screen.query("#review-pane Static")]
    parts += [widget.source for widget in screen.query("#review-pane Markdown").results(Markdown)]
    return "\n".join(parts)


async def test_review_with_nothing_missed_says_where_missed_questions_go(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    app.clock = lambda: T0
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert not any(entry.startswith("↻") for entry in list_entries(app))
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, LessonListScreen)
        assert any("a question you answer wrong in a quiz comes back here" in n.message for n in app._notifications)


async def test_the_last_lesson_ends_the_course_whose_card_offers_the_review(
    make_app: Callable[..., TutorApp], one_lesson: Path
) -> None:
    app = make_app(one_lesson)
    at_the_quiz(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_lesson_1(pilot)
        await take_the_quiz(pilot, screen, wrong=("lifecycle-order",))
        await wait_for(pilot, lambda: isinstance(app.screen, LessonEndScreen))
        assert "the lesson list\n" in card_text(app)  # no next lesson to name
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CourseEndScreen))
        shown = card_text(app)
        assert "✓ You finished every lesson." in shown
        assert "Lessons done        1 of 1" in shown and "Quiz, first answers 3 of 4 right" in shown
        assert "Time in lessons" in shown
        assert "In the review: 1 question you missed." in shown
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
        review = app.screen
        assert isinstance(review, ReviewScreen) and review.review.question.id == "lifecycle-order"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        top = str(app.screen.query_one("#continue", Static).render())
        assert "✓ Course done: 1 lesson, quiz 3 of 4 right, under a minute. [v] review 1 due" in top
