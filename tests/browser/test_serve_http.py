"""``celery-tutor serve`` without a browser: options, the page, the cookie, seats, take-over, refusals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from serve_helpers import Served, stop_server

from celery_tutor.cli import main
from celery_tutor.hosts import is_loopback
from celery_tutor.serve import (
    MAX_SESSIONS_CAP,
    ServeConfig,
    check_config,
    exposure_warning,
    new_session_id,
    session_dir,
)
from celery_tutor.serve.pages import full_page
from celery_tutor.serve.server import (
    APP_DIED,
    CLOSE_FULL,
    CLOSE_NO_COOKIE,
    CLOSE_TAKEN_OVER,
    COOKIE,
    FULL,
    QUIT,
    SESSION_ID,
    TAKEN_OVER,
)

LESSONS = Path(__file__).resolve().parents[2] / "lessons"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port: 70000 is not a port"),
        (["--port", "-1"], "--port: -1 is not a port"),
        (["--max-sessions", "0"], f"--max-sessions: 0 is not in 1-{MAX_SESSIONS_CAP}"),
        (["--max-sessions", str(MAX_SESSIONS_CAP + 1)], f"is not in 1-{MAX_SESSIONS_CAP}"),
        (["--host", " "], "--host: give a host name"),
        (["--lessons", "/nonexistent/lessons"], "--lessons: /nonexistent/lessons is not a folder"),
    ],
)
def test_bad_options_are_refused_before_anything_starts(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--data-dir", str(tmp_path), "serve", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sessions").exists()


def test_every_number_is_checked() -> None:
    assert check_config("127.0.0.1", 0, 1, LESSONS) == []  # port 0: the system picks a free one
    assert check_config("127.0.0.1", 65535, MAX_SESSIONS_CAP, LESSONS) == []
    assert len(check_config("", 65536, 0, LESSONS / "missing")) == 4


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.10", False),
        ("example.org", False),
        ("localhost.example.org", False),
    ],
)
def test_loopback_is_told_from_the_rest(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_another_host_is_served_only_after_a_warning(tmp_path: Path) -> None:
    # 192.0.2.10 (a documentation address) is not on this machine: the bind fails, no packet is sent.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery_tutor",
            "--data-dir",
            str(tmp_path),
            "serve",
            "--host",
            "192.0.2.10",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stderr.startswith(exposure_warning("192.0.2.10")), result.stderr
    assert "anyone who can reach this address" in result.stderr
    assert "cannot listen on 192.0.2.10" in result.stderr
    assert result.returncode == 1


def test_the_default_host_gives_no_warning_and_says_where_it_serves(serve: Callable[..., Served]) -> None:
    served = serve()
    assert served.url.startswith("http://127.0.0.1:")
    assert b"warning" not in served.output


def test_a_session_directory_is_named_by_a_hash_of_the_id(tmp_path: Path) -> None:
    session_id = new_session_id()
    assert SESSION_ID.fullmatch(session_id)
    folder = session_dir(tmp_path, session_id)
    assert folder.parent == tmp_path
    assert session_id not in str(folder)
    assert folder == session_dir(tmp_path, session_id)
    assert folder != session_dir(tmp_path, new_session_id())
    config = ServeConfig("127.0.0.1", 0, 1, LESSONS, tmp_path)
    argv = config.app_argv(session_id)
    assert argv[1:] == [
        "-m",
        "celery_tutor",
        "--lessons",
        str(LESSONS),
        "--data-dir",
        str(session_dir(tmp_path / "sessions", session_id)),
    ]


def test_the_full_page_says_so_plainly() -> None:
    assert "All 8 places on this server are in use" in full_page(8)
    assert "The one place on this server is in use" in full_page(1)


async def test_the_page_gives_a_learner_a_session_cookie_and_keeps_it(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as http:
        async with http.get(served.url + "/") as response:
            assert response.status == 200
            page = await response.text()
            cookie = response.cookies[COOKIE]
        assert 'class="textual-terminal"' in page
        assert "://" not in page, "the page names no other site: every address in it is relative"
        assert SESSION_ID.fullmatch(cookie.value)
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with http.get(served.url + "/") as again:  # the same browser keeps its id
            assert COOKIE not in again.cookies or again.cookies[COOKIE].value == cookie.value
        async with http.get(served.url + "/static/js/textual.js") as client:
            assert client.status == 200


async def test_a_request_for_another_host_name_is_refused_on_loopback(serve: Callable[..., Served]) -> None:
    served = serve()
    port = served.url.rsplit(":", 1)[1]
    async with _browser_like() as http:
        async with http.get(served.url + "/", headers={"Host": f"rebound.example.org:{port}"}) as response:
            assert response.status == 403
        async with http.get(served.url + "/", headers={"Host": f"localhost:{port}"}) as response:
            assert response.status == 200


async def test_a_websocket_from_another_site_or_without_a_cookie_is_refused(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as http:
        async with http.get(served.url + "/"):
            pass
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(served.url + "/ws", origin="http://elsewhere.example.org")
        assert refused.value.status == 403
    async with _browser_like() as stranger:  # no cookie
        socket = await stranger.ws_connect(served.url + "/ws")
        await socket.receive()
        assert socket.close_code == CLOSE_NO_COOKIE
    assert served.app_processes() == []


def _browser_like() -> aiohttp.ClientSession:
    """An HTTP client that keeps cookies as a browser does, also for 127.0.0.1."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _learner(http: aiohttp.ClientSession, served: Served) -> aiohttp.ClientWebSocketResponse:
    """A learner's browser: the page (for the cookie), then the terminal's websocket."""
    async with http.get(served.url + "/") as response:
        assert response.status == 200
    socket = await http.ws_connect(served.url + "/ws?width=100&height=30")
    # The app's first screen: its output reaches the socket once the process runs.
    message = await socket.receive(timeout=60)
    assert message.type == aiohttp.WSMsgType.BINARY, message
    return socket


@pytest.mark.lab  # starts app processes, each with its lab
async def test_the_limit_is_kept_and_a_learner_over_it_gets_the_full_page(serve: Callable[..., Served]) -> None:
    served = serve("--max-sessions", "1")
    async with _browser_like() as first, _browser_like() as second:
        socket = await _learner(first, served)
        assert len(served.app_processes()) == 1
        async with second.get(served.url + "/") as response:
            assert response.status == 503
            text = await response.text()
            assert "celery-tutor is full" in text
            assert "The one place on this server is in use" in text
        # A page loaded before the server filled up still cannot open a session.
        over = await second.ws_connect(served.url + "/ws")
        message = await over.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert (over.close_code, message.extra) == (CLOSE_FULL, FULL)
        assert len(served.app_processes()) == 1
        # The first learner may still reload: a learner with a seat keeps it.
        async with first.get(served.url + "/") as response:
            assert response.status == 200
        await socket.close()
        served.wait_for_apps(0, timeout=5)
        served.wait_for_room(timeout=10)
        async with second.get(served.url + "/") as response:
            assert response.status == 200


@pytest.mark.lab  # starts app processes, each with its lab
async def test_a_second_tab_of_the_same_learner_takes_the_session_over(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as http:
        first = await _learner(http, served)
        [first_app] = served.app_processes()
        second = await http.ws_connect(served.url + "/ws")
        while (message := await first.receive(timeout=10)).type == aiohttp.WSMsgType.BINARY:
            pass  # the app's last output
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert (first.close_code, message.extra) == (CLOSE_TAKEN_OVER, TAKEN_OVER)
        assert (await second.receive(timeout=60)).type == aiohttp.WSMsgType.BINARY
        [second_app] = served.app_processes()
        assert second_app != first_app
        assert len(served.learner_dirs()) == 1, "one learner, one progress directory"
        await second.close()
        served.wait_for_apps(0, timeout=5)


@pytest.mark.lab  # starts app processes, each with its lab
async def test_two_learners_get_two_processes_and_two_directories(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as one, _browser_like() as two:
        first, second = await _learner(one, served), await _learner(two, served)
        assert len(served.app_processes()) == 2
        assert len(served.learner_dirs()) == 2
        await first.close()
        await second.close()
        served.wait_for_apps(0, timeout=5)


@pytest.mark.lab  # starts app processes, each with its lab
async def test_stopping_the_server_ends_every_session(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as http:
        socket = await _learner(http, served)
        [app] = served.app_processes()
        stop_server(served)
        assert served.process.returncode == 0
        assert b"stopped" in served.output
        while (message := await socket.receive(timeout=10)).type == aiohttp.WSMsgType.BINARY:
            pass
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert not Path(f"/proc/{app}").exists(), "the server reaped its app before it ended"


def test_the_server_loads_neither_textual_nor_celery() -> None:
    # Each learner's process runs the app; the server only relays bytes, and stays small.
    code = "import sys, celery_tutor.serve.server; print(' '.join(m for m in ('textual', 'celery', 'kombu') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_a_new_learner_starts_from_the_last_session_s_lesson_index(tmp_path: Path) -> None:
    from celery_tutor.serve.server import _copy_indexes

    last = tmp_path / "last"
    last.mkdir()
    (last / "lesson-index-0123456789ab.json").write_text('{"format": 1}')
    (last / "progress.json").write_text("{}")
    shared = tmp_path / "shared"
    _copy_indexes(last, shared)
    _copy_indexes(tmp_path / "missing", shared)  # nothing to copy: nothing happens
    assert [p.name for p in shared.iterdir()] == ["lesson-index-0123456789ab.json"], "only the index, never progress"
    new = tmp_path / "new"
    _copy_indexes(shared, new)
    assert (new / "lesson-index-0123456789ab.json").read_text() == '{"format": 1}'


@pytest.mark.lab  # starts app processes, each with its lab
async def test_a_finished_session_leaves_its_lesson_index_for_the_next_learner(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as http:
        socket = await _learner(http, served)
        await socket.close()
    served.wait_for_apps(0, timeout=5)
    shared = served.sessions / ".shared"
    # The server copies the index once the app's process has ended: a moment after it is gone.
    served.wait_until(lambda: any(shared.glob("lesson-index-*.json")), 10, lambda: f"no index in {shared}")
    [index] = shared.glob("lesson-index-*.json")
    [folder] = served.learner_dirs()
    assert index.read_bytes() == (folder / index.name).read_bytes()


async def _until_closed(socket: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    while (message := await socket.receive(timeout=30)).type == aiohttp.WSMsgType.BINARY:
        pass  # the app's output
    return message


@pytest.mark.lab  # starts app processes, each with its lab
async def test_quitting_the_app_ends_the_session_and_says_so(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as http:
        socket = await _learner(http, served)
        await socket.send_json(["stdin", "q"])
        message = await _until_closed(socket)
        assert (message.type, message.extra) == (aiohttp.WSMsgType.CLOSE, QUIT)
    served.wait_for_apps(0, timeout=5)


@pytest.mark.lab  # starts app processes, each with its lab
async def test_an_app_that_dies_ends_its_session_and_frees_its_seat(serve: Callable[..., Served]) -> None:
    served = serve("--max-sessions", "1")
    async with _browser_like() as http:
        socket = await _learner(http, served)
        [app] = served.app_processes()
        os.kill(app, signal.SIGKILL)
        message = await _until_closed(socket)
        assert (message.type, message.extra) == (aiohttp.WSMsgType.CLOSE, APP_DIED)
    served.wait_for_apps(0, timeout=5)
    served.wait_for_room(timeout=10)
    async with _browser_like() as other, other.get(served.url + "/") as response:
        assert response.status == 200, "the seat is free again"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.lab  # starts app processes, each with its lab
async def test_an_app_does_not_outlive_a_server_killed_outright(serve: Callable[..., Served]) -> None:
    served = serve()
    async with _browser_like() as http:
        await _learner(http, served)
        [app] = served.app_processes()
        served.process.kill()  # no chance to end its sessions
        served.process.wait()
        deadline = time.monotonic() + 5
        while _running(app):
            assert time.monotonic() < deadline, "the app still runs 5 s after its server died"
            await asyncio.sleep(0.05)  # a poll interval: the process is looked at again until the deadline


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended: only its exit status waits to be read)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
