"""Where progress is kept: one JSON file, read and written under a lock, written atomically.

A file that cannot be read is moved aside and the learner told; a save re-reads the file
under the lock and merges (:func:`~.progress_merge.merge`), so two instances sharing a
data directory keep each other's progress.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from celery_tutor.paths import move_aside
from celery_tutor.progress import Progress
from celery_tutor.progress_merge import merge

try:
    import fcntl
except ImportError:  # not POSIX: saves are not locked (two instances may then lose a save)
    fcntl = None  # type: ignore[assignment]


FILE_NAME = "progress.json"
LOCK_NAME = ".progress.json.lock"

MAX_PROGRESS_BYTES = 8 * 1024 * 1024
"""A real progress file is a few kB; a bigger one is not ours, and is not read into memory."""


class Unreadable(Exception):
    """The file is there, but it is not progress this version can read."""


@dataclass(frozen=True)
class LoadResult:
    """The progress read, and what the learner must be told about the file, if anything."""

    progress: Progress
    notice: str | None = None


class ProgressStore:
    """Progress in ``DIR/progress.json``."""

    def __init__(self, folder: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME
        self._now = clock or (lambda: datetime.now(UTC))
        self._base = Progress()
        """This instance's progress as it was when last loaded or saved: what changed since is ours."""

    def load(self) -> LoadResult:
        """Read progress; a missing file is a fresh start, a broken one is moved aside."""
        with self._locked(create=False):
            result = self._load()
        self._base = copy.deepcopy(result.progress)
        return result

    def _load(self) -> LoadResult:
        try:
            progress = self._read()
        except FileNotFoundError:
            return LoadResult(Progress())
        except OSError as exc:
            return LoadResult(Progress(), f"Could not read your progress ({exc}); starting fresh, nothing deleted.")
        except Unreadable as exc:
            aside = move_aside(self.path, self._now())
            where = f" It was moved to {aside}." if aside else ""
            return LoadResult(Progress(), f"Your progress file was unreadable ({exc}), so you start fresh.{where}")
        return LoadResult(progress)

    @contextmanager
    def _locked(self, create: bool = True) -> Iterator[None]:
        """Hold the lock that orders every instance's reads and writes of the file."""
        if fcntl is None or not (create or self.folder.is_dir()):
            yield
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / LOCK_NAME, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file is closed
            yield

    def _read(self) -> Progress:
        """The file's progress; :class:`Unreadable` when it is not a progress file we can use."""
        with self.path.open("rb") as file:
            if os.fstat(file.fileno()).st_size > MAX_PROGRESS_BYTES:
                raise Unreadable(f"larger than {MAX_PROGRESS_BYTES // 2**20} MiB")
            data = file.read(MAX_PROGRESS_BYTES + 1)
        if len(data) > MAX_PROGRESS_BYTES:
            raise Unreadable(f"larger than {MAX_PROGRESS_BYTES // 2**20} MiB")
        try:
            return Progress.from_json(json.loads(data.decode("utf-8")))
        except RecursionError:  # json recurses once per nesting level
            raise Unreadable("nested too deeply") from None
        except (ValueError, TypeError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise Unreadable(str(exc)) from None

    def save(self, progress: Progress) -> Progress:
        """Merge with the file as it is now, and write atomically; returns what was written.

        Under the lock, the file is read again, and what this instance changed since its
        last load or save is applied to it (see :func:`merge`). An unreadable file is moved
        aside first. A crash mid-write leaves the previous file whole.
        """
        with self._locked():
            try:
                on_disk = self._read()
            except FileNotFoundError:
                on_disk = Progress()
            except Unreadable:
                move_aside(self.path, self._now())
                on_disk = Progress()
            merged = merge(self._base, progress, on_disk)
            self._write(merged)
        self._base = copy.deepcopy(progress)
        return merged

    def _write(self, progress: Progress) -> None:
        data = json.dumps(progress.to_json(), indent=2, sort_keys=True)
        handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".progress-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
