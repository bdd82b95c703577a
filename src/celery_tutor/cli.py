"""The ``celery-tutor`` command line: the app, and scripted lab experiments."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from celery_tutor.cli_args import command_line

if TYPE_CHECKING:
    from celery_tutor.verification import Check


def _lab_run(script_path: Path, as_json: bool, broker: str | None = None, allow_remote: bool = False) -> int:
    from celery_tutor.lab.experiment import run_script
    from celery_tutor.lab.script import ScriptError, load_script
    from celery_tutor.yaml_source import shorten

    try:
        script = load_script(script_path)
    except ScriptError as exc:
        for problem in exc.problems:
            print(f"{problem.path}:{problem.pos.line}: {problem.message}", file=sys.stderr)
        return 1
    if sys.stderr.isatty():  # a person is watching: say that something is happening, and how to stop it
        started = f"running {script.title} ({len(script.steps)} steps); Ctrl-C stops it"
        _line(shorten(started), sys.stderr)
    if broker is not None:
        from celery_tutor.lab.fleet import LabStateError
        from celery_tutor.lab.real import BrokerRefused
        from celery_tutor.lab.real.broker_runs import run_script_on_broker
        from celery_tutor.lab.settings import LabConfigError

        try:
            report = run_script_on_broker(script, broker, allow_remote=allow_remote)
        except (BrokerRefused, LabStateError, LabConfigError) as exc:  # refused, down, workers not started, no code
            print(f"celery-tutor: {exc}", file=sys.stderr)
            return 1
    else:
        report = run_script(script)
    if as_json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    else:
        print(report.to_text())
    for failure in report.failures:  # they quote the script's names, which may be any length
        print(shorten(failure), file=sys.stderr)
    return 0 if report.ok else 1


def _lab_tasks() -> int:
    from celery_tutor.lab.library import LAB_TASKS, UNIVERSAL_CHECKPOINTS

    for spec in LAB_TASKS.values():
        options = ", ".join(f"{k}={getattr(v, '__name__', v)!r}" for k, v in spec.options.items())
        print(f"{spec.name}  {spec.summary}")
        if options:
            print(f"    options: {options}")
        print(f"    checkpoints: {', '.join((*spec.checkpoints, *UNIVERSAL_CHECKPOINTS))}")
    return 0


def _check(paths: list[Path], lessons: Path | None) -> int:
    from celery_tutor.course.lessons import load_course
    from celery_tutor.paths import lessons_dir
    from celery_tutor.wording import count_of

    targets = paths or [lessons_dir(lessons)]
    missing = [p for p in targets if not p.exists()]
    for path in missing:
        print(f"{path}: no such file or folder", file=sys.stderr)
    course = load_course([p for p in targets if p.exists()])
    for problem in (*course.problems, *course.warnings):
        print(problem, file=sys.stderr)
    if not course.problems and not missing:
        warned = f", {count_of(len(course.warnings), 'warnings')}" if course.warnings else ""
        print(f"{len(course.lessons)} lesson(s) OK{warned}")
    return 1 if course.problems or missing or not (course.lessons or course.broken) else 0


def _verify(
    lesson_ids: list[str], lessons: Path | None, jobs: int, broker: str | None = None, allow_remote: bool = False
) -> int:
    from celery_tutor.course.lessons import load_course
    from celery_tutor.paths import lessons_dir
    from celery_tutor.verification import code_steps_of, verify
    from celery_tutor.yaml_source import short

    folder = lessons_dir(lessons)
    course = load_course([folder])
    for problem in course.problems:
        print(problem, file=sys.stderr)
    if not course.lessons and not course.broken:
        print(f"no lessons in {folder}", file=sys.stderr)
        return 1
    # A broken file is a lesson nobody could check: it is named in the verdict, never passed over.
    broken = [Path(b.path).name for b in course.broken]
    not_verified = (
        f"could not verify {len(broken)} broken lesson file{'s' if len(broken) > 1 else ''}: {', '.join(broken)}"
        if broken
        else ""
    )
    unknown = [i for i in lesson_ids if i not in {lesson.id for lesson in course.lessons}]
    if unknown:
        known = ", ".join(lesson.id for lesson in course.lessons)
        print(f"unknown lesson(s): {', '.join(map(short, unknown))}; known: {known}", file=sys.stderr)
        if not_verified:
            print(f"{not_verified} (their lesson ids cannot be read)", file=sys.stderr)
        return 1
    chosen = [lesson for lesson in course.lessons if not lesson_ids or lesson.id in lesson_ids]
    make_lab = None
    if broker is not None:
        from celery_tutor.lab.real import BrokerRefused
        from celery_tutor.lab.real.broker_runs import lab_maker, lessons_for

        try:
            make_lab = lab_maker(broker, allow_remote)
        except BrokerRefused as exc:
            print(f"celery-tutor: {exc}", file=sys.stderr)
            return 1
        chosen, skipped = lessons_for(broker, chosen)
        for lesson in skipped:
            _line(f"skip {lesson.id}: it runs on the {lesson.lab.broker} lab, not on this broker", sys.stdout)
        for lesson, step_id in code_steps_of(chosen):
            _line(f"skip {lesson.id} / {step_id}: the learner's own code runs only in the in-process lab", sys.stdout)
        jobs = 1  # real worker processes: one lab at a time
    checks = verify(chosen, jobs=jobs, on_check=_print_check, make_lab=make_lab, code_steps=broker is None)
    failed = sum(not check.ok for check in checks)
    verdict = f"{failed} FAILED" if failed else "all hold" if checks else "nothing to check"
    summary = f"verified {len(chosen)} lesson(s), {len(checks)} claims: {verdict}"
    print(f"{summary}; {not_verified}" if not_verified else summary)
    return 1 if failed or broken else 0


def _serve(args: argparse.Namespace) -> int:
    from celery_tutor.paths import data_dir, lessons_dir
    from celery_tutor.serve import ServeConfig, check_config
    from celery_tutor.serve.server import serve

    lessons = lessons_dir(args.lessons).resolve()
    problems = check_config(args.host, args.port, args.max_sessions, lessons)
    for problem in problems:
        print(f"celery-tutor serve: {problem}", file=sys.stderr)
    if problems:
        return 2
    root = data_dir(args.data_dir).resolve()
    return serve(ServeConfig(args.host.strip(), args.port, args.max_sessions, lessons, root))


def _worker(args: argparse.Namespace) -> int:
    from celery_tutor.lab.real.names import PREFIX_START
    from celery_tutor.lab.real.safety import BrokerRefused, check_broker_url, probe_broker
    from celery_tutor.lab.real.worker_main import parse_json_option, run_worker

    try:
        check_broker_url(args.broker, args.allow_remote)
        if not args.prefix.startswith(PREFIX_START):
            raise BrokerRefused(f"--prefix must start with {PREFIX_START!r} (the tutor prints the lab's prefix)")
        plain_settings = parse_json_option(args.settings, "--settings")
        task_options = parse_json_option(args.task_options, "--task-options")
        probe_broker(args.broker)
    except (BrokerRefused, ValueError) as exc:
        print(f"celery-tutor worker: {exc}", file=sys.stderr)
        return 1
    return run_worker(args.broker, args.name, args.prefix, plain_settings, task_options, args.lifeline)


def _print_check(check: Check) -> None:
    _line(check.line(), sys.stdout)


def _line(text: str, stream: TextIO) -> None:
    """Write one line now, in one write with its newline.

    print() writes the text and the newline apart: a Ctrl-C between the two left the next
    line ('interrupted') glued to this one.
    """
    stream.write(text + "\n")
    stream.flush()


INTERRUPTED = 130
"""The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells expect."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``celery-tutor`` console script."""
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader went away (| head): not an error worth a traceback
        sys.stderr.close()
        return 1
    except KeyboardInterrupt:  # Ctrl-C where the handler below is not installed
        _line("interrupted", sys.stderr)
        return INTERRUPTED


def _end_at_ctrl_c(*_: object) -> None:
    """Ctrl-C ends ``lab run``, ``verify`` and ``check`` at once: one line, exit 130.

    These commands keep nothing that needs saving (the labs live in memory), so the
    process ends here rather than unwinding with KeyboardInterrupt, which Python raises
    wherever the main thread is: inside a finalizer or a weakref callback (logging has
    some) it is printed and ignored, and the command waited on. Their output is written
    line by line and flushed (see :func:`_line`); stdout is not flushed here, as this may
    run beside a main thread that holds its lock.
    """
    with contextlib.suppress(OSError):
        os.write(2, b"interrupted\n")
    os._exit(INTERRUPTED)


_STOP_WATCHING: signal.Signals | None = getattr(signal, "SIGUSR2", None)
"""Sent to the watcher thread to end its sigwait when the command is over (POSIX only)."""


def _watch_for_ctrl_c(watched: set[signal.Signals]) -> None:
    if signal.sigwait(watched) == signal.SIGINT:
        _end_at_ctrl_c()


@contextlib.contextmanager
def _ctrl_c_ends_the_command() -> Iterator[None]:
    """For the command's run, Ctrl-C ends the process (:func:`_end_at_ctrl_c`).

    Python runs signal handlers only in the main thread, and only when it runs Python code:
    if the kernel hands SIGINT to one of the lab's threads while the main thread waits on a
    lock, the handler waits as long as the lock. So SIGINT is blocked here, before any lab
    thread exists (threads inherit the mask), and one thread takes it with ``sigwait``
    whichever thread it was sent to. The handler stays as a fallback; the mask and the
    handler are restored afterwards (tests call ``main`` in-process).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are the main thread's to arrange
        return
    previous_handler = signal.signal(signal.SIGINT, _end_at_ctrl_c)
    watcher: threading.Thread | None = None
    stop = _STOP_WATCHING
    if stop is not None and hasattr(signal, "pthread_sigmask"):
        watched = {signal.SIGINT, stop}
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        watcher = threading.Thread(target=_watch_for_ctrl_c, args=(watched,), name="celery-tutor-ctrl-c", daemon=True)
        watcher.start()
    try:
        yield
    finally:
        if watcher is not None and watcher.ident is not None and stop is not None:
            signal.pthread_kill(watcher.ident, stop)  # its sigwait returns: it ends
            watcher.join()
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGINT, previous_handler)


def _main(argv: Sequence[str] | None) -> int:
    args = command_line().parse_args(argv)
    if args.command == "check":
        with _ctrl_c_ends_the_command():
            return _check(args.paths, args.lessons)
    if args.command == "verify":
        with _ctrl_c_ends_the_command():
            return _verify(args.lesson_ids, args.lessons, args.jobs, args.broker, args.allow_remote)
    if args.command == "lab":
        if args.lab_command == "run":
            with _ctrl_c_ends_the_command():
                return _lab_run(args.script, args.json, args.broker, args.allow_remote)
        return _lab_tasks()
    if args.command == "serve":
        return _serve(args)
    if args.command == "worker":
        return _worker(args)
    return _app(args)


def _app(args: argparse.Namespace) -> int:
    """The app; with ``--broker`` the URL is checked and the broker probed first (one line and exit 1 if not)."""
    real = None
    if args.app_broker is not None:
        from celery_tutor.lab.real.safety import BrokerRefused
        from celery_tutor.ui.real_broker import open_broker

        try:
            real = open_broker(args.app_broker, args.app_allow_remote)
        except BrokerRefused as exc:
            print(f"celery-tutor: {exc}", file=sys.stderr)
            return 1
    elif args.app_allow_remote:
        print("celery-tutor: --allow-remote goes with --broker URL", file=sys.stderr)
        return 2
    from celery_tutor.ui.app import run_app

    return run_app(lessons=args.lessons, data_dir=args.data_dir, real_broker=real)
