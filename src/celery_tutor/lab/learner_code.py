"""Load a learner's task code: the one place where code typed by a learner runs.

:func:`compile_code` takes the source text of a code step (or of a ``lab run`` script)
and returns the lab tasks it defines as :class:`~.kit.TaskSpec` values, ready for
:class:`~.lab_config.LabConfig`'s ``extra_tasks``, or a :class:`~.code_source.CodeProblem`
that says where and why it cannot be used. It is called only when someone asks to run
the code (the learner presses run, ``verify`` checks a lesson, ``lab run`` runs a
script); loading a lesson or a script never runs it.

The code runs as a module of its own whose namespace already holds what lab tasks use:
``app`` (a fresh :class:`~.kit.TaskBook` per compilation, so learner tasks never reach the
built-in library), ``checkpoint``, ``work`` and the outside world (``payments``,
``rates_api``, ``mailer``, ``storage``). Nothing needs importing, and the imports a lab
task is written with work as written:

* ``from lab import app, checkpoint, work, payments`` (the short name lessons show), or
  ``from celery_tutor.lab.kit import …`` as the built-in tasks in ``tasks.py`` do;
* ``celery`` and its modules (``from celery.exceptions import Reject``);
* a few standard modules a task may need: :data:`~.learner_namespace.STANDARD_MODULES`. ``time`` is the real
  module except ``time.sleep``, which waits like ``work()`` inside a task, so a killed
  worker's sleeping task dies at once, as a ``kill -9`` would end it.

Any other import fails with a message that lists what the lab offers: the task should
reach the outside world through the lab's services, whose side effects the ledger shows.
``input``, ``breakpoint``, ``help``, ``exit`` and ``quit`` (they would wait on the terminal
or end the app) and ``exec``, ``eval`` and ``compile`` (code they build would escape the
time limit) are not there. ``print`` inside a task writes to the lab's timeline.

This is not a sandbox: the code runs in the app's own process, with the user's rights,
like any Python they run. The limits guard against mistakes (an endless loop, a typo),
not against someone who wants to break out.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from celery_tutor.lab import kit, limits, runtime, settings
from celery_tutor.lab.code_source import FILENAME_PREFIX, TASK_NAME, CodeProblem, ParsedCode, parse_code, tasks_problem
from celery_tutor.lab.code_trace import CodeTimeLimit, TopLevelWatch
from celery_tutor.lab.kit import TaskBook, TaskRef, TaskSpec
from celery_tutor.lab.learner_namespace import LabImportError, learner_namespace

EXTRA_OPTIONS: dict[str, str] = {
    "bind": "pass the task itself as the first argument (self.retry, self.request)",
    "name": "the task's name, instead of the function's",
    "ignore_result": "store no result",
    "typing": "check the arguments against the signature when the task is sent (default true)",
    "throws": "expected exceptions: logged as information, not as errors",
}
"""``@app.task`` options learner code may use besides the lab's own (:data:`~.settings.TASK_OPTIONS`)."""


class TaskDefinitionError(Exception):
    """``@app.task`` was used in a way the lab cannot run (reported at the decorator's line)."""


@dataclass(frozen=True)
class LearnerCode:
    """Learner code that compiled and ran its top level: the tasks it defines."""

    source: str
    filename: str
    tasks: dict[str, TaskSpec]
    """By name, in the order the code defines them."""
    lines: dict[str, int]
    """The line of each task's ``def`` in the source."""
    output: tuple[str, ...] = ()
    """What the top level printed."""

    @property
    def specs(self) -> tuple[TaskSpec, ...]:
        """The tasks, for :class:`~.lab_config.LabConfig`'s ``extra_tasks``."""
        return tuple(self.tasks.values())


def compile_code(
    source: str,
    expected: Collection[str] | None = None,
    *,
    time_limit: float = limits.CODE_IMPORT_SECONDS,
) -> LearnerCode | CodeProblem:
    """Run learner code's top level and collect the tasks it defines, or say what is wrong.

    ``expected`` is the task names the step runs (None: any). A syntax error is found
    before anything runs; an exception at the top level is reported at its line; the top
    level may run ``time_limit`` seconds. Only the top level runs here (it defines the
    tasks): task bodies run on a lab's worker.
    """
    parsed = parse_code(source)
    if isinstance(parsed, CodeProblem):
        return parsed
    _remember_source(parsed)
    book = LearnerBook(parsed)
    output: list[str] = []
    namespace = learner_namespace(book, output)
    problem = _run_top_level(parsed, namespace, time_limit)
    if problem is not None:
        return problem
    found = [(spec.name, book.lines[spec.name]) for spec in book.specs.values()]
    problem = tasks_problem([*found, *book.duplicates], expected)
    if problem is not None:
        return _with_hint(problem, namespace)
    return LearnerCode(source, parsed.filename, dict(book.specs), dict(book.lines), tuple(output))


def _run_top_level(parsed: ParsedCode, namespace: dict[str, Any], time_limit: float) -> CodeProblem | None:
    watch = TopLevelWatch(time_limit)
    raised: BaseException | None = None
    try:
        watch.start()
        exec(parsed.code, namespace)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # stored only: no call here, where a late stop could land
        raised = exc
    finally:
        # A stop sent at the code's last line raises at the next bytecode boundary: at
        # the latest on the way into ``finish``, which is then called again. After
        # ``finish`` nothing can send one any more.
        while True:
            try:
                watch.finish()
                break
            except CodeTimeLimit as late:
                raised = raised or late
    if isinstance(raised, CodeTimeLimit):
        line, column = _where(parsed, raised)
        message = (
            f"the top level of the code ran for more than {time_limit:g} s "
            "(an endless loop?): it only needs to define the tasks"
        )
        return CodeProblem(line, column, message, "time")
    if raised is not None:
        return _raised_problem(parsed, raised)
    return None


def _raised_problem(parsed: ParsedCode, exc: BaseException) -> CodeProblem:
    line, column = _where(parsed, exc)
    own = isinstance(exc, TaskDefinitionError | LabImportError | runtime.LabContextError)
    message = str(exc) if own else f"{type(exc).__name__}: {exc}".rstrip(": ")
    return CodeProblem(line, column, message, "import")


def _where(parsed: ParsedCode, exc: BaseException) -> tuple[int, int]:
    """The line and column, in the learner's code, of the innermost learner frame an exception passed."""
    line, column = 1, 1
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == parsed.filename:
            line, column = tb.tb_lineno, 1
            positions = list(code.co_positions())
            index = tb.tb_lasti // 2
            if 0 <= index < len(positions):
                start_line, _, start_col, _ = positions[index]
                if start_line == line and start_col is not None:
                    column = _char_column(parsed.source, line, start_col)
        tb = tb.tb_next
    return line, column


def _char_column(source: str, line: int, byte_offset: int) -> int:
    """A 1-based character column from Python's 0-based UTF-8 byte offset."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return 1
    return len(lines[line - 1].encode()[:byte_offset].decode(errors="ignore")) + 1


def _with_hint(problem: CodeProblem, namespace: Mapping[str, Any]) -> CodeProblem:
    """Say why no task was found when the code replaced the lab's ``app``."""
    if problem.kind != "tasks" or "defines no task" not in problem.message:
        return problem
    if isinstance(namespace.get("app"), TaskBook):
        return problem
    hint = "; `app` is no longer the lab's app: the lab gives you `app`, do not create one"
    return CodeProblem(problem.line, problem.column, problem.message + hint, problem.kind)


def _remember_source(parsed: ParsedCode) -> None:
    """Let tracebacks (Celery logs a failed task's) show the learner's lines."""
    lines = parsed.source.splitlines(keepends=True)
    linecache.cache[parsed.filename] = (len(parsed.source), None, lines, parsed.filename)
    ours = [
        name for name in list(linecache.cache) if name.startswith(FILENAME_PREFIX)
    ]  # list(): other threads compile too
    for name in ours[: max(0, len(ours) - 32)]:  # the last few compilations are enough
        linecache.cache.pop(name, None)


class LearnerBook(TaskBook):
    """The ``app`` of one compilation: records the learner's tasks with their own source.

    Like Celery's ``@app.task``, it works with and without parentheses. Options are
    checked when the decorator runs, so a wrong one is reported at its line.
    """

    def __init__(self, parsed: ParsedCode) -> None:
        super().__init__()
        self._parsed = parsed
        self.lines: dict[str, int] = {}
        self.duplicates: list[tuple[str, int]] = []

    def task(self, *args: Any, **options: Any) -> Any:
        """Declare a task: ``@app.task`` or ``@app.task(OPTION=VALUE, …)``."""
        if args:
            if len(args) == 1 and callable(args[0]) and not options:
                return self.task()(args[0])
            raise TaskDefinitionError("@app.task takes options by name, like @app.task(bind=True)")
        checked = check_options(options)

        def register(func: Callable[..., Any]) -> TaskRef:
            if not inspect.isfunction(func) or func.__code__.co_filename != self._parsed.filename:
                what = getattr(func, "__name__", type(func).__name__)
                raise TaskDefinitionError(f"@app.task decorates a function your code defines (def …), not {what}")
            if inspect.iscoroutinefunction(func):
                raise TaskDefinitionError(f"task {func.__name__}: a Celery task is a plain def, not async def")
            task_options = dict(checked)
            name = task_options.pop("name", func.__name__)
            if len(self.specs) + len(self.duplicates) >= limits.MAX_CODE_TASKS:
                raise TaskDefinitionError(f"more than {limits.MAX_CODE_TASKS} tasks: over the lab's limit")
            line, source = self._source_of(func)
            spec = kit.task_spec(name, func, task_options, source)
            if name in self.specs:
                self.duplicates.append((name, line))
            else:
                self.specs[name] = spec
                self.lines[name] = line
            return TaskRef(spec)

        return register

    def _source_of(self, func: Callable[..., Any]) -> tuple[int, str]:
        """The line of the function's ``def`` and its text, decorators included."""
        first = func.__code__.co_firstlineno
        lines = self._parsed.source.splitlines()
        for node in ast.walk(self._parsed.tree):
            if not isinstance(node, ast.FunctionDef) or node.name != func.__name__:
                continue
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if start == first:
                end = node.end_lineno or node.lineno
                return node.lineno, textwrap.dedent("\n".join(lines[start - 1 : end])) + "\n"
        return first, (lines[first - 1] + "\n") if 0 < first <= len(lines) else ""


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``@app.task`` options as the lab registers them, or :class:`TaskDefinitionError`.

    The lab's own task options (``acks_late``, ``max_retries``, ``autoretry_for``…) are
    checked as a script's would be, within the lab's limits; ``autoretry_for`` and
    ``throws`` take exception classes, as in Celery.
    """
    checked: dict[str, Any] = {}
    valid = sorted({*settings.TASK_OPTIONS, *EXTRA_OPTIONS})
    for name, value in options.items():
        try:
            checked[name] = _check_option(name, value, valid)
        except settings.LabConfigError as exc:
            raise TaskDefinitionError(f"@app.task: {exc}") from None
    return checked


def _check_option(name: str, value: Any, valid: list[str]) -> Any:
    if name in ("autoretry_for", "throws"):
        return _exception_classes(name, value)
    if name in ("bind", "ignore_result", "typing"):
        return settings.named(name, settings.FLAG.check, value)
    if name == "name":
        if not isinstance(value, str) or not TASK_NAME.fullmatch(value):
            raise settings.LabConfigError(f"name: expected a task name (letters, digits, _ and .), got {value!r}")
        return value
    if name not in settings.TASK_OPTIONS:
        raise settings.LabConfigError(f"unknown option {name!r} in the lab; valid: {', '.join(valid)}")
    return settings.check_task_option(name, value)


def _exception_classes(name: str, value: Any) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise settings.LabConfigError(
                f"{name}: expected a tuple of exception classes, like (ConnectionError, TimeoutError), got {item!r}"
            )
    return tuple(items)


# -- the module the code runs in ------------------------------------------------------------
