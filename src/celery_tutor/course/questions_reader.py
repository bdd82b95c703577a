"""Read quiz questions, the choices of a question or a prediction, and how ``verify`` measures an answer.

Every question has an ``id``, a prompt under its kind's key (``single``, ``multiple``,
``true_false``, ``numeric``, ``ordering``), that kind's own keys, and an ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery_tutor.course.conditions import EventCount
from celery_tutor.course.conditions_reader import read_condition, task_ref
from celery_tutor.course.format import BOOLEAN, NUMBER, OPTIONAL_TEXT, TEXT, Key, Keys, Schema, list_of, ref, whole
from celery_tutor.course.model import (
    Choice,
    Measure,
    MultipleChoice,
    Numeric,
    Ordering,
    Question,
    SingleChoice,
    TrueFalse,
)
from celery_tutor.course.reading import Reader, experiment_key, read_experiment
from celery_tutor.yaml_source import Node, Pos

MAX_RETRY_NUMBER = 100
"""The highest retry a ``retry_countdown`` measure may ask about."""

CHOICE = Keys(
    (
        Key("text", TEXT, "The option.", required=True),
        Key("correct", BOOLEAN, "This option is right (default false)."),
        Key("feedback", OPTIONAL_TEXT, "What to say when the learner picks it."),
    ),
    help="An answer option: `{text: …, correct: true, feedback: …}`.",
)
_CORRECT: Schema = {"required": ["correct"], "properties": {"correct": {"const": True}}}
ONE_CORRECT: Schema = {**ref("choices"), "contains": _CORRECT, "minContains": 1, "maxContains": 1}
"""Choices with exactly one correct (a single-answer question, a prediction)."""
SOME_CORRECT: Schema = {**ref("choices"), "contains": _CORRECT, "minContains": 1}

RETRY_COUNTDOWN = Keys(
    (
        Key("task", ref("taskRef"), "An alias from the experiment, or a task name.", required=True),
        Key("retry", whole(1, MAX_RETRY_NUMBER), "Which retry (1: the first).", required=True),
    )
)
MEASURE = Keys(
    (experiment_key("Run on a fresh lab first."),),
    (
        Key("count", ref("eventCount"), "Count the events matching this, like `{event: started, task: rate}`."),
        Key("retry_countdown", RETRY_COUNTDOWN, "The countdown of retry number `retry` of a task."),
    ),
    help="How `celery-tutor verify` computes the answer on the lab: run `experiment`, then `count` events "
    "or read `retry_countdown`.",
)
TRUE_FALSE_FEEDBACK = Keys(
    (
        Key("if_true", TEXT, "When the learner answered true."),
        Key("if_false", TEXT, "When the learner answered false."),
    )
)
WRONG_ANSWER = Keys(
    (
        Key("value", NUMBER, "A tempting wrong number.", required=True),
        Key("feedback", TEXT, "Why this value is wrong.", required=True),
    )
)
QUESTION = Keys(
    (
        Key("id", ref("id"), "Unique in the lesson: progress is keyed by it.", required=True),
        Key("explain", TEXT, "Shown once the learner answered.", required=True),
    ),
    (
        Key("single", TEXT, "The prompt of a question with exactly one correct choice."),
        Key("multiple", TEXT, "The prompt of a question with at least one correct choice."),
        Key("true_false", TEXT, "A statement the learner judges true or false."),
        Key("numeric", TEXT, "The prompt of a question whose answer is a number."),
        Key("ordering", TEXT, "Put the items in order (learners see them shuffled)."),
    ),
    {
        "single": (Key("choices", ONE_CORRECT, "The options (at least two).", required=True),),
        "multiple": (Key("choices", SOME_CORRECT, "The options (at least two).", required=True),),
        "true_false": (
            Key("answer", BOOLEAN, "Whether the statement is true.", required=True),
            Key("feedback", TRUE_FALSE_FEEDBACK, "What to say to a wrong `true` or `false`."),
        ),
        "numeric": (
            Key("answer", NUMBER, "The number.", required=True),
            Key(
                "tolerance",
                {"type": "number", "minimum": 0},
                "How far from `answer` still counts as right (0 for an exact answer).",
                required=True,
            ),
            Key("unit", OPTIONAL_TEXT, "Shown after the number, like runs or seconds."),
            Key("wrong_answers", list_of(WRONG_ANSWER), "Common wrong answers, each with its feedback."),
            Key("measure", ref("measure"), "How `celery-tutor verify` proves the answer on the lab."),
        ),
        "ordering": (Key("items", {**list_of(TEXT, 2), "uniqueItems": True}, "The items, in order.", required=True),),
    },
    help="A question: an `id`, a prompt under its kind's key, that kind's keys, and an `explain`.",
)
QUESTION_KINDS = QUESTION.kind_names()
QUESTION_KEYS = ("explain", *dict.fromkeys(key.name for keys in QUESTION.only_with.values() for key in keys))
"""Keys some question kind takes (not reported as unknown when the kind itself is misspelt)."""

DEFINITIONS: dict[str, Schema | Keys] = {
    "choice": CHOICE,
    "choices": {**list_of(ref("choice"), 2), "description": "The options (at least two)."},
    "measure": MEASURE,
    "question": QUESTION,
}


def read_choices(r: Reader, node: Node | None, what: str, exactly_one: bool) -> tuple[Choice, ...]:
    """Answer options: exactly one correct, or at least one."""
    choices: list[Choice] = []
    for item in r.items(node, what, minimum=2):
        if not r.keys(item, f"{what} entry", CHOICE):
            continue
        correct = item.get("correct")
        if correct is not None and not isinstance(correct.value, bool):
            r.problem(correct.pos, f"{what}.correct: expected true or false")
        choices.append(
            Choice(
                r.text(item.value["text"], f"{what}.text"),
                bool(correct and correct.value is True),
                r.text(item.get("feedback"), f"{what}.feedback", required=False),
            )
        )
    if choices and node is not None:
        right = sum(choice.correct for choice in choices)
        if exactly_one and right != 1:
            r.problem(node.pos, f"{what}: a single-answer question needs exactly one correct choice, found {right}")
        elif not exactly_one and right < 1:
            r.problem(node.pos, f"{what}: needs at least one correct choice")
    return tuple(choices)


def read_questions(r: Reader, node: Node, where: str, seen: dict[str, Pos]) -> tuple[Question, ...]:
    """A quiz's questions; ``seen`` holds the question ids of the lesson so far (they must differ)."""
    questions: list[Question] = []
    for item in r.items(node, where):
        if not item.is_map:
            r.problem(item.pos, f"{where}: each question is a mapping like {{id: q1, single: …, choices: […]}}")
            continue
        kind = r.one_kind(item, "question", QUESTION_KINDS)
        qid = r.identifier(item.get("id"), "question.id")
        if item.get("id") is None:
            r.problem(item.pos, "question: missing required key 'id'")
        elif qid in seen:
            r.problem(
                item.value["id"].pos, f"question.id: {qid!r} is already the id of the question on line {seen[qid].line}"
            )
        elif qid:
            seen[qid] = item.value["id"].pos
        if kind is None:
            r.unknown_keys(item, "question", ("id", *QUESTION_KINDS, *QUESTION_KEYS))
            continue
        question = _READERS[kind](r, item, f"{qid or 'question'}.{kind}", qid)
        if question is not None:
            questions.append(question)
    return tuple(questions)


def _question_base(r: Reader, node: Node, what: str, kind: str) -> dict[str, Any] | None:
    own = tuple(key.name for key in QUESTION.only_with[kind])
    if not r.mapping(node, what, ("id", kind, "explain"), own):
        return None
    return {
        "pos": node.pos,
        "prompt": r.text(node.get(kind), what),
        "explain": r.text(node.get("explain"), f"{what}.explain"),
    }


def _single_or_multiple(r: Reader, node: Node, what: str, qid: str) -> Question | None:
    kind = "single" if "single" in node.value else "multiple"
    base = _question_base(r, node, what, kind)
    if base is None:
        return None
    if node.get("choices") is None:
        r.problem(node.pos, f"{what}: missing required key 'choices'")
    choices = read_choices(r, node.get("choices"), f"{what}.choices", exactly_one=kind == "single")
    return (SingleChoice if kind == "single" else MultipleChoice)(qid, choices=choices, **base)


def _true_false(r: Reader, node: Node, what: str, qid: str) -> Question | None:
    base = _question_base(r, node, what, "true_false")
    if base is None:
        return None
    answer_node = node.get("answer")
    if answer_node is None or not isinstance(answer_node.value, bool):
        r.problem(answer_node.pos if answer_node else node.pos, f"{what}.answer: expected true or false")
    feedback: dict[Any, str] = {}
    feedback_node = node.get("feedback")
    if feedback_node is not None and r.keys(feedback_node, f"{what}.feedback", TRUE_FALSE_FEEDBACK):
        for key, child in feedback_node.value.items():
            feedback[key == "if_true"] = r.text(child, f"{what}.feedback.{key}")
    return TrueFalse(qid, answer=answer_node.value if answer_node else False, feedback=feedback, **base)


def _numeric(r: Reader, node: Node, what: str, qid: str) -> Question | None:
    base = _question_base(r, node, what, "numeric")
    if base is None:
        return None
    answer_node = node.get("answer")
    answer = r.number(answer_node, f"{what}.answer") if answer_node is not None else None
    if answer_node is None:
        r.problem(node.pos, f"{what}: missing required key 'answer'")
    tolerance_node = node.get("tolerance")
    if tolerance_node is None:
        r.problem(node.pos, f"{what}: a numeric answer needs a tolerance (0 for an exact answer)")
        tolerance = None
    else:
        tolerance = r.number(tolerance_node, f"{what}.tolerance", minimum=0)
    feedback: dict[Any, str] = {}
    for item in r.items(node.get("wrong_answers"), f"{what}.wrong_answers"):
        if r.keys(item, f"{what}.wrong_answers entry", WRONG_ANSWER):
            value = r.number(item.value["value"], f"{what}.wrong_answers.value")
            if value is not None:
                feedback[value] = r.text(item.value["feedback"], f"{what}.wrong_answers.feedback")
    measure_node = node.get("measure")
    measure = _measure(r, measure_node, f"{what}.measure") if measure_node is not None else None
    return Numeric(
        qid,
        answer=answer or 0.0,  # None only with a problem reported: the lesson is not used
        tolerance=tolerance or 0.0,
        unit=r.text(node.get("unit"), f"{what}.unit", required=False),
        feedback=feedback,
        measure=measure,
        **base,
    )


def _ordering(r: Reader, node: Node, what: str, qid: str) -> Question | None:
    base = _question_base(r, node, what, "ordering")
    if base is None:
        return None
    items = r.texts(node.get("items"), f"{what}.items", minimum=2)
    if node.get("items") is None:
        r.problem(node.pos, f"{what}: missing required key 'items'")
    elif len(set(items)) != len(items):
        r.problem(node.value["items"].pos, f"{what}.items: every item must be different")
    return Ordering(qid, items=items, **base)


_READERS: dict[str, Callable[[Reader, Node, str, str], Question | None]] = {
    "single": _single_or_multiple,
    "multiple": _single_or_multiple,
    "true_false": _true_false,
    "numeric": _numeric,
    "ordering": _ordering,
}


def _measure(r: Reader, node: Node, what: str) -> Measure | None:
    if not r.keys(node, what, MEASURE):
        return None
    experiment, scope = read_experiment(r, node, what)
    kind = r.one_kind(node, what, MEASURE.kind_names())
    if kind == "count":
        condition = read_condition(r, node.value["count"], f"{what}.count", scope, labelled=False)
        if condition is not None and not isinstance(condition, EventCount):
            r.problem(node.value["count"].pos, f"{what}.count: count events, like {{event: started, task: x}}")
            condition = None
        return Measure(experiment, count=condition)
    if kind == "retry_countdown":
        spec = node.value["retry_countdown"]
        if not r.keys(spec, f"{what}.retry_countdown", RETRY_COUNTDOWN):
            return None
        task = task_ref(r, spec.value["task"], f"{what}.retry_countdown.task", scope)
        retry = r.whole(spec.value["retry"], f"{what}.retry_countdown.retry", 1, MAX_RETRY_NUMBER)
        if task is None or retry is None:
            return None
        return Measure(experiment, retry_countdown=(task, retry))
    return None
