"""Progress survives restarts and edits; a broken file is moved aside and nothing else is lost."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from celery_tutor.progress import MAX_PROGRESS_BYTES, Progress, ProgressStore, StepProgress


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
    aside = tmp_path / "progress.json.broken-20261124T093000.000000"
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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".progress.json.lock", "progress.json"]
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


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 4, b"[" * 100_000, b'{"format": 1, "lessons": ' * 50_000, b"\xff\xfe{}"],
    ids=["binary", "deep-list", "deep-object", "bad-utf8"],
)
def test_any_unreadable_file_is_moved_aside_whole(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "progress.json").write_bytes(content)
    loaded = ProgressStore(tmp_path, clock=fixed_clock).load()
    assert loaded.progress == Progress()
    assert loaded.notice is not None and "moved to" in loaded.notice and "\n" not in loaded.notice
    [aside] = [p for p in tmp_path.iterdir() if p.name.startswith("progress.json.broken-")]
    assert aside.read_bytes() == content
    assert not (tmp_path / "progress.json").exists()


def test_a_progress_file_over_the_size_limit_is_moved_aside_unread(tmp_path: Path) -> None:
    with (tmp_path / "progress.json").open("w") as out:
        out.write('{"format": 1, "lessons": {}, "pad": "')
        out.write("x" * MAX_PROGRESS_BYTES)
        out.write('"}')
    loaded = ProgressStore(tmp_path, clock=fixed_clock).load()
    assert loaded.progress == Progress()
    assert loaded.notice is not None and "MiB" in loaded.notice and "moved to" in loaded.notice


def test_files_moved_aside_in_the_same_instant_never_overwrite_each_other(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path, clock=fixed_clock)  # the clock never moves
    for n in range(3):
        (tmp_path / "progress.json").write_text(f"broken {n}")
        assert store.load().notice is not None
    asides = sorted(p.read_text() for p in tmp_path.iterdir() if p.name.startswith("progress.json.broken-"))
    assert asides == ["broken 0", "broken 1", "broken 2"]


def test_a_long_lesson_id_in_a_broken_file_is_cut_in_the_notice(tmp_path: Path) -> None:
    (tmp_path / "progress.json").write_text(json.dumps({"format": 1, "lessons": {"x" * 100_000: 5}}))
    loaded = ProgressStore(tmp_path, clock=fixed_clock).load()
    assert loaded.notice is not None and len(loaded.notice) < 400


def test_two_instances_saving_alternately_keep_each_others_progress(tmp_path: Path) -> None:
    first, second = ProgressStore(tmp_path), ProgressStore(tmp_path)
    a, b = first.load().progress, second.load().progress

    a.lesson("acks").steps["intro"] = StepProgress(done=True)
    a.lesson("acks").current = "intro"
    a.last_lesson = "acks"
    first.save(a)
    b.lesson("retry").steps["bind"] = StepProgress(done=True, hints=1)
    b.lesson("acks").steps["quiz"] = StepProgress(done=True, correct=False, hints=2)
    b.lesson("acks").current = "quiz"
    b.last_lesson = "retry"
    second.save(b)
    a.lesson("acks").steps["predict"] = StepProgress(done=True, correct=True)
    a.lesson("acks").steps["quiz"] = StepProgress(done=False, hints=1)
    a.lesson("acks").current = "predict"
    first.save(a)

    merged = ProgressStore(tmp_path).load().progress
    acks = merged.lessons["acks"]
    assert acks.steps == {
        "intro": StepProgress(done=True),
        "predict": StepProgress(done=True, correct=True),
        "quiz": StepProgress(done=True, correct=False, hints=2),  # done stays done, hints = max
    }
    assert acks.current == "predict"  # the later one
    assert merged.lessons["retry"].steps == {"bind": StepProgress(done=True, hints=1)}
    assert merged.last_lesson == "retry"  # the first instance did not change it since it saved


def test_a_reset_in_one_instance_is_not_undone_by_the_other(tmp_path: Path) -> None:
    first, second = ProgressStore(tmp_path), ProgressStore(tmp_path)
    a = first.load().progress
    a.lesson("acks").steps["intro"] = StepProgress(done=True)
    a.lesson("retry").steps["bind"] = StepProgress(done=True)
    first.save(a)
    b = second.load().progress
    b.reset("acks")
    second.save(b)
    a.lesson("retry").steps["backoff"] = StepProgress(done=True)  # the first instance goes on elsewhere
    first.save(a)
    merged = ProgressStore(tmp_path).load().progress
    assert "acks" not in merged.lessons
    assert set(merged.lessons["retry"].steps) == {"bind", "backoff"}
    # ...and a reset here, then new progress here, is not merged with the old progress on disk
    a.reset("retry")
    a.lesson("retry").steps["bind"] = StepProgress(done=False, hints=1)
    first.save(a)
    assert ProgressStore(tmp_path).load().progress.lessons["retry"].steps == {"bind": StepProgress(hints=1)}


def test_saves_from_many_threads_lose_nothing(tmp_path: Path) -> None:
    stores = [ProgressStore(tmp_path) for _ in range(4)]
    progresses = [store.load().progress for store in stores]

    def work(number: int) -> None:
        for step in range(10):
            progresses[number].lesson(f"lesson-{number}").steps[f"step-{step}"] = StepProgress(done=True)
            stores[number].save(copy.deepcopy(progresses[number]))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = ProgressStore(tmp_path).load().progress
    assert {lesson: len(p.steps) for lesson, p in merged.lessons.items()} == {f"lesson-{n}": 10 for n in range(4)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".progress.json.lock", "progress.json"]
