"""`lab test`: the shipped testinfra suites (lab/data/checks) pass on a healthy lab and name the
node and the check when one node is broken."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import lab, running_lab

pytestmark = pytest.mark.root

TOPOLOGY = "geneve-router.yaml"
STATE_ROOT = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))


def lab_test(*args: str) -> subprocess.CompletedProcess[str]:
    return lab("test", *args)


def failures(output: str) -> set[tuple[str, str]]:
    """(node, check) of every `FAILED node check: why` line of the summary."""
    return set(re.findall(r"^FAILED (\S+) (\S+?):", output, re.MULTILINE))


def node_run(name: str, node: str, *argv: str) -> None:
    lab("exec", "--lab", name, node, "--", *argv, check=True)


def test_healthy_lab_passes_every_check_and_writes_junit(tmp_path: Path) -> None:
    junit = tmp_path / "acceptance.xml"
    with running_lab(TOPOLOGY, "tiacc"):
        proc = lab_test("tiacc", "--junit", str(junit))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for header in ("central (central)", "worker1 (chassis)", "worker2 (chassis)",
                       "vm1 (vm)", "vm2 (vm)"):  # fmt: skip
            assert header in proc.stdout
        assert "test_geneve_tunnels" in proc.stdout and "FAIL" not in proc.stdout
        assert re.search(r"lab tiacc: \d+ checks on 5 nodes: \d+ passed in", proc.stdout)
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None and suite.get("failures") == "0" and suite.get("errors") == "0"
        nodes = {p.get("value") for p in suite.iter("property") if p.get("name") == "node"}
        assert nodes == {"central", "worker1", "worker2", "vm1", "vm2"}

        # Arguments after `--` reach pytest: only the tunnel check, on both chassis.
        proc = lab_test("tiacc", "--", "-k", "geneve_tunnels")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "lab tiacc: 2 checks on 2 nodes: 2 passed" in proc.stdout


def kill_ovn_controller(name: str) -> None:
    """SIGKILL worker1's ovn-controller via its pidfile (a crash: the pidfile stays)."""
    pid = int((STATE_ROOT / name / "worker1" / "ovn-controller.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.02)


def delete_tunnel(name: str) -> None:
    """Delete worker2's Geneve port to worker1. A running ovn-controller puts it back within
    milliseconds (that self-healing is healthy), so pause it first, as a wedged one would be."""
    ctl = STATE_ROOT / name / "worker2"
    pid = (ctl / "ovn-controller.pid").read_text().strip()
    node_run(name, "worker2", "ovs-appctl", "-t", str(ctl / f"ovn-controller.{pid}.ctl"),
             "debug/pause")  # fmt: skip
    port = lab("exec", "--lab", name, "worker2", "--", "ovs-vsctl", "--bare", "--columns=name",
               "find", "Interface", "type=geneve", check=True).stdout.split()  # fmt: skip
    assert len(port) == 1, port
    node_run(name, "worker2", "ovs-vsctl", "del-port", "br-int", port[0])


def flush_vm_address(name: str) -> None:
    node_run(name, "vm1", "ip", "addr", "flush", "dev", "vm1")


@pytest.mark.parametrize(
    ("name", "sabotage", "expected"),
    [
        ("tiacc-ctl", kill_ovn_controller,
         {("worker1", "test_daemon_running[ovn-controller]"),
          ("worker1", "test_ovn_controller_connected")}),
        ("tiacc-tun", delete_tunnel, {("worker2", "test_geneve_tunnels")}),
        ("tiacc-addr", flush_vm_address,
         {("vm1", "test_interface_address"), ("vm1", "test_default_route")}),
    ],
    ids=["ovn-controller-killed", "tunnel-port-deleted", "vm-address-flushed"],
)  # fmt: skip
def test_broken_node_is_named_with_its_failing_check(
    name: str, sabotage: Callable[[str], None], expected: set[tuple[str, str]]
) -> None:
    with running_lab(TOPOLOGY, name):
        sabotage(name)
        proc = lab_test(name)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert failures(proc.stdout) == expected, proc.stdout
