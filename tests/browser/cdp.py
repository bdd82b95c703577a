"""A headless Chromium driven over the DevTools protocol, with no package but aiohttp.

Playwright would do the same with 165 MB of package and a Node driver process; the few
commands these tests need (open a tab in a fresh profile, read the terminal, press keys,
take a screenshot, close the tab) are a page of code over the protocol's websocket.

The course's page draws its terminal on a canvas (xterm.js), so the screen's text is read
from xterm's own buffer. The browser client keeps its terminal in a closure, so the first
read finds it among the page's objects (``Runtime.queryObjects``) and keeps it on ``window``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_ENV = "CELERY_TUTOR_CHROMIUM"
"""Names another Chromium to drive (default: chromium on PATH, Debian's /usr/bin/chromium)."""

LISTENING = re.compile(r"DevTools listening on (ws://\S+)")

# No request may leave this machine: every host name fails to resolve except loopback.
FLAGS = [
    "--headless=new",
    "--no-sandbox",  # the tests run as root on CI
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]

FIND_TERMINAL = """function () {
  for (const o of this) {
    try {
      if (o && typeof o === "object" && "websocket_url" in o && "terminal" in o && "fitAddon" in o) {
        window.__celeryTutorTerminal = o.terminal;
        return true;
      }
    } catch (e) {}
  }
  return false;
}"""

SCREEN = """(() => {
  const t = window.__celeryTutorTerminal;
  if (!t) return null;
  const b = t.buffer.active;
  const rows = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(b.viewportY + y);
    rows.push(line ? line.translateToString(true, 0, t.cols) : "");
  }
  return rows.join("\\n");
})()"""

KEYS: dict[str, tuple[str, str, int, str]] = {
    "Enter": ("Enter", "Enter", 13, "\r"),
    "Escape": ("Escape", "Escape", 27, ""),
    "Tab": ("Tab", "Tab", 9, "\t"),
    "Down": ("ArrowDown", "ArrowDown", 40, ""),
    "Up": ("ArrowUp", "ArrowUp", 38, ""),
}
"""Named keys: (key, code, Windows key code, text)."""


def find_chromium() -> str | None:
    """The Chromium to drive, or None when there is none on this machine."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class DevToolsError(RuntimeError):
    """The browser answered a command with an error."""


class Browser:
    """One headless Chromium and its DevTools connection."""

    def __init__(self, process: subprocess.Popen[bytes], session: aiohttp.ClientSession) -> None:
        self.process = process
        self._http = session
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def launch(cls, executable: str, profile: Path, timeout: float = 30.0) -> Browser:
        """Start Chromium with a fresh profile and connect to it."""
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_the_tests,
        )
        assert process.stderr is not None
        loop = asyncio.get_running_loop()
        url = await asyncio.wait_for(loop.run_in_executor(None, _devtools_url, process.stderr), timeout)
        if url is None:
            process.kill()
            process.wait()
            raise RuntimeError(f"{executable} printed no DevTools address")
        # The rest of its stderr is drained, so a chatty browser never blocks on a full pipe.
        loop.run_in_executor(None, _drain, process.stderr)
        browser = cls(process, aiohttp.ClientSession())
        browser._ws = await browser._http.ws_connect(url, max_msg_size=64 * 1024 * 1024)
        browser._reader = asyncio.create_task(browser._read())
        return browser

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = message.json()
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                for listener in list(self._listeners):
                    listener(data)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the browser closed its DevTools connection"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its result."""
        assert self._ws is not None
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        await self._ws.send_json(message)
        answer = await asyncio.wait_for(future, 60)
        if "error" in answer:
            raise DevToolsError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def event(self, method: str, session: str | None = None) -> asyncio.Future[dict[str, Any]]:
        """A future set by the next event ``method`` (of one tab, when ``session`` is given)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def listener(data: dict[str, Any]) -> None:
            if data.get("method") == method and (session is None or data.get("sessionId") == session):
                if not future.done():
                    future.set_result(data.get("params", {}))
                self._listeners.remove(listener)

        self._listeners.append(listener)
        return future

    async def new_tab(self, width: int = 1280, height: int = 800) -> Tab:
        """A tab in a browser context of its own: its own cookies, as another learner's browser."""
        context = (await self.send("Target.createBrowserContext", {"disposeOnDetach": True}))["browserContextId"]
        return await self.new_tab_in(context, width, height)

    async def new_tab_in(self, context: str, width: int = 1280, height: int = 800) -> Tab:
        """A tab in a given browser context (two tabs of one context share their cookies)."""
        # The size is the viewport's (below): a tab opened beside another may not set a window's.
        created = await self.send("Target.createTarget", {"url": "about:blank", "browserContextId": context})
        target = created["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        tab = Tab(self, target, session, context)
        await tab.send("Page.enable")
        await tab.send("Runtime.enable")
        await tab.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return tab

    async def close(self) -> None:
        """End the browser and everything it started."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), 5)
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
        await self._http.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Tab:
    """One tab: load a page, read the terminal, press keys, take a screenshot, close."""

    def __init__(self, browser: Browser, target: str, session: str, context: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.context = context
        self._found_terminal = False

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, self.session)

    async def open(self, url: str, timeout: float = 30.0) -> None:
        """Load ``url`` and wait for its load event."""
        self._found_terminal = False
        loaded = self.browser.event("Page.loadEventFired", self.session)
        await self.send("Page.navigate", {"url": url})
        await asyncio.wait_for(loaded, timeout)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def _find_terminal(self) -> bool:
        prototype = (await self.send("Runtime.evaluate", {"expression": "Object.prototype"}))["result"]["objectId"]
        objects = (await self.send("Runtime.queryObjects", {"prototypeObjectId": prototype}))["objects"]["objectId"]
        found = await self.send(
            "Runtime.callFunctionOn", {"objectId": objects, "functionDeclaration": FIND_TERMINAL, "returnByValue": True}
        )
        await self.send("Runtime.releaseObject", {"objectId": objects})
        return bool(found["result"].get("value"))

    async def screen(self) -> str:
        """The terminal's text as the learner sees it (empty before the terminal exists)."""
        if not self._found_terminal:
            self._found_terminal = await self._find_terminal()
            if not self._found_terminal:
                return ""
        return str(await self.evaluate(SCREEN) or "")

    async def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0, what: str = "") -> str:
        """Read the screen until ``predicate`` holds; the screen then. Fails with the last screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while True:
            screen = await self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}:\n{screen}")
            await asyncio.sleep(0.1)  # a poll interval: the screen is read again until the deadline

    async def wait_for_text(self, text: str, timeout: float = 30.0) -> str:
        """Read the screen until ``text`` is on it."""
        return await self.wait_for(lambda screen: text in screen, timeout, repr(text))

    async def focus_terminal(self) -> None:
        """Give the keyboard to the terminal, as a click on it would (without clicking the app)."""
        await self.evaluate("document.querySelector('.xterm-helper-textarea').focus()")

    async def press(self, key: str) -> None:
        """Press and release one key: a named key (``Enter``, ``Down``…), a character, or ``ctrl+X``."""
        modifiers = 0
        if key.startswith("ctrl+"):
            modifiers, key = 2, key.removeprefix("ctrl+")
        if key in KEYS:
            name, code, number, text = KEYS[key]
        else:
            name, code, number, text = key, f"Key{key.upper()}", ord(key.upper()), key
        if modifiers:
            text = ""  # the terminal makes the control character itself
        event: dict[str, Any] = {"key": name, "code": code, "windowsVirtualKeyCode": number, "modifiers": modifiers}
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", **event, **({"text": text} if text else {})})
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", **event})

    async def click_text(self, text: str) -> None:
        """Click the middle of the first place ``text`` is on the terminal's screen."""
        screen = await self.screen()
        places = [(row, line.find(text)) for row, line in enumerate(screen.splitlines()) if text in line]
        if not places:
            raise AssertionError(f"{text!r} is not on the screen:\n{screen}")
        row, column = places[0]
        box = await self.evaluate(
            "(() => { const r = document.querySelector('.xterm-screen').getBoundingClientRect();"
            " const t = window.__celeryTutorTerminal;"
            " return [r.left, r.top, r.width / t.cols, r.height / t.rows]; })()"
        )
        left, top, cell_width, cell_height = box
        x = left + (column + len(text) / 2) * cell_width
        y = top + (row + 0.5) * cell_height
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            event: dict[str, Any] = {"type": kind, "x": x, "y": y}
            if kind != "mouseMoved":
                event |= {"button": "left", "clickCount": 1}
            await self.send("Input.dispatchMouseEvent", event)

    async def resize(self, width: int, height: int) -> None:
        """Resize the tab's viewport, as a learner resizing the window would."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        await self.evaluate("window.dispatchEvent(new Event('resize'))")

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the tab (brought to the front: a hidden tab draws nothing)."""
        await self.send("Page.bringToFront")
        data = (await self.send("Page.captureScreenshot", {"format": "png"}))["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    async def close(self) -> None:
        """Close the tab, as the learner closing it would."""
        await self.browser.send("Target.closeTarget", {"targetId": self.target})


def _die_with_the_tests() -> None:
    """In the browser's process before exec: SIGKILL when the test process dies (Linux only).

    A test run killed outright would otherwise leave its Chromium running.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def _devtools_url(stream: Any) -> str | None:
    for raw in stream:
        match = LISTENING.search(raw.decode("utf-8", "replace"))
        if match:
            return match.group(1)
    return None


def _drain(stream: Any) -> None:
    for _ in stream:
        pass
