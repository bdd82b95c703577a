"""Serve benchmark: request → lesson list drawn in a real browser, and memory per session.

Run: python benchmarks/serve.py [--runs N] [--sessions N]

Starts ``celery-tutor serve`` on a free loopback port and drives a headless Chromium
(Debian's chromium, or CELERY_TUTOR_CHROMIUM) over the DevTools protocol, as the browser
tests do (tests/browser/cdp.py).

1. One learner at a time (--runs times, each a new browser context, so a new learner):
   the time from the page's request to the lesson list drawn in the page's terminal, and
   the learner's app process's memory at the list, then with lesson 1 open and a task run
   on its lab.
2. N learners at once (--sessions): all load the page together; the time until every
   list is drawn, every app's memory, and the server's own.

Memory is RSS (what the process has in RAM, shared libraries included) and PSS (shared
pages split among the processes that share them: what one more session really costs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from cdp import Browser, Tab, find_chromium  # noqa: E402
from serve_helpers import Served, start_server, stop_server  # noqa: E402

LIST = "Pick a lesson and press Enter"


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process, in MB."""
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    return rss / 1024, pss / 1024


async def to_list(tab: Tab, served: Served) -> float:
    started = time.monotonic()
    await tab.open(served.url + "/")
    await tab.wait_for(lambda s: LIST in s, timeout=120, what="the lesson list")
    return time.monotonic() - started


async def one_at_a_time(browser: Browser, served: Served, runs: int) -> None:
    print(f"== 1. one learner at a time ({runs} runs): request -> lesson list drawn, memory of the app")
    times, again, at_list, with_lab = [], [], [], []
    for _ in range(runs):
        tab = await browser.new_tab()
        times.append(await to_list(tab, served))
        again.append(await to_list(tab, served))  # a reload: the learner's lesson index is there now
        served.wait_for_apps(1, timeout=10)
        [app] = served.app_processes()
        at_list.append(memory_mb(app))
        await tab.focus_terminal()
        await tab.press("Enter")
        await tab.wait_for_text("alive", timeout=120)
        await tab.press("s")
        await tab.wait_for_text("succeeded: 5", timeout=120)
        with_lab.append(memory_mb(app))
        await tab.close()
        served.wait_for_apps(0, timeout=10)
    for label, values in (("a new learner", times), ("a reload", again)):
        low, middle, high = min(values), statistics.median(values), max(values)
        print(f"   request -> list drawn, {label}: median {middle:.2f} s, min {low:.2f}, max {high:.2f}")
    for label, values in (("at the lesson list", at_list), ("lesson 1 open, a task run", with_lab)):
        rss = statistics.median(v[0] for v in values)
        pss = statistics.median(v[1] for v in values)
        print(f"   app memory {label}: RSS {rss:.0f} MB, PSS {pss:.0f} MB (median)")


async def together(browser: Browser, served: Served, sessions: int) -> None:
    print(f"== 2. {sessions} learners at once: all load the page together")
    tabs = [await browser.new_tab() for _ in range(sessions)]
    started = time.monotonic()
    times = await asyncio.gather(*(to_list(tab, served) for tab in tabs))
    everyone = time.monotonic() - started
    apps = served.app_processes()
    memory = [memory_mb(pid) for pid in apps]
    server = memory_mb(served.process.pid)
    print(f"   every list drawn after {everyone:.2f} s (each: median {statistics.median(times):.2f} s)")
    for kind, index in (("RSS", 0), ("PSS", 1)):
        values = [m[index] for m in memory]
        print(f"   {len(apps)} apps, {kind}: {sum(values):.0f} MB in all, {statistics.median(values):.0f} MB each")
    print(f"   the server itself: RSS {server[0]:.0f} MB, PSS {server[1]:.0f} MB")
    for tab in tabs:
        await tab.close()
    took = served.wait_for_apps(0, timeout=15)
    print(f"   every tab closed: every app ended within {took:.2f} s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=4)
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        sys.exit("no Chromium: apt-get install chromium (or set CELERY_TUTOR_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as folder:
        served = start_server(Path(folder) / "data", "--max-sessions", str(max(args.sessions, 1)))
        browser = await Browser.launch(chromium, Path(folder) / "profile")
        try:
            await one_at_a_time(browser, served, args.runs)
            await together(browser, served, args.sessions)
        finally:
            await browser.close()
            stop_server(served)


if __name__ == "__main__":
    asyncio.run(main())
