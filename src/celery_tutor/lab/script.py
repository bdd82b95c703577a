"""Scripted experiments: a YAML file of lab setup and steps, checked before anything runs.

::

    title: acks_late + crash mid-task
    lab:
      settings: {task_acks_late: true}
      task_options: {charge_card: {max_retries: 5}}
      workers: 1
    steps:
      - send: {task: charge_card, args: [42, 9.99], as: order}
      - crash: {at: after_charge}
      - wait: {until: {event: worker_killed}}
      - restart_worker: {}
      - wait: {until: {task: order, state: SUCCESS}, timeout: 5}

A script may bring its own task code (``lab.code``: Python in a literal block, or
``{file: PATH}`` relative to the script): its ``@app.task`` functions join the lab's tasks
(one named like a library task replaces it), and the steps may name them and their
checkpoints. The code is checked when the script is read (it must compile) and runs only
when the script runs (:func:`lab_config`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from celery_tutor.lab import settings
from celery_tutor.lab.action_parser import StepChecker, parse_settings, parse_step, parse_task_options
from celery_tutor.lab.actions import Action, Send, Wait
from celery_tutor.lab.code_source import CodeProblem, check_code, position_in_file
from celery_tutor.lab.engine import LabConfig
from celery_tutor.lab.learner_code import compile_code
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.limits import MAX_CODE_CHARS, MAX_CODE_RUN_SECONDS, MAX_WORKERS
from celery_tutor.lab.settings import check_broker
from celery_tutor.yaml_file import FileProblems, parse_mapping, read_file
from celery_tutor.yaml_source import Node, Pos, Problem

TOP_LEVEL = ("title", "description", "lab", "steps")
LAB_KEYS = ("settings", "task_options", "workers", "broker", "code", "code_time_limit")


class ScriptError(FileProblems):
    """A script that cannot run: every problem, each with its place."""


@dataclass(frozen=True)
class ScriptCode:
    """A script's own task code (``lab.code``): checked, not run yet."""

    source: str
    path: str
    """The file the code is in: the script itself, or the file ``{file: …}`` named."""
    inline: Pos | None = None
    """Where the code's value starts in the script (None: the code is a file of its own)."""
    text: str = ""
    """The script's text, to place problems of inline code."""

    def place(self, problem: CodeProblem) -> Problem:
        """A problem in the code, at its place in the file it is written in."""
        pos = Pos(problem.line, problem.column)
        if self.inline is not None:
            pos = position_in_file(self.text, self.inline, problem)
        return Problem(self.path, pos, f"lab.code: {problem.message}")


@dataclass(frozen=True)
class Script:
    """A checked experiment."""

    path: str
    title: str
    description: str
    lab: LabConfig
    steps: tuple[Action, ...]
    code: ScriptCode | None = None


def lab_config(script: Script) -> LabConfig | str:
    """The lab a script runs on, its code compiled now (its top level runs); or why it cannot run.

    The message for code that fails here (an exception at its top level) reads
    ``path:line:col: lab.code: …``, like the problems found when the script was read.
    """
    if script.code is None:
        return script.lab
    compiled = compile_code(script.code.source)
    if isinstance(compiled, CodeProblem):
        return str(script.code.place(compiled))
    return dataclasses.replace(script.lab, extra_tasks=compiled.specs)


def load_script(path: str | Path) -> Script:
    """Read and check a script file (raises :class:`ScriptError`)."""
    return parse_script(read_file(path, "script", ScriptError), str(path))


def parse_script(text: str, path: str) -> Script:
    """Check a script's text (raises :class:`ScriptError` listing every problem)."""
    root, problems = parse_mapping(text, path, ScriptError, "a script is a mapping with steps: […]")
    c = StepChecker(path, problems)
    for key in root.value:
        if key not in TOP_LEVEL:
            c.problem(root.key_pos[key], f"unknown key {key!r}; valid: {', '.join(TOP_LEVEL)}")
    title = _text(root.get("title"), "title", c) or Path(path).stem
    description = _text(root.get("description"), "description", c) or ""
    lab_node = root.get("lab")
    code_problems = len(problems)
    code = _code(lab_node.get("code") if lab_node is not None else None, text, c)
    if len(problems) > code_problems:  # the code's tasks are unknown: every name would be a problem too
        raise ScriptError(sorted(problems, key=lambda p: p.pos))
    config = _lab_block(lab_node, c)
    steps_node = root.get("steps")
    steps: list[Action] = []
    if steps_node is None:
        c.problem(root.pos, "missing required key 'steps'")
    elif not steps_node.is_list or not steps_node.value:
        c.problem(steps_node.pos, "steps: expected a non-empty list of controls")
    else:
        for step in steps_node.value:
            action = parse_step(step, path, problems, c.tasks)
            if action is not None:
                steps.append(action)
        _check_aliases(steps, c)
    if problems:
        raise ScriptError(sorted(problems, key=lambda p: p.pos))
    return Script(path, title, description, config, tuple(steps), code)


def _text(node: Node | None, what: str, c: StepChecker) -> str | None:
    if node is None:
        return None
    if not isinstance(node.value, str):
        c.problem(node.pos, f"{what}: expected text")
        return None
    return node.value


def _lab_block(node: Node | None, c: StepChecker) -> LabConfig:
    config = LabConfig()
    if node is None:
        return config
    if not node.is_map:
        c.problem(node.pos, f"lab: expected a mapping with {', '.join(LAB_KEYS)}")
        return config
    for key in node.value:
        if key not in LAB_KEYS:
            c.problem(node.key_pos[key], f"lab: unknown key {key!r}; valid: {', '.join(LAB_KEYS)}")
    settings_node = node.get("settings")
    if settings_node is not None:
        config.settings.update(parse_settings(c, settings_node, "lab.settings") or {})
    options_node = node.get("task_options")
    if options_node is not None:
        options = parse_task_options(c, options_node, "lab.task_options")
        config.task_options.update(options or {})
    workers_node = node.get("workers")
    if workers_node is not None:
        workers = workers_node.value
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
            c.problem(workers_node.pos, f"lab.workers: expected 1 to {MAX_WORKERS}, got {workers!r}")
        else:
            config.workers = workers
    limit_node = node.get("code_time_limit")
    if limit_node is not None:
        try:
            config.code_time_limit = settings.named(
                "lab.code_time_limit", settings.number, limit_node.value, 0.05, MAX_CODE_RUN_SECONDS
            )
        except settings.LabConfigError as exc:
            c.problem(limit_node.pos, str(exc))
    broker_node = node.get("broker")
    if broker_node is not None:
        broker = c.checked(broker_node, "lab.broker", check_broker)
        if isinstance(broker, str):
            config.broker = broker
    return config


def _check_aliases(steps: list[Action], c: StepChecker) -> None:
    known: set[str] = set()
    for step in steps:
        if isinstance(step, Send) and step.alias is not None:
            names = [step.alias] if step.count == 1 else [f"{step.alias}-{i + 1}" for i in range(step.count)]
            for name in names:
                if name in known:
                    c.problem(step.pos, f"send.as: alias {name!r} is already used")
                known.add(name)
        if isinstance(step, Wait) and step.until is not None and step.until.task not in (None, *known, *c.tasks):
            valid = ", ".join(sorted(known)) or "none"
            c.problem(
                step.pos,
                f"wait.until.task: {step.until.task!r} is neither an alias sent before ({valid}) nor a lab task",
            )


def _code(node: Node | None, text: str, c: StepChecker) -> ScriptCode | None:
    """Read ``lab.code`` and check it statically; its tasks become names the steps may use."""
    if node is None:
        return None
    if isinstance(node.value, str):
        code = ScriptCode(node.value, c.path, node.pos, text)
    elif node.is_map and set(node.value) == {"file"} and isinstance(node.value["file"].value, str):
        file_node = node.value["file"]
        code_path = Path(c.path).parent / file_node.value
        source = _read_code(code_path, file_node, c)
        if source is None:
            return None
        code = ScriptCode(source, str(code_path))
    else:
        c.problem(node.pos, "lab.code: expected Python code (a literal block: code: |) or {file: PATH}")
        return None
    checked = check_code(code.source)
    if isinstance(checked, CodeProblem):
        c.problems.append(code.place(checked))
        return None
    c.tasks = {**LAB_TASKS, **{task.name: task for task in checked}}
    return code


def _read_code(path: Path, node: Node, c: StepChecker) -> str | None:
    """The code file's text, read no further than the lab's limit."""
    most = MAX_CODE_CHARS * 4  # UTF-8: at most four bytes a character
    too_long = f"lab.code.file: {path} is over the lab's limit of {MAX_CODE_CHARS:,} characters"
    try:
        with path.open("rb") as file:
            data = file.read(most + 1)
        if len(data) > most:
            c.problem(node.pos, too_long)
            return None
        source = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        c.problem(node.pos, f"lab.code.file: cannot read {path}: {reason}")
        return None
    if len(source) > MAX_CODE_CHARS:
        c.problem(node.pos, too_long)
        return None
    return source
