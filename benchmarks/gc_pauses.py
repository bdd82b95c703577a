"""Garbage-collection pauses, recorded by the benchmarks (goal: none longer than one frame)."""

from __future__ import annotations

import gc
import time

FRAME = 1 / 60
"""One frame at 60 Hz, in seconds: a pause longer than this can be seen."""


class GcPauses:
    """Records how long each garbage collection takes (to explain latency outliers)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int]] = []
        self._began = 0.0
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
            self._began = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._began, info["generation"]))

    def uninstall(self) -> None:
        """Stop recording."""
        gc.callbacks.remove(self._on_gc)

    def report(self) -> str:
        """One line: collections per generation, the slowest pauses, and how many outlast a frame."""
        per_gen = [sum(1 for _, g in self.pauses if g == gen) for gen in range(3)]
        slowest = ", ".join(f"{p * 1000:.1f}/gen{g}" for p, g in sorted(self.pauses, reverse=True)[:5]) or "none"
        over = sum(1 for p, _ in self.pauses if p > FRAME)
        return (
            f"automatic gc collections gen0/1/2 = {per_gen[0]}/{per_gen[1]}/{per_gen[2]}; "
            f"slowest pauses (ms/generation): {slowest}; over one frame ({FRAME * 1000:.1f} ms): {over}"
        )
