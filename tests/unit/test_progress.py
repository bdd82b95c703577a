"""Progress survives restarts and edits; a broken file is moved aside and nothing else is lost."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from celery_tutor.lab.limits import MAX_CODE_CHARS
from celery_tutor.progress import (
    BOX_WAITS,
    FORMAT,
    LAST_BOX,
    Progress,
    QuestionProgress,
    StepProgress,
)
from celery_tutor.progress_store import MAX_PROGRESS_BYTES, ProgressStore


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


# --- format 2: each question's verdict and Leitner box, and the time spent -------------------

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_questions_and_time_survive_a_round_trip(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path)
    progress = Progress()
    lesson = progress.lesson("acks")
    lesson.question("when").answer(False, T0)
    lesson.question("order").answer(True, T0)
    lesson.seconds = 312.5
    store.save(progress)
    assert json.loads((tmp_path / "progress.json").read_text())["format"] == FORMAT == 2
    loaded = store.load().progress
    assert loaded == progress
    assert loaded.lessons["acks"].questions["when"] == QuestionProgress(correct=False, box=1, due=T0, changed=T0)


def test_a_format_1_file_still_loads_and_is_saved_as_format_2(tmp_path: Path) -> None:
    old = {
        "format": 1,
        "last_lesson": "acks",
        "lessons": {
            "acks": {
                "current": "quiz",
                "steps": {"intro": {"done": True}, "quiz": {"done": True, "correct": False, "hints": 0}},
            }
        },
    }
    (tmp_path / "progress.json").write_text(json.dumps(old))
    store = ProgressStore(tmp_path)
    loaded = store.load()
    assert loaded.notice is None
    acks = loaded.progress.lessons["acks"]
    assert acks.steps["quiz"] == StepProgress(done=True, correct=False)
    assert acks.current == "quiz" and acks.questions == {} and acks.seconds == 0.0
    assert acks.status(["intro", "quiz"]) == "done"  # a lesson done before stays done
    store.save(loaded.progress)
    saved = json.loads((tmp_path / "progress.json").read_text())
    assert saved["format"] == 2 and saved["lessons"]["acks"]["steps"]["intro"]["done"] is True


@pytest.mark.parametrize(
    ("question", "read_as"),
    [
        ({"correct": "yes", "box": 9, "due": "soon"}, QuestionProgress()),
        ({"correct": True, "box": True, "due": None}, QuestionProgress(correct=True)),
        ({"box": -1}, QuestionProgress()),
        ({"box": 2, "due": "not a time", "changed": 5}, QuestionProgress(box=2)),
        ({"box": 2, "due": "2026-11-25T09:30:00"}, QuestionProgress(box=2, due=T0 + timedelta(days=1))),
        ({"box": 0, "due": "2026-11-25T09:30:00+00:00"}, QuestionProgress()),
        ({"box": 1, "due": "x" * 10_000}, QuestionProgress(box=1)),
    ],
    ids=["nonsense", "bool-box", "negative-box", "bad-due", "naive-due-is-utc", "due-out-of-a-box", "huge-due"],
)
def test_a_question_value_that_makes_no_sense_is_read_as_none(
    tmp_path: Path, question: dict[str, object], read_as: QuestionProgress
) -> None:
    data = {"format": 2, "lessons": {"acks": {"steps": {}, "questions": {"q": question}}}}
    (tmp_path / "progress.json").write_text(json.dumps(data))
    loaded = ProgressStore(tmp_path).load()
    assert loaded.notice is None
    assert loaded.progress.lessons["acks"].questions["q"] == read_as


def test_a_box_without_a_due_time_is_due() -> None:
    assert QuestionProgress(box=2).is_due(T0)
    assert not QuestionProgress(box=0).is_due(T0)


@pytest.mark.parametrize("seconds", [-5, "12", True, 1e300, "NaN"])
def test_a_time_spent_that_makes_no_sense_is_read_as_none(tmp_path: Path, seconds: object) -> None:
    text = json.dumps({"format": 2, "lessons": {"acks": {"steps": {}, "seconds": seconds}}})
    (tmp_path / "progress.json").write_text(text.replace('"NaN"', "NaN"))
    assert ProgressStore(tmp_path).load().progress.lessons["acks"].seconds == 0.0


@pytest.mark.parametrize(
    "lesson",
    [{"steps": {}, "questions": [1, 2]}, {"steps": {}, "questions": {"q": "box 1"}}],
    ids=["questions-not-a-mapping", "question-not-a-mapping"],
)
def test_questions_that_are_not_progress_are_moved_aside(tmp_path: Path, lesson: dict[str, object]) -> None:
    (tmp_path / "progress.json").write_text(json.dumps({"format": 2, "lessons": {"acks": lesson}}))
    loaded = ProgressStore(tmp_path, clock=fixed_clock).load()
    assert loaded.progress == Progress()
    assert loaded.notice is not None and "moved to" in loaded.notice and "not readable" in loaded.notice


def test_a_format_from_a_newer_version_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "progress.json").write_text(json.dumps({"format": 3, "lessons": {}}))
    loaded = ProgressStore(tmp_path, clock=fixed_clock).load()
    assert loaded.notice is not None and "not a celery-tutor progress file" in loaded.notice


def test_leitner_a_miss_goes_to_box_1_and_each_right_review_waits_longer() -> None:
    question = QuestionProgress()
    question.answer(False, T0)
    assert (question.correct, question.box, question.due) == (False, 1, T0)
    assert question.is_due(T0)  # box 1: the next review asks it
    now = T0 + timedelta(minutes=5)
    waits = []
    for box in range(2, LAST_BOX + 1):
        question.review(True, now)
        assert question.box == box
        assert question.due is not None
        waits.append(question.due - now)
        assert not question.is_due(question.due - timedelta(seconds=1))
        assert question.is_due(question.due)
        now = question.due
    assert waits == list(BOX_WAITS[1:])
    assert waits == [timedelta(days=1), timedelta(days=3), timedelta(days=7), timedelta(days=14)]
    question.review(True, now)  # right in the last box: learned, out of the review
    assert (question.box, question.due) == (0, None) and not question.is_due(now + timedelta(days=999))
    assert question.correct is False  # the first verdict is the score, whatever came later


def test_leitner_a_wrong_review_goes_back_to_box_1() -> None:
    question = QuestionProgress(correct=False, box=3, due=T0)
    later = T0 + timedelta(hours=2)
    question.review(False, later)
    assert (question.box, question.due, question.changed) == (1, later, later)


def test_leitner_a_right_answer_in_a_quiz_puts_nothing_in_the_review() -> None:
    question = QuestionProgress()
    question.answer(True, T0)
    assert (question.correct, question.box) == (True, 0)
    question.answer(False, T0)  # a later miss (the quiz again) still goes to box 1; the score stays
    assert (question.correct, question.box) == (True, 1)
    fresh = QuestionProgress()
    fresh.review(True, T0)  # a question in no box stays in none
    assert fresh.box == 0


def test_due_questions_keep_the_order_asked_for() -> None:
    progress = Progress()
    progress.lesson("a").question("q1").answer(False, T0)
    progress.lesson("b").question("q2").answer(False, T0 - timedelta(days=1))
    progress.lesson("b").question("q3").answer(True, T0)
    later = progress.lesson("a").question("q4")
    later.answer(False, T0)
    later.review(True, T0)  # box 2: due tomorrow
    pairs = [("a", "q1"), ("a", "q4"), ("b", "q2"), ("b", "q3"), ("c", "gone")]
    assert progress.due(pairs, T0) == [("a", "q1"), ("b", "q2")]
    assert progress.due(pairs, T0 + timedelta(days=1)) == [("a", "q1"), ("a", "q4"), ("b", "q2")]
    assert len(progress.in_review(pairs)) == 3
    assert progress.due(pairs, datetime(2026, 11, 24, 9, 30)) == [("a", "q1"), ("b", "q2")]  # naive is UTC


def test_two_instances_answer_and_review_without_losing_either(tmp_path: Path) -> None:
    first, second = ProgressStore(tmp_path), ProgressStore(tmp_path)
    a, b = first.load().progress, second.load().progress
    a.lesson("acks").question("q1").answer(False, T0)
    a.lesson("acks").seconds = 60.0
    first.save(a)
    b.lesson("acks").question("q2").answer(True, T0)
    b.lesson("acks").seconds = 30.0
    second.save(b)
    a.lesson("acks").seconds = 100.0  # 40 more here
    first.save(a)
    merged = ProgressStore(tmp_path).load().progress.lessons["acks"]
    assert set(merged.questions) == {"q1", "q2"}
    assert merged.questions["q1"].box == 1 and merged.questions["q2"].correct is True
    assert merged.seconds == 130.0  # 30 there, 60 + 40 here

    # Both review q1: the later change wins, whichever saves last.
    c, d = ProgressStore(tmp_path), ProgressStore(tmp_path)
    pc, pd = c.load().progress, d.load().progress
    pd.lesson("acks").question("q1").review(True, T0 + timedelta(hours=2))  # box 2, later
    pc.lesson("acks").question("q1").review(False, T0 + timedelta(hours=1))  # box 1, earlier
    d.save(pd)
    c.save(pc)
    q1 = ProgressStore(tmp_path).load().progress.lessons["acks"].questions["q1"]
    assert (q1.box, q1.changed, q1.correct) == (2, T0 + timedelta(hours=2), False)


def test_a_reset_takes_the_questions_out_of_the_review_in_both_instances(tmp_path: Path) -> None:
    first, second = ProgressStore(tmp_path), ProgressStore(tmp_path)
    a = first.load().progress
    a.lesson("acks").question("q1").answer(False, T0)
    a.lesson("acks").steps["intro"] = StepProgress(done=True)
    first.save(a)
    b = second.load().progress
    b.reset("acks")
    b.lesson("acks").steps["intro"] = StepProgress(done=True)  # started again there
    second.save(b)
    assert ProgressStore(tmp_path).load().progress.lessons["acks"].questions == {}


def test_a_code_step_s_code_survives_a_round_trip(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path)
    progress = Progress()
    progress.lesson("retry").steps["write-it"] = StepProgress(code="@app.task\ndef f():\n    return 'é'\n")
    store.save(progress)
    assert ProgressStore(tmp_path).load().progress == progress


@pytest.mark.parametrize("code", [42, ["x"], {"a": 1}, True, "x" * (MAX_CODE_CHARS + 1)])
def test_code_that_is_not_text_or_is_too_long_is_read_as_the_starter(tmp_path: Path, code: object) -> None:
    data = {"format": FORMAT, "lessons": {"retry": {"steps": {"write-it": {"done": True, "code": code}}}}}
    (tmp_path / "progress.json").write_text(json.dumps(data))
    loaded = ProgressStore(tmp_path).load()
    assert loaded.notice is None
    assert loaded.progress.lessons["retry"].steps["write-it"] == StepProgress(done=True, code=None)


def test_two_instances_keep_the_code_the_one_saving_changed(tmp_path: Path) -> None:
    first, second = ProgressStore(tmp_path), ProgressStore(tmp_path)
    a, b = first.load().progress, second.load().progress
    a.lesson("retry").steps["write-it"] = StepProgress(code="mine v1")
    a.lesson("retry").steps["other"] = StepProgress(code="other v1")
    first.save(a)
    b = second.load().progress
    b.lesson("retry").steps["write-it"].code = "theirs v2"
    b.lesson("retry").steps["write-it"].done = True
    second.save(b)
    a.lesson("retry").steps["other"].code = "other v2"  # the first instance edits another step only
    first.save(a)
    steps = ProgressStore(tmp_path).load().progress.lessons["retry"].steps
    assert steps["write-it"] == StepProgress(done=True, code="theirs v2")  # not overwritten by an unchanged copy
    assert steps["other"].code == "other v2"
    a.lesson("retry").steps["write-it"].code = None  # reset to the starter: a change, kept
    first.save(a)
    assert ProgressStore(tmp_path).load().progress.lessons["retry"].steps["write-it"].code is None
