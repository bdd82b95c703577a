"""The web server of ``celery-tutor serve``: the page, one app process per learner, the seats.

The package's docstring tells the design: textual-serve's ``AppService`` and browser
client, a session id in a cookie, one live session per learner.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiohttp import WSMsgType, web
from textual_serve.download_manager import DownloadManager

from celery_tutor.hosts import is_loopback
from celery_tutor.serve import (
    QUIT_GRACE,
    SESSION_ID_PATTERN,
    TERM_GRACE,
    ServeConfig,
    exposure_warning,
    new_session_id,
    session_dir,
)
from celery_tutor.serve.pages import full_page, terminal_page
from celery_tutor.serve.session_process import SessionProcess

COOKIE = "celery_tutor_session"
COOKIE_MAX_AGE = 30 * 24 * 3600
SESSION_ID = re.compile(SESSION_ID_PATTERN)

HEARTBEAT = 15.0
"""A browser that vanished without closing its websocket is noticed within twice this."""
CLOSE_TIMEOUT = 2.0
"""Seconds a closing connection waits for the browser's answer (a vanished tab gives none)."""
MAX_MESSAGE = 1024 * 1024
"""The biggest message a browser may send (a paste); its client sends keys and sizes."""

FONT_SIZES = range(8, 33)
WIDTHS = range(20, 501)
HEIGHTS = range(8, 201)

TAKEN_OVER = "The course was opened in another tab of this browser, and moved there."
FULL = "Every place on this server is taken; try again when a learner has finished."
NO_COOKIE = "This browser sent no session cookie: reload the page (cookies must be allowed)."
SERVER_STOPPED = "The server was stopped."
QUIT = "You quit the course."
APP_DIED = "The course stopped unexpectedly (the server's output says why)."
# Close codes from the range the websocket protocol leaves to applications.
CLOSE_TAKEN_OVER, CLOSE_FULL, CLOSE_NO_COOKIE, CLOSE_SERVER_STOPPED = 4001, 4002, 4003, 4004

SHARED = ".shared"
"""The folder, beside the learners' folders, of the lesson index a new learner starts from."""
INDEX_GLOB = "lesson-index-*.json"
"""The app's lesson index files (celery_tutor.course.index.index_path names them)."""


def _bounded(text: str | None, allowed: range, default: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return min(max(value, allowed.start), allowed.stop - 1)


@dataclass(eq=False)
class LiveSession:
    """A learner's open tab: its websocket and its app process."""

    session_id: str
    websocket: web.WebSocketResponse
    process: SessionProcess | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def end(self, code: int, reason: str) -> None:
        """Close the tab's connection (the page shows ``reason``) and wait until its app is gone."""
        await self.websocket.close(code=code, message=reason.encode())
        await self.ended.wait()


class CourseServer:
    """The web server: the page, one app process per learner, and the seats they hold."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.live: dict[str, LiveSession] = {}
        """The learners with an open tab, by session id: one seat each."""
        self.downloads = DownloadManager()
        self._stopping = False

    def make_app(self) -> web.Application:
        """The aiohttp application: the page, the websocket, the browser client's files."""
        middlewares = [self._loopback_only] if is_loopback(self.config.host) else []
        app = web.Application(middlewares=middlewares)
        app.add_routes(
            [
                web.get("/", self.page),
                web.get("/ws", self.websocket),
                web.static("/static", _client_files()),
            ]
        )
        app.on_shutdown.append(self._end_all)
        return app

    def has_room_for(self, session_id: str | None) -> bool:
        """A learner who holds a seat keeps it (a reload, a second tab); others need a free one."""
        return (session_id is not None and session_id in self.live) or len(self.live) < self.config.max_sessions

    @web.middleware
    async def _loopback_only(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Bound to loopback, answer only requests made to a loopback name.

        Otherwise a web page elsewhere could have the browser resolve its own name to
        127.0.0.1 (DNS rebinding) and use the course as if it were this machine's user.
        """
        try:
            host = request.url.host or ""
        except ValueError:
            host = ""
        if not is_loopback(host):
            raise web.HTTPForbidden(text="This server answers only to localhost.\n")
        return await handler(request)

    async def page(self, request: web.Request) -> web.Response:
        """The course's page, or a clear word that the server is full; sets the learner's cookie."""
        session_id = request.cookies.get(COOKIE)
        if session_id is None or not SESSION_ID.fullmatch(session_id):
            session_id = new_session_id()
        if self.has_room_for(session_id):
            font_size = _bounded(request.query.get("fontsize"), FONT_SIZES, 16)
            response = web.Response(text=terminal_page(font_size), content_type="text/html")
        else:
            response = web.Response(text=full_page(self.config.max_sessions), content_type="text/html", status=503)
            response.headers["Retry-After"] = "30"
        response.set_cookie(
            COOKIE,
            session_id,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Strict",
            secure=request.secure,  # behind a TLS proxy, never sent in clear
            path="/",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab's connection: a seat, an app process, and the bytes between the two."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text="This page may not be used from another site.\n")
        websocket = web.WebSocketResponse(timeout=CLOSE_TIMEOUT, heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
        await websocket.prepare(request)
        session_id = request.cookies.get(COOKIE, "")
        refusal = self._refusal(session_id)
        if refusal is not None:
            await websocket.close(code=refusal[0], message=refusal[1].encode())
            return websocket
        previous = self.live.get(session_id)
        session = LiveSession(session_id, websocket)
        self.live[session_id] = session  # the seat passes to this tab at once: no one else can take it
        try:
            if previous is not None:
                await previous.end(CLOSE_TAKEN_OVER, TAKEN_OVER)  # one writer of the progress at a time
            if not websocket.closed:
                width = _bounded(request.query.get("width"), WIDTHS, 80)
                height = _bounded(request.query.get("height"), HEIGHTS, 24)
                await self._run(session, width, height)
        finally:
            if self.live.get(session_id) is session:
                del self.live[session_id]
            session.ended.set()
        return websocket

    def _refusal(self, session_id: str) -> tuple[int, str] | None:
        """Why a connection cannot have a session (its close code and the page's words), if so."""
        if not SESSION_ID.fullmatch(session_id):
            return CLOSE_NO_COOKIE, NO_COOKIE
        if self._stopping:
            return CLOSE_SERVER_STOPPED, SERVER_STOPPED
        if not self.has_room_for(session_id):
            return CLOSE_FULL, FULL
        return None

    async def _run(self, session: LiveSession, width: int, height: int) -> None:
        websocket = session.websocket

        async def close() -> None:  # the app said it exits: the learner quit
            await websocket.close(message=QUIT.encode())

        folder = session_dir(self.config.sessions_dir, session.session_id)
        if not folder.exists():
            folder.mkdir(parents=True)
            _copy_indexes(self.config.sessions_dir / SHARED, folder)
        process = SessionProcess(
            self.config.app_argv(session.session_id),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self.downloads,
        )
        session.process = process
        relay = finished = None
        try:
            await process.start(width, height)
            relay = asyncio.create_task(_relay(websocket, process))
            finished = asyncio.create_task(process.finished.wait())
            # The tab went away (the relay ends), or the app quit or died (its output ends).
            await asyncio.wait({relay, finished}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (relay, finished):
                if task is not None:
                    task.cancel()
            await process.end()
            _copy_indexes(folder, self.config.sessions_dir / SHARED)
            if not websocket.closed:
                await websocket.close(message=APP_DIED.encode())  # it ended without saying so

    async def _end_all(self, _app: web.Application) -> None:
        """On shutdown every tab is told, and every app process ends before the server does."""
        self._stopping = True
        await asyncio.gather(*(s.end(CLOSE_SERVER_STOPPED, SERVER_STOPPED) for s in list(self.live.values())))


async def _relay(websocket: web.WebSocketResponse, process: SessionProcess) -> None:
    """What the browser sends, to the app: keys, the terminal's size, focus."""
    async for message in websocket:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope: list[Any] = json.loads(message.data)
            kind = envelope[0]
            data: Any = envelope[1] if len(envelope) > 1 else None
            if kind == "stdin":
                await process.send_bytes(str(data).encode("utf-8"))
            elif kind == "resize":
                width = _bounded(str(data["width"]), WIDTHS, 80)
                height = _bounded(str(data["height"]), HEIGHTS, 24)
                await process.set_terminal_size(width, height)
            elif kind == "ping":
                await websocket.send_json(["pong", str(data)])
            elif kind == "blur":
                await process.blur()
            elif kind == "focus":
                await process.focus()
        except (ValueError, TypeError, KeyError, IndexError):
            continue  # not a message of the browser client: ignored


def _copy_indexes(source: Path, target: Path) -> None:
    """Copy the app's lesson index from one data dir to another.

    The app draws its lesson list from an index kept in its data dir, and a new learner's
    dir has none: it would read every lesson before its first screen. A copy of the last
    session's index (the app checks it against the lesson files, and ignores one that is
    out of date) saves a new learner that wait. A failure costs only that time.
    """
    for index in source.glob(INDEX_GLOB):
        try:
            target.mkdir(parents=True, exist_ok=True)
            temporary = target / f".{index.name}.copy"
            shutil.copyfile(index, temporary)
            os.replace(temporary, target / index.name)
        except OSError:
            continue


def _client_files() -> Path:
    """textual-serve's browser client: textual.js (with xterm.js), its CSS and font."""
    import textual_serve

    return Path(textual_serve.__file__).parent / "static"


async def run(config: ServeConfig, out: TextIO = sys.stdout, stop: asyncio.Event | None = None) -> int:
    """Serve until ``stop`` is set or SIGINT or SIGTERM comes; every session ends first."""
    server = CourseServer(config)
    runner = web.AppRunner(server.make_app(), handle_signals=False, shutdown_timeout=QUIT_GRACE + TERM_GRACE + 1)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(
            f"celery-tutor serve: cannot listen on {config.host} port {config.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(number, stop.set)
    port = runner.addresses[0][1] if runner.addresses else config.port
    host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"celery-tutor: serving the course on http://{host}:{port}/", file=out)
    print(f"up to {config.max_sessions} learners at once; their progress is in {config.sessions_dir}", file=out)
    print("Ctrl-C stops the server", file=out, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    print("\nstopped" if out.isatty() else "stopped", file=out, flush=True)  # not on the line of the ^C
    return 0


def serve(config: ServeConfig) -> int:
    """Run the server in this process until Ctrl-C: the command line's ``serve``."""
    if not is_loopback(config.host):
        print(exposure_warning(config.host), file=sys.stderr, flush=True)
    return asyncio.run(run(config))
