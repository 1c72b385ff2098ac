"""The shipped topologies (lab/data/topologies, `topologies/` in a checkout), for people who
installed lab with pip or pipx and have no checkout: `lab up geneve-router` brings one up by
name, `lab examples` lists them, `lab examples NAME -o FILE` copies one out to edit."""

from __future__ import annotations

import re
from pathlib import Path

from lab.errors import UserError
from lab.resources import data_dir

# One line each for `lab examples`; the unit tests hold this to the files that ship.
DESCRIPTIONS = {
    "distributed-fip": "floating IPs NATed on the compute node itself (Neutron DVR), SNAT via gw1",
    "dual-stack": "IPv4+IPv6 tenant networks, every VM configured by OVN's DHCPv4/v6, RA, DNS",
    "ecmp": "ECMP with BFD to two upstream routers (FRR bfdd), router policies",
    "geneve-router": "the seed: two switches, one router, two chassis, across a Geneve tunnel",
    "ha-central": "three clustered centrals (raft NB/SB), ovn-northd active/standby",
    "ipv6-underlay": "the seed over an IPv6-only overlay: IPv6 Geneve, remotes and tunnels",
    "load-balancer": "load balancers: a health-checked switch VIP, a router VIP, IPv6",
    "lossy-overlay": "gateway failover with BFD, on a clean overlay and with loss and delay",
    "mixed-versions": "central on OVN 23.03, chassis on 25.03 (docker, two node images)",
    "neutron-like": "Neutron's shape: provider network, tenant network, SNAT, a floating IP",
    "ovn-kubernetes-like": "ovn-kubernetes' shape: cluster router, join switch, gateway routers",
    "sb-partition": "a chassis cut off from the Southbound keeps forwarding",
    "security-groups": "Neutron security groups: port groups, ACLs, an address set, ACL logs",
    "two-routers": "two routers chained through a transit switch, four chassis",
    "upgrade-rehearsal": "the seed rolled from OVN 23.03 to 25.03 with a ping throughout",
    "vlan-flapping": "the ToR's CAM table flapping without ovn-chassis-mac-mappings",
    "vlan-l3ha": "the second seed: L3 over VLAN provider networks, HA gateway, BFD",
}
MODELINE = re.compile(r"^# yaml-language-server: \$schema=\S*\n")


def directory() -> Path:
    return data_dir("topologies")


def names() -> list[str]:
    return sorted(p.stem for p in directory().glob("*.yaml"))


def path_of(name: str) -> Path:
    """The shipped file called `name` (with or without .yaml); UserError naming them all."""
    stem = name.removesuffix(".yaml")
    found = directory() / f"{stem}.yaml"
    if stem and "/" not in stem and found.is_file():
        return found
    raise UserError(
        f"'{name}' is neither a topology file nor a shipped example; give a path, or one "
        f"of: {', '.join(names())} (`lab examples` describes them)"
    )


def topology_path(argument: str) -> Path:
    """What `lab up ARG` reads: the file ARG if there is one; else, when ARG is a bare name
    (no directory, no .yaml/.yml), the shipped example of that name."""
    path = Path(argument)
    bare = "/" not in argument and path.suffix not in (".yaml", ".yml")
    if path.exists() or not bare:
        return path  # a path: read as given, its own errors if it cannot be
    return path_of(argument)


def text_to_copy(name: str, schema: str = "topology.schema.json") -> str:
    """The example's YAML for a file of the user's own: the editor modeline points at a
    schema beside it (`lab schema -o topology.schema.json`) instead of the checkout's docs."""
    text = path_of(name).read_text(encoding="utf-8")
    return MODELINE.sub(f"# yaml-language-server: $schema={schema}\n", text, count=1)
