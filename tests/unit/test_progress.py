"""Progress survives restarts and edits; a broken file is moved aside and nothing else is lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from celery_tutor.progress import Progress, ProgressStore, StepProgress


def fixed_clock() -> datetime:
    return datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_round_trip(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path / "data")
    progress = Progress(last_lesson="acks")
    lesson = progress.lesson("acks")
    lesson.current = "predict"
    lesson.steps["intro"] = StepProgress(done=True)
    lesson.steps["predict"] = StepProgress(done=True, correct=False, hints=2, solution_used=True)
    store.save(progress)
    loaded = store.load()
    assert loaded.notice is None
    assert loaded.progress == progress


def test_a_missing_file_is_a_fresh_start(tmp_path: Path) -> None:
    loaded = ProgressStore(tmp_path).load()
    assert loaded.progress == Progress() and loaded.notice is None


def test_a_corrupt_file_is_moved_aside_and_the_learner_told(tmp_path: Path) -> None:
    (tmp_path / "progress.json").write_text("{not json")
    store = ProgressStore(tmp_path, clock=fixed_clock)
    loaded = store.load()
    assert loaded.progress == Progress()
    aside = tmp_path / "progress.json.broken-20261124T093000"
    assert loaded.notice is not None and str(aside) in loaded.notice and "unreadable" in loaded.notice
    assert aside.read_text() == "{not json"
    assert not (tmp_path / "progress.json").exists()
    store.save(Progress(last_lesson="x"))
    assert aside.read_text() == "{not json"  # the broken copy is kept


def test_json_that_is_not_progress_is_also_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "progress.json").write_text(json.dumps({"format": 1, "lessons": {"a": {"steps": {"s": 7}}}}))
    loaded = ProgressStore(tmp_path, clock=fixed_clock).load()
    assert loaded.notice is not None and "step 's' is not readable" in loaded.notice


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path)
    for n in range(5):
        store.save(Progress(last_lesson=f"lesson-{n}"))
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]
    assert store.load().progress.last_lesson == "lesson-4"


def test_status_follows_the_lesson_as_it_is_now() -> None:
    progress = Progress()
    lesson = progress.lesson("acks")
    assert lesson.status(["a", "b"]) == "new"
    lesson.steps["a"] = StepProgress(done=True)
    lesson.steps["gone"] = StepProgress(done=True)  # a step the lesson no longer has
    assert lesson.status(["a", "b"]) == "started"
    lesson.steps["b"] = StepProgress(done=True)
    assert lesson.status(["a", "b"]) == "done"
    progress.last_lesson = "acks"
    progress.reset("acks")
    assert progress.lessons == {} and progress.last_lesson is None
