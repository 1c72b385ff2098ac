"""lab provision's event handling, from ansible-runner events recorded against node containers:
progress lines, per-host counts, and the one-line error a failed run becomes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lab.cli import main as cli
from lab.errors import RuntimeFailure, UserError
from lab.providers.ssh.provision import (
    EventWatcher,
    Line,
    ProgressView,
    Tally,
    result_message,
    run_error,
)

DATA = Path(__file__).parent / "data" / "provision"
INVENTORY = Path("inv.ini")


def recorded(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / f"{name}.json").read_text())


def watch(events: list[dict[str, Any]]) -> tuple[EventWatcher, list[Line]]:
    watcher = EventWatcher()
    lines = [line for event in events for line in watcher.handle(event)]
    return watcher, lines


def test_first_run_counts_and_progress() -> None:
    watcher, lines = watch(recorded("first_run"))
    counts = watcher.counts()
    assert counts == {
        "central": Tally(ok=10, changed=2, failed=0, unreachable=0, skipped=3),
        "gw1": Tally(ok=16, changed=4, failed=0, unreachable=0, skipped=4),
    }
    assert watcher.tallies == counts  # counted from the events, they agree with ansible's recap
    assert not watcher.failures
    assert run_error(watcher, 0, "", INVENTORY) is None
    plays = [line.text for line in lines if line.kind == "play"]
    assert plays[0].startswith("Every node") and plays[-1].startswith("Gateways")
    changed = {(line.host, line.text) for line in lines if line.kind == "changed"}
    assert (
        "central",
        "ovn_central : Start the NB and SB databases and ovn-northd with ovn-ctl",
    ) in (changed)
    assert ("gw1", "ovn_chassis : Start ovn-controller with ovn-ctl") in changed
    assert watcher.current_task == "ovn_common : Set external_ids"


def test_broken_host_names_host_task_and_module_message() -> None:
    watcher, lines = watch(recorded("broken_host"))
    assert [(f.host, f.task) for f in watcher.failures] == [
        ("gw1", "ovn_chassis : Start ovn-controller with ovn-ctl")
    ]
    assert watcher.counts()["gw1"].failed == 1 and watcher.counts()["central"].failed == 0
    error = run_error(watcher, 2, "", INVENTORY)
    assert isinstance(error, RuntimeFailure) and error.exit_code == 3
    assert str(error) == (
        "provisioning failed: host gw1 failed task 'ovn_chassis : Start ovn-controller with "
        "ovn-ctl' (ansible.builtin.command): nice: 'ovn-controller': No such file or directory: "
        "exit status 1"
    )
    assert [line.host for line in lines if line.kind == "failed"] == ["gw1"]


def test_unreachable_host() -> None:
    watcher, lines = watch(recorded("unreachable"))
    error = run_error(watcher, 4, "", INVENTORY)
    assert isinstance(error, RuntimeFailure)
    assert str(error) == (
        "provisioning failed: host ghost is unreachable (task 'Gathering Facts'): Failed to "
        "connect to the host via ssh: ssh: connect to host 198.51.100.99 port 22: No route to host"
    )
    assert "\n" not in str(error)
    assert watcher.counts() == {"ghost": Tally(unreachable=1)}
    assert [line.kind for line in lines if line.host] == ["unreachable"]


def _unreachable(host: str, msg: str) -> dict[str, Any]:
    return {
        "event": "runner_on_unreachable",
        "event_data": {
            "host": host,
            "task": "Gathering Facts",
            "task_action": "gather_facts",
            "res": {"unreachable": True, "msg": msg},
        },
    }


def test_unknown_host_key_is_a_user_error_with_the_fix() -> None:
    msg = "Task failed: Failed to connect to the host via ssh: Host key verification failed."
    watcher, _ = watch([_unreachable("central1", msg), _unreachable("gw1", msg)])
    error = run_error(watcher, 4, "", INVENTORY)
    assert isinstance(error, UserError) and error.exit_code == 2
    text = str(error)
    assert "host central1 is unreachable" in text and "(also failed: gw1)" in text
    assert "--known-hosts FILE" in text and "--accept-new-host-keys" in text
    assert "failed.." not in text


def test_failed_loop_reports_the_failed_item() -> None:
    res = {
        "msg": "One or more items failed",
        "results": [
            {"item": "ok-one", "rc": 0, "failed": False},
            {
                "item": "x",
                "failed": True,
                "rc": 1,
                "msg": "non-zero return code",
                "stderr": "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection "
                "failed (No such file or directory)\n",
            },
        ],
    }
    assert result_message(res) == (
        "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed "
        "(No such file or directory): exit status 1"
    )


def test_assert_message_and_long_messages_stay_one_line() -> None:
    res = {
        "msg": "h1 runs CentOS 9 (RedHat family); these playbooks support Debian and Ubuntu only\n",
        "assertion": "ansible_os_family == 'Debian'",
    }
    assert result_message(res).endswith("Debian and Ubuntu only")
    long = result_message({"msg": "x\n" * 1000})
    assert "\n" not in long and len(long) <= 400


def test_ignored_failures_do_not_fail_the_run() -> None:
    watcher, lines = watch(
        [
            {
                "event": "runner_on_failed",
                "event_data": {
                    "host": "h",
                    "task": "t",
                    "ignore_errors": True,
                    "res": {"msg": "meh"},
                },
            }
        ]
    )
    assert not watcher.failures and [line.kind for line in lines] == ["ignored"]


def test_ansible_could_not_start_and_empty_inventory() -> None:
    output = "[WARNING]: something\n[ERROR]: Unable to parse /x/inv.ini as an inventory source\n"
    error = run_error(EventWatcher(), 1, output, INVENTORY)
    assert isinstance(error, UserError)
    assert str(error).endswith(
        "(exit 1): [ERROR]: Unable to parse /x/inv.ini as an inventory source"
    )
    error = run_error(EventWatcher(), 0, "", INVENTORY)
    assert isinstance(error, UserError) and "no host to provision" in str(error)


def test_progress_view_lines() -> None:
    buf = io.StringIO()
    view = ProgressView(Console(file=buf, width=200, color_system=None))
    view.show(
        [
            Line("play", "Central"),
            Line("task", "x"),
            Line("changed", "r : t", "c1"),
            Line("skipped", "r : s", "c1"),
            Line("warning", "[WARNING]: w"),
        ]
    )
    assert buf.getvalue().splitlines() == ["Central", "  changed     c1           r : t"]


def test_missing_inventory_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["provision", "--inventory", str(tmp_path / "nope.ini")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_broken_inventory_says_why() -> None:
    output = (
        "[WARNING]: Failed to parse inventory with 'ini' plugin: Failed to parse inventory: "
        "not enough values to unpack (expected 3, got 2)\n\n"
        "[ERROR]: No inventory was parsed, please check your configuration and options.\n"
    )
    error = run_error(EventWatcher(), 1, output, INVENTORY)
    assert isinstance(error, UserError)
    assert "No inventory was parsed" in str(error) and "not enough values" in str(error)
