"""Topologies other than the seed: chained routers, four chassis, veth and internal ports."""

from __future__ import annotations

import re

import pytest

from .conftest import lab, ping, running_lab

pytestmark = pytest.mark.root

# (from, to address, ttl): same chassis, same switch across chassis, two routers.
PAIRS = [
    ("va1", "10.2.0.12", 62),  # internal -> veth, r1 -> transit -> r2, hv1 -> hv4
    ("va1", "10.1.0.12", 64),  # same switch, hv1 -> hv2 (veth)
    ("vb1", "10.2.0.13", 64),  # same switch, same chassis hv3
    ("va2", "10.2.0.13", 62),  # veth -> internal through both routers
    ("vb2", "10.1.0.11", 62),  # the way back
]


def test_two_routers_through_transit_switch() -> None:
    with running_lab("two-routers.yaml", "ttwo"):
        for vm, address, ttl in PAIRS:
            result = ping("ttwo", vm, address, count=2)
            assert result.returncode == 0, f"{vm} -> {address}: {result.stdout}{result.stderr}"
            assert set(re.findall(r"ttl=(\d+)", result.stdout)) == {str(ttl)}, result.stdout
        # hv4's address was given in the topology; the others were allocated.
        enc = lab(
            "sbctl", "--lab", "ttwo", "--", "--bare", "--columns=ip", "list", "Encap", check=True
        ).stdout.split()
        assert "192.0.2.44" in enc and len(enc) == 4
        # veth attachment: the chassis end is an ordinary port, the VM end keeps the VM name.
        ports = lab(
            "exec", "--lab", "ttwo", "hv2", "--", "ovs-vsctl", "list-ports", "br-int", check=True
        ).stdout.split()
        assert "va2-p" in ports
        assert_interfaces_as_predicted("two-routers.yaml", "ttwo")


def assert_interfaces_as_predicted(topology: str, name: str) -> None:
    """Every interface really in the lab's namespaces is one lab.plan.ifnames lists (the
    list the planner refuses clashes in), or holds '_', which no lab name may: so that
    list is complete, and the injectivity proved on it (test_naming_injective) holds here."""
    import subprocess

    from lab.plan.ifnames import namespaces
    from lab.plan.planner import make_plan
    from lab.topology import load_topology

    from .conftest import TOPOLOGIES

    predicted = namespaces(make_plan(load_topology(TOPOLOGIES / topology, name=name)))
    for netns, names in predicted.items():
        out = subprocess.run(
            ["ip", "-n", netns, "-o", "link", "show"], capture_output=True, text=True, check=True
        ).stdout
        real = {line.split(": ")[1].split("@")[0] for line in out.splitlines()}
        unknown = {n for n in real if "_" not in n} - {n for n, _ in names}
        assert not unknown, f"{netns}: {sorted(unknown)} not predicted ({sorted(real)})"


def test_side_by_side_labs_from_one_file() -> None:
    with running_lab("geneve-router.yaml", "tone"), running_lab("geneve-router.yaml", "ttwo2"):
        assert ping("tone", "vm1", "20.0.0.10", count=1).returncode == 0
        assert ping("ttwo2", "vm1", "20.0.0.10", count=1).returncode == 0
        down = lab("down", "tone")
        assert down.returncode == 0
        assert ping("ttwo2", "vm1", "20.0.0.10", count=1).returncode == 0
