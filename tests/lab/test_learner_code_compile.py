"""Compiling learner code: what it may import, which tasks it defines, and its problems at their line.

No worker runs here: :func:`compile_code` runs only the code's top level (which defines
the tasks), and :func:`check_code` runs nothing at all.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import traceback

import pytest

from celery_tutor.lab import kit, limits
from celery_tutor.lab.code_source import CodeProblem, DeclaredTask, check_code, position_in_file
from celery_tutor.lab.learner_code import LearnerCode, compile_code
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.yaml_source import Pos


def ok(source: str, expected: list[str] | None = None) -> LearnerCode:
    code = compile_code(source, expected)
    assert isinstance(code, LearnerCode), code
    return code


def problem(source: str, expected: list[str] | None = None, **kwargs: float) -> CodeProblem:
    found = compile_code(source, expected, **kwargs)
    assert isinstance(found, CodeProblem), found
    return found


# -- syntax ----------------------------------------------------------------------------------


def test_a_syntax_error_is_a_problem_at_its_line_and_column_and_nothing_runs() -> None:
    source = "print('ran')\n@app.task\ndef add(x, y):\n    return x +\n"
    found = problem(source)
    assert (found.line, found.column, found.kind) == (4, 15, "syntax")
    assert found.message == "invalid syntax"
    assert str(found) == "line 4, column 15: invalid syntax"


def test_an_indentation_error_is_a_syntax_problem_at_its_line() -> None:
    found = problem("@app.task\ndef add(x, y):\nreturn x + y\n")
    assert (found.line, found.kind) == (3, "syntax")
    assert "indented block" in found.message


def test_an_error_only_the_compiler_sees_is_a_syntax_problem() -> None:
    found = problem("x = 1\nreturn x\n")  # parses, but return outside a function does not compile
    assert (found.line, found.kind, found.message) == (2, "syntax", "'return' outside function")


def test_code_over_the_size_limit_is_refused_before_python_reads_it() -> None:
    found = problem("#" * (limits.MAX_CODE_CHARS + 1))
    assert (found.line, found.kind) == (1, "size")
    assert "over the lab's limit of 20,000" in found.message


# -- the top level ---------------------------------------------------------------------------


def test_an_exception_at_the_top_level_is_a_problem_at_its_line_and_column() -> None:
    found = problem("x = 1\nrate = x + undefined_rate\n")
    assert (found.line, found.column, found.kind) == (2, 12, "import")
    assert found.message == "NameError: name 'undefined_rate' is not defined"


def test_an_exception_in_a_function_the_top_level_calls_points_into_that_function() -> None:
    found = problem("def helper():\n    return 1 / 0\n\nvalue = helper()\n")
    assert (found.line, found.message) == (2, "ZeroDivisionError: division by zero")


def test_lab_helpers_at_the_top_level_say_they_only_work_in_a_task() -> None:
    found = problem("x = 1\npayments.charge(1, 2.0)\n")
    assert found.line == 2
    assert found.message == "lab helpers (checkpoint, work, payments…) only work inside a task run by a lab worker"


def test_an_endless_loop_at_the_top_level_is_stopped_and_leaves_no_trace_function() -> None:
    before = sys.gettrace()
    found = problem("n = 0\nwhile True:\n    n += 1\n", time_limit=0.3)
    assert (found.kind, found.line) == ("time", 2)  # the loop's own line
    assert found.message == (
        "the top level of the code ran for more than 0.3 s (an endless loop?): it only needs to define the tasks"
    )
    assert sys.gettrace() is before
    assert isinstance(compile_code("@app.task\ndef f():\n    pass\n"), LearnerCode)  # this thread still works


def test_a_top_level_loop_that_swallows_every_exception_is_still_stopped() -> None:
    found = problem("while True:\n    try:\n        pass\n    except BaseException:\n        pass\n", time_limit=0.3)
    assert found.kind == "time"


def test_a_top_level_loop_after_a_stack_overflow_is_stopped_too() -> None:
    # The overflow switches the trace off (Python does that to a trace function that hits
    # the recursion limit): the helper thread stops the loop after it.
    source = "def deeper(n):\n    return deeper(n + 1)\n\ntry:\n    deeper(0)\nexcept RecursionError:\n    pass\nwhile True:\n    pass\n"
    found = problem(source, time_limit=0.3)
    assert (found.kind, found.line) == ("time", 8)
    assert not [t for t in threading.enumerate() if t.name == "celery-tutor-code-top-level"]


def test_a_long_sleep_at_the_top_level_ends_at_the_limit() -> None:
    found = problem("import time\ntime.sleep(3600)\n", time_limit=0.3)
    assert (found.kind, found.line) == ("time", 2)


def test_print_at_the_top_level_is_kept_not_written_to_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code = ok("print('loading', 3)\n@app.task\ndef f():\n    pass\n")
    assert code.output == ("loading 3",)
    assert capsys.readouterr().out == ""


def test_the_builtins_that_would_wait_on_the_terminal_or_escape_the_guard_are_missing() -> None:
    for name in ("input", "breakpoint", "exec", "eval", "compile", "exit", "quit", "help"):
        found = problem(f"x = 1\n{name}\n")
        assert (found.line, found.message) == (2, f"NameError: name '{name}' is not defined")


# -- imports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "imports",
    [
        "",  # nothing needs importing
        "from lab import app, checkpoint, work, payments, rates_api, mailer, storage",
        "from celery_tutor.lab.kit import app, checkpoint, payments",
        "import lab\napp = lab.app",
        "import celery_tutor.lab.kit\napp = celery_tutor.lab.kit.app",
        "from celery_tutor.lab import kit\napp = kit.app",
    ],
)
def test_the_lab_helpers_import_as_lab_tasks_write_them(imports: str) -> None:
    source = f"{imports}\n\n@app.task(bind=True)\ndef charge_card(self, order_id, amount):\n    checkpoint('before_charge')\n    return payments.charge(order_id, amount)\n"
    code = ok(source, ["charge_card"])
    assert code.tasks["charge_card"].checkpoints == ("before_charge",)
    assert code.tasks["charge_card"].calls == ("payments.charge",)


def test_celery_and_a_few_standard_modules_import() -> None:
    source = """
from __future__ import annotations
from celery.exceptions import Reject, MaxRetriesExceededError
from celery.utils.log import get_task_logger
import random, math, json, hashlib, uuid, datetime, time
logger = get_task_logger(__name__)

@app.task
def f():
    raise Reject("no", requeue=False)
"""
    assert ok(source).tasks["f"].name == "f"


def test_any_other_import_is_a_problem_that_lists_what_the_lab_offers() -> None:
    found = problem("import json\nimport os\n")
    assert (found.line, found.kind) == (2, "import")
    assert found.message.startswith("the lab's code cannot import os; it can import: lab, celery, collections")
    assert problem("from requests import get\n").message.startswith("the lab's code cannot import requests")
    assert "relative imports" in problem("from . import tasks\n").message
    assert "cannot import celery_tutor.lab.engine" in problem("from celery_tutor.lab.engine import Lab\n").message


def test_time_is_the_real_module_with_the_labs_sleep() -> None:
    code = ok("import time\nstarted = time.monotonic()\n@app.task\ndef f():\n    time.sleep(0.1)\n")
    sleep = code.tasks["f"].func.__globals__["time"].sleep
    assert sleep.__module__ == "celery_tutor.lab.learner_namespace"
    assert sys.modules["time"].sleep is not sleep  # nobody else's time module changed


# -- the tasks defined -----------------------------------------------------------------------


def test_a_task_spec_holds_the_learners_own_source_options_and_checkpoints() -> None:
    source = '''import random


@app.task(bind=True, acks_late=True, max_retries=5)
def charge_card(self, order_id, amount):
    """Charge once, whatever happens."""
    checkpoint("before_charge")
    charge = payments.charge(order_id, amount, idempotency_key=f"order-{order_id}")
    checkpoint("after_charge")
    return charge


x = 3
'''
    code = ok(source)
    spec = code.tasks["charge_card"]
    assert spec.source.startswith("@app.task(bind=True, acks_late=True, max_retries=5)\ndef charge_card(")
    assert spec.source.endswith("    return charge\n")
    assert spec.options == {"bind": True, "acks_late": True, "max_retries": 5}
    assert spec.checkpoints == ("before_charge", "after_charge")
    assert spec.summary == "Charge once, whatever happens."
    assert code.lines == {"charge_card": 5}
    assert code.specs == (spec,)


def test_learner_tasks_never_reach_the_library() -> None:
    before = dict(kit.app.specs)
    first = ok("@app.task\ndef charge_card(order_id, amount):\n    return 1\n")
    second = ok("@app.task\ndef charge_card(order_id, amount):\n    return 2\n")
    assert kit.app.specs == before
    assert LAB_TASKS["charge_card"].func is not first.tasks["charge_card"].func
    assert first.tasks["charge_card"].func(1, 2) == 1
    assert second.tasks["charge_card"].func(1, 2) == 2


def test_the_decorator_works_bare_and_with_a_name_option() -> None:
    code = ok("@app.task\ndef a():\n    pass\n\n@app.task(name='shop.b')\ndef b():\n    pass\n")
    assert list(code.tasks) == ["a", "shop.b"]
    assert code.tasks["shop.b"].options == {}


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("x = 1\n", 1, "the code defines no task: decorate a function with @app.task"),
        (
            "@app.task\ndef a():\n    pass\n\n@app.task\ndef a():\n    pass\n",
            6,
            "task a is defined twice (lines 2 and 6)",
        ),
        (
            "@app.task(queue='fast')\ndef a():\n    pass\n",
            1,
            "@app.task: unknown option 'queue' in the lab; valid: acks_late,",
        ),
        (
            "@app.task(max_retries='3')\ndef a():\n    pass\n",
            1,
            "@app.task: max_retries: expected a whole number ≥ 0, got '3'",
        ),
        (
            "@app.task(retry_kwargs={'countdown': 1e9})\ndef a():\n    pass\n",
            1,
            "@app.task: retry_kwargs: countdown: 1000000000.0 is over the lab's limit",
        ),
        (
            "@app.task(autoretry_for=('ConnectionError',))\ndef a():\n    pass\n",
            1,
            "@app.task: autoretry_for: expected a tuple of exception classes",
        ),
        ("@app.task(name='no spaces')\ndef a():\n    pass\n", 1, "@app.task: name: expected a task name"),
        ("@app.task(True)\ndef a():\n    pass\n", 1, "@app.task takes options by name"),
        ("@app.task\nasync def a():\n    pass\n", 1, "task a: a Celery task is a plain def, not async def"),
        ("a = app.task()(print)\n", 1, "@app.task decorates a function your code defines (def …), not print"),
        ("a = app.task()(len)\n", 1, "@app.task decorates a function your code defines (def …), not len"),
        ("a = app.task()(lambda: 1)\n", 1, "'<lambda>' is not a task name"),
        (
            "from celery import Celery\napp = Celery('shop')\n\n@app.task\ndef a():\n    pass\n",
            1,
            "the code defines no task: decorate a function with @app.task; `app` is no longer the lab's app",
        ),
    ],
)
def test_tasks_the_lab_cannot_run_are_problems_at_their_line(source: str, line: int, message: str) -> None:
    found = problem(source)
    assert found.line == line
    assert found.message.startswith(message), found.message


def test_too_many_tasks_stop_the_code_at_the_one_over_the_limit() -> None:
    source = "".join(f"@app.task\ndef t{i}():\n    pass\n" for i in range(limits.MAX_CODE_TASKS + 1))
    found = problem(source)
    assert (found.line, found.message) == (3 * limits.MAX_CODE_TASKS + 1, "more than 8 tasks: over the lab's limit")


def test_the_step_says_which_task_names_it_expects() -> None:
    source = "@app.task\ndef charge(order_id, amount):\n    pass\n"
    assert problem(source, ["charge_card"]).message == (
        "task charge is not one this step runs: this step expects a task named charge_card"
    )
    assert problem("x = 1\n", ["charge_card"]).message == (
        "the code defines no task: decorate a function with @app.task: this step expects a task named charge_card"
    )
    both = ["charge_card", "send_receipt"]
    assert problem("@app.task\ndef charge_card():\n    pass\n", both).message == (
        "the code defines a task named charge_card, but this step expects a task named send_receipt"
    )
    assert list(ok(source, ["charge"]).tasks) == ["charge"]


def test_a_failure_in_a_learner_function_shows_the_learners_line_in_its_traceback() -> None:
    code = ok("@app.task\ndef f(x):\n    return 10 / x  # the bad line\n")
    with pytest.raises(ZeroDivisionError) as raised:
        code.tasks["f"].func(0)
    text = "".join(traceback.format_exception(raised.value))
    assert "return 10 / x  # the bad line" in text


# -- the static check ------------------------------------------------------------------------


def test_the_static_check_runs_nothing_and_reads_the_declared_tasks() -> None:
    source = """
import os  # not run here: the check only reads the code
os.remove("/")

@app.task(bind=True, name="shop.charge")
def charge_card(self, order_id, amount):
    checkpoint("before_charge")
    checkpoint("after_charge")
"""
    assert check_code(source) == (DeclaredTask("shop.charge", 6, ("before_charge", "after_charge")),)
    assert check_code(source, ["charge_card"]) == CodeProblem(
        6, 1, "task shop.charge is not one this step runs: this step expects a task named charge_card", "tasks"
    )


def test_the_static_check_reports_syntax_and_async_tasks() -> None:
    assert check_code("def f(:\n") == CodeProblem(1, 7, "invalid syntax")
    found = check_code("@app.task()\nasync def f():\n    pass\n")
    assert found == CodeProblem(2, 1, "task f: a Celery task is a plain def, not async def", "tasks")


def test_the_static_check_does_not_import_celery() -> None:
    code = "import sys, celery_tutor.lab.code_source as c; c.check_code('x = 1'); print('celery' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_a_problem_in_a_literal_block_maps_to_the_yaml_files_line_and_column() -> None:
    text = "title: x\nlab:\n  code: |\n    @app.task\n    def f(:\n        pass\n"
    found = check_code("@app.task\ndef f(:\n    pass\n")
    assert isinstance(found, CodeProblem)
    assert position_in_file(text, Pos(3, 9), found) == Pos(5, 11)  # the ``(`` in the file
    assert position_in_file(text, Pos(1, 8), found) == Pos(1, 8)  # not a literal block: the value's place
