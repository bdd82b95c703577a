"""Garbage-collection pauses, recorded by the benchmarks (goal: none longer than one frame)."""

from __future__ import annotations

import gc
import time

FRAME = 1 / 60
"""One frame at 60 Hz, in seconds: a pause longer than this can be seen."""


class GcPauses:
    """Records how long each garbage collection takes (to explain latency outliers).

    Each pause is timed twice: by the wall clock (what the learner waits) and by the CPU time
    of the thread that collects (the collector's own work). A pause far longer on the wall
    than in CPU is the machine taking the CPU away during it, not the collector being slow.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int]] = []
        """(wall seconds, generation) of each collection."""
        self.cpu: list[float] = []
        """The collecting thread's CPU seconds in each collection, in the same order."""
        self._began = 0.0
        self._began_cpu = 0.0
        self.explicit = False

    def install(self) -> None:
        """Start recording."""
        gc.callbacks.append(self._on_gc)

    def collect(self) -> None:
        """A full collection of our own, not recorded (it is not a pause the lab causes)."""
        self.explicit = True
        try:
            gc.collect()
        finally:
            self.explicit = False

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if self.explicit:
            return
        if phase == "start":
            self._began, self._began_cpu = time.perf_counter(), time.thread_time()
        else:
            self.pauses.append((time.perf_counter() - self._began, info["generation"]))
            self.cpu.append(time.thread_time() - self._began_cpu)

    def uninstall(self) -> None:
        """Stop recording."""
        gc.callbacks.remove(self._on_gc)

    def report(self) -> str:
        """One line: collections per generation, the slowest pauses, and how many outlast a frame."""
        per_gen = [sum(1 for _, g in self.pauses if g == gen) for gen in range(3)]
        timed = sorted(zip(self.pauses, self.cpu, strict=True), reverse=True)
        slowest = ", ".join(f"{p * 1000:.1f}/gen{g} (cpu {c * 1000:.1f})" for (p, g), c in timed[:5]) or "none"
        over = sum(1 for (p, _), _c in timed if p > FRAME)
        over_cpu = sum(1 for _p, c in timed if c > FRAME)
        return (
            f"automatic gc collections gen0/1/2 = {per_gen[0]}/{per_gen[1]}/{per_gen[2]}; "
            f"slowest pauses (ms wall/generation, the collector's cpu ms): {slowest}; "
            f"over one frame ({FRAME * 1000:.1f} ms): {over} on the wall, {over_cpu} in the collector's cpu time"
        )
