"""A real lab never harms a deployment: remote hosts refused, dead brokers reported in seconds."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from celery_tutor import cli
from celery_tutor.lab.real.safety import BrokerRefused, check_broker_url, describe_url, probe_broker
from celery_tutor.lab.redis_server import RedisServer

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "child-kill.yaml"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "redis://localhost/0", "redis://[::1]:6379/0", "amqp://guest:guest@127.0.0.1//"],
)
def test_loopback_urls_are_accepted(url: str) -> None:
    assert check_broker_url(url) == url


@pytest.mark.parametrize("url", ["redis://10.0.0.5:6379/0", "amqp://user:pw@rabbit.example.com//"])
def test_a_remote_host_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(BrokerRefused, match="--allow-remote"):
        check_broker_url(url)
    assert check_broker_url(url, allow_remote=True) == url


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(BrokerRefused, match="redis://"):
        check_broker_url("sqs://127.0.0.1/")


def test_messages_never_show_the_password() -> None:
    assert "secret" not in describe_url("redis://:secret@127.0.0.1:6379/0")
    assert describe_url("amqp://guest:secret@127.0.0.1:5672//") == "amqp://guest@127.0.0.1:5672//"


def test_a_closed_port_is_one_clear_error_within_five_seconds() -> None:
    started = time.monotonic()
    with pytest.raises(BrokerRefused, match="down or not listening"):
        probe_broker(f"redis://127.0.0.1:{_closed_port()}/0")
    assert time.monotonic() - started < 5.0


def test_lab_run_on_a_dead_broker_prints_one_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = cli.main(["lab", "run", "--broker", f"redis://127.0.0.1:{_closed_port()}/0", str(SCRIPT)])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert elapsed < 5.0
    assert len(err) == 1 and "cannot use broker" in err[0]


def test_lab_run_refuses_a_remote_broker_without_touching_it(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["lab", "run", "--broker", "redis://203.0.113.7:6379/0", str(SCRIPT)])
    err = capsys.readouterr().err
    assert code == 1
    assert "not on this machine" in err and "--allow-remote" in err


def test_worker_command_refuses_a_prefix_that_is_not_a_labs(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["worker", "--broker", "redis://127.0.0.1:6379/0", "--prefix", "celery"])
    assert code == 1
    assert "--prefix must start with 'celery-tutor-'" in capsys.readouterr().err


def test_worker_command_on_a_dead_broker_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["worker", "--broker", f"redis://127.0.0.1:{_closed_port()}/0", "--prefix", "celery-tutor-test0000"]
    )
    assert code == 1
    assert "cannot use broker" in capsys.readouterr().err


def test_lab_run_says_in_one_line_what_a_real_broker_cannot_run_yet(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, redis_server: RedisServer
) -> None:
    script = tmp_path / "code.yaml"
    script.write_text(
        "lab:\n  code: |\n    @app.task()\n    def mine():\n        checkpoint('here')\n"
        "steps:\n  - send: {task: mine}\n"
    )
    code = cli.main(["lab", "run", "--broker", redis_server.url, str(script)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [
        "celery-tutor: a script's own task code (lab.code) is not available on a real broker yet "
        "(use the in-process lab)"
    ]


def test_lab_run_refuses_remote_control_off_on_a_real_broker_in_one_line(
    capsys: pytest.CaptureFixture[str], redis_server: RedisServer
) -> None:
    script = Path(__file__).resolve().parents[2] / "examples" / "redis-connection-loss-prefetch-full.yaml"
    code = cli.main(["lab", "run", "--broker", redis_server.url, str(script)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "worker_enable_remote_control: false needs the in-process lab" in err[0]


def test_a_real_lab_refuses_to_turn_remote_control_off_later(redis_server: RedisServer) -> None:
    from celery_tutor.lab.real.real_lab import RealLab
    from celery_tutor.lab.settings import LabConfigError

    lab = RealLab(None, redis_server.url)
    try:
        with pytest.raises(LabConfigError, match="real lab workers keep remote control on"):
            lab.configure(worker_enable_remote_control=False)
    finally:
        lab.close()


def test_every_broker_name_of_a_lab_carries_its_prefix() -> None:
    from celery_tutor.lab.real.names import PREFIX_START, LabNames

    names = LabNames.new()
    assert names.prefix.startswith(PREFIX_START)
    assert LabNames.new().prefix != names.prefix
    derived = [names.queue, names.event_exchange, names.control_exchange, names.key_prefix]
    assert all(name.startswith(names.prefix) for name in derived)
    assert len(set(derived)) == len(derived)
    assert names.results_dir.name.startswith(names.prefix)
    assert names.hostname("worker1") == f"worker1@{names.prefix}"
