"""What the lesson list needs to know, kept between runs so the app opens at once.

Reading and checking every lesson takes a moment (YAML, validation, the lab's
vocabulary). The lesson list needs only titles, summaries, step ids and problems, so
after a full load they are written to a small JSON file next to the progress, keyed by
each lesson file's size and modification time. On the next start the list is drawn
from that file, and the lessons themselves are read when first needed. This module
imports nothing but the standard library (and ``paths``).
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from celery_tutor import __version__
from celery_tutor.paths import move_aside

INDEX_FORMAT = 2
"""2 added each lesson's question ids (the quiz score and the review count them)."""
MAX_INDEX_BYTES = 8 * 1024 * 1024
"""An index is a few kB per lesson; a bigger file is not one, and is not read into memory."""


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
    question_ids: tuple[str, ...] = ()
    """The ids of the lesson's quiz questions, in order."""

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
    """Where the index of one lesson folder is kept.

    The name needs only to tell folders apart, and a checksum does (``zlib`` is loaded at
    start anyway; ``hashlib`` would load OpenSSL). Two folders that share a name would only
    cost a re-read: an index lists the files it describes, and other files do not match it.
    """
    return data_dir / f"lesson-index-{zlib.crc32(str(lessons.resolve()).encode()):08x}.json"


def read_index(
    path: Path, files: list[Path], on_broken: Callable[[str], None] | None = None
) -> list[LessonEntry] | None:
    """The entries, if the index matches the files exactly (else None: load for real).

    An index of other files or another version is simply out of date. One that cannot be
    read at all (not JSON, not an index, nested too deeply) is moved aside and
    ``on_broken`` is told, so the learner hears of it; the next full load writes a new one.
    """
    try:
        with path.open("rb") as file:
            data = file.read(MAX_INDEX_BYTES + 1)
    except OSError:
        return None
    try:
        if len(data) > MAX_INDEX_BYTES:
            raise ValueError(f"larger than {MAX_INDEX_BYTES // 2**20} MiB")
        index = json.loads(data.decode("utf-8"))
        if not isinstance(index, dict):
            raise ValueError("not an index")
        if index.get("format") != INDEX_FORMAT or index.get("version") != __version__:
            return None
        if index.get("files") != _stamp(files):
            return None
        return [
            LessonEntry(
                path=str(e["path"]),
                id=str(e["id"]),
                title=str(e["title"]),
                summary=str(e["summary"]),
                minutes=int(e["minutes"]),
                concepts=tuple(map(str, e["concepts"])),
                step_ids=tuple(map(str, e["step_ids"])),
                problems=tuple(map(str, e["problems"])),
                question_ids=tuple(map(str, e["question_ids"])),
            )
            for e in index["entries"]
        ]
    except OSError:  # a lesson file vanished while its stamp was taken
        return None
    except (RecursionError, ValueError, KeyError, TypeError, AttributeError) as exc:
        aside = move_aside(path)
        if on_broken is not None:
            why = "nested too deeply" if isinstance(exc, RecursionError) else type(exc).__name__
            where = f"; it was moved to {aside}" if aside else ""
            on_broken(f"The saved lesson list was unreadable ({why}), so it was rebuilt{where}.")
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
