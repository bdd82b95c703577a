"""What the ``celery-tutor`` command line accepts: its commands and their options, and nothing they do.

Building the parser imports only the standard library (and ``serve``'s defaults), so the
app starts as fast with it as without it; :mod:`celery_tutor.cli` runs what is parsed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from celery_tutor import __version__

if TYPE_CHECKING:
    from typing import TypeAlias

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

REAL_WORKERS = "run on real worker processes and this broker (redis://… or amqp://…) instead of the in-process lab"
"""What ``--broker`` does for ``lab run`` and ``verify``."""

COMMANDS: dict[str, tuple[str, str]] = {
    "lab": (
        "work with the lab directly",
        "Work with the lab directly: run a scripted experiment on it, or list its tasks.",
    ),
    "run": (
        "run a scripted experiment and report what happened",
        "Run a YAML experiment on a fresh lab and report, per task, how often it ran, whether runs were "
        "redeliveries, retries, the state Celery stored, and the side-effect ledger.",
    ),
    "tasks": (
        "list the lab's tasks and their checkpoints",
        "List the lab's tasks: what each one does, its options, and the checkpoints a script can stop it at.",
    ),
    "check": (
        "check lesson files and report every problem",
        "Check lesson files: every problem is reported as file:line:col: message.",
    ),
    "verify": (
        "prove every lesson's claims on the real lab",
        "Run every predict experiment, lab solution and measurable numeric answer of the lessons on a "
        "real lab, and check that what each lesson claims really happens.",
    ),
    "worker": (
        "run a real lab worker process on a broker",
        "Run a real Celery worker (prefork pool) with the lab's tasks. It joins the lab whose prefix it is "
        "given (a tutor started with --broker prints it) and obeys the lab's remote control.",
    ),
    "serve": (
        "serve the course to web browsers",
        "Serve the course to web browsers: each learner gets their own app, lab and progress. Only this "
        "machine can connect unless --host says otherwise.",
    ),
}
"""Every command's line in the list of commands, and the paragraph its own ``--help`` opens with."""


def command_line() -> argparse.ArgumentParser:
    """The parser of ``celery-tutor`` and every command of it."""
    parser = argparse.ArgumentParser(
        prog="celery-tutor",
        description="Learn how Celery keeps work safe, or loses it, on a real worker running inside the app.",
    )
    parser.add_argument("--version", action="version", version=f"celery-tutor {__version__}")
    parser.add_argument("--lessons", type=Path, metavar="DIR", help="use the lessons in DIR")
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="keep progress in DIR")
    _add_broker_options(
        parser,
        "run the labs for this broker's kind and the sandbox on real worker processes "
        "(redis://… or amqp://…) instead of the in-process lab",
        dest_prefix="app_",  # the commands below take their own --broker
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    lab = _add_command(commands, "lab")
    lab_commands = lab.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)
    run = _add_command(lab_commands, "run")
    run.add_argument("script", type=Path, metavar="SCRIPT.yaml")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_broker_options(run, REAL_WORKERS)
    _add_command(lab_commands, "tasks")

    check = _add_command(commands, "check")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="lesson files or folders")

    verify = _add_command(commands, "verify")
    verify.add_argument("lesson_ids", nargs="*", metavar="LESSON", help="lesson ids (default: all)")
    verify.add_argument("--jobs", type=int, default=4, metavar="N", help="labs to run at once (default 4)")
    _add_broker_options(verify, REAL_WORKERS)
    _add_serve(commands)
    _add_worker(commands)
    return parser


def _add_command(commands: Commands, name: str) -> argparse.ArgumentParser:
    summary, description = COMMANDS[name]
    return commands.add_parser(name, help=summary, description=description)


def _add_broker_options(
    command: argparse.ArgumentParser, what: str, *, required: bool = False, dest_prefix: str = ""
) -> None:
    """``--broker URL`` and ``--allow-remote``: whatever may run on a real broker takes both, meaning the same."""
    command.add_argument("--broker", dest=f"{dest_prefix}broker", metavar="URL", required=required, help=what)
    command.add_argument(
        "--allow-remote",
        dest=f"{dest_prefix}allow_remote",
        action="store_true",
        help="with --broker: allow a broker that is not on this machine (loopback)",
    )


def _add_worker(commands: Commands) -> None:
    worker = _add_command(commands, "worker")
    _add_broker_options(worker, "the broker (redis://… or amqp://…)", required=True)
    worker.add_argument("--name", default="worker1", help="the worker's name in the lab (default worker1)")
    worker.add_argument("--prefix", required=True, help="the lab's prefix (celery-tutor-…)")
    worker.add_argument("--settings", metavar="JSON", help="lab settings as a JSON mapping")
    worker.add_argument("--task-options", metavar="JSON", help="task options as a JSON mapping {TASK: {OPTION: VALUE}}")
    worker.add_argument("--lifeline", type=int, metavar="FD", help=argparse.SUPPRESS)  # the tutor's pipe: die with it


def _add_serve(commands: Commands) -> None:
    from celery_tutor.serve import DEFAULT_HOST, DEFAULT_MAX_SESSIONS, DEFAULT_PORT, MAX_SESSIONS_CAP

    serve = _add_command(commands, "serve")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks one)")
    serve.add_argument(
        "--max-sessions",
        type=int,
        default=DEFAULT_MAX_SESSIONS,
        metavar="N",
        help=f"learners at once, 1-{MAX_SESSIONS_CAP} (default {DEFAULT_MAX_SESSIONS})",
    )
    # Also accepted after the command; SUPPRESS leaves the value given before it alone.
    serve.add_argument("--lessons", type=Path, metavar="DIR", default=argparse.SUPPRESS, help="use the lessons in DIR")
    serve.add_argument(
        "--data-dir", type=Path, metavar="DIR", default=argparse.SUPPRESS, help="keep progress under DIR/sessions"
    )
