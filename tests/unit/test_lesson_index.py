"""The lesson list is kept between runs, and thrown away as soon as a lesson file changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from celery_tutor.course.index import index_path, lesson_files, read_index, write_index
from celery_tutor.course.lessons import load_course
from celery_tutor.paths import bundled_lessons
from celery_tutor.ui.app import make_app


def copy_course(tmp_path: Path) -> Path:
    folder = tmp_path / "lessons"
    shutil.copytree(bundled_lessons(), folder)
    (folder / "99-broken.yaml").write_text("schema: 1\nid: Not An Id\n")
    return folder


def test_the_index_round_trips_and_keeps_broken_files(tmp_path: Path) -> None:
    folder = copy_course(tmp_path)
    files = lesson_files(folder)
    entries = load_course([folder]).entries()
    index = index_path(tmp_path / "data", folder)
    write_index(index, files, entries)
    assert read_index(index, files) == entries
    broken = [entry for entry in entries if entry.broken]
    assert [Path(entry.path).name for entry in broken] == ["99-broken.yaml"]
    assert "2:5: id: 'Not An Id' is not an id (lowercase letters, digits and dashes)" in broken[0].problems


def test_a_changed_file_invalidates_the_index(tmp_path: Path) -> None:
    folder = copy_course(tmp_path)
    files = lesson_files(folder)
    index = index_path(tmp_path / "data", folder)
    write_index(index, files, load_course([folder]).entries())
    lesson = files[0]
    lesson.write_text(lesson.read_text().replace("\nminutes: ", "\nminutes: 1", 1))  # a new size
    os.utime(lesson, ns=(lesson.stat().st_atime_ns, lesson.stat().st_mtime_ns + 1_000_000))
    assert read_index(index, lesson_files(folder)) is None
    assert read_index(index, files[1:]) is None  # a file removed
    (index).write_text("{broken")
    assert read_index(index, lesson_files(folder)) is None


def test_the_second_start_draws_the_list_without_reading_the_lessons(tmp_path: Path) -> None:
    folder = copy_course(tmp_path)
    first = make_app(folder, tmp_path / "data")
    assert first._course is not None  # no index yet: the lessons were read
    second = make_app(folder, tmp_path / "data")
    assert second._course is None  # drawn from the index
    assert second.entries == first.entries
    assert second.course.lesson("acknowledgement").title == "Acknowledgement"  # read on first use


@pytest.mark.parametrize(
    "content", [bytes(range(256)) * 4, b"[" * 100_000, b'{"entries": [' * 50_000], ids=["binary", "deep", "deep-object"]
)
def test_an_unreadable_index_is_moved_aside_and_the_learner_told(tmp_path: Path, content: bytes) -> None:
    folder = copy_course(tmp_path)
    index = index_path(tmp_path / "data", folder)
    index.parent.mkdir(parents=True)
    index.write_bytes(content)
    notices: list[str] = []
    assert read_index(index, lesson_files(folder), on_broken=notices.append) is None
    [notice] = notices
    [aside] = [p for p in index.parent.iterdir() if p.name.startswith(f"{index.name}.broken-")]
    assert str(aside) in notice and aside.read_bytes() == content
    assert not index.exists()


def test_an_out_of_date_index_is_not_moved_aside(tmp_path: Path) -> None:
    folder = copy_course(tmp_path)
    files = lesson_files(folder)
    index = index_path(tmp_path / "data", folder)
    write_index(index, files, load_course([folder]).entries())
    notices: list[str] = []
    assert read_index(index, files[1:], on_broken=notices.append) is None
    assert notices == [] and index.exists()


def test_the_app_starts_on_an_unreadable_index_and_progress(tmp_path: Path) -> None:
    folder = copy_course(tmp_path)
    data = tmp_path / "data"
    index = index_path(data, folder)
    data.mkdir()
    index.write_bytes(b"[" * 100_000)
    (data / "progress.json").write_bytes(bytes(range(256)))
    app = make_app(folder, data)
    assert len(app.notices) == 2
    assert all("moved to" in notice for notice in app.notices)
    assert app.entries == load_course([folder]).entries()
    assert read_index(index, lesson_files(folder)) == app.entries  # written again, readable


def test_each_lesson_folder_has_its_own_index_and_another_folders_never_matches(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        shutil.copytree(bundled_lessons(), folder)
    assert index_path(tmp_path, one) != index_path(tmp_path, two)
    assert index_path(tmp_path, one) == index_path(tmp_path, tmp_path / "x" / ".." / "one")
    entries = load_course([one]).entries()
    write_index(index_path(tmp_path, two), lesson_files(one), entries)  # as if the two names collided
    assert read_index(index_path(tmp_path, two), lesson_files(two)) is None
