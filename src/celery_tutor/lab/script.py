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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from celery_tutor.lab.action_parser import StepChecker, parse_settings, parse_step, parse_task_options
from celery_tutor.lab.actions import Action, Send, Wait
from celery_tutor.lab.engine import LabConfig
from celery_tutor.lab.library import LAB_TASKS
from celery_tutor.lab.limits import MAX_WORKERS
from celery_tutor.lab.settings import check_broker
from celery_tutor.yaml_file import FileProblems, parse_mapping, read_file
from celery_tutor.yaml_source import Node

TOP_LEVEL = ("title", "description", "lab", "steps")
LAB_KEYS = ("settings", "task_options", "workers", "broker")


class ScriptError(FileProblems):
    """A script that cannot run: every problem, each with its place."""


@dataclass(frozen=True)
class Script:
    """A checked experiment."""

    path: str
    title: str
    description: str
    lab: LabConfig
    steps: tuple[Action, ...]


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
    config = _lab_block(root.get("lab"), c)
    steps_node = root.get("steps")
    steps: list[Action] = []
    if steps_node is None:
        c.problem(root.pos, "missing required key 'steps'")
    elif not steps_node.is_list or not steps_node.value:
        c.problem(steps_node.pos, "steps: expected a non-empty list of controls")
    else:
        for step in steps_node.value:
            action = parse_step(step, path, problems)
            if action is not None:
                steps.append(action)
        _check_aliases(steps, c)
    if problems:
        raise ScriptError(sorted(problems, key=lambda p: p.pos))
    return Script(path, title, description, config, tuple(steps))


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
        c.problem(node.pos, "lab: expected a mapping with settings, task_options, workers, broker")
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
        if isinstance(step, Wait) and step.until is not None and step.until.task not in (None, *known, *LAB_TASKS):
            valid = ", ".join(sorted(known)) or "none"
            c.problem(
                step.pos,
                f"wait.until.task: {step.until.task!r} is neither an alias sent before ({valid}) nor a lab task",
            )
