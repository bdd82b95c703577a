"""Hostile input to the command line: a one-line error, bounded memory, no traceback.

Each probe runs the real ``celery-tutor`` in a child process that reports its own peak
memory and CPU time (CPU, not wall-clock: a loaded machine must not fail these tests).
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest

from celery_tutor.cli import main
from celery_tutor.verification import Check
from celery_tutor.yaml_source import MAX_BYTES, Pos, Problem, short

SRC = Path(__file__).parents[2] / "src"
LIMIT_MB = 300
LIMIT_CPU_SECONDS = 5.0

# The peak is VmHWM, the high-water mark of this process's own memory. Not ru_maxrss: Linux
# keeps that across exec, so a child of a large pytest process reported pytest's size.
CHILD = """
import resource, sys
from celery_tutor.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_kb = usage.ru_maxrss
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(f"@@usage {peak_kb} {usage.ru_utime + usage.ru_stime}", file=sys.stderr)
sys.exit(code)
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    errors: list[str]
    peak_mb: float
    cpu_seconds: float


def run_cli(*args: str | Path) -> Outcome:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    lines = done.stderr.splitlines()
    usage = [line for line in lines if line.startswith("@@usage ")]
    assert usage, f"the child did not finish normally:\n{done.stderr[-3000:]}"
    maxrss_kb, cpu = usage[0].split()[1:]
    errors = [line for line in lines if not line.startswith("@@usage ")]
    return Outcome(done.returncode, done.stdout, errors, int(maxrss_kb) / 1024, float(cpu))


def assert_one_clean_line(outcome: Outcome, *expected: str) -> str:
    assert outcome.code == 1, outcome
    assert len(outcome.errors) == 1, outcome.errors[:5]
    [line] = outcome.errors
    assert "Traceback" not in line and len(line) < 400, line[:400]
    for text in expected:
        assert text in line, line
    assert outcome.peak_mb < LIMIT_MB, f"{outcome.peak_mb:.0f} MB"
    assert outcome.cpu_seconds < LIMIT_CPU_SECONDS, f"{outcome.cpu_seconds:.1f} s of CPU"
    return line


# --- long values are cut in messages ------------------------------------------------------------


def test_short_cuts_a_long_value_and_keeps_a_short_one() -> None:
    assert short("add") == "'add'"
    long = short("x" * 1_000_000)
    assert len(long) == 60 and long.startswith("'xxx") and long.endswith("x…'")
    assert short(12) == "12"


def test_a_problem_message_cuts_long_values_wherever_it_was_built() -> None:
    name = "x" * 1_000_000
    problem = Problem("f.yaml", Pos(3, 5), f"unknown task {name!r}; valid: add, charge_card")
    text = str(problem)
    assert text.startswith("f.yaml:3:5: unknown task 'xxx") and text.endswith("x…'; valid: add, charge_card")
    assert len(text) < 120
    unquoted = Problem("f.yaml", Pos(1, 1), f"steps.{name}: expected a mapping")
    assert unquoted.message == "steps." + "x" * 53 + "…: expected a mapping"


def test_cutting_a_huge_value_costs_little_memory() -> None:
    message = f"unknown task {'z' * 1_000_000!r}; valid: add"
    tracemalloc.start()
    try:
        Problem("f.yaml", Pos(1, 1), message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20, f"{peak / 2**20:.0f} MB"  # a regex matching per character took 120 MB


def test_a_problem_message_keeps_ordinary_text_whole() -> None:
    message = "the lesson's step 'predict-prefetch' can't wait; valid: " + ", ".join(f"name_{i}" for i in range(40))
    assert Problem("f.yaml", Pos(1, 1), message).message == message
    path = "/home/someone/" + "a-rather-long-folder-name/" * 5 + "01-acknowledgement.yaml"
    message = f"id: 'acknowledgement' is already the id of {path}"
    assert Problem("f.yaml", Pos(1, 1), message).message == message


def test_a_huge_path_in_a_message_keeps_its_end() -> None:
    path = "/" + "d/" * 1_000 + "01-acknowledgement.yaml"
    message = Problem("f.yaml", Pos(1, 1), f"id: 'acknowledgement' is already the id of {path}").message
    assert len(message) < 400 and message.endswith("/d/d/01-acknowledgement.yaml")


def test_a_huge_unknown_name_is_cut_in_check(tmp_path: Path) -> None:
    lesson = tmp_path / "huge-name.yaml"
    name = "y" * 1_000_000
    lesson.write_text(
        f"schema: 1\nid: huge\ntitle: T\nsummary: S\nminutes: 1\nlab:\n  tasks: [{name}]\nsteps:\n  - id: a\n    read: x\n"
    )
    outcome = run_cli("check", lesson)
    line = assert_one_clean_line(outcome, f"{lesson}:7:")
    assert "yyy…" in line


def test_a_huge_unknown_name_is_cut_in_lab_run(tmp_path: Path) -> None:
    script = tmp_path / "huge-name.yaml"
    script.write_text(f"steps:\n  - send: {{task: {'z' * 1_000_000}}}\n")
    line = assert_one_clean_line(run_cli("lab", "run", script), str(script))
    assert "zzz…" in line


# --- huge files ---------------------------------------------------------------------------------


def test_a_50_mb_script_is_refused_before_it_is_read(tmp_path: Path) -> None:
    script = tmp_path / "huge.yaml"
    with script.open("w") as out:
        out.write("steps:\n")
        for _ in range(33):
            out.write("  - purge: {}\n" * 100_000)
    assert script.stat().st_size > 40 * MAX_BYTES
    assert_one_clean_line(run_cli("lab", "run", script), str(script), "1 MiB")


def test_a_50_mb_lesson_is_refused_before_it_is_read(tmp_path: Path) -> None:
    lesson = tmp_path / "huge.yaml"
    with lesson.open("w") as out:
        out.write("schema: 1\nid: huge\ntitle: T\nsummary: S\nminutes: 1\nsteps:\n")
        for block in range(30):
            out.write("".join(f"  - id: s{block}-{i}\n    read: x\n" for i in range(100_000)))
    assert lesson.stat().st_size > 40 * MAX_BYTES
    assert_one_clean_line(run_cli("check", lesson), str(lesson), "1 MiB")


@pytest.mark.parametrize("command", ["check", "lab"])
def test_a_file_of_many_small_values_stops_at_the_value_limit(tmp_path: Path, command: str) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("steps:\n" + "  - purge: {}\n" * 70_000)  # under 1 MiB, 210,000 values
    args = ("check", path) if command == "check" else ("lab", "run", path)
    assert_one_clean_line(run_cli(*args), str(path), "too large")


@pytest.mark.lab
def test_a_long_alias_is_cut_in_a_run_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alias = "a" * 100_000
    script = tmp_path / "alias.yaml"
    script.write_text(
        f"steps:\n  - send: {{task: add, args: [1, 2], as: {alias}}}\n"
        f"  - wait: {{until: {{task: {alias}, state: FAILURE}}, timeout: 0.2}}\n"
    )
    assert main(["lab", "run", str(script)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{script}:3: wait timed out after 0.2s: aaa") and len(line) < 400, line[:500]


def test_a_long_detail_is_cut_in_a_verify_line() -> None:
    check = Check("lesson", "step", "the experiment shows what the lesson says", False, "x" * 100_000, 1.0)
    line = check.line()
    assert line.startswith("FAIL lesson / step: the experiment shows what the lesson says (1.0s) - xxx")
    assert len(line) < 200


SHORTEN_PATHOLOGICAL = """
from celery_tutor.yaml_source import shorten
for quote in "'\\"":
    for tail in ("b" * 70, "b " * 40, "\\\\" * 70, "b" * 100_000):
        message = f"unknown name {quote}" + "a" * 30 + " " + tail
        assert shorten(message).startswith(f"unknown name {quote}aaa")
print("done")
"""


def test_cutting_a_quote_that_never_closes_takes_no_time() -> None:
    # A quoted value's pattern once backtracked through every way to split the text after an
    # unclosed quote: 2**80 tries for 80 characters. Run apart, so that a regression fails, not hangs.
    done = subprocess.run(
        [sys.executable, "-c", SHORTEN_PATHOLOGICAL],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout == "done\n", done.stderr[-2000:]
