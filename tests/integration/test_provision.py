"""`lab provision` for real: Ansible over SSH into two node-image containers.

The containers have no network but a veth into a namespace the test makes (the "client"
namespace, 198.51.100.0/24); Ansible runs inside that namespace, so nothing is ever
addressed or routed in the host's own namespace. Host keys are checked against a
known_hosts file made with ssh-keyscan, never waved through.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import lab, live_processes
from tests.integration.ssh_hosts import (
    MGMT_PREFIX,
    Hosts,
    exec_in,
    require_prerequisites,
    ssh_hosts,
)

pytestmark = [pytest.mark.root, pytest.mark.ssh, pytest.mark.slow]

LABEL = {"ovn-lab.test": "provision"}
NETNS = f"provtest-{os.getpid()}"
NODES = {"central1": f"{MGMT_PREFIX}.11", "gw1": f"{MGMT_PREFIX}.12"}  # gw1: a gateway
UNREACHABLE = f"{MGMT_PREFIX}.99"  # nobody there


@pytest.fixture(autouse=True)
def _ssh_prerequisites() -> None:
    require_prerequisites()


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    require_prerequisites()  # runs before the autouse check: fails in CI, as that does
    with ssh_hosts(tmp_path_factory.mktemp("provision"), NETNS, LABEL, NODES) as hosts:
        yield hosts


def _summary(proc: subprocess.CompletedProcess) -> dict[str, Any]:
    assert proc.stdout.strip(), f"no JSON summary; stderr:\n{proc.stderr}"
    return json.loads(proc.stdout)


def _main_inventory(bed: Hosts) -> Path:
    return bed.inventory(
        {"central1": ("central", NODES["central1"]), "gw1": ("gateway", NODES["gw1"])}
    )


def test_provision_twice_then_nothing_changes(testbed: Hosts) -> None:
    inventory = _main_inventory(testbed)

    first = testbed.provision(inventory, "--json")
    assert first.returncode == 0, f"first run failed:\n{first.stderr}"
    summary = _summary(first)
    assert summary["ok"] and set(summary["hosts"]) == set(NODES)
    assert all(h["changed"] > 0 for h in summary["hosts"].values()), summary["hosts"]

    central, gw1 = testbed.containers["central1"], testbed.containers["gw1"]
    assert "ovs_version" in exec_in(gw1, "ovs-vsctl", "show")  # ovsdb-server + ovs-vswitchd
    assert "br-int" in exec_in(gw1, "ovs-vsctl", "show")  # made by ovn-controller
    exec_in(central, "ovn-nbctl", "show")
    exec_in(gw1, "ovn-appctl", "-t", "ovn-controller", "version")
    # the gateway chassis reached the SB database over the wire and announced itself
    deadline = time.monotonic() + 60
    while True:
        chassis = exec_in(
            central, "ovn-sbctl", "--bare", "--columns=name,other_config", "list", "Chassis"
        )
        if "gw1" in chassis or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "gw1" in chassis and "enable-chassis-as-gw" in chassis, chassis
    assert "running with pid" in exec_in(central, "/usr/share/ovn/scripts/ovn-ctl", "status_northd")

    print(f"first run: {summary['seconds']} s {summary['hosts']}")
    second = testbed.provision(inventory, "--json")
    assert second.returncode == 0, f"second run failed:\n{second.stderr}"
    hosts = _summary(second)["hosts"]
    print(f"second run: {_summary(second)['seconds']} s {hosts}")
    assert set(hosts) == set(NODES)
    assert {h: c["changed"] for h, c in hosts.items()} == dict.fromkeys(NODES, 0), second.stderr

    check = testbed.provision(inventory, "--check", "--json", "--limit", "gw1")
    assert check.returncode == 0, check.stderr
    assert _summary(check)["hosts"]["gw1"]["changed"] == 0

    # lab provision stops the ssh connection masters it opened
    lingering = [cmd for _, cmd in live_processes() if str(testbed.known_hosts) in cmd]
    assert not lingering, lingering


def test_unreachable_host_fails_with_one_line(testbed: Hosts) -> None:
    inventory = testbed.inventory({"ghost": ("chassis", UNREACHABLE)}, name="ghost.ini")
    proc = testbed.provision(inventory)
    assert proc.returncode not in (0, 1), proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    print(errors[0])
    assert "ghost" in errors[0] and "unreachable" in errors[0], errors[0]
    assert "Traceback" not in proc.stderr


def test_unknown_host_key_is_refused(testbed: Hosts) -> None:
    """A host whose key is not in known_hosts is refused, and the message says how to fix it."""
    inventory = testbed.inventory({"central1": ("central", NODES["central1"])}, name="kh.ini")
    empty = testbed.tmp / "empty_known_hosts"
    empty.write_text("")
    proc = testbed.lab("provision", "--inventory", str(inventory), "--known-hosts", str(empty))
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "central1" in errors[0], proc.stderr
    print(errors[0])
    assert "--accept-new-host-keys" in errors[0]
    assert empty.read_text() == ""


def test_missing_inventory_is_a_user_error(tmp_path: Path) -> None:
    proc = lab("provision", "--inventory", str(tmp_path / "nope.ini"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
