"""Read a ``code`` step: the learner's task code, checked statically, and the experiment that runs it.

The starter declares the tasks the step is about (``@app.task`` functions); the solution
and every wrong solution must declare the same ones, and the experiment and the goal may
name them as they name the lab's tasks. A problem inside code is reported at its line and
column in the lesson file. Nothing here runs the code.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from celery_tutor.course.code_step import CodeStep, LessonCode, WrongCode
from celery_tutor.course.format import TEXT, Key, Keys, Schema, list_of, ref
from celery_tutor.course.goal_reader import EXPLAIN, HINTS, read_goal_parts
from celery_tutor.course.reading import Reader, experiment_key, read_experiment
from celery_tutor.lab.code_source import CodeProblem, DeclaredTask, check_code, position_in_file
from celery_tutor.lab.library import LAB_TASKS, HasCheckpoints
from celery_tutor.lab.limits import MAX_CODE_CHARS
from celery_tutor.yaml_source import Node, Pos

CODE: Schema = {
    "type": "string",
    "pattern": r"\S",
    "maxLength": MAX_CODE_CHARS,
    "description": "Python source, best written as a literal block (`|`) so problems are placed at their line.",
}
WRONG_CODE = Keys(
    (
        Key("why", TEXT, "What is missing in this version.", required=True),
        Key("code", CODE, "The tempting version of the task code.", required=True),
    )
)
CODE_STEP = Keys(
    (
        Key("body", TEXT, "What to write (Markdown).", required=True),
        Key(
            "starter",
            CODE,
            "The code the learner starts from; its `@app.task` functions are the tasks the step is about.",
            required=True,
        ),
        experiment_key("Run on a fresh lab with the learner's tasks when the learner presses run; end with a wait."),
        Key("goal", ref("conditions"), "What the experiment must show for the learner's code.", required=True),
        HINTS,
        Key("solution", CODE, "Reference code that reaches the goal (checked by verify).", required=True),
        EXPLAIN,
        Key(
            "wrong_solutions",
            list_of(WRONG_CODE),
            "Tempting versions that must not reach the goal (verify proves it).",
        ),
    ),
    help="The learner writes the task; the experiment runs it on a fresh lab and the goal is checked live.",
)

DEFINITIONS: dict[str, Schema | Keys] = {"codeStep": CODE_STEP}


def read_code_step(r: Reader, node: Node, where: str, step_id: str, pos: Pos) -> CodeStep | None:
    """A code step, or None (its problems reported) when it cannot be used."""
    if not r.keys(node, where, CODE_STEP):
        return None
    starter = _code(r, node.get("starter"), f"{where}.starter", None)
    if starter is None:
        return None
    code, declared = starter
    names = tuple(task.name for task in declared)
    tasks: Mapping[str, HasCheckpoints] = {**LAB_TASKS, **{task.name: task for task in declared}}
    solution = _code(r, node.get("solution"), f"{where}.solution", names)
    experiment, scope = read_experiment(r, node, where, tasks)
    wrong: list[WrongCode] = []
    for item in r.items(node.get("wrong_solutions"), f"{where}.wrong_solutions"):
        if r.keys(item, f"{where}.wrong_solutions entry", WRONG_CODE):
            checked = _code(r, item.value["code"], f"{where}.wrong_solutions.code", names)
            if checked is not None:
                wrong.append(WrongCode(r.text(item.value["why"], f"{where}.wrong_solutions.why"), checked[0]))
    parts = read_goal_parts(r, node, where, scope)
    if solution is None:
        return None
    return CodeStep(
        step_id,
        pos,
        *parts,
        starter=code,
        tasks=names,
        experiment=experiment,
        solution=solution[0],
        wrong_solutions=tuple(wrong),
    )


def _code(
    r: Reader, node: Node | None, what: str, expected: Collection[str] | None
) -> tuple[LessonCode, tuple[DeclaredTask, ...]] | None:
    """Code that compiles and declares the ``expected`` tasks (any, for a starter), or None."""
    if node is None:
        return None
    if not isinstance(node.value, str) or not node.value.strip():
        r.problem(node.pos, f"{what}: expected Python code (a literal block: {what.rsplit('.', 1)[-1]}: |)")
        return None
    checked = check_code(node.value, expected)
    if isinstance(checked, CodeProblem):
        r.problem(position_in_file(r.source, node.pos, checked), f"{what}: {checked.message}")
        return None
    return LessonCode(node.value, node.pos), checked
