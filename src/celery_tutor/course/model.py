"""What a lesson is, once its file has been read and checked: plain immutable data.

A lesson sets up the lab, offers controls, and walks through steps: ``read`` (Markdown),
``predict`` (answer, then watch an experiment), ``lab`` (reach a goal with the controls),
``code`` (write a task that reaches a goal when an experiment runs it) and ``quiz``.
Everything is keyed by stable ids so progress survives edits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, get_args

from celery_tutor.course.code_step import CodeStep
from celery_tutor.course.conditions import Condition
from celery_tutor.course.grading import AnswerError, Grade
from celery_tutor.course.parts import GoalStep, LessonPart, StepBase
from celery_tutor.lab.actions import Action
from celery_tutor.wording import count_of
from celery_tutor.yaml_source import Problem

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LabSetup:
    """How the lesson's lab starts."""

    settings: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: int = 1
    tasks: tuple[str, ...] = ()
    """The lab tasks this lesson is about; the first one's source is shown."""
    broker: str = "rabbitmq"
    """Which broker the lab runs on: ``rabbitmq`` (RabbitMQ-like, in process) or ``redis``."""


MAX_SHORT_LABEL = 21
"""The most characters of a control's short label: what a control row has room for at 80 columns."""
TOGGLE_STATE_ROOM = len(": off")
"""What a toggle's row adds after its short label."""


@dataclass(frozen=True)
class Control:
    """A control the learner can use in this lesson: a key, a label, and what it does."""

    key: str
    label: str
    """The full label (the command palette and the tooltip show it)."""
    action: Action | None
    toggle: str | None = None
    """For a toggle, the boolean Celery setting it flips (``action`` is then None)."""
    short: str = ""
    """A few words for the control row; empty: the setting's name for a toggle, else the label."""

    @property
    def short_label(self) -> str:
        """What the control row shows after the key."""
        return self.short or self.toggle or self.label


@dataclass(frozen=True)
class Choice:
    """An answer option, with what to say when it is chosen."""

    text: str
    correct: bool = False
    feedback: str = ""


@dataclass(frozen=True)
class ReadStep(StepBase, kind="read"):
    """Text to read."""

    body: str
    task: str | None = None
    """The lab task the text discusses, shown in the code panel (default: the lesson's first)."""


@dataclass(frozen=True)
class PredictStep(StepBase, kind="predict"):
    """Lock an answer, run the experiment, then compare the prediction with what happened."""

    question: str
    choices: tuple[Choice, ...]
    experiment: tuple[Action, ...]
    expect: tuple[Condition, ...]
    explain: str


@dataclass(frozen=True)
class WrongSolution:
    """A tempting approach that must NOT reach a lab step's goal (``verify`` proves it)."""

    why: str
    script: tuple[Action, ...]


@dataclass(frozen=True)
class LabStep(GoalStep, kind="lab"):
    """Reach a goal with the lesson's controls."""

    solution: tuple[Action, ...]
    setup: tuple[Action, ...] = ()
    wrong_solutions: tuple[WrongSolution, ...] = ()


@dataclass(frozen=True)
class Measure:
    """A number the lab can compute by running an experiment (checked by ``verify``)."""

    experiment: tuple[Action, ...]
    count: Condition | None = None
    """Count the events matching this condition…"""
    retry_countdown: tuple[str, int] | None = None
    """…or read the countdown of retry number N of a task (alias, N)."""


@dataclass(frozen=True)
class Question(LessonPart, kind="question"):
    """One quiz question; each kind is a subclass that knows how to check and say an answer.

    ``grade`` raises :class:`AnswerError` for an answer of the wrong shape (a bug in the
    caller, never the learner's fault).
    """

    prompt: str
    explain: str

    def grade(self, answer: Any) -> Grade:
        """Right or wrong, what to say about this answer, and the explanation."""
        correct, feedback = self._check(answer)
        return Grade(correct, tuple(text for text in feedback if text), self.explain)

    def _check(self, answer: Any) -> tuple[bool, list[str]]:
        raise NotImplementedError

    def describe(self, answer: Any) -> str:
        """The learner's answer, in words."""
        raise NotImplementedError

    def right_answer(self) -> str:
        """The right answer, in words."""
        raise NotImplementedError


def _index(answer: Any, choices: tuple[Choice, ...]) -> int:
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise AnswerError(f"expected a choice index, got {answer!r}")
    return answer


@dataclass(frozen=True)
class SingleChoice(Question, kind="single"):
    """Pick one choice; the answer is its index."""

    choices: tuple[Choice, ...] = ()

    def _check(self, answer: Any) -> tuple[bool, list[str]]:
        choice = self.choices[_index(answer, self.choices)]
        return choice.correct, [choice.feedback]

    def describe(self, answer: Any) -> str:
        return self.choices[_index(answer, self.choices)].text

    def right_answer(self) -> str:
        return "; ".join(c.text for c in self.choices if c.correct)


@dataclass(frozen=True)
class MultipleChoice(Question, kind="multiple"):
    """Tick every right choice; the answer is the set of ticked indices."""

    choices: tuple[Choice, ...] = ()

    def _ticked(self, answer: Any) -> set[int]:
        try:
            return {_index(i, self.choices) for i in answer}
        except (AnswerError, TypeError):
            raise AnswerError(f"expected choice indices, got {answer!r}") from None

    def _check(self, answer: Any) -> tuple[bool, list[str]]:
        chosen = self._ticked(answer)
        right = {i for i, choice in enumerate(self.choices) if choice.correct}
        feedback = [self.choices[i].feedback for i in sorted(chosen ^ right)]
        if chosen - right:
            feedback.insert(0, f"{len(chosen - right)} of your choices should not be there.")
        if right - chosen:
            feedback.insert(0, f"You missed {count_of(len(right - chosen), 'correct choices')}.")
        return chosen == right, feedback

    def describe(self, answer: Any) -> str:
        """The ticked choices, one per line (a choice is often a sentence of its own)."""
        return "\n".join(self.choices[i].text for i in sorted(self._ticked(answer))) or "(nothing ticked)"

    def right_answer(self) -> str:
        """The right choices, one per line."""
        return "\n".join(c.text for c in self.choices if c.correct)


@dataclass(frozen=True)
class TrueFalse(Question, kind="true_false"):
    """True or false, with feedback per answer."""

    answer: bool = False
    feedback: dict[bool, str] = field(default_factory=dict)

    @staticmethod
    def _bool(answer: Any) -> bool:
        if not isinstance(answer, bool):
            raise AnswerError(f"expected true or false, got {answer!r}")
        return answer

    def _check(self, answer: Any) -> tuple[bool, list[str]]:
        given = self._bool(answer)
        return given == self.answer, [self.feedback.get(given, "")]

    def describe(self, answer: Any) -> str:
        return "true" if self._bool(answer) else "false"

    def right_answer(self) -> str:
        return "true" if self.answer else "false"


@dataclass(frozen=True)
class Numeric(Question, kind="numeric"):
    """A number, right within a tolerance; common wrong values have their own feedback."""

    answer: float = 0.0
    tolerance: float = 0.0
    unit: str = ""
    feedback: dict[float, str] = field(default_factory=dict)
    """Per common wrong value."""
    measure: Measure | None = None

    @staticmethod
    def _number(answer: Any) -> float:
        if isinstance(answer, bool) or not isinstance(answer, (int, float)):
            raise AnswerError(f"expected a number, got {answer!r}")
        return answer

    def accepts(self, value: float) -> bool:
        """Is ``value`` the answer, within the tolerance?"""
        return abs(value - self.answer) <= self.tolerance + 1e-9

    def _check(self, answer: Any) -> tuple[bool, list[str]]:
        value = self._number(answer)
        if self.accepts(value):
            return True, []
        return False, [text for wrong, text in self.feedback.items() if abs(wrong - value) < 1e-9]

    def describe(self, answer: Any) -> str:
        return count_of(self._number(answer), self.unit)

    def right_answer(self) -> str:
        return count_of(self.answer, self.unit)


@dataclass(frozen=True)
class Ordering(Question, kind="ordering"):
    """Put the items in order; ``items`` is the right order, the answer the learner's."""

    items: tuple[str, ...] = ()

    def _order(self, answer: Any) -> list[str]:
        order = list(answer) if isinstance(answer, (list, tuple)) else []
        if sorted(order) != sorted(self.items):
            raise AnswerError(f"expected the items {self.items!r} in some order, got {answer!r}")
        return order

    def _check(self, answer: Any) -> tuple[bool, list[str]]:
        order = self._order(answer)
        in_place = sum(1 for mine, right in zip(order, self.items, strict=True) if mine == right)
        if in_place == len(order):
            return True, []
        verb = "is" if in_place == 1 else "are"
        return False, [f"{in_place} of {len(order)} {verb} in the right place."]

    def describe(self, answer: Any) -> str:
        return " → ".join(self._order(answer))

    def right_answer(self) -> str:
        return " → ".join(self.items)


QUESTION_TYPES: dict[str, type[Question]] = {
    cls.kind: cls for cls in (SingleChoice, MultipleChoice, TrueFalse, Numeric, Ordering)
}
"""Every question kind a lesson may use, by the key that names it in a lesson file."""


@dataclass(frozen=True)
class QuizStep(StepBase, kind="quiz"):
    """Questions, each with feedback and an explanation."""

    questions: tuple[Question, ...]


Step = ReadStep | PredictStep | LabStep | CodeStep | QuizStep
STEP_KINDS: tuple[str, ...] = tuple(kind.kind for kind in get_args(Step))

MAX_TAKEAWAY = 160
"""The most characters of a takeaway: one line of the end card, two at most at 80 columns."""

_HEADING = re.compile(r"^#+\s+(.*?)\s*#*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def first_sentence(markdown: str) -> str:
    """The first sentence of Markdown text's first paragraph (headings and code blocks skipped)."""
    paragraph: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            if paragraph:
                break
            continue
        if fenced or _HEADING.match(stripped):
            continue
        if not stripped:
            if paragraph:
                break
            continue
        paragraph.append(stripped.removeprefix("- ").removeprefix("* "))
    sentence = _SENTENCE_END.split(" ".join(paragraph), maxsplit=1)[0]
    return sentence if len(sentence) <= MAX_TAKEAWAY else sentence[: MAX_TAKEAWAY - 1].rstrip() + "…"


def takeaway_of(step: Step) -> str:
    """The step's line on the lesson's end card: what the lesson says, else what the step explains.

    Without a ``takeaway``: a predict, lab or code step gives the first sentence of its
    ``explain``, a read step its first heading (else its first sentence), and a quiz
    nothing (the card shows its score).
    """
    if step.takeaway:
        return step.takeaway
    match step:
        case PredictStep() | GoalStep():
            return first_sentence(step.explain)
        case ReadStep():
            heading = next((m.group(1) for m in map(_HEADING.match, step.body.splitlines()) if m), "")
            return heading or first_sentence(step.body)
    return ""


@dataclass(frozen=True)
class Lesson:
    """A checked lesson."""

    id: str
    path: str
    title: str
    summary: str
    minutes: int
    concepts: tuple[str, ...]
    lab: LabSetup
    controls: tuple[Control, ...]
    steps: tuple[Step, ...]
    warnings: tuple[Problem, ...] = ()
    """Things ``check`` reports without refusing the lesson (its pace: ``course.pace``)."""

    def step(self, step_id: str) -> Step:
        """A step by id."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
