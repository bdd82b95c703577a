"""Every command that may run on a real broker takes ``--broker`` and ``--allow-remote`` the same way."""

from __future__ import annotations

import pytest

from celery_tutor.cli_args import command_line

URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "run", "script.yaml", "--broker", URL, "--allow-remote"],
        ["verify", "--broker", URL, "--allow-remote"],
        ["worker", "--broker", URL, "--prefix", "celery-tutor-0a1b2c3d", "--allow-remote"],
    ],
)
def test_a_command_on_a_real_broker_reads_the_url_and_the_remote_permission(argv: list[str]) -> None:
    args = command_line().parse_args(argv)
    assert (args.broker, args.allow_remote) == (URL, True)
    assert (args.app_broker, args.app_allow_remote) == (None, False)  # the app's own options are apart


def test_the_app_keeps_its_broker_apart_from_the_commands() -> None:
    args = command_line().parse_args(["--broker", URL, "--allow-remote"])
    assert (args.command, args.app_broker, args.app_allow_remote) == (None, URL, True)
    assert not hasattr(args, "broker")


def test_a_worker_needs_a_broker(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        command_line().parse_args(["worker", "--prefix", "celery-tutor-0a1b2c3d"])
    assert stopped.value.code == 2 and "--broker" in capsys.readouterr().err


def test_without_allow_remote_a_broker_stays_on_this_machine() -> None:
    args = command_line().parse_args(["verify", "--broker", URL])
    assert args.allow_remote is False


@pytest.mark.parametrize("words", [["lab", "run"], ["lab", "tasks"], ["check"], ["verify"], ["worker"], ["serve"]])
def test_every_command_says_what_it_does_in_its_own_help(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from celery_tutor.cli_args import COMMANDS

    description = COMMANDS[words[-1]][1]
    with pytest.raises(SystemExit) as stop:
        command_line().parse_args([*words, "--help"])
    assert stop.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert " ".join(description.split()) in shown


def test_the_command_list_names_every_command_with_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    from celery_tutor.cli_args import COMMANDS

    with pytest.raises(SystemExit):
        command_line().parse_args(["--help"])
    shown = capsys.readouterr().out
    for name in ("lab", "check", "verify", "worker", "serve"):
        assert f"{name} " in shown and COMMANDS[name][0] in shown
