"""The command-line client without a server: its subcommands, usage errors (3), an unreachable URL (4), credentials."""

import pytest

from devstack.launcher import free_port
from jobs.cli import main
from jobs.cli.app import build_parser
from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit, exit_for_status


def test_every_documented_subcommand_is_there():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"submit", "list", "show", "watch", "cancel", "retry", "types", "workers", "schedules"} <= set(sub.choices)


@pytest.mark.parametrize("argv", [[], ["submit"], ["submit", "echo", "{not json"], ["nope"], ["list", "--limit", "x"]])
def test_usage_errors_exit_3_and_send_nothing(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == Exit.USAGE == 3
    assert "usage: batchlab" in capsys.readouterr().err


def test_an_unreachable_server_exits_4(capsys):
    assert main(["--base-url", f"http://127.0.0.1:{free_port()}", "types"]) == Exit.UNREACHABLE == 4
    assert "cannot reach BatchLab" in capsys.readouterr().err


def test_options_after_the_subcommand_win(capsys):
    port = free_port()
    assert main(["--base-url", "http://127.0.0.1:1", "list", "--base-url", f"http://127.0.0.1:{port}"]) == 4
    assert f":{port}" in capsys.readouterr().err


def test_status_decides_the_exit_code():
    assert [exit_for_status(s) for s in ("COMPLETED", "FAILED", "CANCELED", "QUEUED")] == [0, 1, 2, 0]


def test_demo_credentials_only_for_a_local_url(monkeypatch):
    for name in ("BATCHLAB_URL", "BATCHLAB_TOKEN", "BATCHLAB_USER", "BATCHLAB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert Client.from_options(base_url=None, token=None).user == "demo"
    remote = Client.from_options(base_url="https://batchlab.example.com", token=None)
    assert remote.user is None and remote._authorization() is None
    monkeypatch.setenv("BATCHLAB_TOKEN", "abc")
    assert Client.from_options(base_url="https://batchlab.example.com/", token=None)._authorization() == "Token abc"
    assert Client.from_options(base_url=None, token="xyz")._authorization() == "Token xyz"
