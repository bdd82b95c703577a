"""Merging two instances' progress: what this one changed, applied to what is on disk now.

Two app instances may share one progress file; a save re-reads the file under a lock
and merges per lesson (see :mod:`.progress_store`), so neither erases the other's work.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime

from celery_tutor.progress import LessonProgress, Progress, QuestionProgress, StepProgress


def merge(base: Progress, mine: Progress, theirs: Progress) -> Progress:
    """``theirs`` (the file now) with the changes from ``base`` to ``mine`` applied.

        A lesson this instance did not change is taken from the file (another instance may
        have moved on, or reset it). A lesson it changed is the union of both: a done step stays
        done, the most hints count, the first answer's verdict is kept, and ``current`` is
        this instance's (it is the later one: it is being saved now), and so is a code step's code
    if this instance changed it (else the file's). A question only one side
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
    before_steps = base.steps if base is not None else {}
    for step_id in theirs.steps.keys() | mine.steps.keys():
        a, b = theirs.steps.get(step_id), mine.steps.get(step_id)
        if a is None or b is None:
            only = a or b
            assert only is not None  # the step id came from one of them
            steps[step_id] = replace(only)
            continue
        old = before_steps.get(step_id)
        steps[step_id] = StepProgress(
            done=a.done or b.done,
            correct=a.correct if a.correct is not None else b.correct,
            hints=max(a.hints, b.hints),
            solution_used=a.solution_used or b.solution_used,
            code=b.code if b.code != (old.code if old is not None else None) else a.code,
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
