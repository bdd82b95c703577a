"""The course as a whole: every lesson file of a folder, in order, broken ones included."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celery_tutor.course.index import LessonEntry, lesson_files
from celery_tutor.course.loader import LessonError, load_lesson
from celery_tutor.course.model import Lesson, QuizStep
from celery_tutor.yaml_source import Pos, Problem


@dataclass(frozen=True)
class BrokenLesson:
    """A lesson file that could not be used, with why."""

    path: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Course:
    """The lessons of a folder, ordered by file name; broken files are kept, not hidden."""

    lessons: tuple[Lesson, ...]
    broken: tuple[BrokenLesson, ...]

    def lesson(self, lesson_id: str) -> Lesson:
        """A lesson by id."""
        for lesson in self.lessons:
            if lesson.id == lesson_id:
                return lesson
        raise KeyError(lesson_id)

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every problem of every broken file."""
        return tuple(p for broken in self.broken for p in broken.problems)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """What ``check`` reports about good lessons without refusing them (a pace off the rule)."""
        return tuple(w for lesson in self.lessons for w in lesson.warnings)

    def entries(self) -> list[LessonEntry]:
        """The lesson list: every file, good or broken, in course order."""
        entries = [
            LessonEntry(
                path=lesson.path,
                id=lesson.id,
                title=lesson.title,
                summary=lesson.summary,
                minutes=lesson.minutes,
                concepts=lesson.concepts,
                step_ids=tuple(step.id for step in lesson.steps),
                question_ids=tuple(q.id for step in lesson.steps if isinstance(step, QuizStep) for q in step.questions),
            )
            for lesson in self.lessons
        ]
        entries += [
            LessonEntry(
                path=broken.path,
                id="",
                title=Path(broken.path).name,
                summary="",
                minutes=0,
                concepts=(),
                step_ids=(),
                problems=tuple(f"{p.pos.line}:{p.pos.col}: {p.message}" for p in broken.problems),
            )
            for broken in self.broken
        ]
        return sorted(entries, key=lambda entry: entry.path)


def load_course(paths: list[Path]) -> Course:
    """Load lesson files and folders; lesson ids must be unique across them."""
    files: list[Path] = []
    for path in paths:
        files.extend(lesson_files(path) if path.is_dir() else [path])
    lessons: list[Lesson] = []
    broken: list[BrokenLesson] = []
    seen: dict[str, str] = {}
    for file in files:
        try:
            lesson = load_lesson(file)
        except LessonError as exc:
            broken.append(BrokenLesson(str(file), tuple(exc.problems)))
            continue
        if lesson.id in seen:
            message = f"id: {lesson.id!r} is already the id of {seen[lesson.id]}"
            broken.append(BrokenLesson(str(file), (Problem(str(file), _id_pos(file), message),)))
            continue
        seen[lesson.id] = str(file)
        lessons.append(lesson)
    return Course(tuple(lessons), tuple(broken))


def _id_pos(file: Path) -> Pos:
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("id:"):
            return Pos(number, 1)
    return Pos(1, 1)
