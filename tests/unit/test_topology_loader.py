"""The loader on valid input: defaults, accepted link forms, --name, and YAML corner cases."""

from __future__ import annotations

from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from lab import naming
from lab.errors import TopologyError
from lab.topology import Topology, load_topology, parse_topology
from lab.topology.model import Link

FULL = Path(__file__).parent / "topology_valid" / "full.yaml"

SMALL = """\
name: lab1
fabric:
  overlay: {subnet: 192.0.2.0/24}
  provider: {}
nodes:
  central: {role: central}
  worker1: {role: chassis, links: LINKS}
"""


def small(links: str, **kwargs: str) -> Topology:
    return parse_topology(SMALL.replace("LINKS", links), "small.yaml", **kwargs)


def problems(text: str, name: str | None = None) -> list[str]:
    with pytest.raises(TopologyError) as caught:
        parse_topology(text, "t.yaml", name=name)
    return [str(p) for p in caught.value.problems]


def test_full_topology_loads_with_defaults() -> None:
    topo = load_topology(FULL)
    assert topo.name == "geneve-router"
    assert topo.overlay == "overlay"
    assert topo.centrals == ["central"]
    assert topo.chassis == ["worker1", "worker2", "gw1", "gw2"]
    # Links default to the overlay; a bare address takes the fabric's prefix length.
    assert topo.nodes["central"].links == [Link(fabric="overlay")]
    assert topo.link("worker2", "overlay") == Link(
        fabric="overlay", address=IPv4Interface("192.0.2.12/24")
    )
    assert [link.fabric for link in topo.nodes["gw1"].links] == ["overlay", "provider", "external"]
    ports = topo.ovn.routers["router1"].ports
    assert ports["router1-net1"].peer == "net1-router1"  # as written
    assert ports["router1-net2"].peer == "network2-router1"  # default <switch>-<router>
    assert ports["router1-net2"].mac == "40:44:00:00:00:04"  # unquoted MAC kept as text
    assert ports["lrp-public"].gateway_chassis == {"gw1": 20, "gw2": 10}
    assert topo.vms["vm1"].port == "vm1"
    assert topo.vm_port("vm2") == "vm2-port"
    assert topo.ovn.switches["network2"].localnet is None  # `network2:` (null) is {}
    assert topo.checks[2] == {"geneve": {"from": "vm1", "to": "vm2", "on": "worker2"}}


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        ("[overlay]", [("overlay", None)]),
        ("[overlay, provider]", [("overlay", None), ("provider", None)]),
        ("[{overlay: 192.0.2.7}]", [("overlay", "192.0.2.7/24")]),
        ("[{overlay: 192.0.2.7/24}, provider]", [("overlay", "192.0.2.7/24"), ("provider", None)]),
        ("{overlay: 192.0.2.7}", [("overlay", "192.0.2.7/24")]),
        ("{overlay: null, provider: null}", [("overlay", None), ("provider", None)]),
        ("null", [("overlay", None)]),  # absent: defaults to the overlay
        ("[]", [("overlay", None)]),
    ],
)
def test_link_forms(links: str, expected: list[tuple[str, str | None]]) -> None:
    topo = small(links)
    got = [
        (link.fabric, link.address and str(link.address)) for link in topo.nodes["worker1"].links
    ]
    assert got == expected


def test_cli_name_overrides_and_is_validated() -> None:
    assert small("[overlay]", name="other").name == "other"
    text = SMALL.replace("LINKS", "[overlay]")
    assert problems(text, name="Bad Name") == [
        "t.yaml: name: --name 'Bad Name' is not a valid lab name; it must " + naming.LAB_NAME_RULE
    ]
    # An invalid name in the file does not matter when --name replaces it.
    bad = text.replace("name: lab1", "name: Geneve_Router")
    assert parse_topology(bad, "t.yaml", name="tone").name == "tone"
    assert "name: lab name 'Geneve_Router' is not valid" in problems(bad)[0]


def test_yaml_keys_are_text() -> None:
    # YAML 1.1 reads `on` as true; as a key it must stay the check's `on:`.
    topo = parse_topology(FULL.read_text(), "full.yaml")
    assert "on" in topo.checks[2]["geneve"]


def test_merge_keys_and_aliases() -> None:
    text = """\
name: lab1
fabric: {overlay: {subnet: 192.0.2.0/24}}
nodes: {central: {role: central}, worker1: {role: chassis}}
ovn: {switches: {net1: {}}}
vms:
  vm1: &vm {chassis: worker1, switch: net1, mac: "40:44:00:00:00:01", ip: 10.0.0.10/24}
  vm2:
    <<: *vm
    mac: "40:44:00:00:00:02"
    ip: 10.0.0.11/24
"""
    topo = parse_topology(text, "t.yaml")
    assert topo.vms["vm2"].chassis == "worker1"
    assert str(topo.vms["vm2"].ip) == "10.0.0.11/24"


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    found = problems("\n".join(lines) + "\n")
    assert found == ["t.yaml: the file expands to more than 100000 values; use fewer aliases"]


def test_deep_nesting_is_refused() -> None:
    found = problems("name: " + "[" * 200 + "]" * 200 + "\n")
    assert len(found) == 1 and "nested more than 50 levels" in found[0]


def test_control_characters_are_a_yaml_problem() -> None:
    found = problems("name: lab1\nnodes: {}\x00\n")
    assert found == [
        "t.yaml:2: invalid YAML at column 10: special characters are not allowed; "
        "check the indentation and quoting there"
    ]


def test_missing_file() -> None:
    with pytest.raises(TopologyError) as caught:
        load_topology("/nonexistent/lab.yaml")
    assert str(caught.value).startswith("/nonexistent/lab.yaml: cannot read the file")
