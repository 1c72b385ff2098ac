"""Load balancers, gateway routers, HA chassis groups, ECMP with BFD, router policies: the
three shipped topologies up for real, every check of theirs passing, what they measured
kept in the results, and nothing left afterwards (BFD speakers included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import lab, live_processes, running_lab

pytestmark = pytest.mark.root


def checked(name: str, tmp_path: Path, timeout: float = 400) -> list[dict[str, Any]]:
    """`lab check NAME` must pass; its JSON results."""
    out = tmp_path / f"{name}.json"
    proc = lab("check", name, "--json", str(out), timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    return data["checks"]


def of_kind(results: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in results if r["kind"] == kind]


def bfdd_of(name: str) -> list[str]:
    return [cmd for _, cmd in live_processes() if "bfdd" in cmd and f"/{name}/" in cmd]


def test_load_balancer(tmp_path: Path) -> None:
    with running_lab("load-balancer.yaml", "tlb"):
        results = checked("tlb", tmp_path)
        spreads = [r for r in of_kind(results, "lb") if "requests" in r["spec"]]
        assert len(spreads) == 6
        for r in spreads:  # every request answered, both backends served some
            assert r["evidence"]["failed"] == 0 and set(r["evidence"]["spread"]) == {"vm1", "vm2"}
            assert r["evidence"]["requests_per_s"] > 0
        # hairpin: vm1 asked its own VIP and answered some of it itself
        assert spreads[1]["spec"]["from"] == "vm1" and spreads[1]["evidence"]["spread"]["vm1"]
        # the IPv6 VIP, from the other network and hairpin from backend vm2
        v6 = [r for r in spreads if r["spec"]["vip"].startswith("[2001:db8:")]
        assert [r["spec"]["from"] for r in v6] == ["vm3", "vm2"]
        assert v6[1]["evidence"]["spread"]["vm2"]
        (stop,) = [r for r in of_kind(results, "lb") if "stop" in r["spec"]]
        assert stop["evidence"]["service_monitor"] == "offline"
        assert 0 <= stop["evidence"]["removed_s"] <= 10
        assert stop["evidence"]["returned_s"] is not None
        monitors = lab(
            "sbctl",
            "--lab",
            "tlb",
            "--",
            "--bare",
            "--columns=status",
            "list",
            "Service_Monitor",
            check=True,
        ).stdout.split()
        assert monitors == ["online", "online"]  # vm2 is back
        stop_node_of_a_backend()


def stop_node_of_a_backend() -> None:
    """lb `stop: {node: hv1}`: vm1's chassis crashed (as `lab stop hv1`) under a client on
    hv2, then started again; the check says how the pool took it (OVN's service monitor
    probes from the backend's own chassis, so with that chassis down nobody marks it)."""
    from lab.state.store import load_state
    from lab.verify.context import LabContext
    from lab.verify.lb import check_lb

    state = load_state("tlb")
    assert state is not None
    ctx = LabContext(state)
    spec = {"from": "vm3", "vip": "10.0.100.100:80", "stop": {"node": "hv1"}, "within_s": 6}
    result = check_lb(ctx, spec, "stop-node")
    print(result.summary, "|", result.diagnosis)
    ev = result.evidence
    assert ev["stopped"] == "node hv1" and ev["backends_stopped"] == ["vm1"]
    assert ev["returned_s"] is not None  # hv1 started again, vm1 answers through the VIP
    assert result.passed == (ev["removed_s"] is not None and ev["removed_s"] <= 6)
    if not result.passed:
        assert ev["service_monitor"] == "online" and "service monitor" in result.diagnosis
    health = json.loads(lab("status", "tlb", "--json", check=True).stdout)["labs"][0]
    assert health["healthy"], health["problems"]  # hv1 and its daemons are back


def test_ovn_kubernetes_like(tmp_path: Path) -> None:
    with running_lab("ovn-kubernetes-like.yaml", "tovk"):
        results = checked("tovk", tmp_path)
        gateways = of_kind(results, "gateway")
        assert [g["evidence"]["kind"] for g in gateways] == [
            "gateway router GR_node1",
            "gateway router GR_node2",
        ]
        # a gateway router has no chassisredirect port
        ports = lab(
            "sbctl",
            "--lab",
            "tovk",
            "--",
            "--bare",
            "--columns=logical_port",
            "list",
            "Port_Binding",
            check=True,
        ).stdout.split()
        assert not [p for p in ports if p.startswith("cr-")]
        shown = lab("gateways", "--lab", "tovk", check=True).stdout
        assert "gateway router GR_node1" in shown and "rtoe-GR_node2" in shown


def test_ecmp_bfd_policies(tmp_path: Path) -> None:
    with running_lab("ecmp.yaml", "tecmp"):
        assert len(bfdd_of("tecmp")) == 2  # up1 and up2, with the lab's own files
        shown = lab("gateways", "--lab", "tecmp", check=True).stdout
        assert "ha_chassis_group edge" in shown and "gw1 (30), gw2 (20)" in shown
        assert "198.51.100.1" in shown and "198.51.100.2" in shown
        results = checked("tecmp", tmp_path, timeout=500)
        hops = of_kind(results, "nexthop")
        spread = hops[0]["evidence"]["counts"]
        assert spread["up1"] > 0 and spread["up2"] > 0  # ECMP: both next hops used
        assert hops[1]["evidence"]["counts"]["up1"] == 0  # reroute: vm2 only via up2
        assert sum(hops[3]["evidence"]["counts"].values()) == 0  # drop
        failover = hops[4]["evidence"]
        assert failover["moved_flows"] > 0 and failover["move_s"] <= 6
        assert failover["back_s"] is not None
        assert len(bfdd_of("tecmp")) == 2  # up1's speaker restarted with it
    assert bfdd_of("tecmp") == []
