"""Learner code read without running it: its size, its syntax, the tasks it declares.

A code step's starter, solution and wrong solutions live in a lesson file, and a ``lab
run`` script may carry code too. Both are data until someone asks to run them, so they
are checked here, statically: Python's own compiler says whether the code parses (with
the line and column of the first error), and the syntax tree says which functions are
decorated with ``@app.task``. Nothing here executes the code, and nothing imports
Celery, so the lesson loader can use it. Running it is :mod:`.learner_code`'s job.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from types import CodeType

from celery_tutor.lab import limits
from celery_tutor.yaml_source import Pos

FILENAME_PREFIX = "<your code"
"""Every piece of compiled learner code gets a file name starting with this: tracebacks
point into it, and the lab's guard recognises the learner's frames by it."""

_numbers = itertools.count(1)

TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}")
"""What a task name may look like (a function name, or a dotted ``name=`` option)."""


@dataclass(frozen=True)
class CodeProblem:
    """Why learner code cannot run: where (1-based line and column in the code) and what.

    ``kind`` says which stage found it: ``size``, ``syntax`` (Python's compiler),
    ``tasks`` (the tasks defined are not the ones expected), ``import`` (the top level
    raised), ``time`` (the top level ran too long).
    """

    line: int
    column: int
    message: str
    kind: str = "syntax"

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass(frozen=True)
class DeclaredTask:
    """A function the code decorates with ``@app.task``, as the syntax tree shows it."""

    name: str
    line: int
    """The line of its ``def``."""
    checkpoints: tuple[str, ...]
    """The literal names it passes to ``checkpoint(...)``, in order."""


@dataclass(frozen=True)
class ParsedCode:
    """Code that compiles: its syntax tree and its code object (not run)."""

    source: str
    filename: str
    tree: ast.Module
    code: CodeType


def new_filename() -> str:
    """A file name for one compilation of learner code (``<your code 3>``)."""
    return f"{FILENAME_PREFIX} {next(_numbers)}>"


def parse_code(source: str, filename: str | None = None) -> ParsedCode | CodeProblem:
    """Compile the code without running it, or say why it does not compile."""
    if not isinstance(source, str):
        return CodeProblem(1, 1, f"expected Python source text, got {type(source).__name__}", "size")
    if len(source) > limits.MAX_CODE_CHARS:
        return CodeProblem(
            1, 1, f"the code is {len(source):,} characters: over the lab's limit of {limits.MAX_CODE_CHARS:,}", "size"
        )
    name = filename or new_filename()
    try:
        tree = ast.parse(source, name)
        code = compile(tree, name, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return syntax_problem(exc)
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes; absurd nesting
        return CodeProblem(1, 1, f"Python cannot compile this code: {exc}")
    return ParsedCode(source, name, tree, code)


def syntax_problem(exc: SyntaxError) -> CodeProblem:
    """A syntax error as a problem at its line and column (both at least 1)."""
    message = exc.msg or "invalid syntax"
    if isinstance(exc, IndentationError) and "indent" not in message:
        message = f"indentation: {message}"
    return CodeProblem(max(exc.lineno or 1, 1), max(exc.offset or 1, 1), message)


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def static_checkpoints(tree: ast.AST) -> tuple[str, ...]:
    """The names passed as literals to ``checkpoint(...)``, in order, each once."""
    names = (
        call.args[0].value
        for call in _calls(tree)
        if isinstance(call.func, ast.Name)
        and call.func.id == "checkpoint"
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )
    return tuple(dict.fromkeys(names))


def service_calls(tree: ast.AST, services: Collection[str]) -> tuple[str, ...]:
    """``payments.charge``-style calls on the named services, as written."""
    return tuple(
        f"{call.func.value.id}.{call.func.attr}"
        for call in _calls(tree)
        if isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in services
    )


def _is_app_task(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (
        isinstance(target, ast.Attribute)
        and target.attr == "task"
        and isinstance(target.value, ast.Name)
        and target.value.id == "app"
    )


def _declared_name(func: ast.FunctionDef | ast.AsyncFunctionDef, decorator: ast.expr) -> str:
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if (
                keyword.arg == "name"
                and isinstance(keyword.value, ast.Constant)
                and isinstance(keyword.value.value, str)
            ):
                return keyword.value.value
    return func.name


def declared_tasks(tree: ast.Module) -> tuple[DeclaredTask, ...]:
    """The top-level functions decorated with ``@app.task``, in order."""
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorator = next((d for d in node.decorator_list if _is_app_task(d)), None)
        if decorator is not None:
            found.append(DeclaredTask(_declared_name(node, decorator), node.lineno, static_checkpoints(node)))
    return tuple(found)


def tasks_problem(found: Iterable[tuple[str, int]], expected: Collection[str] | None) -> CodeProblem | None:
    """What is wrong with the tasks some code defines (name and line each), if anything.

    ``expected`` is the task names a step asks for (None: any names). Each must be
    defined, and nothing else may be.
    """
    tasks = list(found)
    wanted = sorted(expected) if expected is not None else []
    asked = f": this step expects {_names(wanted)}" if wanted else ""
    if not tasks:
        return CodeProblem(1, 1, f"the code defines no task: decorate a function with @app.task{asked}", "tasks")
    if len(tasks) > limits.MAX_CODE_TASKS:
        line = tasks[limits.MAX_CODE_TASKS][1]
        message = f"the code defines {len(tasks)} tasks: over the lab's limit of {limits.MAX_CODE_TASKS}"
        return CodeProblem(line, 1, message, "tasks")
    seen: dict[str, int] = {}
    for name, line in tasks:
        if not isinstance(name, str) or not TASK_NAME.fullmatch(name):
            return CodeProblem(line, 1, f"{name!r} is not a task name (letters, digits, _ and .)", "tasks")
        if name in seen:
            return CodeProblem(line, 1, f"task {name} is defined twice (lines {seen[name]} and {line})", "tasks")
        seen[name] = line
    if expected is None:
        return None
    for name, line in tasks:
        if name not in expected:
            return CodeProblem(line, 1, f"task {name} is not one this step runs{asked}", "tasks")
    missing = [name for name in wanted if name not in seen]
    if missing:
        defined = _names(list(seen))
        return CodeProblem(1, 1, f"the code defines {defined}, but this step expects {_names(missing)}", "tasks")
    return None


def _names(names: list[str]) -> str:
    if len(names) == 1:
        return f"a task named {names[0]}"
    return "tasks named " + ", ".join(names)


def check_code(source: str, expected: Collection[str] | None = None) -> tuple[DeclaredTask, ...] | CodeProblem:
    """Static check of learner code: it compiles and declares the expected tasks (nothing runs).

    The tasks are read from the syntax tree (``@app.task`` on top-level functions); the
    code that really runs may still define others, which :mod:`.learner_code` checks.
    """
    parsed = parse_code(source)
    if isinstance(parsed, CodeProblem):
        return parsed
    declared = declared_tasks(parsed.tree)
    for node in parsed.tree.body:
        if isinstance(node, ast.AsyncFunctionDef) and any(_is_app_task(d) for d in node.decorator_list):
            return CodeProblem(
                node.lineno,
                node.col_offset + 1,
                f"task {node.name}: a Celery task is a plain def, not async def",
                "tasks",
            )
    problem = tasks_problem(((task.name, task.line) for task in declared), expected)
    return problem if problem is not None else declared


def position_in_file(text: str, value: Pos, problem: CodeProblem) -> Pos:
    """Where a problem in code held by a YAML value is, in the YAML file itself.

    ``value`` is where the value starts (a literal block's ``|``). For a literal block
    the code's lines are the file's lines below it, shifted by the block's indentation;
    for any other style (folded, quoted) the value's own position is the best there is.
    """
    lines = text.splitlines()
    if not 1 <= value.line <= len(lines):
        return value
    if lines[value.line - 1][value.col - 1 : value.col] != "|":
        return value
    below = lines[value.line :]
    indent = next((len(line) - len(line.lstrip(" ")) for line in below if line.strip()), 0)
    return Pos(value.line + problem.line, indent + problem.column)
