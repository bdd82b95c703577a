"""The learner's progress: which steps are done, what each question's verdict and box are.

Progress is keyed by lesson id, step id and question id, which are stable, so it survives
restarts and lesson edits (a step that disappears is simply forgotten). A file that cannot
be read is moved aside, the learner is told, and nothing else is lost.

Each quiz question keeps its first verdict (the quiz score) and a Leitner box (the
review): a question missed anywhere goes to box 1, due at the next review; a right answer
in a review moves it up a box, to come back later (:data:`BOX_WAITS`); a wrong one puts it
back in box 1. Times come from a clock the caller passes, never from here.

The records and their JSON live here; :mod:`.progress_store` keeps them in one file,
written atomically under a lock, and :mod:`.progress_merge` merges two instances' saves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from celery_tutor.lab.limits import MAX_CODE_CHARS

FORMAT = 2
"""The file's format. 2 added each question's verdict and Leitner box, and the time spent in a lesson."""
READABLE_FORMATS = (1, FORMAT)
"""Formats this version reads: what an older one lacks starts empty."""
MAX_HINTS = 1_000
"""More hints than any step has; a bigger count in the file is nonsense, read as none."""
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
    code: str | None = None
    """A code step: the learner's code as last kept (None: the starter)."""


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
                    code=_code(step.get("code")),
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


def _code(value: Any) -> str | None:
    """A code step's kept code; anything but text within the editor's limit is read as none (the starter)."""
    return value if isinstance(value, str) and len(value) <= MAX_CODE_CHARS else None


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
