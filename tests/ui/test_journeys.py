"""The main journeys, driven by keys on the real app with a real lab behind it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Button, Markdown, Static
from ui_helpers import timeline, wait_for

from celery_tutor.course.model import Numeric, Ordering, PredictStep, QuizStep, SingleChoice, TrueFalse
from celery_tutor.course.phases import Phase
from celery_tutor.paths import bundled_lessons
from celery_tutor.progress_store import ProgressStore
from celery_tutor.ui.app import TooSmall, TutorApp
from celery_tutor.ui.screens.endings import LessonEndScreen
from celery_tutor.ui.screens.lesson import LessonScreen
from celery_tutor.ui.screens.lesson_list import LessonListScreen
from celery_tutor.ui.screens.sandbox import SandboxScreen

LESSON_1 = bundled_lessons() / "01-acknowledgement.yaml"


def text_of(app: TutorApp) -> str:
    """Everything the step pane says."""
    parts = [str(widget.render()) for widget in app.screen.query("#step-pane Static")]
    parts += [widget.source for widget in app.screen.query("#step-pane Markdown").results(Markdown)]
    return "\n".join(parts)


@pytest.fixture
def one_lesson(tmp_path: Path) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / LESSON_1.name).write_text(LESSON_1.read_text())
    return folder


async def test_open_a_lesson_and_answer_a_prediction(make_app: Callable[..., TutorApp], one_lesson: Path) -> None:
    app = make_app(one_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        assert "A task is a message" in text_of(app)
        while not isinstance(screen.step, PredictStep):
            await pilot.press("n")
        await pilot.press("down", "enter")  # the right answer: prefetched, unacked
        await wait_for(pilot, lambda: screen.phase is Phase.RESULT, timeout=20)
        await wait_for(pilot, lambda: "What happened in the lab:" in text_of(app))  # the result card is mounted
        shown = text_of(app)
        assert "✓ Your prediction was right." in shown
        assert "What happened in the lab:" in shown
        assert "✗" not in shown.split("What happened in the lab:")[1].split("\n\n")[0]
        assert "received generate_report" in timeline(app) or "received" in timeline(app)


async def test_sandbox_late_ack_crash_shows_the_redelivery(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxScreen))
        screen = app.screen
        assert isinstance(screen, SandboxScreen)
        await wait_for(pilot, lambda: screen.session.lab is not None)
        await pilot.press("a")  # task_acks_late on: the worker restarts
        await wait_for(pilot, lambda: screen.state.settings.get("task_acks_late") is True)
        labels = [str(button.label) for button in screen.query("#controls Button").results(Button)]
        assert "a · task_acks_late: on" in labels
        await pilot.press("x", "c")  # crash after the charge, then charge order 42
        await wait_for(pilot, lambda: "KILLED" in timeline(app))
        await pilot.press("w")  # restart: the message comes back
        await wait_for(pilot, lambda: "succeeded" in timeline(app))
        log = timeline(app)
        assert "back in the queue: requeued because the connection died" in log
        assert "(redelivered)" in log
        ledger = str(screen.query_one("#ledger", Static).render())
        assert "DUPLICATE" in ledger


async def test_finish_a_quiz_then_progress_survives_a_restart(
    make_app: Callable[..., TutorApp], one_lesson: Path, tmp_path: Path
) -> None:
    data = tmp_path / "kept"
    app = make_app(one_lesson, data)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        while not isinstance(screen.step, QuizStep):
            await pilot.press("n")
        quiz = screen.step
        for question in quiz.questions:
            if isinstance(question, SingleChoice):
                right = next(i for i, c in enumerate(question.choices) if c.correct)
                await pilot.press(*["down"] * right, "enter")
            elif isinstance(question, TrueFalse):
                await pilot.press(*([] if question.answer else ["down"]), "enter")
            elif isinstance(question, Ordering):
                for item in question.items:
                    index = screen.walk.answer.shuffled.index(item)
                    await pilot.press("home", *["down"] * index, "enter")
            elif isinstance(question, Numeric):
                await pilot.press(*f"{question.answer:g}", "enter")
            await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)
            assert "✓ Correct." in text_of(app), (question.id, text_of(app))
            await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonEndScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        await pilot.press("q")
    app._saver.shutdown(wait=True)
    saved = ProgressStore(data).load().progress
    assert saved.lessons["acknowledgement"].steps["quiz"].done
    assert saved.lessons["acknowledgement"].steps["quiz"].correct is True

    again = make_app(one_lesson, data)
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        entry = str(again.screen.query_one("#lessons").get_option_at_index(0).prompt)
        assert entry.startswith("◐") or entry.startswith("✓")


async def test_a_corrupt_progress_file_is_moved_aside_and_the_learner_told(
    make_app: Callable[..., TutorApp], one_lesson: Path, tmp_path: Path
) -> None:
    data = tmp_path / "broken"
    data.mkdir()
    (data / "progress.json").write_text("{{{ not json")
    app = make_app(one_lesson, data)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LessonListScreen)
        messages = [n.message for n in app._notifications]
        assert any("unreadable" in m and "moved to" in m for m in messages), messages
    files = [p.name for p in data.iterdir() if p.name != ".progress.json.lock"]  # the saves' lock file
    assert [name.startswith("progress.json.broken-") for name in files] == [True]


async def test_a_terminal_that_is_too_small_says_so(make_app: Callable[..., TutorApp], one_lesson: Path) -> None:
    app = make_app(one_lesson)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmall)
        assert "needs at least 80×24; this one is 60×20" in str(app.screen.query_one("#too-small", Static).render())
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert isinstance(app.screen, LessonListScreen)


async def test_the_command_palette_offers_lessons_and_the_lesson_actions(
    make_app: Callable[..., TutorApp], one_lesson: Path
) -> None:
    app = make_app(one_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Open lesson 1: Acknowledgement" in titles and "Open the sandbox" in titles
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen))
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Next step", "Show a hint", "Show the solution", "Reset the lab", "Lab: send add(2, 3)"} <= set(titles)
        next_step = next(c for c in app.get_system_commands(app.screen) if c.title == "Next step")
        next_step.callback()
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen) and app.screen.index == 1


async def test_a_lesson_screen_starts_exactly_one_lab(
    make_app: Callable[..., TutorApp], one_lesson: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery_tutor.ui.lab_session import LabSession

    starts: list[LabSession] = []
    original = LabSession.start

    def counted(self: LabSession) -> None:
        starts.append(self)
        original(self)

    monkeypatch.setattr(LabSession, "start", counted)
    app = make_app(one_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.screen.session.lab is not None)
        await pilot.pause(0.3)
        assert len(starts) == 1
        await pilot.press("l")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxScreen) and app.screen.session.lab is not None)
        await pilot.pause(0.3)
        assert len(starts) == 2
        assert "worker1 started" in timeline(app)
        assert timeline(app).count("worker1 started") == 1


async def test_a_broken_lesson_is_listed_with_its_error(make_app: Callable[..., TutorApp], one_lesson: Path) -> None:
    (one_lesson / "02-broken.yaml").write_text("schema: 1\nid: broken\ntitle: Broken\n")
    app = make_app(one_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lessons = app.screen.query_one("#lessons")
        assert str(lessons.get_option_at_index(1).prompt).startswith("⚠ 2. 02-broken.yaml")
        await pilot.press("down")
        details = str(app.screen.query_one("#details", Static).render())
        assert "This lesson file has problems" in details
        assert "1:1: lesson: missing required key 'summary'" in details
        await pilot.press("enter")  # cannot be opened: the learner is told, nothing breaks
        await pilot.pause()
        assert isinstance(app.screen, LessonListScreen)


async def test_no_color_is_respected(
    make_app: Callable[..., TutorApp], one_lesson: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(one_lesson)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        entry = str(app.screen.query_one("#lessons").get_option_at_index(0).prompt)
        assert entry.startswith("○ 1. Acknowledgement")  # the state is a glyph, not a colour


async def test_continue_into_a_lab_step_at_80x24_the_goal_is_reached_and_scrolls_into_view(
    make_app: Callable[..., TutorApp],
) -> None:
    from textual.containers import VerticalScroll
    from ui_helpers import open_at

    app = make_app(bundled_lessons())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "crash-late-ack")  # as 'c' continues there
        await wait_for(pilot, lambda: "lab reset" in timeline(app))  # the step's setup ran on the new lab
        pane = screen.query_one("#step-pane", VerticalScroll)
        assert pane.scroll_y == 0 and pane.max_scroll_y > 0  # the goal starts below the fold
        await wait_for(pilot, lambda: screen.session.lab is not None)
        for key in ("a", "c", "s"):  # late acks, a crash right after the charge, send
            await pilot.press(key)
        await wait_for(pilot, lambda: "KILLED" in str(screen.query_one("#workers", Static).render()))
        await pilot.press("w")  # bring the worker back: the message runs again
        await wait_for(pilot, lambda: screen.phase is Phase.DONE)
        await wait_for(pilot, lambda: bool(screen.query(".goal-reached")))
        reached = screen.query_one(".goal-reached")
        await wait_for(pilot, lambda: pane.scroll_y > 0)
        await pilot.pause()
        view = pane.content_region  # the pane on screen
        assert view.y <= reached.region.y < view.bottom and reached.region.height > 0
