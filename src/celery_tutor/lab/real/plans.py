"""The plans armed in one lab worker process, shared by its main process and its pool children.

Remote-control commands reach the worker's main process; the checkpoints they are about are
reached in its pool children, forked long before. So the plans live in a small JSON file
under an exclusive ``flock``: the main process writes, a child takes a plan that matches
(removing it) at a checkpoint, and a failure at the start of a run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Plan = dict[str, Any]
"""``{"id", "kind": "crash" | "child" | "drop" | "failure", "checkpoint", "task", "exc", "left"}``."""


class PlanStore:
    """Plans by id in one file; every read and write holds the file's lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.touch(exist_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[Plan]]:
        with self.path.open("r+", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            text = file.read()
            plans: list[Plan] = json.loads(text) if text.strip() else []
            before = json.dumps(plans)
            yield plans
            after = json.dumps(plans)
            if after != before:
                file.seek(0)
                file.truncate()
                file.write(after)
                file.flush()
                os.fsync(file.fileno())

    def arm(self, plan: Plan) -> None:
        """Add a plan (a plan with the same id replaces it)."""
        with self._locked() as plans:
            plans[:] = [p for p in plans if p.get("id") != plan.get("id")]
            plans.append(dict(plan))

    def disarm(self, plan_id: str | None = None) -> None:
        """Forget one plan, or (None) every plan."""
        with self._locked() as plans:
            plans[:] = [] if plan_id is None else [p for p in plans if p.get("id") != plan_id]

    def all(self) -> list[Plan]:
        """The plans armed now."""
        with self._locked() as plans:
            return [dict(p) for p in plans]

    def _take(self, match: Callable[[Plan], bool]) -> Plan | None:
        with self._locked() as plans:
            for index, plan in enumerate(plans):
                if match(plan):
                    left = int(plan.get("left", 1)) - 1
                    if left <= 0:
                        del plans[index]
                    else:
                        plans[index] = {**plan, "left": left}
                    return dict(plan)
        return None

    def take_checkpoint_plan(self, task: str, checkpoint: str) -> Plan | None:
        """The crash, child-kill or connection-drop plan for this task at this checkpoint, taken; the first wins."""
        return self._take(
            lambda p: (
                p.get("kind") in ("crash", "child", "drop")
                and p.get("checkpoint") in (None, checkpoint)
                and p.get("task") in (None, task)
            )
        )

    def take_failure(self, task: str) -> Plan | None:
        """An injected failure for the next run of ``task``, taken (one run of it)."""
        return self._take(lambda p: p.get("kind") == "failure" and p.get("task") == task)
