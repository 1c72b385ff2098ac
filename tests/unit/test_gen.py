"""`lab gen`: the generated topologies load without problems, with unique names and addresses."""

from __future__ import annotations

import argparse
from ipaddress import IPv4Interface

import pytest

from lab.cli import topology as topology_cli
from lab.errors import UserError
from lab.plan.planner import make_plan
from lab.topology import gen, parse_topology

SIZES = [(1, 1, 1), (10, 2, 3), (100, 10, 4)]


@pytest.mark.parametrize(("chassis", "per", "switches"), SIZES)
def test_generated_topology_loads(chassis: int, per: int, switches: int) -> None:
    topo = parse_topology(gen.generate(chassis, per, switches), "gen.yaml")
    assert topo.name == "big"
    assert topo.centrals == ["central"]
    assert topo.chassis == [f"hv{n}" for n in range(1, chassis + 1)]
    assert list(topo.ovn.switches) == [f"sw{s}" for s in range(switches)]
    assert len(topo.vms) == chassis * per
    assert sum(1 for vm in topo.vms.values() if vm.chassis == "hv1") == per
    assert bool(topo.checks) == (len(topo.vms) > 1)
    plan = make_plan(topo)  # addresses allocated from the overlay, names within limits
    assert len(plan.nodes) == chassis + 1


@pytest.mark.parametrize(("chassis", "per", "switches"), SIZES)
def test_names_macs_and_ips_unique(chassis: int, per: int, switches: int) -> None:
    topo = parse_topology(gen.generate(chassis, per, switches), "gen.yaml")
    router = topo.ovn.routers["r1"]
    macs = [vm.mac for vm in topo.vms.values()] + [p.mac for p in router.ports.values()]
    assert len(set(macs)) == len(macs)
    for mac in macs:  # locally administered unicast
        assert int(mac[:2], 16) & 0b11 == 0b10
    ips = [vm.ip.ip for vm in topo.vms.values()]
    assert len(set(ips)) == len(ips)
    names = [*topo.nodes, *topo.vms]
    assert len(set(names)) == len(names)
    gateways = {p.switch: p.networks[0] for p in router.ports.values()}
    for vm in topo.vms.values():
        gw: IPv4Interface = gateways[vm.switch]
        assert vm.ip.network == gw.network
        assert vm.ip.ip not in (gw.ip, gw.network.network_address, gw.network.broadcast_address)
        assert vm.gateway == gw.ip


def test_vms_spread_over_switches_and_checks_cross_chassis() -> None:
    topo = parse_topology(gen.generate(10, 2, 4), "gen.yaml")
    per_switch = [sum(1 for vm in topo.vms.values() if vm.switch == f"sw{s}") for s in range(4)]
    assert per_switch == [5, 5, 5, 5]
    for check in topo.checks:
        a, b = topo.vms[check["ping"]["from"]], topo.vms[check["ping"]["to"]]
        assert a.chassis != b.chassis
        assert a.switch != b.switch


def test_deterministic() -> None:
    assert gen.generate(7, 3, 2, name="bench") == gen.generate(7, 3, 2, name="bench")


def test_without_router_pings_stay_on_one_switch() -> None:
    topo = parse_topology(gen.generate(3, 2, 2, routers=0), "gen.yaml")
    assert not topo.ovn.routers
    assert all(vm.gateway is None for vm in topo.vms.values())
    for check in topo.checks:
        a, b = topo.vms[check["ping"]["from"]], topo.vms[check["ping"]["to"]]
        assert a.switch == b.switch and a.chassis != b.chassis


def test_no_vms() -> None:
    topo = parse_topology(gen.generate(2, 0, 1), "gen.yaml")
    assert not topo.vms and not topo.checks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chassis": 0}, "--chassis must be between 1"),
        ({"vms_per_chassis": -1}, "--vms-per-chassis must be 0 or more"),
        ({"switches": 0}, "--switches must be between 1 and 256"),
        ({"switches": 257}, "--switches must be between 1 and 256"),
        ({"routers": 2}, "--routers must be 0 or 1"),
        ({"name": "Big lab"}, "is not a lab name"),
        ({"chassis": 1000, "vms_per_chassis": 100}, "per switch; add switches"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    args = {"chassis": 2, "vms_per_chassis": 1, "switches": 1, **kwargs}
    with pytest.raises(UserError, match=message):
        gen.generate(**args)


def test_cli_writes_file(tmp_path, capsys) -> None:
    sub = argparse.ArgumentParser().add_subparsers()
    topology_cli.add_parsers(sub)
    out = tmp_path / "big.yaml"
    args = sub.choices["gen"].parse_args(["--chassis", "2", "--name", "bench", "-o", str(out)])
    assert args.func(args) == 0
    assert out.read_text() == gen.generate(2, 1, 1, name="bench")
    assert "lab up" in capsys.readouterr().err
