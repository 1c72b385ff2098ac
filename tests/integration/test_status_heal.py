"""Honest `lab status` and `lab heal` on real daemons: kill what runs, see it reported, see the
lab break where it should, heal it, and prove heal restarted only what had died."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, lab, ping, running_lab

pytestmark = pytest.mark.root
TOPOLOGY = "geneve-router.yaml"
DAEMONS = {
    "central": ("ovnnb_db", "ovnsb_db", "ovn-northd"),
    "worker1": ("ovsdb-server", "ovs-vswitchd", "ovn-controller"),
    "worker2": ("ovsdb-server", "ovs-vswitchd", "ovn-controller"),
}


def heal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", "heal", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def _pidfile(name: str, node: str, daemon: str) -> Path:
    root = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))
    return root / name / node / f"{daemon}.pid"


def pids(name: str) -> dict[tuple[str, str], int]:
    """(node, daemon) -> PID, of every daemon of the lab whose pidfile names a live process."""
    found = {}
    for node, daemons in DAEMONS.items():
        for daemon in daemons:
            try:
                pid = int(_pidfile(name, node, daemon).read_text())
            except (OSError, ValueError):
                continue
            if _alive(pid):
                found[(node, daemon)] = pid
    return found


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (this sandbox's PID 1 reaps slowly, so a
    killed daemon can linger as a zombie for a while)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def kill(name: str, node: str, daemon: str) -> None:
    """SIGKILL one daemon of the lab, found by its pidfile, and wait until it is gone."""
    pid = int(_pidfile(name, node, daemon).read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def status(name: str) -> tuple[int, dict]:
    proc = lab("status", name, "--json")
    return proc.returncode, json.loads(proc.stdout)["labs"][0]


def untouched(
    before: dict[tuple[str, str], int], after: dict[tuple[str, str], int], *skip: str
) -> bool:
    """The daemons of every node but `skip` still run with the PIDs they had."""
    return {k: v for k, v in before.items() if k[0] not in skip} == {
        k: v for k, v in after.items() if k[0] not in skip
    }


def test_dead_ovn_controller_is_reported_then_only_it_is_restarted() -> None:
    with running_lab(TOPOLOGY, "tkh1"):
        before = pids("tkh1")
        assert len(before) == 9
        kill("tkh1", "worker1", "ovn-controller")
        proc = lab("status", "tkh1")
        assert proc.returncode == 1
        assert "worker1: ovn-controller is not running" in proc.stdout
        rc, data = status("tkh1")
        assert rc == 1 and not data["healthy"]
        worker1 = next(n for n in data["nodes"] if n["name"] == "worker1")
        assert worker1["daemons"] == {
            "ovsdb-server": True,
            "ovs-vswitchd": True,
            "ovn-controller": False,
        }
        healed = heal("tkh1")
        assert healed.returncode == 0, healed.stdout + healed.stderr
        assert "restarted worker1: ovn-controller\n" in healed.stdout
        assert "lab tkh1 is healed" in healed.stdout
        after = pids("tkh1")
        # a new ovn-controller; every other daemon is the very process it was
        assert after[("worker1", "ovn-controller")] != before[("worker1", "ovn-controller")]
        del before[("worker1", "ovn-controller")], after[("worker1", "ovn-controller")]
        assert after == before
        assert lab("status", "tkh1").returncode == 0
        result = ping("tkh1", "vm1", "20.0.0.10", count=2)
        assert result.returncode == 0, result.stdout


def test_dead_ovs_vswitchd_breaks_the_ping_and_check_then_heal_fixes_both() -> None:
    with running_lab(TOPOLOGY, "tkh2"):
        before = pids("tkh2")
        kill("tkh2", "worker2", "ovs-vswitchd")
        # no datapath on worker2 any more: vm2 is unreachable
        assert ping("tkh2", "vm1", "20.0.0.10", count=2).returncode != 0
        check = lab("check", "tkh2")
        assert check.returncode == 1, check.stdout
        ping_line = next(line for line in check.stdout.splitlines() if "FAIL ping" in line)
        diagnosis = check.stdout.split(ping_line, 1)[1].splitlines()[1]
        assert "node worker2: ovs-vswitchd is not running" in diagnosis, check.stdout
        healed = heal("--lab", "tkh2")
        assert healed.returncode == 0, healed.stdout + healed.stderr
        assert (
            "restarted worker2: ovsdb-server, ovs-vswitchd, ovn-controller "
            "(ovs-vswitchd had died; the node restarts as a whole)"
        ) in healed.stdout
        after = pids("tkh2")
        assert untouched(before, after, "worker2"), "heal touched a healthy node"
        assert set(after) == set(before)  # all nine run again
        assert lab("status", "tkh2").returncode == 0
        check = lab("check", "tkh2")
        assert check.returncode == 0, check.stdout
        assert ping("tkh2", "vm1", "20.0.0.10", count=2).returncode == 0


def test_chassis_missing_from_southbound_is_reported_and_healed() -> None:
    with running_lab(TOPOLOGY, "tkh3"):
        # ovn-controller dead and its Chassis row deleted: both reported
        kill("tkh3", "worker2", "ovn-controller")
        lab("sbctl", "--lab", "tkh3", "--", "chassis-del", "worker2", check=True)
        proc = lab("status", "tkh3")
        assert proc.returncode == 1
        assert "chassis worker2 is not registered in the Southbound DB" in proc.stdout
        assert "worker2: ovn-controller is not running" in proc.stdout
        _, data = status("tkh3")
        registered = {n["name"]: n["chassis_registered"] for n in data["nodes"]}
        assert registered == {"central": None, "worker1": True, "worker2": False}
        healed = heal("tkh3")
        assert healed.returncode == 0, healed.stdout + healed.stderr
        assert "restarted worker2: ovn-controller" in healed.stdout
        rc, data = status("tkh3")
        assert rc == 0 and data["healthy"], data["problems"]

        # A paused ovn-controller runs: status reports the missing chassis, heal touches
        # nothing and says the lab is still unhealthy.
        before = pids("tkh3")
        ctl = ["exec", "--lab", "tkh3", "worker1", "--", "ovn-appctl", "-t", "ovn-controller"]
        lab(*ctl, "debug/pause", check=True)
        try:
            lab("sbctl", "--lab", "tkh3", "--", "chassis-del", "worker1", check=True)
            proc = lab("status", "tkh3")
            assert proc.returncode == 1
            assert "chassis worker1 is not registered in the Southbound DB" in proc.stdout
            healed = heal("tkh3", "--timeout", "2")
            assert healed.returncode == 1, healed.stdout + healed.stderr
            assert "no daemon is dead, and heal never restarts one that runs" in healed.stdout
            assert "problem: chassis worker1 is not registered" in healed.stdout
            assert pids("tkh3") == before
        finally:
            lab(*ctl, "debug/resume", check=True)
        deadline = time.monotonic() + 20  # resumed, it registers its chassis again by itself
        while lab("status", "tkh3").returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert lab("status", "tkh3").returncode == 0


def test_heal_leaves_a_stopped_node_stopped_and_cannot_heal_a_lost_namespace() -> None:
    with running_lab(TOPOLOGY, "tkh4"):
        lab("stop", "--lab", "tkh4", "worker2", check=True)
        healed = heal("tkh4", "--timeout", "2")
        # a node stopped on purpose is no fault for `lab status`: heal exits as status does
        assert healed.returncode == lab("status", "tkh4").returncode, healed.stdout
        assert "left stopped worker2: stopped on purpose by `lab stop`" in healed.stdout
        assert "`lab start worker2` brings it back" in healed.stdout
        assert not any(node == "worker2" for node, _ in pids("tkh4"))  # still stopped
        lab("start", "--lab", "tkh4", "worker2", check=True)
        healed = heal("tkh4")
        assert healed.returncode == 0 and "lab tkh4 is healthy" in healed.stdout

        subprocess.run(["ip", "netns", "delete", "tkh4.vm2"], check=True)
        proc = lab("status", "tkh4")
        assert proc.returncode == 1 and "VM vm2: namespace tkh4.vm2 is missing" in proc.stdout
        healed = heal("tkh4", "--timeout", "2")
        assert healed.returncode == 1
        assert "cannot heal VM vm2: its namespace tkh4.vm2 is gone" in healed.stdout
        assert "`lab down tkh4`, then `lab up` it again" in healed.stdout


def test_dead_southbound_db_is_reported_as_such_and_heal_restarts_central_only() -> None:
    with running_lab(TOPOLOGY, "tkh5"):
        before = pids("tkh5")
        kill("tkh5", "central", "ovnsb_db")
        proc = lab("status", "tkh5")
        assert proc.returncode == 1
        assert "node central: ovnsb_db is not running" in proc.stdout
        # what cannot be read is not reported as missing
        assert "the Southbound DB cannot be read" in proc.stdout
        assert "not registered" not in proc.stdout and "bound to None" not in proc.stdout
        healed = heal("tkh5")
        assert healed.returncode == 0, healed.stdout + healed.stderr
        assert "restarted central: ovnnb_db, ovnsb_db, ovn-northd" in healed.stdout
        assert untouched(before, pids("tkh5"), "central"), "heal touched a chassis"
        assert ping("tkh5", "vm1", "20.0.0.10", count=2).returncode == 0
