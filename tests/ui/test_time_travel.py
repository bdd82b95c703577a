"""The lab on screen: zoomed to fill it, paused and stepped through event by event, replayed slowly,
and a predict step's result quoting its evidence. Driven by keys; the lab plays hand-made events.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.containers import VerticalScroll
from textual.widgets import RichLog, Static
from travel_helpers import Events, PlaybackSession, crash_after_the_charge, fed, plain, playback
from ui_helpers import open_at, wait_for

from celery_tutor.course.phases import Phase
from celery_tutor.lab import events as ev
from celery_tutor.lab.history import History
from celery_tutor.lab.state import LabState
from celery_tutor.lab.time_travel import END_HOLD, Mode, TimeTravel
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.lab_screen import LabScreen
from celery_tutor.ui.screens.lesson_list import LessonListScreen
from celery_tutor.ui.screens.sandbox import SandboxScreen
from celery_tutor.ui.widgets.key_bar import KeyBar
from celery_tutor.ui.widgets.lab_panel import LabPanel
from celery_tutor.ui.widgets.steps import Notice


def part(screen: LabScreen, name: str) -> str:
    """What one part of the lab panel says."""
    return plain(screen.query_one(f"#{name}", Static).content)  # type: ignore[arg-type]


def marker(screen: LabScreen) -> str:
    widget = screen.query_one("#travel", Static)
    return plain(widget.content).strip() if widget.display else ""  # type: ignore[arg-type]


def timeline_lines(screen: LabScreen) -> list[str]:
    return [line.text.rstrip() for line in screen.query_one("#timeline", RichLog).lines]


def current_row(screen: LabScreen) -> str:
    """The timeline row marked ▶ (the event a paused view is at)."""
    rows = [line for line in timeline_lines(screen) if line.lstrip().startswith("▶")]
    assert len(rows) == 1, timeline_lines(screen)
    return rows[0]


def keys_shown(screen: LabScreen) -> str:
    return str(screen.query_one(KeyBar).render())


# -- zoom -------------------------------------------------------------------------------------


async def test_f2_gives_the_lab_the_screen_and_gives_it_back(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        await fed(pilot, screen, crash_after_the_charge(Events()))
        panel = screen.query_one(LabPanel)
        small = panel.size.height
        assert small < 10, "at 80×24 the lab panel gets a few rows: the reason for the zoom"
        assert "f2 Zoom" in keys_shown(screen)

        await pilot.press("f2")
        await pilot.pause()
        assert not screen.query_one("#step-pane", VerticalScroll).display
        line = plain(screen.query_one("#zoom-line", Static).content)  # type: ignore[arg-type]
        assert "f2 back to the step" in line and "Early vs late acks · step 1 of 6" in line
        assert panel.size.height >= 14 and panel.outer_size.width == 80
        assert "ledger:" in part(screen, "ledger") and "$ charge order 42 $9.99" in part(screen, "ledger")
        assert "f2 Unzoom" in keys_shown(screen)

        await pilot.press("f2")
        await pilot.pause()
        assert screen.query_one("#step-pane", VerticalScroll).display
        assert panel.size.height == small


async def test_the_next_step_opens_unzoomed_and_the_sandbox_zooms_too(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        await pilot.press("f2")
        await pilot.pause()
        assert screen.zoomed
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.step.id == "crash-early-ack")
        assert not screen.zoomed and screen.query_one("#step-pane", VerticalScroll).display
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonListScreen))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxScreen))
        sandbox = app.screen
        assert isinstance(sandbox, SandboxScreen)
        await pilot.press("f2")
        await pilot.pause()
        assert sandbox.zoomed and not sandbox.query_one("#step-pane", VerticalScroll).display
        line = plain(sandbox.query_one("#zoom-line", Static).content)  # type: ignore[arg-type]
        assert "f2 back to the controls" in line and "Sandbox" in line, "the sandbox has no step to go back to"
        assert "f2 back to the controls" in str(sandbox.query_one(LabPanel).border_subtitle)


# -- pause and step ---------------------------------------------------------------------------


async def test_stepping_back_shows_the_lab_as_it_was_at_each_event(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        events = crash_after_the_charge(Events())
        await fed(pilot, screen, events)
        assert "● alive" in part(screen, "workers") and marker(screen) == ""

        await pilot.press("left_square_bracket")  # from live: the event before the newest
        await pilot.pause()
        assert screen.travel.mode is Mode.PAUSED
        assert marker(screen).startswith("⏸ PAUSED · event 13 of 14 · 0.60 s")
        assert "✗ KILLED" in part(screen, "workers")  # the moment nobody could see live
        assert "worker1 KILLED at 'after_charge'" in current_row(screen)
        assert "[ Back" in keys_shown(screen) and "] On" in keys_shown(screen)

        await pilot.press(*["left_square_bracket"] * 3)  # back over LOST and the checkpoint, to the charge
        await pilot.pause()
        assert marker(screen).startswith("⏸ PAUSED · event 10 of 14")
        assert "running order at 'before_charge'" in part(screen, "workers")
        assert "$ charge order 42 $9.99" in part(screen, "ledger")
        assert "ledger: charge order 42 $9.99" in current_row(screen)
        lines = timeline_lines(screen)
        marked = next(i for i, line in enumerate(lines) if line.startswith("▶"))
        after = " ".join(" ".join(line.split()) for line in lines[marked + 1 :])
        assert after.startswith("0.60s charge_card[a1b2c3d4] reached 'after_charge'")  # what comes next, dimmed

        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert marker(screen).startswith("⏸ PAUSED · event 11 of 14")
        assert "running order at 'after_charge'" in part(screen, "workers")


async def test_the_lab_runs_on_under_a_paused_view_and_space_brings_it_back(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        e = Events()
        events = crash_after_the_charge(e)
        await fed(pilot, screen, events[:8])  # the order is running
        await pilot.press("space")
        await pilot.pause()
        assert marker(screen).startswith("⏸ PAUSED · event 8 of 8")
        assert "running order" in part(screen, "workers")

        await fed(pilot, screen, events[8:])  # the lab goes on: the worker dies
        assert "running order" in part(screen, "workers") and "KILLED" not in " ".join(timeline_lines(screen))
        assert marker(screen).startswith("⏸ PAUSED · event 8 of 14")  # …and the marker counts what came

        await pilot.press("space")
        await pilot.pause()
        assert screen.travel.live and marker(screen) == ""
        assert "running order" not in part(screen, "workers")
        assert any("KILLED" in line for line in timeline_lines(screen))
        assert not any(line.lstrip().startswith("▶") for line in timeline_lines(screen))


async def test_stepping_on_past_the_newest_event_is_live_and_a_reset_ends_the_pause(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        e = Events()
        await fed(pilot, screen, crash_after_the_charge(e))
        await pilot.press("left_square_bracket", "right_square_bracket")
        await pilot.pause()
        assert marker(screen).startswith("⏸ PAUSED · event 14 of 14")
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.travel.live and marker(screen) == ""

        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert not screen.travel.live
        await fed(
            pilot,
            screen,
            [e(ev.LabReset, 1.0), e(ev.WorkerStarted, 1.0, worker="worker1", concurrency=1, prefetch_multiplier=4)],
        )
        assert screen.travel.live and marker(screen) == ""
        assert "ledger: nothing happened outside yet" in part(screen, "ledger")


# -- replay -----------------------------------------------------------------------------------


class Clock:
    """The replay's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_replay_shows_each_event_in_turn_on_the_clock_it_is_given_then_goes_live(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        events = crash_after_the_charge(Events())
        await fed(pilot, screen, events)
        clock = Clock()
        screen.clock = clock
        await pilot.press("f3")
        await pilot.pause()
        travel = screen.travel
        assert travel.mode is Mode.REPLAY and travel.replay is not None
        assert marker(screen).startswith("▶ REPLAY ×0.25 · event 1 of 14")
        seen: list[str] = []
        for due in travel.replay.due:
            clock.now = 1000.0 + due
            screen.replay_frame()
            await pilot.pause()
            seen.append(part(screen, "workers").splitlines()[0] if screen.query_one("#workers", Static).display else "")
            assert travel.position == travel.replay.positions[len(seen) - 1]
            assert current_row(screen)  # the timeline marks the event shown
        assert any("✗ KILLED" in line for line in seen), seen  # the kill is on screen for a while
        assert seen[-1].startswith("worker1 ● alive")
        clock.now += END_HOLD
        screen.replay_frame()
        await pilot.pause()
        assert travel.live and marker(screen) == ""


async def test_a_replay_takes_its_time_over_the_kill(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        await fed(pilot, screen, crash_after_the_charge(Events()))
        screen.clock = Clock()
        await pilot.press("f3")
        await pilot.pause()
        replay = screen.travel.replay
        assert replay is not None
        killed = replay.positions.index(13)
        assert replay.due[killed + 1] - replay.due[killed] >= 0.4  # live, the next event came 0.1 s later / 0.25
        assert replay.duration >= (0.7 - 0.0) / 0.25


# -- a result quotes its evidence -------------------------------------------------------------


async def test_a_predict_result_quotes_the_timeline_and_ledger_lines_it_rests_on(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch, crash_after_the_charge(Events()))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "crash-early-ack")
        await pilot.press("enter")  # lock the first prediction: the experiment runs
        await wait_for(pilot, lambda: screen.phase is Phase.RESULT)
        await pilot.pause()
        card = next(
            plain(n.content)  # type: ignore[arg-type]
            for n in screen.query(Notice).results(Notice)
            if "What happened in the lab:" in plain(n.content)  # type: ignore[arg-type]
        )
        lines = [line.rstrip() for line in card.splitlines()]
        lost = lines.index("  ✓ the task was lost with the worker")
        # No glyph ("!") before a quote: a quoted ✓ or ✗ would read as the verdict on the line above.
        assert "0.60s charge_card[a1b2c3d4] LOST: it was running on worker1" in lines[lost + 1]
        none = lines.index("  ✓ no message came back")
        assert "(nothing of the kind happened)" in lines[none + 1]
        once = lines.index("  ✓ the body ran only once")
        assert "worker1 started charge_card[a1b2c3d4] (run 1, retries=0)" in lines[once + 1]
        charged = lines.index("  ✓ the card had been charged before the crash")
        assert "0.60s ledger: charge order 42 $9.99" in lines[charged + 1]
        offer = " ".join(plain(n.content) for n in screen.query(Notice).results(Notice))  # type: ignore[arg-type]
        assert "f3 replays the experiment slowly" in " ".join(offer.split())


async def test_nothing_to_replay_before_the_lab_said_anything(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        await pilot.press("f3", "space", "left_square_bracket")
        await pilot.pause()
        assert screen.travel.live and isinstance(screen.session, PlaybackSession)


async def test_the_marker_says_when_the_oldest_events_were_let_go(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        screen.history = History(limit=20)
        screen.travel = TimeTravel(screen.history)
        e = Events()
        await fed(pilot, screen, [e(ev.FaultArmed, n / 10, description=f"fault {n}") for n in range(30)])
        while screen.travel.back() or screen.travel.live:  # as far back as the history goes
            pass
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert marker(screen).startswith("⏸ PAUSED · event 11 of 30")
        assert "only the newest 20 events are kept: 10 older ones are gone" in " ".join(marker(screen).split())


async def test_a_pause_after_a_quiet_event_shows_the_state_at_the_event_it_names(
    make_app: Callable[..., TutorApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    playback(monkeypatch)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_at(pilot, "early-vs-late-acks", "two-moments")
        e = Events()
        events = crash_after_the_charge(e)
        events.append(e(ev.RestoreScan, 0.8, worker="worker1", restored=0, next_in=1.0))  # quiet: no timeline row
        await fed(pilot, screen, events)
        await pilot.press("space")
        await pilot.pause()
        assert screen.travel.position == len(events) - 1  # the newest event the timeline shows
        state = LabState()
        for event in events[:-1]:
            state.apply(event)
        assert screen.history.snapshot(screen.travel.position) == state.snapshot()  # not the live fold, a scan later
