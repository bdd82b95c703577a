"""The keys of the lab's zoom and time travel, and the words that say where the view is in time.

Lesson controls take letters, so these keys are not letters: an F-key, space and the
brackets (the lesson loader keeps ``[`` and ``]`` from lesson controls).
"""

from __future__ import annotations

from rich.text import Text

from celery_tutor.lab.history import History
from celery_tutor.lab.time_travel import REPLAY_SPEED, Mode, TimeTravel

ZOOM_KEY = "f2"
"""The lab fills the screen (the step shrinks to one line); again, back."""
PAUSE_KEY = "space"
"""Freeze the view of the lab at its newest event; again, live."""
BACK_KEY = "left_square_bracket"
FORWARD_KEY = "right_square_bracket"
REPLAY_KEY = "f3"
"""Replay the last experiment (since the lab's last reset, at most a minute of it) slowly."""

ZOOM = "f2"
PAUSE = "space"
REPLAY = "f3"
"""How the keys are written on screen."""


def unzoom_words(beside: str) -> str:
    """What the zoom key does on a zoomed screen (``beside``: what the zoom hides)."""
    return f"back to {beside}"


def panel_hint(zoomed: bool, beside: str) -> str:
    """The line on the lab panel's border that says how to look closer (``beside``: what a zoom hides)."""
    zoom = f"{ZOOM} {unzoom_words(beside)}" if zoomed else f"{ZOOM} zoom"
    return f"{zoom} · {PAUSE} pause · [ ] step · {REPLAY} replay slowly"


def replay_offer() -> Text:
    """What a result card says under the experiment's result: how to see it again, slowly."""
    text = Text()
    for key, what in (
        (REPLAY, f"replays the experiment slowly (×{REPLAY_SPEED:g})"),
        (PAUSE, "pauses the lab panel; [ ] then step event by event"),
        (ZOOM, "zooms the lab"),
    ):
        text.append(f"{key:>5} ", style="bold")
        text.append(f"{what}\n")
    text.rstrip()
    return text


def marker(travel: TimeTravel, width: int = 80) -> Text:
    """Where the view is: ``⏸ PAUSED · event k of n · 1.20 s · [ ] step · space live``.

    Narrower than ``width``, the keys go on a line of their own (not cut in the middle).
    """
    history: History = travel.history
    at = travel.lab_now
    where = f"event {travel.position:,} of {history.last:,} · {at:.2f} s"
    how = f"[ ] step · {PAUSE} live"
    if travel.mode is Mode.REPLAY and travel.replay is not None:
        state = f"▶ REPLAY ×{travel.replay.speed:g} · {where}"
    elif travel.mode is Mode.PAUSED:
        state = f"⏸ PAUSED · {where}"
    else:
        return Text()
    one_line = f"{state} · {how}"
    text = Text(one_line if len(one_line) <= width else f"{state}\n  {how}")
    wait = travel.shortened_wait
    if wait is not None:
        text.append(f"\n  ⏩ a {wait:.1f} s wait of the lab, sped up", style="italic")
    if history.forgotten:
        text.append(
            f"\n  only the newest {history.limit:,} events are kept: {history.forgotten:,} older ones are gone",
            style="italic",
        )
    return text
