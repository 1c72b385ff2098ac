"""VM services and the connect check on a real lab: servers start with the VMs, answer TCP
and UDP with their VM's name through OVN, show in `lab status`, and `lab down` stops them."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from .conftest import assert_nothing_left, host_links, lab, live_processes

pytestmark = pytest.mark.root

TOPOLOGY = """
name: tsvc
fabric: {overlay: {subnet: 192.0.2.0/24}}
nodes: {central: {role: central}, worker1: {role: chassis}, worker2: {role: chassis}}
ovn:
  switches: {net1: {}}
  port_groups: {quiet: [vm2]}
  acls:
    - {port_group: quiet, direction: to-lport, priority: 1000,
       match: "outport == @quiet && tcp.dst == 7777", action: drop}
vms:
  vm1: {chassis: worker1, switch: net1, mac: "40:44:00:00:00:01", ip: 10.0.0.10/24,
        services: [{tcp: 8080}, {udp: 5353}]}
  vm2: {chassis: worker2, switch: net1, mac: "40:44:00:00:00:02", ip: 10.0.0.11/24,
        services: [{tcp: 8080}, {tcp: 7777}]}
checks:
  - connect: {from: vm2, to: vm1, port: 8080, proto: tcp}
  - connect: {from: vm2, to: vm1, port: 5353, proto: udp, count: 3}
  - connect: {from: vm1, to: vm2, port: 8080}
  - connect: {from: vm1, to: 10.0.0.11, port: 9999, expect: rejected}
  - connect: {from: vm1, to: vm2, port: 7777, expect: no-reach, timeout: 1}
"""


def _alive(pids: set[int]) -> set[int]:
    return {int(pid) for pid, cmd in live_processes() if int(pid) in pids and "vm_agent" in cmd}


def test_services_answer_through_ovn_and_go_with_the_lab(tmp_path: Path) -> None:
    topology = tmp_path / "svc.yaml"
    topology.write_text(TOPOLOGY)
    before = host_links()
    up = lab("up", str(topology))
    pids: set[int] = set()
    try:
        assert up.returncode == 0, up.stderr
        status = json.loads(lab("status", "tsvc", "--json", check=True).stdout)["labs"][0]
        shown = {(s["vm"], s["proto"], s["port"]) for s in status["services"] if s["alive"]}
        assert shown == {
            ("vm1", "tcp", 8080),
            ("vm1", "udp", 5353),
            ("vm2", "tcp", 8080),
            ("vm2", "tcp", 7777),
        }
        pids = {s["pid"] for s in status["services"]}
        assert _alive(pids) == pids
        state = json.loads((Path(_state_root()) / "tsvc" / "state.json").read_text())
        assert "vm1:udp:5353" in state["resources"]["service"]
        report = tmp_path / "check.json"
        check = lab("check", "tsvc", "--json", str(report))
        assert check.returncode == 0, check.stdout
        results = json.loads(report.read_text())["checks"]
        assert [r["evidence"]["answered_by"] for r in results] == [
            ["vm1"],
            ["vm1"],
            ["vm2"],
            [],
            [],
        ]
        assert results[1]["evidence"]["outcomes"] == ["answered"]
        assert results[3]["evidence"]["outcomes"] == ["refused"]
        assert results[4]["evidence"]["outcomes"] == ["timeout"]
        assert all(0 < s < 1 for r in results[:4] for s in r["evidence"]["seconds"])
        # a service that dies is a problem `lab status` reports, and `lab heal` restarts it
        victim = next(s["pid"] for s in status["services"] if s["proto"] == "udp")
        os.kill(victim, signal.SIGKILL)
        sick = lab("status", "tsvc")
        assert sick.returncode == 1 and "its udp/5353 service died" in sick.stdout
        healed = lab("heal", "tsvc")
        assert healed.returncode == 0, healed.stdout + healed.stderr
        assert "vm1: udp/5353 service" in healed.stdout
        again = json.loads(lab("status", "tsvc", "--json", check=True).stdout)["labs"][0]
        pids = {s["pid"] for s in again["services"]}
        assert victim not in pids and _alive(pids) == pids
        assert lab("check", "tsvc").returncode == 0
    finally:
        down = lab("down", "tsvc")
        assert down.returncode == 0, down.stderr
    assert_nothing_left("tsvc", before)
    assert not _alive(pids), "VM services left running"


def _state_root() -> str:
    import os

    return os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab")
