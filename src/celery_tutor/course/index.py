"""What the lesson list needs to know, kept between runs so the app opens at once.

Reading and checking every lesson takes a moment (YAML, validation, the lab's
vocabulary). The lesson list needs only titles, summaries, step ids and problems, so
after a full load they are written to a small JSON file next to the progress, keyed by
each lesson file's size and modification time. On the next start the list is drawn
from that file, and the lessons themselves are read when first needed. This module
imports nothing but the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from celery_tutor import __version__

INDEX_FORMAT = 1


@dataclass(frozen=True)
class LessonEntry:
    """One lesson file as the lesson list shows it."""

    path: str
    id: str
    title: str
    summary: str
    minutes: int
    concepts: tuple[str, ...]
    step_ids: tuple[str, ...]
    problems: tuple[str, ...] = ()
    """``line:col: message`` for a file that cannot be used (then ``id`` is empty)."""

    @property
    def broken(self) -> bool:
        """The file has problems and cannot be opened."""
        return bool(self.problems)


def lesson_files(folder: Path) -> list[Path]:
    """The lesson files of a folder, in course order (by name)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _stamp(files: list[Path]) -> list[list[Any]]:
    stamps = []
    for file in files:
        stat = file.stat()
        stamps.append([str(file), stat.st_size, stat.st_mtime_ns])
    return stamps


def index_path(data_dir: Path, lessons: Path) -> Path:
    """Where the index of one lesson folder is kept."""
    digest = hashlib.sha256(str(lessons.resolve()).encode()).hexdigest()[:12]
    return data_dir / f"lesson-index-{digest}.json"


def read_index(path: Path, files: list[Path]) -> list[LessonEntry] | None:
    """The entries, if the index matches the files exactly (else None: load for real)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != INDEX_FORMAT or data.get("version") != __version__:
            return None
        if data.get("files") != _stamp(files):
            return None
        return [
            LessonEntry(
                path=e["path"],
                id=e["id"],
                title=e["title"],
                summary=e["summary"],
                minutes=int(e["minutes"]),
                concepts=tuple(e["concepts"]),
                step_ids=tuple(e["step_ids"]),
                problems=tuple(e["problems"]),
            )
            for e in data["entries"]
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_index(path: Path, files: list[Path], entries: list[LessonEntry]) -> None:
    """Keep the entries for the next start (atomically; a failure only costs speed)."""
    data = {
        "format": INDEX_FORMAT,
        "version": __version__,
        "files": _stamp(files),
        "entries": [asdict(entry) for entry in entries],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".lesson-index-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temp, path)
    except OSError:
        pass
