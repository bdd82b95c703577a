"""UI benchmark: start-up against a bare Textual app, key latency during a burst, memory.

Run: python benchmarks/ui.py [--quick]

1. start → lesson list drawn: a fresh process per run (interpreter start and imports
   included), timed until it reports the compositor's first frame of the lesson list
   (its exit is not counted); the same for a bare Textual app with one Static, measured
   the same way. An untimed first run of each writes their bytecode, as a learner's
   second start has it.
2. key → screen during a 1,000-task burst: in the sandbox, 1,000 add tasks are sent;
   while they run, ``?`` opens the help and ``Esc`` closes it, again and again; each
   press is timed until the app shows the new screen. Then, the burst over, ``[`` steps
   the lab's view back 100 events one by one (the first press pauses it at the newest),
   each press timed until the panel shows that event: it must stay under the burst's p95.
   Last, a learner's endless loop (``while True: pass`` in a task, as a code step runs it)
   spins on the lab's worker while ``?``/``Esc`` are pressed again: its p95 is printed
   beside the burst's.
3. RSS after opening every lesson (each one's lab started, then left).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gc_pauses import GcPauses

ROOT = Path(__file__).resolve().parents[1]

FIRST_PAINT = """
import sys, time
from textual.app import App
from textual.widgets import Static
kind = sys.argv[1]
FRAMES = []

def exit_at_first_frame(app_class, drawn):
    # Both apps stop at the first frame the compositor renders of the screen asked for:
    # the same moment on both sides, whatever the screens do before it.
    display = app_class._display
    def _display(self, screen, renderable):
        display(self, screen, renderable)
        if renderable is not None and not FRAMES and drawn(self, screen):
            FRAMES.append(type(screen).__name__)
            print("frame", flush=True)
            self.exit()
    app_class._display = _display

if kind == "bare":
    class Bare(App):
        def compose(self):
            yield Static("hello")
    exit_at_first_frame(Bare, lambda app, screen: True)
    Bare().run(headless=True)
else:
    from celery_tutor.ui.app import TutorApp, make_app
    def list_drawn(app, screen):
        return type(screen).__name__ == "LessonListScreen" and screen.query_one("#lessons").option_count > 0
    exit_at_first_frame(TutorApp, list_drawn)
    app = make_app(data=__import__("pathlib").Path(sys.argv[2]))
    app.run(headless=True)
assert FRAMES, "no frame was drawn"
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def first_frame_ms(kind: str, data: str, env: dict[str, str]) -> float:
    """Spawn the app; ms until it says its first frame is drawn (its exit is not counted)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", FIRST_PAINT, kind, data], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    drawn = time.perf_counter()
    child.stdout.read()
    if child.wait() != 0 or not line.startswith("frame"):
        raise RuntimeError(f"{kind}: no first frame ({line!r}, exit {child.returncode})")
    return (drawn - started) * 1000


def startup(runs: int) -> None:
    print(f"== 1. start -> first screen drawn (fresh process each time, {runs} runs each)")
    # Bytecode as a learner has it from the second start on (an installed Textual always has it).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    results: dict[str, list[float]] = {"bare": [], "tutor": []}
    pairs: list[float] = []
    with tempfile.TemporaryDirectory() as data:
        for kind in results:  # untimed: writes the bytecode, the lesson index and the progress file
            first_frame_ms(kind, data, env)
        for run in range(runs):
            # Back to back, first one then the other (ABBA): a machine that slows down for a
            # while slows both of a pair, and neither always goes first.
            order = ("bare", "tutor") if run % 2 == 0 else ("tutor", "bare")
            took = {kind: first_frame_ms(kind, data, env) for kind in order}
            for kind, ms in took.items():
                results[kind].append(ms)
            pairs.append(took["tutor"] / took["bare"])
    for kind, label in (("bare", "bare Textual app"), ("tutor", "celery-tutor lesson list")):
        values = results[kind]
        print(f"  {label:<24} median {statistics.median(values):7.1f} ms   p95 {percentile(values, 0.95):7.1f} ms")
    ratio = statistics.median(results["tutor"]) / statistics.median(results["bare"])
    print(f"  ratio of the medians: {ratio:.2f}x")
    print(
        f"  ratio, median of the {runs} back-to-back pairs: {statistics.median(pairs):.2f}x "
        f"(pairs from {min(pairs):.2f}x to {max(pairs):.2f}x)   (goal: <= 1.2x bare)"
    )


async def key_to_screen(app: object, key: str, shown: object) -> float:
    """Post one key press; ms until its effect holds and the next refresh has drawn it.

    (Pilot.press adds fixed pauses of its own, so it would measure the test driver.)
    """
    from textual import events

    loop = asyncio.get_running_loop()
    pressed = time.perf_counter()
    app.post_message(events.Key(key, None))  # type: ignore[attr-defined]
    while not shown():  # type: ignore[operator]
        await asyncio.sleep(0.001)
    drawn = loop.create_future()
    app.call_after_refresh(lambda: drawn.done() or drawn.set_result(None))  # type: ignore[attr-defined]
    await drawn
    return (time.perf_counter() - pressed) * 1000


def report(label: str, latencies: list[float]) -> float:
    """Print one row of key -> screen figures; returns the p95."""
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(f"  {label:<36} n={len(latencies)}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(latencies):6.1f} ms")
    return p95


def _bare_lab_app() -> object:
    """A bare Textual app that shows a lab's events in a log and a table, and has a help screen."""
    from collections import deque

    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.screen import Screen
    from textual.widgets import DataTable, Footer, Log, Static

    class BareHelp(Screen[None]):
        BINDINGS = [Binding("escape", "app.pop_screen", "Back")]  # noqa: RUF012

        def compose(self) -> ComposeResult:
            yield Static("keys: ? help, escape back, q quit\n" * 20)
            yield Footer()

    class BareLabApp(App[None]):
        BINDINGS = [Binding("question_mark", "push_screen('help')", "Help"), Binding("q", "quit", "Quit")]  # noqa: RUF012
        SCREENS = {"help": BareHelp}  # noqa: RUF012

        def __init__(self) -> None:
            super().__init__()
            self.waiting: deque[str] = deque()
            self.states: dict[str, str] = {}

        def receive(self, event: object) -> None:  # lab threads: queue only
            self.waiting.append(event.describe())  # type: ignore[attr-defined]

        def compose(self) -> ComposeResult:
            yield DataTable(id="table")
            yield Log(id="log", max_lines=500)
            yield Footer()

        def on_mount(self) -> None:
            self.query_one(DataTable).add_columns("event", "count")
            self.set_interval(0.1, self.flush)

        def flush(self) -> None:
            lines = [self.waiting.popleft() for _ in range(len(self.waiting))]
            if not lines:
                return
            self.query_one(Log).write_lines(lines[-60:])
            table = self.query_one(DataTable)
            table.clear()
            for line in lines[-10:]:
                table.add_row(line[:40], str(len(lines)))

    return BareLabApp()


async def burst_baseline(presses: int) -> float:
    """The same presses during the same burst, in a bare Textual app; returns its p95."""

    from celery_tutor.lab.engine import Lab

    app = _bare_lab_app()
    with Lab() as lab:
        async with app.run_test(size=(120, 40)) as pilot:  # type: ignore[attr-defined]
            lab.subscribe(app.receive)  # type: ignore[attr-defined]
            await pilot.pause()
            threading.Thread(target=lab.send_many, args=("add", 1000, (1, 2)), daemon=True).start()

            def on_help() -> bool:
                return type(app.screen).__name__ == "BareHelp"  # type: ignore[attr-defined]

            latencies: list[float] = []
            pauses = GcPauses()
            pauses.install()
            for _ in range(presses):
                latencies.append(await key_to_screen(app, "question_mark", on_help))
                latencies.append(await key_to_screen(app, "escape", lambda: not on_help()))
            pauses.uninstall()
            p95 = report("bare Textual app (table, log, help)", latencies)
            print(f"    gc: {pauses.report()}")
            await pilot.press("q")
    return p95


async def burst(presses: int) -> None:
    from celery_tutor.ui.app import make_app
    from celery_tutor.ui.screens.help import HelpScreen
    from celery_tutor.ui.screens.sandbox import SandboxScreen

    print(f"\n== 2. key -> screen during a 1,000-task burst ({presses} presses), then scrubbing back")
    baseline = await burst_baseline(presses)
    with tempfile.TemporaryDirectory() as data:
        app = make_app(data=Path(data))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            while not isinstance(app.screen, SandboxScreen) or app.screen.session.lab is None:
                await pilot.pause(0.01)
            sandbox = app.screen
            lab = sandbox.session.lab
            assert lab is not None
            done = threading.Event()
            finished = [0]

            def count(event: object) -> None:
                if getattr(event, "kind", "") == "succeeded":
                    finished[0] += 1
                    if finished[0] == 1000:
                        done.set()

            lab.subscribe(count)
            pauses = GcPauses()
            pauses.install()
            started = time.perf_counter()
            threading.Thread(target=lab.send_many, args=("add", 1000, (1, 2)), daemon=True).start()
            latencies: list[float] = []
            for _ in range(presses):
                for key, screen_type in (("question_mark", HelpScreen), ("escape", SandboxScreen)):
                    latencies.append(await key_to_screen(app, key, lambda t=screen_type: isinstance(app.screen, t)))
            during = finished[0]
            while not done.is_set():
                await pilot.pause(0.05)
            total = time.perf_counter() - started
            pauses.uninstall()
            p95 = report("celery-tutor sandbox", latencies)
            print(f"    gc (the whole burst): {pauses.report()}")
            print(f"  ratio (p95): {p95 / baseline:.2f}x the bare app   (bar: <= 1.25x, and p95 <= 100 ms)")
            print(f"  slowest: {', '.join(f'{v:.0f}' for v in sorted(latencies)[-5:])} ms")
            print(f"  tasks finished while keys were pressed: {during}; all 1,000 in {total:.2f} s with the UI live")
            lines = len(app.screen.query_one("#timeline").lines)
            print(f"  timeline lines kept: {lines}")
            idle: list[float] = []
            for _ in range(presses):
                for key, screen_type in (("question_mark", HelpScreen), ("escape", SandboxScreen)):
                    idle.append(await key_to_screen(app, key, lambda t=screen_type: isinstance(app.screen, t)))
            slowest = ", ".join(f"{v:.0f}" for v in sorted(idle)[-5:])
            print(f"  key -> screen, lab idle   n={len(idle)}  p50 {percentile(idle, 0.5):6.1f} ms  "
                  f"p95 {percentile(idle, 0.95):6.1f} ms   slowest: {slowest} ms")  # fmt: skip
            scrub_p95 = await scrub_back(app, sandbox, 100)
            verdict = "under" if scrub_p95 < p95 else "NOT under"
            print(f"  scrub p95 {scrub_p95:.1f} ms beside the burst's p95 {p95:.1f} ms: {verdict} it   (bar: under)")
            loop_p95 = await endless_loop(app, sandbox, presses)
            verdict = "under" if loop_p95 < p95 else "NOT under"
            print(
                f"  endless-loop p95 {loop_p95:.1f} ms beside the burst's p95 {p95:.1f} ms: {verdict} it   (bar: under)"
            )
            await pilot.press("q")


async def scrub_back(app: object, screen: object, steps: int) -> float:
    """``[`` ``steps`` times on a lab screen; each press timed until the panel shows the event before."""
    travel = screen.travel  # type: ignore[attr-defined]
    history = screen.history  # type: ignore[attr-defined]
    print(f"  the history holds {history.last - history.forgotten:,} events ({history.forgotten:,} forgotten)")
    latencies: list[float] = []
    for _ in range(steps):
        before = (travel.mode, travel.position)
        latencies.append(
            await key_to_screen(app, "left_square_bracket", lambda b=before: (travel.mode, travel.position) != b)
        )
    p95 = report(f"scrub back {steps} events ([)", latencies)
    print(f"    first press (pause, then the first fold back): {latencies[0]:.1f} ms; "
          f"slowest: {', '.join(f'{v:.0f}' for v in sorted(latencies)[-5:])} ms")  # fmt: skip
    await key_to_screen(app, "space", lambda: travel.live)
    return p95


LOOP = """\
from lab import app

@app.task
def spin():
    while True:
        pass
"""


async def endless_loop(app: object, sandbox: object, presses: int) -> float:
    """?/Esc pressed while a learner's task loops forever on the lab's worker; returns the p95.

    The sandbox's lab is replaced by one with the learner's task (as a code step's run
    replaces the lesson's lab), with a time limit longer than the presses take.
    """
    from celery_tutor.lab.code_source import CodeProblem
    from celery_tutor.lab.lab_config import LabConfig
    from celery_tutor.lab.learner_code import compile_code
    from celery_tutor.ui.screens.help import HelpScreen
    from celery_tutor.ui.screens.sandbox import SandboxScreen

    compiled = compile_code(LOOP)
    assert not isinstance(compiled, CodeProblem), compiled
    before = sandbox.lab_config  # type: ignore[attr-defined]
    sandbox.restart_lab(LabConfig(extra_tasks=compiled.specs, code_time_limit=60.0))  # type: ignore[attr-defined]
    while sandbox.session.lab is None:  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    lab = sandbox.session.lab  # type: ignore[attr-defined]
    spinning = threading.Event()
    lab.subscribe(lambda event: getattr(event, "kind", "") == "started" and spinning.set())
    lab.send("spin")
    while not spinning.is_set():
        await asyncio.sleep(0.01)
    latencies: list[float] = []
    for _ in range(presses):
        for key, screen_type in (("question_mark", HelpScreen), ("escape", SandboxScreen)):
            latencies.append(await key_to_screen(app, key, lambda t=screen_type: isinstance(app.screen, t)))  # type: ignore[attr-defined]
    assert lab.halted is None, "the loop was stopped before the presses ended: raise the time limit"
    p95 = report("while a learner's endless loop runs", latencies)
    sandbox.restart_lab(before)  # type: ignore[attr-defined]  (closing the lab stops the loop)
    return p95


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def every_lesson() -> None:
    from celery_tutor.ui.app import make_app
    from celery_tutor.ui.screens.lesson import LessonScreen
    from celery_tutor.ui.screens.lesson_list import LessonListScreen

    print("\n== 3. memory after opening every lesson")
    with tempfile.TemporaryDirectory() as data:
        app = make_app(data=Path(data))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            print(f"  lesson list shown:          RSS {rss_mb():6.1f} MB")
            for lesson in app.course.lessons:
                app.open_lesson(lesson.id)
                await pilot.pause()
                screen = app.screen
                assert isinstance(screen, LessonScreen)
                while screen.session.lab is None:
                    await pilot.pause(0.01)
                await pilot.pause(0.2)
                await pilot.press("l")
                while not isinstance(app.screen, LessonListScreen):
                    await pilot.pause(0.01)
            await pilot.pause(0.5)
            print(f"  after {len(app.course.lessons)} lessons opened:     RSS {rss_mb():6.1f} MB   (bar: <= 150 MB)")
            print(f"  threads now: {threading.active_count()}")
            await pilot.press("q")


def quit_in_flight(runs: int) -> None:
    """In a real terminal (a pty): open the sandbox, send slow tasks, press q; time the exit."""
    import pty
    import select

    print(f"\n== 4. quit with tasks in flight (a real pty, {runs} runs of each key)")
    timings: list[float] = []
    for key in ("q", "\x03") * runs:
        with tempfile.TemporaryDirectory() as data:
            pid, fd = pty.fork()
            if pid == 0:  # the child: the app itself
                os.environ.update({"COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"})
                os.execv(sys.executable, [sys.executable, "-m", "celery_tutor", "--data-dir", data])
            seen = b""

            def wait_for(text: bytes, timeout: float = 20.0, fd: int = fd) -> None:
                nonlocal seen
                deadline = time.monotonic() + timeout
                while text not in seen and time.monotonic() < deadline:
                    ready, _, _ = select.select([fd], [], [], 0.05)
                    if ready:
                        try:
                            seen += os.read(fd, 65536)
                        except OSError:
                            return

            wait_for(b"Continue")
            os.write(fd, b"s")
            wait_for(b"worker1")
            os.write(fd, b"r")  # three slow reports: tasks in flight
            time.sleep(0.5)
            pressed = time.perf_counter()
            os.write(fd, key.encode())
            while True:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    try:
                        if not os.read(fd, 65536):
                            break
                    except OSError:
                        break
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
            timings.append((time.perf_counter() - pressed) * 1000)
            print(f"  {key!r}: {timings[-1]:.0f} ms")
            os.waitpid(pid, 0) if not done else None
            os.close(fd)
    print(f"  q / ctrl+c -> process gone   median {statistics.median(timings):6.0f} ms   "
          f"max {max(timings):6.0f} ms   (bar: terminal restored within 1 s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    import celery
    import textual

    print("celery-tutor UI benchmark")
    print(f"Python {sys.version.split()[0]}, Textual {textual.__version__}, Celery {celery.__version__}, "
          f"cpus {os.cpu_count()}")  # fmt: skip
    startup(4 if args.quick else 20)
    asyncio.run(burst(5 if args.quick else 20))
    asyncio.run(every_lesson())
    quit_in_flight(1 if args.quick else 3)


if __name__ == "__main__":
    main()
