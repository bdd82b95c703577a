"""What a learner's module sees when it runs: the lab's helpers, a few modules, fewer builtins.

:func:`learner_namespace` builds the module namespace :func:`~.learner_code.compile_code` runs
learner code in: ``app`` and the rest of the kit already there, an ``__import__`` that
offers only ``lab``, ``celery`` and :data:`STANDARD_MODULES`, a ``print`` that writes to
the lab's timeline inside a task, and ``time`` with the lab's :func:`lab_sleep`.
"""

from __future__ import annotations

import builtins
import importlib
import time as _real_time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from celery_tutor.lab import kit, runtime
from celery_tutor.lab.code_trace import CodeTimeLimit, TopLevelWatch
from celery_tutor.lab.kit import TaskBook

KIT_MODULE = "lab"
"""The short module name learner code imports the lab's helpers from."""

KIT_NAMES = ("app", "checkpoint", "work", "payments", "rates_api", "mailer", "storage")
"""What the learner's module namespace holds before the code runs."""

STANDARD_MODULES = (
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "hashlib",
    "itertools",
    "json",
    "logging",
    "math",
    "random",
    "re",
    "string",
    "time",
    "typing",
    "uuid",
)
"""Standard modules learner code may import (``time`` with the lab's ``sleep``)."""

REMOVED_BUILTINS = ("input", "breakpoint", "help", "exit", "quit", "exec", "eval", "compile")
"""Builtins learner code does not get (see the module's documentation)."""


MAX_OUTPUT = 50
"""Most ``print`` lines the top level of learner code keeps."""


class LabImportError(ImportError):
    """An import the lab does not offer."""


def learner_namespace(book: TaskBook, output: list[str]) -> dict[str, Any]:
    """The globals learner code runs with; its top-level prints go to ``output``."""
    kit_module = types.ModuleType(KIT_MODULE, "What lab tasks use: app, checkpoint, work and the outside world.")
    values: dict[str, Any] = {
        "app": book,
        "checkpoint": kit.checkpoint,
        "work": kit.work,
        "payments": kit.payments,
        "rates_api": kit.rates_api,
        "mailer": kit.mailer,
        "storage": kit.storage,
    }
    kit_module.__dict__.update(values)
    package = types.ModuleType("celery_tutor")
    lab_package = types.ModuleType("celery_tutor.lab")
    package.lab = lab_package  # type: ignore[attr-defined]
    lab_package.kit = kit_module  # type: ignore[attr-defined]
    modules = {
        KIT_MODULE: kit_module,
        "celery_tutor.lab.kit": kit_module,
        "celery_tutor.lab": lab_package,
        "celery_tutor": package,
        "time": _time_module(),
    }
    own_builtins = {k: v for k, v in vars(builtins).items() if k not in REMOVED_BUILTINS}
    own_builtins["__import__"] = _importer(modules)
    own_builtins["print"] = _printer(output)
    return {"__name__": "tasks", "__builtins__": own_builtins, **values}


def _importer(modules: Mapping[str, types.ModuleType]) -> Callable[..., Any]:
    def lab_import(
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> Any:
        if level:
            raise LabImportError("relative imports have nothing to import here: import from lab, celery or Python")
        if name in modules:
            return modules[name] if fromlist or "." not in name else modules[name.partition(".")[0]]
        if name.partition(".")[0] == "celery" or name in STANDARD_MODULES:
            return importlib.__import__(name, globals, locals, fromlist or (), 0)
        offered = ", ".join((KIT_MODULE, "celery", *(m for m in STANDARD_MODULES if m != "__future__")))
        raise LabImportError(f"the lab's code cannot import {name}; it can import: {offered}")

    return lab_import


def _printer(output: list[str]) -> Callable[..., None]:
    def lab_print(*values: object, sep: str | None = " ", end: str | None = "\n", file: Any = None, **_: Any) -> None:
        text = (" " if sep is None else sep).join(str(value) for value in values)
        if file is not None:
            file.write(text + ("\n" if end is None else end))
            return
        run = runtime.maybe_current_run()
        if run is None:
            if len(output) < MAX_OUTPUT:
                output.append(text)
            return
        printed = getattr(run.worker.hooks, "printed", None)
        if printed is not None and not run.dead:
            printed(run, text)

    lab_print.__name__ = lab_print.__qualname__ = "print"
    return lab_print


def _time_module() -> types.ModuleType:
    """The ``time`` module learner code sees: the real one, with the lab's ``sleep``."""
    module = types.ModuleType("time", _real_time.__doc__)
    module.__dict__.update({k: v for k, v in vars(_real_time).items() if not k.startswith("__")})
    module.sleep = lab_sleep  # type: ignore[attr-defined]
    return module


def lab_sleep(seconds: float) -> None:
    """``time.sleep`` for learner code: like ``work()`` in a task, bounded at the top level."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"sleep() expects a number of seconds, got {type(seconds).__name__}")
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    if runtime.maybe_current_run() is not None:
        kit.work(seconds)
        return
    watch = TopLevelWatch.current()
    if watch is not None and seconds >= watch.remaining():
        _real_time.sleep(max(0.0, watch.remaining()))
        raise CodeTimeLimit()
    _real_time.sleep(seconds)
