"""The physical fabric: one Linux bridge per fabric network inside the lab's fabric
namespace (the ToR switch), and one veth per node link, born directly in the two
namespaces it joins so nothing ever appears in the host's namespace."""

from __future__ import annotations

from lab import links
from lab.plan.model import NodePlan, Plan

# Geneve adds 58 bytes (outer Ethernet, IP, UDP, Geneve + OVN option) to a
# 1500-byte VM frame; overlay wires carry that without fragmenting.
OVERLAY_MTU = 1600


def link_mtu(plan: Plan, fabric: str) -> int | None:
    fab = plan.fabrics[fabric]
    if fab.mtu:
        return fab.mtu
    return OVERLAY_MTU if fabric == plan.overlay else None


def build_bridges(plan: Plan) -> None:
    with links.ipr(plan.fabric_netns) as handle:
        links.up(handle, "lo")
        for fab in plan.fabrics.values():
            links.add_bridge(handle, fab.bridge, fab.vlans, link_mtu(plan, fab.name))


def wire_node(plan: Plan, node: NodePlan) -> None:
    """Create the node's veths to each fabric, bring them up, address them (central and
    host nodes: on the veth itself; chassis: later on their OVS bridge)."""
    fabric_ifs: list[str] = []
    with links.ipr(plan.fabric_netns) as fab:
        for link in node.links:
            bridge = plan.fabrics[link.fabric].bridge
            mtu = link_mtu(plan, link.fabric)
            links.add_veth_to_bridge(fab, link.fabric_if, bridge, link.node_if, node.netns, mtu)
            if plan.fabrics[link.fabric].vlans:
                links.bridge_vlan_trunk(fab, link.fabric_if)
            fabric_ifs.append(link.fabric_if)
    links.tx_checksum_off(plan.fabric_netns, fabric_ifs)
    with links.ipr(node.netns) as handle:
        links.up(handle, "lo")
        for link in node.links:
            links.up(handle, link.node_if)
            if link.address is not None and link.ovs_bridge is None:
                links.add_address(handle, link.node_if, link.address)
        for route in node.routes:
            links.add_route(handle, route.prefix, route.nexthop)
    links.tx_checksum_off(node.netns, [lk.node_if for lk in node.links])
