"""The physical fabric, inside the lab's fabric namespace: one switch per fabric network,
and one veth per node link, born directly in the two namespaces it joins so nothing ever
appears in the host's namespace.

A plain fabric is a Linux bridge. A VLAN fabric (`vlans: true`, the top-of-rack switch)
is an OVS bridge on the userspace datapath, run by the fabric namespace's own
ovsdb-server and ovs-vswitchd: every port is a trunk, MACs are learned per VLAN, and
`ovs-appctl fdb/show` is the CAM table (`port VLAN MAC Age`). A Linux bridge would need
bridge VLAN filtering, which not every kernel has.
"""

from __future__ import annotations

from pathlib import Path

from lab.fabric import links
from lab.ovn import daemons
from lab.ovn.daemons import Daemon
from lab.plan.model import NodePlan, Plan, link_mtu
from lab.runner import NetnsRunner, run

FABRIC_DIR = "fabric"  # the fabric namespace's daemons, under the lab's state directory


def has_tor(plan: Plan) -> bool:
    return any(f.vlans for f in plan.fabrics.values())


def tor_env(fabric_dir: Path) -> dict[str, str]:
    return daemons.node_env(fabric_dir, fabric_dir)


def build_bridges(plan: Plan, fabric_dir: Path) -> None:
    with links.ipr(plan.fabric_netns) as handle:
        links.up(handle, "lo")
        for fab in plan.fabrics.values():
            if not fab.vlans:
                links.add_bridge(handle, fab.bridge, link_mtu(plan, fab.name))
    if has_tor(plan):
        _start_tor(plan, fabric_dir)


def _start_tor(plan: Plan, fabric_dir: Path) -> None:
    """ovsdb-server + ovs-vswitchd for the VLAN fabrics: a learning switch, no controller."""
    fabric_dir.mkdir(mode=0o700, exist_ok=True)
    env = tor_env(fabric_dir)
    tor = NetnsRunner(plan.fabric_netns)
    sock = daemons.start_ovsdb(tor, fabric_dir, env)
    cmds = ["--", "init"]
    for fab in plan.fabrics.values():
        if fab.vlans:
            cmds += [
                "--",
                "add-br",
                fab.bridge,
                "--",
                "set",
                "Bridge",
                fab.bridge,
                "datapath_type=netdev",
                "other_config:disable-in-band=true",
            ]
    run(["ovs-vsctl", f"--db={sock}", "--no-wait", *cmds], env=env)
    daemons.start(Daemon("ovs-vswitchd", fabric_dir, tor), ["ovs-vswitchd", sock], env)


def wire_node(plan: Plan, node: NodePlan, fabric_dir: Path) -> None:
    """Create the node's veths to each fabric, bring them up, address them (central and
    host nodes: on the veth itself; chassis: later on their OVS bridge)."""
    if any(lk.address is not None and lk.address.version == 6 for lk in node.links):
        links.enable_ipv6(node.netns)  # an IPv6 underlay: before its interfaces exist
    fabric_ifs: list[str] = []
    tor_ports: list[tuple[str, str]] = []
    with links.ipr(plan.fabric_netns) as fab:
        for link in node.links:
            fabric = plan.fabrics[link.fabric]
            bridge = None if fabric.vlans else fabric.bridge
            mtu = link_mtu(plan, link.fabric)
            links.add_veth(fab, link.fabric_if, bridge, link.node_if, node.netns, mtu)
            fabric_ifs.append(link.fabric_if)
            if fabric.vlans:
                tor_ports.append((fabric.bridge, link.fabric_if))
    links.tx_checksum_off(plan.fabric_netns, fabric_ifs)
    if tor_ports:
        cmds: list[str] = []
        for bridge, port in tor_ports:
            cmds += ["--", "add-port", bridge, port]
        run(
            ["ovs-vsctl", f"--db=unix:{fabric_dir / 'db.sock'}", "--timeout=30", *cmds],
            env=tor_env(fabric_dir),
        )
    with links.ipr(node.netns) as handle:
        links.up(handle, "lo")
        for link in node.links:
            links.up(handle, link.node_if)
            if link.address is not None and link.ovs_bridge is None:
                links.add_address(handle, link.node_if, link.address)
        for route in node.routes:
            links.add_route(handle, route.prefix, route.nexthop)
    links.tx_checksum_off(node.netns, [lk.node_if for lk in node.links])
    if node.role == "host" and len(node.links) > 1:
        # a host node on several fabrics is a router between them (an upstream router of
        # ECMP next hops); only inside its own namespace
        run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], netns=node.netns)
