"""Gateway routers, HA chassis groups, ECMP/BFD, policies and load balancers: the commands
the shipped topologies turn into, BFD speaker configuration, and the parsers the
`nexthop` and `lb` checks decide from."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from lab.plan.commands import logical_network_commands
from lab.providers.netns import bfd
from lab.topology import load_topology
from lab.topology.l3 import EndpointError, parse_endpoint
from lab.verify.nexthop import parse_arrivals

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


def commands(name: str) -> list[list[str]]:
    return logical_network_commands(load_topology(TOPOLOGIES / name))


@pytest.mark.parametrize(
    ("text", "host", "port", "ovn"),
    [
        ("10.0.0.100:80", "10.0.0.100", 80, "10.0.0.100:80"),
        ("10.0.0.100", "10.0.0.100", None, "10.0.0.100"),
        ("[2001:db8::1]:443", "2001:db8::1", 443, "[2001:db8::1]:443"),
        ("2001:db8::1", "2001:db8::1", None, "2001:db8::1"),
        ("vm1:8080", "vm1", 8080, None),
    ],
)
def test_endpoints(text: str, host: str, port: int | None, ovn: str | None) -> None:
    got = parse_endpoint(text)
    assert (got.host, got.port) == (host, port)
    if ovn is None:
        assert got.address is None
        assert got.ovn("10.0.0.10") == "10.0.0.10:8080"
    else:
        assert got.address == ip_address(host)
        assert got.ovn() == ovn


@pytest.mark.parametrize("text", ["10.0.0.1:0", "10.0.0.1:65536", "vm1:http", "[::1", ":80"])
def test_bad_endpoints(text: str) -> None:
    with pytest.raises(EndpointError):
        parse_endpoint(text)


def test_ecmp_topology_commands() -> None:
    cmds = commands("ecmp.yaml")
    # the HA chassis group rows come first, then the port points at the group
    assert cmds[:3] == [
        ["--id=@ha_edge_gw1", "create", "HA_Chassis", "chassis_name=gw1", "priority=30"],
        ["--id=@ha_edge_gw2", "create", "HA_Chassis", "chassis_name=gw2", "priority=20"],
        [
            "--id=@ha_edge",
            "create",
            "HA_Chassis_Group",
            "name=edge",
            "ha_chassis=[@ha_edge_gw1,@ha_edge_gw2]",
        ],
    ]
    assert ["set", "Logical_Router_Port", "R-public", "ha_chassis_group=@ha_edge"] in cmds
    assert not any(c[0] == "lrp-set-gateway-chassis" for c in cmds)
    routes = [c for c in cmds if "lr-route-add" in c]
    assert routes == [
        ["--ecmp", "--bfd", "lr-route-add", "R", "203.0.113.0/24", hop, "R-public"]
        for hop in ("198.51.100.1", "198.51.100.2")
    ]
    policies = [c for c in cmds if c[0] == "lr-policy-add"]
    assert policies[0] == [
        "lr-policy-add",
        "R",
        "200",
        "ip4.src == 10.0.1.12 && ip4.dst == 203.0.113.100",
        "reroute",
        "198.51.100.2",
    ]
    assert [p[4] for p in policies] == ["reroute", "allow", "drop"]
    assert all(len(p) == 5 for p in policies[1:])  # no next hop for allow / drop


def test_load_balancer_topology_commands() -> None:
    cmds = commands("load-balancer.yaml")
    assert [
        "lb-add",
        "web-internal",
        "10.0.100.100:80",
        "10.0.1.11:8080,10.0.1.12:8080",
        "tcp",
    ] in cmds
    # an address backend stays as written; a VM backend becomes its address
    assert ["lb-add", "web-public", "198.51.100.50:80", "10.0.1.11:8080,10.0.1.12:8080", "tcp"] in (
        cmds
    )
    check = next(c for c in cmds if "Load_Balancer_Health_Check" in c)
    assert check[0] == "--id=@hc_web_internal_0"
    assert 'vip="10.0.100.100:80"' in check and "options:failure_count=2" in check
    assert ["add", "Load_Balancer", "web-internal", "health_check", "@hc_web_internal_0"] in cmds
    # the monitor source: the highest free address of the backends' network
    assert [
        "set",
        "Load_Balancer",
        "web-internal",
        'ip_port_mappings:"10.0.1.11"="vm1:10.0.1.254"',
    ] in cmds
    assert ["ls-lb-add", "web", "web-internal"] in cmds
    assert ["ls-lb-add", "office", "web-internal"] in cmds
    assert ["lr-lb-add", "R1", "web-public"] in cmds
    # an IPv6 VIP: its VM backends by their fixed ipv6: addresses, as OVN writes them
    vip6 = ["[2001:db8:100::100]:80", "[2001:db8:1::11]:8080,[2001:db8:1::12]:8080", "tcp"]
    assert ["lb-add", "web-internal6", *vip6] in cmds
    assert ["ls-lb-add", "office", "web-internal6"] in cmds
    # load balancers after the VMs' ports and routers they refer to
    assert cmds.index(["lr-lb-add", "R1", "web-public"]) > cmds.index(["lr-add", "R1"])


def test_gateway_routers() -> None:
    cmds = commands("ovn-kubernetes-like.yaml")
    for node in ("node1", "node2"):
        assert ["set", "Logical_Router", f"GR_{node}", f"options:chassis={node}"] in cmds
    assert not any(c[0] == "lrp-set-gateway-chassis" for c in cmds)
    assert ["lb-add", "dns", "10.96.0.53:53", "10.244.1.10:5353,10.244.2.10:5353", "udp"] in cmds


def test_bfd_speakers_follow_bfd_routes() -> None:
    topo = load_topology(TOPOLOGIES / "ecmp.yaml")
    assert bfd.speakers(topo) == {
        "up1": [bfd.Peer("198.51.100.1", "198.51.100.10")],
        "up2": [bfd.Peer("198.51.100.2", "198.51.100.10")],
    }
    text = bfd.config(bfd.speakers(topo)["up1"])
    assert " peer 198.51.100.10 local-address 198.51.100.1" in text
    assert "  transmit-interval 300" in text
    assert bfd.speakers(load_topology(TOPOLOGIES / "load-balancer.yaml")) == {}


def test_bfdd_runs_with_the_labs_own_files() -> None:
    argv = bfd.bfdd_argv(Path("/state/lab/up1/frr"))
    assert argv[0] == "/usr/lib/frr/bfdd"
    joined = " ".join(argv)
    assert "/etc/frr" not in joined and "/var/run/frr" not in joined
    for flag in ("--config_file", "--pid_file", "--vty_socket", "--bfdctl", "--socket"):
        assert argv[argv.index(flag) + 1].startswith("/state/lab/up1/frr")


def test_bfd_brief_parser() -> None:
    text = """Session count: 2
SessionId  LocalAddress                             PeerAddress                             Status
=========  ============                             ===========                             ======
660753376  198.51.100.1                             198.51.100.10                           up
12         198.51.100.1                             198.51.100.11                           down
"""
    assert bfd.parse_brief(text) == {"198.51.100.10": "up", "198.51.100.11": "down"}


def test_arrivals_count_only_frames_for_the_node() -> None:
    text = """1796137238.787898 external In  IP 10.0.1.11.50000 > 203.0.113.100.45597: tcp 0
1796137238.787907 upstream Out IP 10.0.1.11.50000 > 203.0.113.100.45597: tcp 0
1796137238.789049 external P   IP 10.0.1.11.50008 > 203.0.113.100.45597: tcp 0
1796137239.100000 external In  IP 10.0.1.11.50001 > 203.0.113.100.45597: tcp 0
1796137239.200000 external In  IP 10.0.1.11.50001 > 203.0.113.100.1234: tcp 0
"""
    got = parse_arrivals(text, 45597)
    assert got.times == {50000: [1796137238.787898], 50001: [1796137239.1]}
    assert got.flows(since=1796137239.0) == {50001}
    assert got.first_after(50000, 1796137239.0) is None
