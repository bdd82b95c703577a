"""The learner's progress: which steps are done, kept in one JSON file, written atomically.

Progress is keyed by lesson id, step id and question id, which are stable, so it survives
restarts and lesson edits (a step that disappears is simply forgotten). A file that cannot
be read is moved aside, the learner is told, and nothing else is lost.

Each quiz question keeps its first verdict (the quiz score) and a Leitner box (the
review): a question missed anywhere goes to box 1, due at the next review; a right answer
in a review moves it up a box, to come back later (:data:`BOX_WAITS`); a wrong one puts it
back in box 1. Times come from a clock the caller passes, never from here.

Two instances of the app may share the file (two terminals). A save therefore re-reads
the file under a lock and merges: what this instance changed since it last loaded or
saved is applied to what is on disk now, so neither erases the other's progress.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery_tutor.paths import move_aside

try:
    import fcntl
except ImportError:  # not POSIX: saves are not locked (two instances may then lose a save)
    fcntl = None  # type: ignore[assignment]

FORMAT = 2
"""The file's format. 2 added each question's verdict and Leitner box, and the time spent in a lesson."""
READABLE_FORMATS = (1, FORMAT)
"""Formats this version reads: what an older one lacks starts empty."""
FILE_NAME = "progress.json"
LOCK_NAME = ".progress.json.lock"
MAX_HINTS = 1_000
"""More hints than any step has; a bigger count in the file is nonsense, read as none."""
MAX_PROGRESS_BYTES = 8 * 1024 * 1024
"""A real progress file is a few kB; a bigger one is not ours, and is not read into memory."""
MAX_LESSON_SECONDS = 1_000 * 3600.0
"""More time than anyone spends in one lesson; a bigger (or negative) value in the file is read as none."""
BOX_WAITS: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(days=7),
    timedelta(days=14),
)
"""How long a question waits in Leitner box 1, 2, … before it is due again: box 1 at the next review."""
LAST_BOX = len(BOX_WAITS)
"""A right answer in this box takes the question out of the review: it is learned."""


Clock = Callable[[], datetime]
"""What tells the time to whatever keeps progress (the app's clock; a fixed one in tests)."""


def wall_clock() -> datetime:
    """The time now, in UTC: the app's clock."""
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """A datetime that can be compared with the file's (a naive one is taken as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class QuestionProgress:
    """One quiz question: its first verdict (the score) and its Leitner box (the review)."""

    correct: bool | None = None
    """Was the first answer right? (None: not answered yet.) Later answers do not change it."""
    box: int = 0
    """Its Leitner box: 0 is none (never missed, or learned), else 1 to :data:`LAST_BOX`."""
    due: datetime | None = None
    """When it comes back to the review (in a box)."""
    changed: datetime | None = None
    """When its box last changed: of two app instances' changes, the later one is kept."""

    @property
    def answered(self) -> bool:
        """Has the learner answered it (rightly or not)?"""
        return self.correct is not None

    def answer(self, correct: bool, now: datetime) -> None:
        """An answer in a lesson's quiz: the first verdict is kept; a miss puts it in box 1."""
        if self.correct is None:
            self.correct = correct
        if not correct:
            self._move(1, now)

    def review(self, correct: bool, now: datetime) -> None:
        """An answer in a review: right moves it up a box (past the last, out), wrong back to box 1."""
        if not correct:
            self._move(1, now)
        elif self.box >= LAST_BOX:
            self._move(0, now)
        elif self.box > 0:
            self._move(self.box + 1, now)

    def _move(self, box: int, now: datetime) -> None:
        now = _aware(now)
        self.box = box
        self.due = now + BOX_WAITS[box - 1] if box else None
        self.changed = now

    def is_due(self, now: datetime) -> bool:
        """Should the review ask it at ``now``?"""
        return self.box > 0 and (self.due is None or self.due <= _aware(now))


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
    questions: dict[str, QuestionProgress] = field(default_factory=dict)
    """Each quiz question answered or in the review, by question id."""
    seconds: float = 0.0
    """Time spent in the lesson (idle stretches count a few minutes at most)."""

    def question(self, question_id: str) -> QuestionProgress:
        """A question's progress, to change (created when first asked for)."""
        return self.questions.setdefault(question_id, QuestionProgress())

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

    def due(self, questions: Iterable[tuple[str, str]], now: datetime) -> list[tuple[str, str]]:
        """Of these ``(lesson id, question id)`` pairs, the ones the review asks at ``now``, in the order given."""
        return [pair for pair in questions if self._question(*pair).is_due(now)]

    def in_review(self, questions: Iterable[tuple[str, str]]) -> list[QuestionProgress]:
        """Of these ``(lesson id, question id)`` pairs, the questions in a Leitner box, due or not."""
        found = (self._question(*pair) for pair in questions)
        return [question for question in found if question.box > 0]

    def _question(self, lesson_id: str, question_id: str) -> QuestionProgress:
        return self.peek(lesson_id).questions.get(question_id) or QuestionProgress()

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
                    "questions": {
                        question_id: {
                            "correct": question.correct,
                            "box": question.box,
                            "due": _time_text(question.due),
                            "changed": _time_text(question.changed),
                        }
                        for question_id, question in lesson.questions.items()
                    },
                    "seconds": lesson.seconds,
                }
                for lesson_id, lesson in self.lessons.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> Progress:
        """Read the file's content (raises ValueError when it is not progress)."""
        if (
            not isinstance(data, dict)
            or data.get("format") not in READABLE_FORMATS
            or not isinstance(data.get("lessons"), dict)
        ):
            raise ValueError("not a celery-tutor progress file")
        progress = cls(last_lesson=_text_or_none(data.get("last_lesson")))
        for lesson_id, lesson in data["lessons"].items():
            if not isinstance(lesson, dict) or not isinstance(lesson.get("steps", {}), dict):
                raise ValueError(f"lesson {_short(lesson_id)} is not readable")
            steps = {}
            for step_id, step in lesson.get("steps", {}).items():
                if not isinstance(step, dict):
                    raise ValueError(f"step {_short(step_id)} is not readable")
                correct, hints = step.get("correct"), step.get("hints")
                steps[step_id] = StepProgress(
                    done=step.get("done") is True,
                    correct=correct if isinstance(correct, bool) else None,
                    hints=hints if type(hints) is int and 0 <= hints <= MAX_HINTS else 0,
                    solution_used=step.get("solution_used") is True,
                )
            questions = lesson.get("questions", {})
            if not isinstance(questions, dict):
                raise ValueError(f"lesson {_short(lesson_id)} is not readable")
            progress.lessons[str(lesson_id)] = LessonProgress(
                steps,
                _text_or_none(lesson.get("current")),
                {str(question_id): _question(question_id, question) for question_id, question in questions.items()},
                _seconds(lesson.get("seconds")),
            )
        return progress


def _question(question_id: object, data: Any) -> QuestionProgress:
    """One question's progress; a value that makes no sense is read as none, as for steps."""
    if not isinstance(data, dict):
        raise ValueError(f"question {_short(question_id)} is not readable")
    correct, box = data.get("correct"), data.get("box")
    box = box if type(box) is int and 0 <= box <= LAST_BOX else 0
    return QuestionProgress(
        correct=correct if isinstance(correct, bool) else None,
        box=box,
        due=_time(data.get("due")) if box else None,
        changed=_time(data.get("changed")),
    )


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) and 0 <= value <= MAX_LESSON_SECONDS else 0.0


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time from the file (None when it is not one; a due time of None means due now)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _time_text(moment: datetime | None) -> str | None:
    return _aware(moment).isoformat() if moment is not None else None


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


def merge(base: Progress, mine: Progress, theirs: Progress) -> Progress:
    """``theirs`` (the file now) with the changes from ``base`` to ``mine`` applied.

    A lesson this instance did not change is taken from the file (another instance may
    have moved on, or reset it). A lesson it changed is the union of both: a done step stays
    done, the most hints count, the first answer's verdict is kept, and ``current`` is
    this instance's (it is the later one: it is being saved now). A question only one side
    changed is that side's; changed on both, its box is the later change's. The time spent
    is the file's plus what this instance added. A lesson this instance reset (gone, or
    with less than it had) replaces the file's.
    """
    merged = Progress(lessons=copy.deepcopy(theirs.lessons), last_lesson=theirs.last_lesson)
    if mine.last_lesson != base.last_lesson:
        merged.last_lesson = mine.last_lesson
    for lesson_id in base.lessons.keys() | mine.lessons.keys():
        before, now = base.lessons.get(lesson_id), mine.lessons.get(lesson_id)
        if before == now:
            continue
        if now is None:
            merged.lessons.pop(lesson_id, None)
        elif _went_back(before, now) or lesson_id not in theirs.lessons:
            merged.lessons[lesson_id] = copy.deepcopy(now)
        else:
            merged.lessons[lesson_id] = _union(before, theirs.lessons[lesson_id], now)
    return merged


def _went_back(before: LessonProgress | None, now: LessonProgress) -> bool:
    """Did the lesson lose progress here (a reset, maybe followed by new steps)?"""
    if before is None:
        return False
    for step_id, step in before.steps.items():
        later = now.steps.get(step_id)
        if later is None or (step.done and not later.done) or later.hints < step.hints:
            return True
    return bool(before.questions.keys() - now.questions.keys()) or now.seconds < before.seconds


def _union(base: LessonProgress | None, theirs: LessonProgress, mine: LessonProgress) -> LessonProgress:
    steps: dict[str, StepProgress] = {}
    for step_id in theirs.steps.keys() | mine.steps.keys():
        a, b = theirs.steps.get(step_id), mine.steps.get(step_id)
        if a is None or b is None:
            only = a or b
            assert only is not None  # the step id came from one of them
            steps[step_id] = replace(only)
            continue
        steps[step_id] = StepProgress(
            done=a.done or b.done,
            correct=a.correct if a.correct is not None else b.correct,
            hints=max(a.hints, b.hints),
            solution_used=a.solution_used or b.solution_used,
        )
    before = base.questions if base is not None else {}
    questions: dict[str, QuestionProgress] = {}
    for question_id in theirs.questions.keys() | mine.questions.keys():
        ours, on_disk = mine.questions.get(question_id), theirs.questions.get(question_id)
        questions[question_id] = replace(_later(before.get(question_id), on_disk, ours))
    added = mine.seconds - (base.seconds if base is not None else 0.0)
    return LessonProgress(
        dict(sorted(steps.items())),
        mine.current or theirs.current,
        dict(sorted(questions.items())),
        theirs.seconds + max(0.0, added),
    )


def _later(
    base: QuestionProgress | None, theirs: QuestionProgress | None, mine: QuestionProgress | None
) -> QuestionProgress:
    """One question from both sides: the side that changed it; both did, the later box and the first verdict."""
    if mine is None:
        assert theirs is not None  # the question id came from one of them
        return theirs
    if theirs is not None and mine == base:
        return theirs
    if theirs is None or theirs == base:
        return mine
    never = datetime.min.replace(tzinfo=UTC)
    later = mine if (mine.changed or never) > (theirs.changed or never) else theirs
    first = theirs.correct if theirs.correct is not None else mine.correct
    return replace(later, correct=first)
