"""A picture of a code step at 80×24: the editor with the starter, its keys, the goal not yet checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_snapshots import ScriptedSession
from textual.pilot import Pilot
from ui_helpers import open_at

from celery_tutor.course.lessons import load_course
from celery_tutor.progress_store import ProgressStore
from celery_tutor.ui.app import TutorApp
from celery_tutor.ui.screens.lab_screen import LabScreen

SNAP = pytest.importorskip("pytest_textual_snapshot")
LESSONS = Path(__file__).parents[1] / "data" / "code-lessons"


def test_a_code_step_at_80x24(snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LabScreen, "session_class", ScriptedSession)
    app = TutorApp.for_course(load_course([LESSONS]), ProgressStore(tmp_path / "data"))

    async def open_the_code_step(pilot: Pilot[int]) -> None:
        await open_at(pilot, "write-a-retry", "write-it")

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_the_code_step)
