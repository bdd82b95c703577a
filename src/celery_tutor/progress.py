"""The learner's progress: which steps are done, kept in one JSON file, written atomically.

Progress is keyed by lesson id and step id, which are stable, so it survives restarts
and lesson edits (a step that disappears is simply forgotten). A file that cannot be
read is moved aside, the learner is told, and nothing else is lost.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery_tutor.paths import move_aside

FORMAT = 1
FILE_NAME = "progress.json"
MAX_PROGRESS_BYTES = 8 * 1024 * 1024
"""A real progress file is a few kB; a bigger one is not ours, and is not read into memory."""


@dataclass
class StepProgress:
    """What the learner did in one step."""

    done: bool = False
    correct: bool | None = None
    """For predict and quiz steps: was the (first) answer right?"""
    hints: int = 0
    solution_used: bool = False


@dataclass
class LessonProgress:
    """One lesson's steps, and where the learner is."""

    steps: dict[str, StepProgress] = field(default_factory=dict)
    current: str | None = None

    def status(self, step_ids: list[str]) -> str:
        """done, started or new, against the lesson's steps as they are now."""
        done = sum(1 for step_id in step_ids if self.steps.get(step_id, StepProgress()).done)
        if step_ids and done == len(step_ids):
            return "done"
        return "started" if done or self.current else "new"


@dataclass
class Progress:
    """Everything the learner has done."""

    lessons: dict[str, LessonProgress] = field(default_factory=dict)
    last_lesson: str | None = None

    def lesson(self, lesson_id: str) -> LessonProgress:
        """A lesson's progress, to change (created empty when first asked for)."""
        return self.lessons.setdefault(lesson_id, LessonProgress())

    def peek(self, lesson_id: str) -> LessonProgress:
        """A lesson's progress, to read (nothing is created)."""
        return self.lessons.get(lesson_id) or LessonProgress()

    def reset(self, lesson_id: str | None = None) -> None:
        """Forget one lesson, or everything."""
        if lesson_id is None:
            self.lessons.clear()
            self.last_lesson = None
        else:
            self.lessons.pop(lesson_id, None)
            if self.last_lesson == lesson_id:
                self.last_lesson = None

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {
            "format": FORMAT,
            "last_lesson": self.last_lesson,
            "lessons": {
                lesson_id: {
                    "current": lesson.current,
                    "steps": {step_id: vars(step) for step_id, step in lesson.steps.items()},
                }
                for lesson_id, lesson in self.lessons.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Progress:
        """Read the file's content (raises ValueError when it is not progress)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("lessons"), dict):
            raise ValueError("not a celery-tutor progress file")
        progress = cls(last_lesson=_text_or_none(data.get("last_lesson")))
        for lesson_id, lesson in data["lessons"].items():
            if not isinstance(lesson, dict) or not isinstance(lesson.get("steps", {}), dict):
                raise ValueError(f"lesson {_short(lesson_id)} is not readable")
            steps = {}
            for step_id, step in lesson.get("steps", {}).items():
                if not isinstance(step, dict):
                    raise ValueError(f"step {_short(step_id)} is not readable")
                steps[step_id] = StepProgress(
                    done=step.get("done") is True,
                    correct=step.get("correct") if isinstance(step.get("correct"), bool) else None,
                    hints=step.get("hints") if isinstance(step.get("hints"), int) else 0,
                    solution_used=step.get("solution_used") is True,
                )
            progress.lessons[str(lesson_id)] = LessonProgress(steps, _text_or_none(lesson.get("current")))
        return progress


def _short(value: object) -> str:
    from celery_tutor.yaml_source import short  # only when a file is broken: PyYAML stays out of start-up

    return short(value)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


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

    def load(self) -> LoadResult:
        """Read progress; a missing file is a fresh start, a broken one is moved aside."""
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

    def save(self, progress: Progress) -> None:
        """Write atomically: a crash mid-write leaves the previous file whole."""
        self.folder.mkdir(parents=True, exist_ok=True)
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
