"""The learner's bugs of issue #8, each driven by keys on the real app (the lab is a stub unless said)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rich.syntax import Syntax
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Button, Collapsible, Input, Markdown, OptionList, Static
from textual.widgets._markdown import MarkdownFence
from textual.widgets._toast import Toast
from ui_helpers import open_at, wait_for

from celery_tutor.course.phases import Phase
from celery_tutor.lab.actions import Action
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.lab_session import LabSession
from celery_tutor.ui.screens.endings import LessonEndScreen
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.screens.lesson import LessonScreen
from celery_tutor.ui.screens.lesson_list import LessonListScreen


class StubSession(LabSession):
    """No Celery: scripts and controls are recorded, nothing runs."""

    def start(self) -> None:
        pass

    def run_script(self, purpose: str, actions: tuple[Action, ...], reset_first: bool = True) -> None:
        pass

    def control(self, action: Action) -> None:
        pass

    def now(self) -> float:
        return 0.0


@pytest.fixture
def stub_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LabScreen, "session_class", StubSession)


def shown_text(screen: LessonScreen) -> str:
    """What the step pane says: its Statics as rendered, its Markdown as written."""
    parts = [str(widget.render()) for widget in screen.query("#step-pane Static")]
    parts += [widget.source for widget in screen.query("#step-pane Markdown").results(Markdown)]
    return "\n".join(parts)


def pane(screen: LessonScreen) -> VerticalScroll:
    return screen.query_one("#step-pane", VerticalScroll)


def in_view(screen: LessonScreen, region: Region) -> bool:
    """Is this screen region wholly inside the step pane's visible area?"""
    return pane(screen).content_region.contains_region(region)


# -- n on an unanswered question ----------------------------------------------------------------


async def test_n_on_an_unanswered_question_goes_to_the_next_question(
    make_app: Callable[..., TutorApp], stub_lab: None
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "idempotence", "quiz")
        assert screen.walk.question_index == 0 and screen.phase is Phase.ASKING
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen, "n left the lesson"
        assert screen.walk.question_index == 1 and screen.phase is Phase.ASKING
        assert "Question 2 of 7." in shown_text(screen)


async def test_n_in_a_numeric_question_skips_it_and_digits_still_type(
    make_app: Callable[..., TutorApp], quiz_lesson: Path
) -> None:
    app = make_app(quiz_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "words", "quiz")
        await pilot.press("n", "n")
        await wait_for(pilot, lambda: screen.walk.question_index == 2)
        field = screen.query_one("#answer", Input)
        assert field.has_focus
        await pilot.press("1", ".", "5")
        assert field.value == "1.5"
        await pilot.press("n")  # the last question: the lesson ends instead of typing an "n"
        await wait_for(pilot, lambda: isinstance(app.screen, LessonEndScreen))


# -- the task a read step names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lesson_id", "step_id", "task", "line"),
    [
        ("idempotence", "idempotency-key", "charge_card_idempotent", 'idempotency_key=f"order-{order_id}"'),
        ("retry-as-a-task-option", "autoretry", "send_receipt", "def send_receipt(order_id):"),
    ],
)
async def test_a_read_step_shows_the_task_it_discusses(
    make_app: Callable[..., TutorApp], stub_lab: None, lesson_id: str, step_id: str, task: str, line: str
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, lesson_id, step_id)
        assert screen.query_one("#source", Collapsible).title == f"the code that runs: {task}"
        code = screen.query_one("#source-code", Static).content
        assert isinstance(code, Syntax) and line in code.code


# -- code blocks in step text -------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_code_blocks_in_step_text_are_shown_whole(
    make_app: Callable[..., TutorApp], stub_lab: None, size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_at(pilot, "retry-as-a-task-option", "autoretry")
        fences = list(screen.query("#step-text MarkdownFence").results(MarkdownFence))
        assert fences
        await pilot.pause()
        for fence in fences:
            assert fence.max_scroll_x == 0, "the code block is wider than the pane: its end is cut"
            assert "TimeoutError)," in fence.code


# -- feedback is Markdown -----------------------------------------------------------------------

QUIZ_LESSON = """\
schema: 1
id: words
title: Words
summary: Feedback, plurals and answers.
minutes: 2
lab:
  tasks: [add]
steps:
  - id: quiz
    quiz:
      - id: md
        single: "Which?"
        choices:
          - text: the wrong one
            feedback: "It *prefetches* with `acks_late` on."
          - text: the right one
            correct: true
        explain: "fine"
      - id: many
        multiple: "Which are right?"
        choices:
          - text: The task is late-acked.
            correct: true
          - text: The message is flagged redelivered.
            correct: true
          - text: Nothing else.
        explain: "both"
      - id: one-run
        numeric: "How many runs?"
        answer: 1
        tolerance: 0
        unit: runs
        explain: "one"
"""


@pytest.fixture
def quiz_lesson(tmp_path: Path) -> Path:
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "01-words.yaml").write_text(QUIZ_LESSON)
    return folder


async def test_answer_feedback_renders_markdown(make_app: Callable[..., TutorApp], quiz_lesson: Path) -> None:
    app = make_app(quiz_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "words", "quiz")
        await pilot.press("enter")  # the wrong one
        await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)
        await pilot.pause()
        statics = "\n".join(str(widget.render()) for widget in screen.query("#step-pane Static"))
        assert "*prefetches*" not in statics and "`acks_late`" not in statics
        sources = [widget.source for widget in screen.query("#step-pane Markdown").results(Markdown)]
        assert "It *prefetches* with `acks_late` on." in sources


async def test_prediction_feedback_renders_markdown(make_app: Callable[..., TutorApp], stub_lab: None) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "acknowledgement", "predict-prefetch")
        await pilot.press("enter")  # the first choice, whose feedback says *prefetches*
        await wait_for(pilot, lambda: screen.phase is Phase.RUNNING)
        screen.post_message(LabSession.ScriptDone("experiment", None))
        await wait_for(pilot, lambda: screen.phase is Phase.RESULT)
        await pilot.pause()
        statics = "\n".join(str(widget.render()) for widget in screen.query("#step-pane Static"))
        assert "*prefetches*" not in statics
        sources = "\n".join(widget.source for widget in screen.query("#step-pane Markdown").results(Markdown))
        assert "It *prefetches* up to" in sources


# -- plurals and the echo of several answers ----------------------------------------------------


async def test_numbers_agree_with_their_units_and_several_answers_read_well(
    make_app: Callable[..., TutorApp], quiz_lesson: Path
) -> None:
    app = make_app(quiz_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "words", "quiz")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.walk.question_index == 1)
        await pilot.press("enter", "down", "enter", "end", "enter")  # tick two, then check
        await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)
        echo = shown_text(screen)
        assert ".;" not in echo
        assert "The task is late-acked." in echo and "The message is flagged redelivered." in echo
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.walk.question_index == 2)
        await pilot.press("2", "enter")
        await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)
        verdict = shown_text(screen)
        assert "The answer: 1 run" in verdict and "1 runs" not in verdict


# -- check my answer with nothing ticked --------------------------------------------------------


async def test_check_my_answer_with_nothing_ticked_asks_for_a_tick(
    make_app: Callable[..., TutorApp], quiz_lesson: Path
) -> None:
    app = make_app(quiz_lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "words", "quiz")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.walk.question_index == 1)
        await pilot.press("end", "enter")  # check my answer, nothing ticked
        await pilot.pause()
        assert screen.phase is Phase.ASKING, "an empty answer was graded"
        await wait_for(pilot, lambda: any("Nothing is ticked" in n.message for n in app._notifications))


# -- 80×24: the prompt in view, page keys scroll ------------------------------------------------


async def answer_by_keys(pilot: Pilot[int], screen: LessonScreen) -> None:
    """Answer the current question somehow, with keys only, and wait for the verdict."""
    question = screen.walk.question
    if question.kind == "multiple":
        await pilot.press("enter", "end", "enter")
    elif question.kind == "ordering":
        for _ in screen.walk.answer.shuffled:
            await pilot.press("enter", "down")
    elif question.kind == "numeric":
        await pilot.press("1", "enter")
    else:
        await pilot.press("enter")
    await wait_for(pilot, lambda: screen.phase is Phase.ANSWERED)


@pytest.mark.parametrize(
    ("lesson_id", "answers"),
    [("idempotence", 1), ("idempotence", 2), ("early-vs-late-acks", 2)],
)
async def test_at_80x24_a_question_opens_with_its_prompt_in_view(
    make_app: Callable[..., TutorApp], stub_lab: None, lesson_id: str, answers: int
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_at(pilot, lesson_id, "quiz")
        for number in range(answers):
            await answer_by_keys(pilot, screen)
            await pilot.press("n")
            await wait_for(pilot, lambda n=number: screen.walk.question_index == n + 1)
        await pilot.pause()
        assert in_view(screen, screen.query_one("#step-text", Markdown).region)
        choices = screen.query("#answer").first()
        assert choices.has_focus
        if isinstance(choices, OptionList):
            for _ in range(choices.option_count):  # the highlighted choice stays in view
                await pilot.press("down")
                await pilot.pause()
                line = choices.region.y + 1 + (choices.highlighted or 0) - round(choices.scroll_y)
                assert pane(screen).content_region.y <= line < pane(screen).content_region.bottom


async def test_page_keys_in_a_prediction_scroll_the_step(make_app: Callable[..., TutorApp], stub_lab: None) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_at(pilot, "idempotence", "double-charge")
        choices = screen.query_one("#choices", OptionList)
        assert choices.has_focus and choices.highlighted == 0
        assert pane(screen).scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert choices.highlighted == 0, "PageDown moved the selection"
        assert pane(screen).scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert pane(screen).scroll_y == 0
        assert in_view(screen, screen.query_one("#step-text", Markdown).region)


# -- hints come into view -----------------------------------------------------------------------


async def test_a_hint_asked_for_while_scrolled_down_comes_into_view(
    make_app: Callable[..., TutorApp], stub_lab: None
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_at(pilot, "idempotence", "use-the-key")
        pane(screen).scroll_end(animate=False)
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        hints = [w for w in screen.query("#step-pane Static") if "Hint 1 of" in str(w.render())]
        assert hints
        await wait_for(pilot, lambda: in_view(screen, hints[0].region))


# -- toasts -------------------------------------------------------------------------------------


async def test_a_lessons_toast_stays_behind(make_app: Callable[..., TutorApp], stub_lab: None) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = await open_at(pilot, "idempotence", "quiz")
        await pilot.press("h")  # an information toast about this lesson's step
        await pilot.pause()
        assert any("Hints are for lab and code steps" in n.message for n in app._notifications)
        for _ in range(len(screen.walk.lesson.steps[-1].questions)):  # type: ignore[union-attr]
            if isinstance(app.screen, LessonScreen):
                await pilot.press("n")
                await pilot.pause()
        await wait_for(pilot, lambda: isinstance(app.screen, LessonEndScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        await open_at(pilot, "retry-with-self-retry", "retry-is-explicit")
        await pilot.pause()
        assert not any("Hints are for lab and code steps" in n.message for n in app._notifications)
        toasts = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert not any("Hints are for lab and code steps" in text for text in toasts), toasts


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_toasts_do_not_cover_the_controls(
    make_app: Callable[..., TutorApp], stub_lab: None, size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        screen = await open_at(pilot, "idempotence", "at-least-once")
        screen.notify("A message\non three\nlines.", title="a title")
        await wait_for(pilot, lambda: bool(list(screen.query(Toast))))
        await pilot.pause()
        buttons = list(screen.query("#controls Button").results(Button))
        assert buttons
        lab = screen.query_one("#lab").region
        for toast in screen.query(Toast):
            for button in buttons:
                assert not toast.region.overlaps(button.region), (toast.region, button.region)
            assert not toast.region.overlaps(lab), "the toast covers the lab panel"


# -- lesson 6's jitter step: no unrelated duplicates --------------------------------------------


async def test_the_jitter_experiment_leaves_no_duplicate_in_the_ledger(make_app: Callable[..., TutorApp]) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "backoff-and-jitter", "predict-jitter")
        await wait_for(pilot, lambda: screen.session.lab is not None, timeout=20)
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: screen.phase is Phase.RESULT, timeout=20)
        assert "✗" not in shown_text(screen).split("What happened in the lab:")[1].split("\n\n")[0]

        def sent() -> int:
            return len(screen.state.snapshot().ledger)

        await wait_for(pilot, lambda: sent() >= 20, timeout=20)
        ledger = screen.state.snapshot().ledger
        assert not [entry for entry in ledger if entry.duplicate], ledger


# -- control rows -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("lesson_id", ["idempotence", "retry-as-a-task-option", "backoff-and-jitter", "capstone"])
async def test_control_rows_show_key_short_label_and_toggle_state_whole(
    make_app: Callable[..., TutorApp], stub_lab: None, size: tuple[int, int], lesson_id: str
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        lesson = app.course.lesson(lesson_id)
        screen = await open_at(pilot, lesson_id, lesson.steps[0].id)
        buttons = list(screen.query("#controls Button").results(Button))
        assert len(buttons) == len(lesson.controls)
        for control, button in zip(lesson.controls, buttons, strict=True):
            label = str(button.label)
            assert label.startswith(f"{control.key} · ")
            assert button.label.cell_length <= button.content_region.width, (label, button.content_region)
            if control.toggle is not None:
                assert label.endswith((": on", ": off")), label
            assert str(button.tooltip) == control.label
