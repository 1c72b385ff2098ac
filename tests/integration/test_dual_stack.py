"""topologies/dual-stack.yaml on real daemons: every VM configured by OVN itself (DHCPv4,
SLAAC, DHCPv6, IPAM, DNS), the lab's clients writing nothing outside the lab, all gone
after `lab down`."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from .conftest import (
    assert_nothing_left,
    chassis_remote,
    host_links,
    lab,
    live_processes,
    running_lab,
)

pytestmark = pytest.mark.root
NAME = "tdual"


def _digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _clients(name: str) -> list[str]:
    return [
        cmd for _, cmd in live_processes() if "lab.vm.dhcp.client" in cmd and f"/{name}/" in cmd
    ]


def test_dual_stack_addresses_come_from_ovn_and_leave_nothing() -> None:
    resolv_before = _digest("/etc/resolv.conf")
    state_root = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))
    with running_lab("dual-stack.yaml", NAME) as up:
        assert "3 VMs addressed by OVN (DHCP, RA)" in up.stderr
        # one client per VM, in its namespace, its files in the lab's state directory
        assert len(_clients(NAME)) == 3
        for vm in ("vm1", "vm2", "vm3"):
            lease = json.loads((state_root / NAME / vm / "lease.json").read_text())
            assert lease["ready"], lease
            assert not Path(f"/etc/netns/{NAME}-{vm}").exists()
        status = json.loads(lab("status", NAME, "--json", check=True).stdout)["labs"][0]
        addresses = {p["vm"]: p["addresses"] for p in status["ports"]}
        dynamic = lab(
            "nbctl", "--lab", NAME, "--", "get", "Logical_Switch_Port", "vm3", "dynamic_addresses",
            check=True,
        ).stdout.strip().strip('"').split()[1]  # fmt: skip
        assert addresses["vm3"] == [f"{dynamic}/24"]  # what IPAM chose, as the VM got it
        assert addresses["vm1"] == ["10.0.1.10/24", "2001:db8:1:0:4244:ff:fe00:110/64"]
        assert addresses["vm2"] == ["10.0.2.10/24", "2001:db8:2:0:4244:ff:fe00:210/128"]
        report = Path(f"/tmp/{NAME}-check.json")
        check = lab("check", NAME, "--json", str(report))
        results = json.loads(report.read_text())["checks"]
        report.unlink()
        assert check.returncode == 0, check.stdout + check.stderr
        kinds = sorted(r["kind"] for r in results)
        assert kinds.count("dhcp") == 3 and kinds.count("dns") == 2 and len(results) == 11
        assert all(r["passed"] for r in results), [r for r in results if not r["passed"]]
        dns = next(r for r in results if r["kind"] == "dns")
        assert dns["evidence"]["dns_listeners_in_lab"] == []
        assert dns["evidence"]["ovn_controller_packet_ins"] > 0
    assert _clients(NAME) == []
    assert _digest("/etc/resolv.conf") == resolv_before


def test_geneve_over_an_ipv6_underlay() -> None:
    """topologies/ipv6-underlay.yaml: encap IPs, SB remote and tunnel packets all IPv6."""
    name = "tunder6"
    with running_lab("ipv6-underlay.yaml", name):
        encaps = lab("sbctl", "--lab", name, "--", "--bare", "--columns=ip", "list", "Encap")
        assert sorted(encaps.stdout.split()) == ["2001:db8:0:1::c", "2001:db8:0:1::d"]
        assert chassis_remote(name) == ["tcp:[2001:db8:0:1::b]:6642"]
        report = Path(f"/tmp/{name}-check.json")
        check = lab("check", name, "--json", str(report))
        results = json.loads(report.read_text())["checks"]
        report.unlink()
        assert check.returncode == 0, check.stdout + check.stderr
        assert [r["kind"] for r in results] == ["ping", "trace", "geneve", "flows", "flows"]
        geneve = next(r for r in results if r["kind"] == "geneve")
        outer = {p["outer"] for p in geneve["evidence"]["packets"]}
        assert outer and all(":" in o for o in outer), outer  # IPv6/UDP outside


def test_ipv6_dnat_and_snat_through_a_gateway_chassis() -> None:
    """A floating IPv6 address: vm1 is seen outside as 2001:db8:f::20 and reached at it."""
    name = "tnat6"
    links_before = host_links()
    up = lab("up", str(Path(__file__).with_name("data") / "nat-ipv6.yaml"))
    try:
        assert up.returncode == 0, up.stderr
        check = lab("check", name)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "ext-host sees source 2001:db8:f::20" in check.stdout
    finally:
        assert lab("down", name).returncode == 0
        assert_nothing_left(name, links_before)


def test_stateless_dhcpv6_slaac_and_an_ipv6_only_vm() -> None:
    name = "tsl6"
    links_before = host_links()
    up = lab("up", str(Path(__file__).with_name("data") / "stateless-ipv6.yaml"))
    try:
        assert up.returncode == 0, up.stderr
        check = lab("check", name)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "DNS 2001:db8:1::1 by DHCPv6 (stateless)" in check.stdout
        assert "AAAA 2001:db8:1::20" in check.stdout
    finally:
        assert lab("down", name).returncode == 0
        assert_nothing_left(name, links_before)
