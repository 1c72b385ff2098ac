"""`lab graph`: the DOT source of shipped topologies, real renderings, and the CLI wiring."""

from __future__ import annotations

import argparse
import re
import shutil
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import pytest

from lab.cli import graph as graph_cli
from lab.errors import UserError
from lab.report.graph import (
    build_graph,
    fabric_id,
    localnet_id,
    logical_vm_id,
    lrp_id,
    node_id,
    phys_vm_id,
    render,
    router_id,
    switch_id,
)
from lab.state.store import create_state
from lab.topology import Topology, load_topology, parse_topology

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "topologies" / "geneve-router.yaml", ROOT / "topologies" / "two-routers.yaml"]

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz `dot` missing: apt-get install -y graphviz"
)

# Modelled on DESIGN.md's example: VLAN provider fabric, localnet switches, two gateways
# with priorities, NAT, and an upstream host.
GATEWAY_TOPOLOGY = """\
name: gwlab
fabric:
  overlay: {subnet: 192.0.2.0/24}
  provider: {vlans: true}
  external: {subnet: 198.51.100.0/24}
nodes:
  central: {role: central}
  worker1: {role: chassis}
  gw1: {role: gateway, links: [overlay, provider, external]}
  gw2: {role: gateway, links: [overlay, provider, {external: 198.51.100.3/24}]}
  ext-host: {role: host, links: {external: 198.51.100.100/24},
             routes: [{prefix: 10.0.0.0/16, nexthop: 198.51.100.10}]}
ovn:
  switches:
    network1: {}
    A: {localnet: {network: provider, vlan: 2011}}
    public: {localnet: {network: external}}
  routers:
    router1:
      ports:
        router1-net1: {switch: network1, mac: "40:44:00:00:00:03", networks: [10.0.0.1/24]}
        lrp-public: {switch: public, mac: "40:44:00:00:00:05", networks: [198.51.100.10/24],
                     gateway_chassis: {gw1: 20, gw2: 10}}
      nat:
        - {type: snat, external_ip: 198.51.100.10, logical_ip: 10.0.0.0/24}
        - {type: dnat_and_snat, external_ip: 198.51.100.20, logical_ip: 10.0.0.10}
      routes:
        - {prefix: 0.0.0.0/0, nexthop: 198.51.100.1}
vms:
  vm1: {chassis: worker1, switch: network1, mac: "40:44:00:00:00:01",
        ip: 10.0.0.10/24, gateway: 10.0.0.1}
"""


def gateway_topology() -> Topology:
    return parse_topology(GATEWAY_TOPOLOGY, "gwlab.yaml")


def quoted(node: str) -> str:
    return f'"{node}"'


def edges(source: str) -> set[tuple[str, str]]:
    """(tail, head) of every edge in DOT source, IDs without quotes."""
    return set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', source, flags=re.MULTILINE))


def svg_text(path: Path) -> str:
    tree = ET.parse(path)  # raises if the SVG is not well-formed XML
    return "\n".join(el.text or "" for el in tree.iter() if el.tag.endswith("text"))


# --- DOT source ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_dot_has_every_object_of_the_topology(path: Path) -> None:
    topo = load_topology(path)
    source = build_graph(topo).source
    assert "subgraph cluster_physical" in source
    assert "subgraph cluster_logical" in source
    for fabric in topo.fabric:
        assert quoted(fabric_id(fabric)) in source
    for node in topo.nodes:
        assert quoted(node_id(node)) in source
        assert f"<B>{node}</B>" in source
    for vm, spec in topo.vms.items():
        assert quoted(phys_vm_id(vm)) in source
        assert quoted(logical_vm_id(vm)) in source
        assert str(spec.ip) in source
        assert f"on {spec.chassis}" in source
    for switch in topo.ovn.switches:
        assert quoted(switch_id(switch)) in source
    for router_name, router in topo.ovn.routers.items():
        assert quoted(router_id(router_name)) in source
        for port_name, port in router.ports.items():
            assert quoted(lrp_id(port_name)) in source
            assert port.mac.lower() in source
            assert all(str(net) in source for net in port.networks)
    found = edges(source)
    for vm, spec in topo.vms.items():
        assert (phys_vm_id(vm), node_id(spec.chassis)) in found
        assert (switch_id(spec.switch), logical_vm_id(vm)) in found
    for router_name, router in topo.ovn.routers.items():
        for port_name, port in router.ports.items():
            assert (router_id(router_name), lrp_id(port_name)) in found
            assert (lrp_id(port_name), switch_id(port.switch)) in found


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_dot_has_a_dashed_geneve_tunnel_between_every_pair_of_chassis(path: Path) -> None:
    topo = load_topology(path)
    source = build_graph(topo).source
    tunnels = {
        (tail, head)
        for tail, head in re.findall(
            r'^\s*"([^"]+)" -> "([^"]+)" \[[^\]]*style=dashed', source, flags=re.MULTILINE
        )
    }
    expected = {(node_id(a), node_id(b)) for a, b in combinations(topo.chassis, 2)}
    assert tunnels == expected
    assert len(expected) == {"geneve-router": 1, "two-routers": 6}[topo.name]


def test_node_addresses_on_their_fabric_come_from_the_plan() -> None:
    source = build_graph(load_topology(SHIPPED[0])).source
    # central, worker1, worker2 get .11, .12, .13 from the overlay (the planner's allocation)
    for node, address in (("central", "11"), ("worker1", "12"), ("worker2", "13")):
        link = f'"{node_id(node)}" -> "{fabric_id("overlay")}"'
        line = next(line for line in source.splitlines() if link in line)
        assert f'taillabel="192.0.2.{address}/24"' in line


def test_views_draw_only_what_they_are_asked_for() -> None:
    topo = load_topology(SHIPPED[0])
    physical = build_graph(topo, "physical").source
    logical = build_graph(topo, "logical").source
    assert "cluster_physical" in physical and "cluster_logical" not in physical
    assert quoted(switch_id("network1")) not in physical
    assert "cluster_logical" in logical and "cluster_physical" not in logical
    assert quoted(node_id("worker1")) not in logical


def test_unknown_view_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown view 'wire'; use one of: physical"):
        build_graph(load_topology(SHIPPED[0]), "wire")


def test_gateway_topology_shows_vlan_priorities_nat_and_host() -> None:
    source = build_graph(gateway_topology()).source
    found = edges(source)
    assert quoted(node_id("ext-host")) in source
    assert "198.51.100.100/24" in source
    assert "route 10.0.0.0/16 via 198.51.100.10" in source
    assert "VLAN trunk (ToR)" in source
    # localnet ports, tied to their fabric with the VLAN tag
    assert (switch_id("A"), localnet_id("A")) in found
    assert (localnet_id("A"), fabric_id("provider")) in found
    assert (localnet_id("public"), fabric_id("external")) in found
    assert 'headlabel="VLAN 2011"' in source
    assert "ln-A" in source
    # gateway chassis priorities, on the port and on the edges to the gateways
    assert "gateway gw1:20, gw2:10" in source
    assert (lrp_id("lrp-public"), node_id("gw1")) in found
    assert 'headlabel="priority 20"' in source
    assert 'headlabel="priority 10"' in source
    # NAT and routes summarised on the router (HTML-escaped arrows are plain UTF-8)
    assert "SNAT 10.0.0.0/24 → 198.51.100.10" in source
    assert "DNAT+SNAT 198.51.100.20 ↔ 10.0.0.10" in source
    assert "route 0.0.0.0/0 via 198.51.100.1" in source
    # gateways map their extra fabrics to OVS bridges
    assert "provider → br-provider" in source


def test_ovn_names_with_colons_do_not_become_dot_ports() -> None:
    text = GATEWAY_TOPOLOGY.replace("network1", "net:1").replace("router1-net1", "r1:net1")
    source = build_graph(parse_topology(text, "colon.yaml")).source
    assert '"ls/net%3A1"' in source
    assert '"lrp/r1%3Anet1" -> "ls/net%3A1"' in source
    assert "<B>net:1</B>" in source


# --- rendering --------------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_svg_is_written_and_names_everything(path: Path, tmp_path: Path) -> None:
    topo = load_topology(path)
    out = render(topo, tmp_path / "lab.svg")
    assert out == tmp_path / "lab.svg"
    text = svg_text(out)
    names = [*topo.nodes, *topo.vms, *topo.ovn.switches, *topo.ovn.routers]
    names += [p for r in topo.ovn.routers.values() for p in r.ports]
    missing = [n for n in names if not re.search(rf"^{re.escape(n)}$", text, re.MULTILINE)]
    assert not missing
    assert f"lab {topo.name}" in text


@needs_dot
def test_png_is_written(tmp_path: Path) -> None:
    out = render(load_topology(SHIPPED[0]), tmp_path / "lab.png")
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_dot_file_is_the_source(tmp_path: Path) -> None:
    topo = load_topology(SHIPPED[1])
    out = render(topo, tmp_path / "lab.dot", "logical")
    assert out.read_text() == build_graph(topo, "logical").source
    assert out.read_text().startswith('// ovn-lab two-routers\ndigraph "two-routers" {')


@needs_dot
def test_gateway_topology_renders_with_tags_and_priorities(tmp_path: Path) -> None:
    text = svg_text(render(gateway_topology(), tmp_path / "gw.svg"))
    for expected in ("VLAN 2011", "priority 20", "priority 10", "ext-host", "lrp-public"):
        assert expected in text


@pytest.mark.parametrize("name", ["lab.jpg", "lab", "lab.svg.txt"])
def test_unknown_suffix_is_a_user_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match=r"unknown picture format .*\.dot, \.gv, \.png, \.svg"):
        render(load_topology(SHIPPED[0]), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_missing_dot_says_how_to_install_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match=r"apt-get install -y graphviz"):
        render(load_topology(SHIPPED[0]), tmp_path / "lab.png")
    # the .dot format needs no Graphviz binary
    assert render(load_topology(SHIPPED[0]), tmp_path / "lab.dot").exists()


def test_unwritable_output_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot write"):
        render(load_topology(SHIPPED[0]), tmp_path / "no" / "such" / "dir" / "lab.dot")


# --- command line -----------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lab")
    graph_cli.add_parsers(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_parser_defaults_and_options() -> None:
    args = parse(["graph"])
    assert (args.target, args.output, args.view, args.func) == (
        None,
        "lab.svg",
        "both",
        graph_cli.cmd_graph,
    )
    args = parse(["graph", "t.yaml", "-o", "x.png", "--view", "logical"])
    assert (args.target, args.output, args.view) == ("t.yaml", "x.png", "logical")
    with pytest.raises(SystemExit):
        parse(["graph", "--view", "wires"])


def test_cli_draws_a_topology_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "seed.dot"
    args = parse(["graph", str(SHIPPED[0]), "-o", str(out)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert 'digraph "geneve-router" {' in out.read_text()


def test_cli_draws_a_running_lab_from_its_saved_topology(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path / "state"))
    # a lab brought up with --name: the name comes from the state, not the file
    state = create_state("seed2", str(SHIPPED[0]), "netns")
    (state.dir / "topology.yaml").write_text(SHIPPED[0].read_text())
    out = tmp_path / "running.dot"
    for target in (None, "seed2"):
        args = parse(["graph", *([target] if target else []), "-o", str(out)])
        assert args.func(args) == 0
        assert "digraph seed2 {" in out.read_text()
    assert capsys.readouterr().out.splitlines() == [str(out), str(out)]


def test_cli_errors_are_user_errors(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(UserError, match=r"topology file 'nope\.yaml' does not exist"):
        graph_cli.cmd_graph(parse(["graph", "nope.yaml"]))
    with pytest.raises(UserError, match="no lab named 'ghost' is up"):
        graph_cli.cmd_graph(parse(["graph", "ghost"]))
    with pytest.raises(UserError, match="no lab is up"):
        graph_cli.cmd_graph(parse(["graph"]))
    state = create_state("broken", "t.yaml", "netns")  # came up without a saved topology
    assert state.dir.is_dir()
    with pytest.raises(UserError, match="no readable saved topology"):
        graph_cli.cmd_graph(parse(["graph", "broken"]))
