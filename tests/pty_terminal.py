"""Run celery-tutor in a real pseudo-terminal, as a learner's shell would."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"


class Terminal:
    """A child process on a pty; everything it writes is kept, and can be waited for."""

    def __init__(self, code: str, *, env: dict[str, str] | None = None, cols: int = 100, rows: int = 30) -> None:
        self.output = bytearray()
        self._changed = threading.Condition()
        self._closed = False
        master, slave = pty.openpty()
        os.set_blocking(master, True)
        _set_size(slave, cols, rows)
        environment = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(SRC), **(env or {})}
        environment.pop("NO_COLOR", None)
        environment.pop("TEXTUAL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self._master = master
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the child closed its side
                chunk = b""
            with self._changed:
                if not chunk:
                    self._closed = True
                    self._changed.notify_all()
                    return
                self.output += chunk
                self._changed.notify_all()

    def wait_for(self, text: bytes, timeout: float = 30.0) -> bool:
        """Block until ``text`` has been written (False on timeout or when the child is gone)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while text not in self.output:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return text in self.output
                self._changed.wait(remaining)
            return True

    def send(self, data: bytes) -> None:
        """Type ``data``."""
        os.write(self._master, data)

    def signal(self, number: signal.Signals) -> None:
        """Send a signal to the child."""
        self.process.send_signal(number)

    def wait(self, timeout: float) -> int:
        """The exit code, once the child is gone and all its output read."""
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def close(self) -> None:
        """Kill the child if it is still there, and free the pty."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._reader.join(5)
        os.close(self._master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _set_size(fd: int, cols: int, rows: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
