"""Installing the worker side registers what the tutor relies on, in a fresh process as a worker does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from celery_tutor.lab.real import protocol

CONTROL_COMMANDS = {
    protocol.ARM,
    protocol.DISARM,
    protocol.KILL_CHILD,
    protocol.DROP_CONNECTION,
    protocol.REMAP_SIGTERM,
    protocol.SIGTERM_SELF,
    protocol.CRASH_NOW,
}

PROBE = """
import json
from celery import signals
from celery.worker.control import Panel
from celery_tutor.lab.real import worker_side  # what worker_main imports

receivers = {
    signal.name: sorted(str(key[0]) for key, _ in signal.receivers if "celery-tutor" in str(key[0]))
    for signal in (
        signals.task_prerun, signals.task_postrun, signals.task_retry, signals.task_received, signals.worker_ready
    )
}
print(json.dumps({"commands": sorted(n for n in Panel.data if n.startswith("lab_")), "receivers": receivers}))
"""


def _registered() -> tuple[set[str], dict[str, list[str]]]:
    """The lab's control commands and signal receivers in a fresh process that imported the worker side."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    return set(found["commands"]), found["receivers"]


def test_importing_the_worker_side_registers_every_control_command_and_signal_receiver() -> None:
    commands, receivers = _registered()
    assert commands == CONTROL_COMMANDS
    assert receivers == {
        "task_prerun": ["celery-tutor-real-prerun"],
        "task_postrun": ["celery-tutor-real-postrun"],
        "task_retry": ["celery-tutor-real-retry"],
        "task_received": ["celery-tutor-real-received"],
        "worker_ready": ["celery-tutor-real-ready"],
    }
