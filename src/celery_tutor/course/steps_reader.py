"""Read a lesson's steps (``read``, ``predict``, ``lab``, ``code``, ``quiz``), each with an id unique in the lesson."""

from __future__ import annotations

from dataclasses import replace

from celery_tutor.course.code_step_reader import read_code_step
from celery_tutor.course.conditions_reader import read_conditions
from celery_tutor.course.format import TEXT, Key, Keys, Schema, list_of, ref
from celery_tutor.course.goal_reader import EXPLAIN, HINTS, read_goal_parts
from celery_tutor.course.model import (
    MAX_TAKEAWAY,
    STEP_KINDS,
    LabStep,
    PredictStep,
    QuizStep,
    ReadStep,
    Step,
    WrongSolution,
)
from celery_tutor.course.questions_reader import ONE_CORRECT, read_choices, read_questions
from celery_tutor.course.reading import Reader, Scope, experiment_key, read_experiment, read_script
from celery_tutor.lab import settings
from celery_tutor.lab.actions import Wait
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.yaml_source import Node, Pos

PREDICT = Keys(
    (
        Key("question", TEXT, "What will happen? (Markdown)", required=True),
        Key("choices", ONE_CORRECT, "The answers to pick from: exactly one is correct.", required=True),
        experiment_key("Run once the learner locked an answer; end with a wait for what you expect."),
        Key("expect", ref("conditions"), "What will be observed, checked right after the experiment.", required=True),
        Key("explain", TEXT, "Why it happened (Markdown).", required=True),
    ),
    help="The learner locks an answer, then watches the experiment run on a fresh lab.",
)
WRONG_SOLUTION = Keys(
    (
        Key("why", TEXT, "What is missing in this approach.", required=True),
        Key("script", ref("script"), "Control steps of the tempting approach.", required=True),
    )
)
LAB_STEP = Keys(
    (
        Key("body", TEXT, "What to do (Markdown).", required=True),
        Key("goal", ref("conditions"), "What the learner must make true with the controls.", required=True),
        HINTS,
        Key(
            "solution",
            ref("script"),
            "Control steps that reach the goal on a fresh lab (checked by verify).",
            required=True,
        ),
        EXPLAIN,
        Key(
            "setup",
            list_of({**ref("controlStep"), "not": {"required": ["wait"]}}),
            "Control steps run when the step starts (no waits).",
        ),
        Key(
            "wrong_solutions",
            list_of(WRONG_SOLUTION),
            "Tempting approaches that must not reach the goal (verify proves it).",
        ),
    ),
    help="The learner reaches a goal with the lesson's controls.",
)
TAKEAWAY: Schema = {"type": "string", "pattern": r"^[^\n]*\S[^\n]*\n?$", "maxLength": MAX_TAKEAWAY}
"""One line of text, not blank."""

STEP = Keys(
    (
        Key("id", ref("id"), "Unique in the lesson: progress is keyed by it.", required=True),
        Key(
            "takeaway",
            TAKEAWAY,
            f"The one line to remember, on the lesson's end card (at most {MAX_TAKEAWAY} characters; "
            "default: the first sentence of the step's explain, a read step's heading).",
        ),
    ),
    (
        Key("read", TEXT, "Markdown text to read."),
        Key("predict", ref("predictStep"), "Predict, then watch."),
        Key("lab", ref("labStep"), "Reach a goal on the live lab."),
        Key("code", ref("codeStep"), "Write a task; an experiment runs it on a fresh lab."),
        Key("quiz", list_of(ref("question")), "Questions."),
    ),
    only_with={
        "read": (
            Key(
                "task",
                ref("taskName"),
                "The lab task the text discusses: the code panel shows its source (default: the lesson's first).",
            ),
        ),
    },
    help=f"A step: an `id` and one of {', '.join(STEP_KINDS)}; a read step may name the `task` to show.",
)

DEFINITIONS: dict[str, Schema | Keys] = {"step": STEP, "predictStep": PREDICT, "labStep": LAB_STEP}


def read_steps(r: Reader, node: Node | None, control_aliases: Scope) -> tuple[Step, ...]:
    """The lesson's steps; conditions may use the aliases of the lesson's controls too."""
    if node is None:
        return ()
    steps: list[Step] = []
    step_ids: dict[str, Pos] = {}
    question_ids: dict[str, Pos] = {}
    kinds = STEP.kind_names()
    for item in r.items(node, "steps"):
        if not item.is_map:
            r.problem(item.pos, "steps: each step is a mapping like {id: intro, read: …}")
            continue
        r.unknown_keys(item, "step", STEP.names())
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
        step: Step | None
        if "task" in item.value and kind != "read":
            r.problem(item.key_pos["task"], f"{where}: only a read step names a task (the others show what they send)")
        if kind == "read":
            step = ReadStep(step_id, item.pos, r.text(body, where), _task(r, item.get("task"), where))
        elif kind == "predict":
            step = _predict(r, body, where, step_id, item.pos)
        elif kind == "lab":
            step = _lab_step(r, body, where, step_id, item.pos, control_aliases)
        elif kind == "code":
            step = read_code_step(r, body, where, step_id, item.pos)
        else:
            step = QuizStep(step_id, item.pos, read_questions(r, body, where, question_ids))
        takeaway = _takeaway(r, item.get("takeaway"), step_id or "step")
        if step is not None:
            steps.append(replace(step, takeaway=takeaway) if takeaway else step)
    return tuple(steps)


def _takeaway(r: Reader, node: Node | None, where: str) -> str:
    """A step's takeaway: one line for the end card, not too long to read at a glance."""
    text = r.text(node, f"{where}.takeaway").strip()
    if node is None or not text:
        return ""
    if "\n" in text:
        r.problem(node.pos, f"{where}.takeaway: one line only (a takeaway is a single line on the end card)")
        return ""
    if len(text) > MAX_TAKEAWAY:
        r.problem(node.pos, f"{where}.takeaway: at most {MAX_TAKEAWAY} characters, this one has {len(text)}")
        return ""
    return text


def _task(r: Reader, node: Node | None, where: str) -> str | None:
    """The lab task a read step shows, checked against the lab's library."""
    if node is None:
        return None
    try:
        settings.pick(LAB_TASKS, node.value, "task")
    except settings.LabConfigError as exc:
        r.problem(node.pos, f"{where}.task: {exc}")
        return None
    return str(node.value)


def _predict(r: Reader, node: Node, where: str, step_id: str, pos: Pos) -> PredictStep | None:
    if not r.keys(node, where, PREDICT):
        return None
    experiment, scope = read_experiment(r, node, where)
    return PredictStep(
        step_id,
        pos,
        r.text(node.get("question"), f"{where}.question"),
        read_choices(r, node.get("choices"), f"{where}.choices", exactly_one=True),
        experiment,
        read_conditions(r, node.get("expect"), f"{where}.expect", scope),
        r.text(node.get("explain"), f"{where}.explain"),
    )


def _lab_step(r: Reader, node: Node, where: str, step_id: str, pos: Pos, control_aliases: Scope) -> LabStep | None:
    if not r.keys(node, where, LAB_STEP):
        return None
    setup = read_script(r, node.get("setup"), f"{where}.setup") if node.get("setup") is not None else ()
    solution = read_script(r, node.get("solution"), f"{where}.solution")
    if any(isinstance(action, Wait) for action in setup):
        r.problem(node.value["setup"].pos, f"{where}.setup: a setup cannot wait")
    scope = Scope(set(control_aliases.aliases))
    scope.add_script(setup)
    scope.add_script(solution)
    wrong: list[WrongSolution] = []
    for item in r.items(node.get("wrong_solutions"), f"{where}.wrong_solutions"):
        if r.keys(item, f"{where}.wrong_solutions entry", WRONG_SOLUTION):
            script = read_script(r, item.value["script"], f"{where}.wrong_solutions.script")
            scope.add_script(script)
            wrong.append(WrongSolution(r.text(item.value["why"], f"{where}.wrong_solutions.why"), script))
    return LabStep(
        step_id,
        pos,
        *read_goal_parts(r, node, where, scope),
        solution=solution,
        setup=setup,
        wrong_solutions=tuple(wrong),
    )
