"""Read lesson files: every problem reported at once, as ``path:line:col: message``.

Lessons are data, never code: YAML is read with the safe loader only, every key is
checked against the format, and every name (task, checkpoint, setting, control, event,
alias) must resolve before a lesson is used.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery_tutor.course.conditions import (
    Condition,
    Count,
    EventCount,
    EventMatch,
    LedgerCount,
    Not,
    Sequence,
    SettingIs,
    TaskState,
)
from celery_tutor.course.model import (
    SCHEMA_VERSION,
    Choice,
    Control,
    LabSetup,
    LabStep,
    Lesson,
    Measure,
    MultipleChoice,
    Numeric,
    Ordering,
    PredictStep,
    Question,
    QuizStep,
    ReadStep,
    SingleChoice,
    Step,
    TrueFalse,
    WrongSolution,
)
from celery_tutor.lab import settings
from celery_tutor.lab.action_parser import StepChecker, parse_settings, parse_step, parse_task_options
from celery_tutor.lab.actions import TASK_STATES, Action, Send, Wait
from celery_tutor.lab.events import EVENT_KINDS
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.yaml_source import Node, Pos, Problem, YamlSourceError, parse_yaml, read_text

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RESERVED_KEYS = {
    "q": "quit",
    "?": "help",
    "n": "next step",
    "p": "previous step",
    "h": "hint",
    "l": "lessons",
}
"""Keys the app itself uses on a lesson screen; a lesson's controls may not take them."""
QUESTION_KINDS = ("single", "multiple", "true_false", "numeric", "ordering")
QUESTION_KEYS = ("explain", "choices", "answer", "feedback", "tolerance", "unit", "wrong_answers", "measure", "items")
"""Keys some question kind takes (not reported as unknown when the kind itself is misspelt)."""
CONTROL_ACTIONS = ("send", "set", "task_options", "fail_next", "crash", "kill_child", "restart_worker",
                   "stop_worker", "purge", "reset")  # fmt: skip


class LessonError(Exception):
    """A lesson file that cannot be used: every problem, each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Reader:
    """Checks one file's nodes, collecting problems."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.steps = StepChecker(path, self.problems)

    def problem(self, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.path, pos, message))

    def mapping(self, node: Node, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> bool:
        """Is ``node`` a mapping with all required keys and no unknown ones? Reports what is wrong."""
        if not node.is_map:
            self.problem(node.pos, f"{what}: expected a mapping with {', '.join(required + optional)}")
            return False
        ok = True
        for key in node.value:
            if key not in required and key not in optional:
                valid = ", ".join(required + optional) or "none"
                self.problem(node.key_pos[key], f"{what}: unknown key {key!r}; valid: {valid}")
                ok = False
        for key in required:
            if key not in node.value:
                self.problem(node.pos, f"{what}: missing required key {key!r}")
                ok = False
        return ok

    def text(self, node: Node | None, what: str, required: bool = True) -> str:
        if node is None:
            return ""
        if isinstance(node.value, str) and node.value.strip():
            return node.value
        if isinstance(node.value, bool):
            word = "true" if node.value else "false"
            self.problem(
                node.pos, f"{what}: expected text, got {word} (YAML reads yes/no/on/off as true/false: quote it)"
            )
        elif required or node.value is not None:
            self.problem(node.pos, f"{what}: expected text")
        return ""

    def whole(self, node: Node, what: str, low: int, high: int) -> int | None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(node.pos, f"{what}: expected a whole number from {low} to {high}, got {node.plain()!r}")
            return None
        return value

    def number(self, node: Node, what: str, minimum: float | None = None) -> float | None:
        value = node.value
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or (minimum is not None and value < minimum)
        ):
            bound = f" ≥ {minimum:g}" if minimum is not None else ""
            self.problem(node.pos, f"{what}: expected a number{bound}, got {node.plain()!r}")
            return None
        return float(value)

    def identifier(self, node: Node | None, what: str) -> str:
        text = self.text(node, what)
        if text and not ID_PATTERN.fullmatch(text):
            assert node is not None
            self.problem(node.pos, f"{what}: {text!r} is not an id (lowercase letters, digits and dashes)")
            return ""
        return text

    def items(self, node: Node | None, what: str, minimum: int = 1) -> list[Node]:
        if node is None:
            return []
        if not node.is_list or len(node.value) < minimum:
            self.problem(node.pos if node else Pos(1, 1), f"{what}: expected a list of at least {minimum}")
            return []
        return list(node.value)

    def texts(self, node: Node | None, what: str, minimum: int = 1) -> tuple[str, ...]:
        return tuple(self.text(item, what) for item in self.items(node, what, minimum))

    def one_kind(self, node: Node, what: str, kinds: tuple[str, ...]) -> str | None:
        """The single key among ``kinds`` that a mapping uses."""
        found = [key for key in node.value if key in kinds]
        if len(found) == 1:
            return found[0]
        if not found:
            self.problem(node.pos, f"{what}: expected one of {', '.join(kinds)}")
        else:
            self.problem(node.key_pos[found[1]], f"{what}: only one of {', '.join(kinds)} per entry")
        return None

    def unknown_keys(self, node: Node, what: str, allowed: tuple[str, ...]) -> None:
        for key in node.value:
            if key not in allowed:
                self.problem(node.key_pos[key], f"{what}: unknown key {key!r}; valid: {', '.join(allowed)}")


@dataclass
class _Scope:
    """Names a condition may use: aliases from the step's scripts."""

    aliases: set[str] = field(default_factory=set)

    def add_script(self, actions: tuple[Action, ...]) -> None:
        for action in actions:
            if isinstance(action, Send) and action.alias is not None:
                if action.count == 1:
                    self.aliases.add(action.alias)
                else:
                    self.aliases.update(f"{action.alias}-{i + 1}" for i in range(action.count))


def load_lesson(path: str | Path) -> Lesson:
    """Read and check one lesson file (raises :class:`LessonError`)."""
    try:
        text = read_text(path, "lesson")
    except YamlSourceError as exc:
        raise LessonError([exc.problem]) from None
    return parse_lesson(text, str(path))


def parse_lesson(text: str, path: str) -> Lesson:
    """Check a lesson's text (raises :class:`LessonError` listing every problem)."""
    try:
        root, duplicates = parse_yaml(text, path)
    except YamlSourceError as exc:
        raise LessonError([exc.problem]) from None
    r = _Reader(path)
    r.problems.extend(duplicates)
    if root is None or not root.is_map:
        r.problem(root.pos if root else Pos(1, 1), "a lesson is a mapping with schema, id, title, … and steps")
        raise LessonError(r.problems)
    top = ("schema", "id", "title", "summary", "minutes", "steps")
    r.mapping(root, "lesson", top, ("concepts", "lab", "controls"))
    schema = root.get("schema")
    if schema is not None and (type(schema.value) is not int or schema.value != SCHEMA_VERSION):
        r.problem(
            schema.pos, f"schema: this version of celery-tutor reads schema {SCHEMA_VERSION}, not {schema.plain()!r}"
        )
    lesson_id = r.identifier(root.get("id"), "id")
    title = r.text(root.get("title"), "title")
    summary = r.text(root.get("summary"), "summary")
    minutes_node = root.get("minutes")
    minutes = r.whole(minutes_node, "minutes", 1, 120) if minutes_node is not None else None
    concepts = r.texts(root.get("concepts"), "concepts") if root.get("concepts") is not None else ()
    lab = _lab_setup(r, root.get("lab"))
    controls = _controls(r, root.get("controls"), lab)
    control_aliases = _Scope()
    control_aliases.add_script(tuple(c.action for c in controls if c.action is not None))
    steps = _steps(r, root.get("steps"), lab, control_aliases)
    if r.problems:
        raise LessonError(sorted(r.problems, key=lambda p: p.pos))
    return Lesson(lesson_id, path, title, summary, minutes or 1, concepts, lab, controls, steps)


def _lab_setup(r: _Reader, node: Node | None) -> LabSetup:
    if node is None:
        return LabSetup()
    if not r.mapping(node, "lab", (), ("settings", "task_options", "workers", "tasks")):
        return LabSetup()
    lab_settings: dict[str, Any] = {}
    if node.get("settings") is not None:
        lab_settings = parse_settings(r.steps, node.value["settings"], "lab.settings") or {}
    options: dict[str, dict[str, Any]] = {}
    if node.get("task_options") is not None:
        options = parse_task_options(r.steps, node.value["task_options"], "lab.task_options") or {}
    workers = 1
    if node.get("workers") is not None:
        workers = r.whole(node.value["workers"], "lab.workers", 1, 4) or 1
    tasks: list[str] = []
    for item in r.items(node.get("tasks"), "lab.tasks"):
        try:
            settings.pick(LAB_TASKS, item.value, "task")
            tasks.append(item.value)
        except settings.LabConfigError as exc:
            r.problem(item.pos, f"lab.tasks: {exc}")
    return LabSetup(lab_settings, options, workers, tuple(tasks))


def _controls(r: _Reader, node: Node | None, lab: LabSetup) -> tuple[Control, ...]:
    controls: list[Control] = []
    used: dict[str, Pos] = {}
    for item in r.items(node, "controls") if node is not None else []:
        if not item.is_map:
            r.problem(item.pos, "controls: each control is a mapping like {key: s, send: {task: add}}")
            continue
        kinds = ("toggle", *CONTROL_ACTIONS)
        r.unknown_keys(item, "control", ("key", "label", *kinds))
        kind = r.one_kind(item, "control", kinds)
        key_node = item.get("key")
        key = r.text(key_node, "control.key") if key_node is not None else ""
        if key_node is None:
            r.problem(item.pos, "control: missing required key 'key'")
        elif key and len(key) != 1:
            r.problem(key_node.pos, f"control.key: expected one character, got {key!r}")
        elif key in RESERVED_KEYS:
            r.problem(key_node.pos, f"control.key: {key!r} is the app's key for {RESERVED_KEYS[key]}")
        elif key in used:
            r.problem(key_node.pos, f"control.key: {key!r} is already used by the control on line {used[key].line}")
        elif key:
            used[key] = key_node.pos
        label = r.text(item.get("label"), "control.label", required=False)
        if kind is None:
            continue
        if kind == "toggle":
            name = item.value["toggle"].value
            knob = settings.SETTINGS.get(name) if isinstance(name, str) else None
            if knob is None or not isinstance(knob.default, bool):
                toggles = ", ".join(n for n, k in settings.SETTINGS.items() if isinstance(k.default, bool))
                r.problem(
                    item.value["toggle"].pos, f"control.toggle: {name!r} is not an on/off setting; valid: {toggles}"
                )
                continue
            controls.append(Control(key, label or f"toggle {name}", None, toggle=name))
            continue
        step = Node({kind: item.value[kind]}, item.pos, {kind: item.key_pos[kind]})
        action = parse_step(step, r.path, r.problems)
        if action is not None:
            controls.append(Control(key, label or describe_action(action), action))
    return tuple(controls)


def describe_action(action: Action) -> str:
    """A default label for a control."""
    from celery_tutor.lab import actions as c

    if isinstance(action, c.Send):
        args = ", ".join(repr(a) for a in action.args)
        many = f" ×{action.count}" if action.count > 1 else ""
        return f"send {action.task}({args}){many}"
    if isinstance(action, c.Crash):
        return f"crash the worker at '{action.at}'" if action.at else "crash the worker now"
    if isinstance(action, c.KillChild):
        return f"kill the pool child at '{action.at}'" if action.at else "kill the pool child"
    if isinstance(action, c.FailNext):
        return f"make the next {action.times} run(s) of {action.task} raise {action.exc}"
    if isinstance(action, c.SetSettings):
        return ", ".join(f"set {k}={v!r}" for k, v in action.changes.items())
    return action.control.replace("_", " ")


def _script(r: _Reader, node: Node | None, what: str, known: _Scope | None = None) -> tuple[Action, ...]:
    """Control steps; a wait may name an alias sent before it in the script, or a lab task."""
    scope = _Scope(set(known.aliases) if known else set())
    actions: list[Action] = []
    for item in r.items(node, what):
        action = parse_step(item, r.path, r.problems)
        if action is None:
            continue
        if isinstance(action, Wait) and action.until is not None and action.until.task is not None:
            task = action.until.task
            if task not in scope.aliases and task not in LAB_TASKS:
                aliases = ", ".join(sorted(scope.aliases)) or "none"
                r.problem(
                    action.pos, f"wait.until.task: {task!r} is neither an alias sent before ({aliases}) nor a lab task"
                )
        scope.add_script((action,))
        actions.append(action)
    return tuple(actions)


def _steps(r: _Reader, node: Node | None, lab: LabSetup, control_aliases: _Scope) -> tuple[Step, ...]:
    if node is None:
        return ()
    steps: list[Step] = []
    step_ids: dict[str, Pos] = {}
    question_ids: dict[str, Pos] = {}
    for item in r.items(node, "steps"):
        if not item.is_map:
            r.problem(item.pos, "steps: each step is a mapping like {id: intro, read: …}")
            continue
        kinds = ("read", "predict", "lab", "quiz")
        r.unknown_keys(item, "step", ("id", *kinds))
        step_id = r.identifier(item.get("id"), "step.id")
        if item.get("id") is None:
            r.problem(item.pos, "step: missing required key 'id'")
        elif step_id in step_ids:
            r.problem(
                item.value["id"].pos,
                f"step.id: {step_id!r} is already the id of the step on line {step_ids[step_id].line}",
            )
        elif step_id:
            step_ids[step_id] = item.value["id"].pos
        kind = r.one_kind(item, "step", kinds)
        if kind is None:
            continue
        body = item.value[kind]
        where = f"{step_id or 'step'}.{kind}"
        if kind == "read":
            steps.append(ReadStep(step_id, item.pos, r.text(body, where)))
        elif kind == "predict":
            step = _predict(r, body, where, step_id, item.pos)
            if step is not None:
                steps.append(step)
        elif kind == "lab":
            step = _lab_step(r, body, where, step_id, item.pos, control_aliases)
            if step is not None:
                steps.append(step)
        else:
            steps.append(QuizStep(step_id, item.pos, _questions(r, body, where, question_ids)))
    return tuple(steps)


def _choices(r: _Reader, node: Node | None, what: str, exactly_one: bool) -> tuple[Choice, ...]:
    choices: list[Choice] = []
    for item in r.items(node, what, minimum=2):
        if not r.mapping(item, f"{what} entry", ("text",), ("correct", "feedback")):
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


def _predict(r: _Reader, node: Node, where: str, step_id: str, pos: Pos) -> PredictStep | None:
    if not r.mapping(node, where, ("question", "choices", "experiment", "expect", "explain")):
        return None
    experiment = _script(r, node.get("experiment"), f"{where}.experiment")
    scope = _Scope()
    scope.add_script(experiment)
    return PredictStep(
        step_id,
        pos,
        r.text(node.get("question"), f"{where}.question"),
        _choices(r, node.get("choices"), f"{where}.choices", exactly_one=True),
        experiment,
        _conditions(r, node.get("expect"), f"{where}.expect", scope),
        r.text(node.get("explain"), f"{where}.explain"),
    )


def _lab_step(r: _Reader, node: Node, where: str, step_id: str, pos: Pos, control_aliases: _Scope) -> LabStep | None:
    if not r.mapping(node, where, ("body", "goal", "hints", "solution", "explain"), ("setup", "wrong_solutions")):
        return None
    setup = _script(r, node.get("setup"), f"{where}.setup") if node.get("setup") is not None else ()
    solution = _script(r, node.get("solution"), f"{where}.solution")
    if any(isinstance(action, Wait) for action in setup):
        r.problem(node.value["setup"].pos, f"{where}.setup: a setup cannot wait")
    scope = _Scope(set(control_aliases.aliases))
    scope.add_script(setup)
    scope.add_script(solution)
    wrong: list[WrongSolution] = []
    for item in r.items(node.get("wrong_solutions"), f"{where}.wrong_solutions"):
        if r.mapping(item, f"{where}.wrong_solutions entry", ("why", "script")):
            script = _script(r, item.value["script"], f"{where}.wrong_solutions.script")
            scope.add_script(script)
            wrong.append(WrongSolution(r.text(item.value["why"], f"{where}.wrong_solutions.why"), script))
    return LabStep(
        step_id,
        pos,
        r.text(node.get("body"), f"{where}.body"),
        _conditions(r, node.get("goal"), f"{where}.goal", scope),
        r.texts(node.get("hints"), f"{where}.hints"),
        solution,
        r.text(node.get("explain"), f"{where}.explain"),
        setup,
        tuple(wrong),
    )


def _questions(r: _Reader, node: Node, where: str, seen: dict[str, Pos]) -> tuple[Question, ...]:
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
        question = _QUESTION_READERS[kind](r, item, f"{qid or 'question'}.{kind}", qid)
        if question is not None:
            questions.append(question)
    return tuple(questions)


def _question_base(r: _Reader, node: Node, what: str, kind: str, extra: tuple[str, ...]) -> dict[str, Any] | None:
    if not r.mapping(node, what, ("id", kind, "explain"), extra):
        return None
    return {
        "pos": node.pos,
        "prompt": r.text(node.get(kind), what),
        "explain": r.text(node.get("explain"), f"{what}.explain"),
    }


def _single_or_multiple(r: _Reader, node: Node, what: str, qid: str) -> Question | None:
    kind = "single" if "single" in node.value else "multiple"
    base = _question_base(r, node, what, kind, ("choices",))
    if base is None:
        return None
    if node.get("choices") is None:
        r.problem(node.pos, f"{what}: missing required key 'choices'")
    choices = _choices(r, node.get("choices"), f"{what}.choices", exactly_one=kind == "single")
    return (SingleChoice if kind == "single" else MultipleChoice)(qid, choices=choices, **base)


def _true_false(r: _Reader, node: Node, what: str, qid: str) -> Question | None:
    base = _question_base(r, node, what, "true_false", ("answer", "feedback"))
    if base is None:
        return None
    answer_node = node.get("answer")
    if answer_node is None or not isinstance(answer_node.value, bool):
        r.problem(answer_node.pos if answer_node else node.pos, f"{what}.answer: expected true or false")
    feedback: dict[Any, str] = {}
    feedback_node = node.get("feedback")
    if feedback_node is not None and r.mapping(feedback_node, f"{what}.feedback", (), ("if_true", "if_false")):
        for key, child in feedback_node.value.items():
            feedback[key == "if_true"] = r.text(child, f"{what}.feedback.{key}")
    return TrueFalse(qid, answer=answer_node.value if answer_node else False, feedback=feedback, **base)


def _numeric(r: _Reader, node: Node, what: str, qid: str) -> Question | None:
    base = _question_base(r, node, what, "numeric", ("answer", "tolerance", "unit", "wrong_answers", "measure"))
    if base is None:
        return None
    answer = r.number(node.value["answer"], f"{what}.answer") if node.get("answer") is not None else None
    if node.get("answer") is None:
        r.problem(node.pos, f"{what}: missing required key 'answer'")
    if node.get("tolerance") is None:
        r.problem(node.pos, f"{what}: a numeric answer needs a tolerance (0 for an exact answer)")
        tolerance = None
    else:
        tolerance = r.number(node.value["tolerance"], f"{what}.tolerance", minimum=0)
    feedback: dict[Any, str] = {}
    for item in r.items(node.get("wrong_answers"), f"{what}.wrong_answers"):
        if r.mapping(item, f"{what}.wrong_answers entry", ("value", "feedback")):
            value = r.number(item.value["value"], f"{what}.wrong_answers.value")
            if value is not None:
                feedback[value] = r.text(item.value["feedback"], f"{what}.wrong_answers.feedback")
    measure = _measure(r, node.get("measure"), f"{what}.measure") if node.get("measure") is not None else None
    return Numeric(
        qid,
        answer=answer or 0.0,  # None only with a problem reported: the lesson is not used
        tolerance=tolerance or 0.0,
        unit=r.text(node.get("unit"), f"{what}.unit", required=False),
        feedback=feedback,
        measure=measure,
        **base,
    )


def _ordering(r: _Reader, node: Node, what: str, qid: str) -> Question | None:
    base = _question_base(r, node, what, "ordering", ("items",))
    if base is None:
        return None
    items = r.texts(node.get("items"), f"{what}.items", minimum=2)
    if node.get("items") is None:
        r.problem(node.pos, f"{what}: missing required key 'items'")
    elif len(set(items)) != len(items):
        r.problem(node.value["items"].pos, f"{what}.items: every item must be different")
    return Ordering(qid, items=items, **base)


_QUESTION_READERS: dict[str, Callable[[_Reader, Node, str, str], Question | None]] = {
    "single": _single_or_multiple,
    "multiple": _single_or_multiple,
    "true_false": _true_false,
    "numeric": _numeric,
    "ordering": _ordering,
}


def _measure(r: _Reader, node: Node, what: str) -> Measure | None:
    if not r.mapping(node, what, ("experiment",), ("count", "retry_countdown")):
        return None
    experiment = _script(r, node.get("experiment"), f"{what}.experiment")
    scope = _Scope()
    scope.add_script(experiment)
    kind = r.one_kind(node, what, ("count", "retry_countdown"))
    if kind == "count":
        condition = _condition(r, node.value["count"], f"{what}.count", scope, labelled=False)
        if condition is not None and not isinstance(condition, EventCount):
            r.problem(node.value["count"].pos, f"{what}.count: count events, like {{event: started, task: x}}")
            condition = None
        return Measure(experiment, count=condition)
    if kind == "retry_countdown":
        spec = node.value["retry_countdown"]
        if not r.mapping(spec, f"{what}.retry_countdown", ("task", "retry")):
            return None
        task = _task_ref(r, spec.value["task"], f"{what}.retry_countdown.task", scope)
        retry = r.whole(spec.value["retry"], f"{what}.retry_countdown.retry", 1, 100)
        if task is None or retry is None:
            return None
        return Measure(experiment, retry_countdown=(task, retry))
    return None


def _task_ref(r: _Reader, node: Node, what: str, scope: _Scope) -> str | None:
    name = node.value
    if isinstance(name, str) and (name in scope.aliases or name in LAB_TASKS):
        return name
    aliases = ", ".join(sorted(scope.aliases)) or "none"
    r.problem(node.pos, f"{what}: {name!r} is neither an alias from this step's scripts ({aliases}) nor a lab task")
    return None


def _count(r: _Reader, node: Node | None, what: str) -> Count:
    if node is None:
        return Count()
    if isinstance(node.value, int) and not isinstance(node.value, bool) and node.value >= 0:
        return Count(node.value, node.value)
    if node.is_map and r.mapping(node, what, (), ("min", "max")) and node.value:
        low = r.whole(node.value["min"], f"{what}.min", 0, 10_000) if "min" in node.value else 0
        high = r.whole(node.value["max"], f"{what}.max", 0, 10_000) if "max" in node.value else None
        if low is not None and high is not None and high < low:
            r.problem(node.pos, f"{what}: max is below min")
        return Count(low or 0, high)
    r.problem(node.pos, f"{what}: expected a number or {{min: N, max: N}}")
    return Count()


def _event_match(r: _Reader, node: Node, what: str, scope: _Scope, extra: tuple[str, ...] = ()) -> EventMatch | None:
    if not r.mapping(node, what, ("event",), ("task", "where", *extra)):
        return None
    kind = node.value["event"].value
    cls = EVENT_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        r.problem(node.value["event"].pos, f"{what}.event: unknown event {kind!r}; valid: {', '.join(EVENT_KINDS)}")
        return None
    task = _task_ref(r, node.value["task"], f"{what}.task", scope) if "task" in node.value else None
    where: list[tuple[str, Any]] = []
    where_node = node.get("where")
    if where_node is not None:
        fields = [f.name for f in dataclasses.fields(cls) if f.name not in ("seq", "at")]
        if r.mapping(where_node, f"{what}.where", (), tuple(fields)):
            where = [(key, child.plain()) for key, child in where_node.value.items()]
    if "task" in node.value and task is None:
        return None
    return EventMatch(kind, task, tuple(where))


CONDITION_KINDS = ("event", "state", "ledger", "sequence", "setting", "not")


def _condition(r: _Reader, node: Node, what: str, scope: _Scope, labelled: bool = True) -> Condition | None:
    if not node.is_map:
        r.problem(node.pos, f"{what}: expected a condition like {{label: …, event: redelivered}}")
        return None
    kind = r.one_kind(node, what, CONDITION_KINDS)
    if labelled and "label" not in node.value:
        r.problem(node.pos, f"{what}: every condition needs a label the learner can read")
    if not labelled and "label" in node.value:
        r.problem(node.key_pos["label"], f"{what}: no label here (only top-level conditions are shown)")
    label = r.text(node.get("label"), f"{what}.label") if "label" in node.value else ""
    pos = node.pos
    if kind is None:
        return None
    if kind == "event":
        r.unknown_keys(node, what, ("label", "event", "task", "where", "count"))
        wanted = ("event", "task", "where")
        bare = Node({k: v for k, v in node.value.items() if k in wanted}, node.pos, node.key_pos)
        match = _event_match(r, bare, what, scope)
        count = _count(r, node.get("count"), f"{what}.count")
        return EventCount(label, pos, match, count) if match else None
    r.unknown_keys(node, what, ("label", kind))
    spec = node.value[kind]
    if kind == "state":
        if not r.mapping(spec, f"{what}.state", ("task", "is")):
            return None
        task = _task_ref(r, spec.value["task"], f"{what}.state.task", scope)
        state = spec.value["is"].value
        if state not in TASK_STATES:
            r.problem(
                spec.value["is"].pos, f"{what}.state.is: unknown state {state!r}; valid: {', '.join(TASK_STATES)}"
            )
            return None
        return TaskState(label, pos, task, state) if task else None
    if kind == "ledger":
        if not r.mapping(spec, f"{what}.ledger", ("action",), ("key", "count")):
            return None
        action = r.text(spec.value["action"], f"{what}.ledger.action")
        key = r.text(spec.get("key"), f"{what}.ledger.key") if "key" in spec.value else None
        return LedgerCount(label, pos, action, key, _count(r, spec.get("count"), f"{what}.ledger.count"))
    if kind == "sequence":
        matches = [_event_match(r, item, f"{what}.sequence", scope) for item in r.items(spec, f"{what}.sequence", 2)]
        if any(m is None for m in matches) or not matches:
            return None
        return Sequence(label, pos, tuple(m for m in matches if m is not None))
    if kind == "setting":
        if not spec.is_map or len(spec.value) != 1:
            r.problem(spec.pos, f"{what}.setting: expected one setting, like {{task_acks_late: true}}")
            return None
        ((name, value),) = spec.value.items()
        try:
            return SettingIs(label, pos, name, settings.check_setting(name, value.plain()))
        except settings.LabConfigError as exc:
            r.problem(spec.key_pos[name], f"{what}.setting: {exc}")
            return None
    inner = _condition(r, spec, f"{what}.not", scope, labelled=False)
    return Not(label, pos, inner) if inner else None


def _conditions(r: _Reader, node: Node | None, what: str, scope: _Scope) -> tuple[Condition, ...]:
    conditions = [_condition(r, item, what, scope) for item in r.items(node, what)]
    return tuple(c for c in conditions if c is not None)
