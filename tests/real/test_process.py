"""A worker process the tutor starts: its output kept for errors, its lifeline, its process group."""

from __future__ import annotations

import sys
import threading

from celery_tutor.lab.real.process import WorkerProcess

SCRIPT = """
import os, sys
print("ready to fail", flush=True)
fd = int(sys.argv[-1])  # the lifeline WorkerProcess adds: --lifeline FD
os.read(fd, 1)  # blocks until the tutor's end closes
print("lifeline closed", flush=True)
"""


def test_output_is_kept_for_errors_and_the_lifeline_ends_with_the_tutors_end() -> None:
    exited = threading.Event()
    process = WorkerProcess("worker9", [sys.executable, "-c", SCRIPT], lambda _p: exited.set())
    try:
        assert not exited.wait(0.2)  # it waits on its lifeline
        process.cut_lifeline()  # what the tutor's death does to its end
        assert exited.wait(30)
        assert process.log_tail() == "ready to fail\nlifeline closed"
        assert process.process.returncode == 0
    finally:
        process.kill()
        process.remove_log()
