"""Three central nodes: NB and SB raft clusters, three ovn-northd, and what survives a kill."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import TOPOLOGIES, chassis_remote, lab, ping, running_lab

pytestmark = pytest.mark.root

STATE_ROOT = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))
CENTRALS = ("central1", "central2", "central3")
DBS = ("OVN_Northbound", "OVN_Southbound")


def status(name: str) -> dict:
    proc = lab("status", name, "--json")
    return json.loads(proc.stdout)["labs"][0]


def wait_healthy(name: str, seconds: float = 30) -> dict:
    """The lab's status once healthy (e.g. after an election), or as it is at the end."""
    deadline = time.monotonic() + seconds
    st = status(name)
    while not st["healthy"] and time.monotonic() < deadline:
        time.sleep(0.5)
        st = status(name)
    return st


def central_views(st: dict) -> dict[str, dict]:
    return {n["name"]: n for n in st["nodes"] if n["role"] == "central"}


def test_leader_kill_elects_writes_fails_northd_over_and_heals(tmp_path: Path) -> None:
    report = tmp_path / "check.json"
    with running_lab("ha-central.yaml", "raft-t1"):
        st = status("raft-t1")
        assert st["healthy"], st["problems"]
        views = central_views(st)
        for db in DBS:  # one leader, two followers, per database
            roles = sorted(views[c]["raft"][db] for c in CENTRALS)
            assert roles == ["follower", "follower", "leader"], (db, roles)
        assert sorted(views[c]["northd"] for c in CENTRALS) == ["active", "standby", "standby"]
        assert chassis_remote("raft-t1") == [f"tcp:192.0.2.{i}:6642" for i in (11, 12, 13)]

        proc = lab("check", "raft-t1", "--json", str(report))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        checks = json.loads(report.read_text())["checks"]
        assert [c["kind"] for c in checks] == ["ping", "raft", "ping"]
        raft = checks[1]["evidence"]
        for election in raft["elections"]:
            assert election["killed_role"] == "leader"
            assert election["new_leader"] not in (None, election["killed"])
            assert election["election_s"] is not None
        assert raft["write"]["ping_received"] >= 1 and "error" not in raft["write"]
        assert raft["northd"]["active_after"] not in (None, raft["northd"]["killed"])
        # a restarted northd may win the SB lock: ovsdb locks live on the server a client is
        # connected to, and after the SB leader changed, whichever northd reconnects first
        # takes it (seen once in ~6 CI runs). What must hold: it answers, and one is active.
        assert raft["northd"]["restarted_status"] in ("standby", "active")
        assert all(r["rejoined"] for r in raft["rejoin"].values())
        assert raft["healthy"]
        # the probe VM is gone again, and the lab's own clients find the new leaders
        st = status("raft-t1")
        assert st["healthy"], st["problems"]
        assert {p["vm"] for p in st["ports"]} == {"vm1", "vm2"}
        northds = sorted(central_views(st)[c]["northd"] for c in CENTRALS)
        assert northds == ["active", "standby", "standby"], northds
        for node in CENTRALS:  # OVN_NB_DB in a node's environment lists every central
            shown = lab("exec", "--lab", "raft-t1", node, "--", "ovn-nbctl", "ls-list", check=True)
            assert "network1" in shown.stdout


def follower_topology(tmp_path: Path) -> Path:
    text = (TOPOLOGIES / "ha-central.yaml").read_text()
    checks = text.index("checks:")
    path = tmp_path / "ha-follower.yaml"
    path.write_text(
        text[:checks]
        + "checks:\n"
        + "  - raft: {kill: follower, ping: {from: vm1, to: vm2}, northd: false}\n"
    )
    return path


def test_follower_kill_stop_start_and_heal_of_centrals(tmp_path: Path) -> None:
    report = tmp_path / "check.json"
    with running_lab(str(follower_topology(tmp_path)), "raft-t2"):
        proc = lab("check", "raft-t2", "--json", str(report))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        raft = json.loads(report.read_text())["checks"][0]["evidence"]
        for election in raft["elections"]:  # a follower dies: the leader simply stays
            assert election["killed_role"] == "follower"
            assert election["new_leader"] not in (None, election["killed"])
        assert "northd" not in raft

        # `lab stop` the first central (the one that created the clusters): the other two
        # keep a majority, take writes, and the data plane never notices
        lab("stop", "--lab", "raft-t2", "central1", check=True)
        st = wait_healthy("raft-t2")  # once the other two elected their leaders
        assert st["healthy"], st["problems"]
        lab(
            "add-vm",
            "--lab",
            "raft-t2",
            "vm3",
            "--chassis",
            "worker2",
            "--switch",
            "network1",
            "--ip",
            "10.0.0.30/24",
            "--gateway",
            "10.0.0.1",
            check=True,
        )
        assert ping("raft-t2", "vm3", "20.0.0.10").returncode == 0
        lab("start", "--lab", "raft-t2", "central1", check=True)
        assert ping("raft-t2", "vm1", "10.0.0.30").returncode == 0

        # a dead SB server of one central and the northd of another: heal restarts both
        state_dir = STATE_ROOT / "raft-t2"
        for node, daemon in (("central2", "ovnsb_db"), ("central3", "ovn-northd")):
            pid = (state_dir / node / f"{daemon}.pid").read_text().strip()
            subprocess.run(["kill", "-9", pid], check=True)
        assert not status("raft-t2")["healthy"]
        healed = lab("heal", "raft-t2")
        assert healed.returncode == 0, healed.stdout + healed.stderr
        st = wait_healthy("raft-t2")
        assert st["healthy"], st["problems"]
        views = central_views(st)
        for db in DBS:
            assert sorted(views[c]["raft"][db] for c in CENTRALS).count("leader") == 1
