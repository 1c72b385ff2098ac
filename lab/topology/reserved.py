"""Names that would clash with what the lab itself names things, refused at load time.

A node or VM becomes a namespace `<lab>.<name>` and (a node) a directory in the lab's
state directory; a fabric becomes the node-side interface `<fabric>` and the OVS bridge
`br-<fabric>` on every chassis linked to it; a VM's port is an interface on its chassis
beside those, and its logical port shares OVN's one port namespace with router ports.
Each clash is one sentence naming the value and what to rename.
"""

from __future__ import annotations

from lab import naming
from lab.topology.model import CHASSIS_ROLES
from lab.topology.problems import Reporter, show
from lab.topology.shape import Parts

# The lab's own sub-directories of its state directory (beside one per node).
STATE_SUBDIRS = frozenset({"fabric", "pki", "checks"})
# Interfaces OVS makes on every chassis (userspace datapath), and the loopback.
CHASSIS_IFACES = frozenset({"br-int", "ovs-netdev", "ovs-system", "lo"})
# A node whose fabric-side veth `<node>-<fabric>` would be the fabric's bridge `br-<fabric>`.
BRIDGE_PREFIX_NODE = "br"
# Fabric names whose bridge `br-<fabric>` or interface `<fabric>` OVS or Linux already use.
RESERVED_FABRICS = frozenset({"int", "lo"})


def check_reserved(parts: Parts, rep: Reporter) -> None:
    _nodes(parts, rep)
    _fabrics(parts, rep)
    _vms(parts, rep)
    _chassis_interfaces(parts, rep)
    _router_ports(parts, rep)


def _nodes(parts: Parts, rep: Reporter) -> None:
    for node in parts.written.get("nodes", []):
        if node == BRIDGE_PREFIX_NODE:
            links = parts.nodes[node].links if node in parts.nodes else []
            fabrics = [lk.fabric for lk in links] or parts.written.get("fabric", []) or ["F"]
            fabric = fabrics[0]  # a node without links: on the overlay
            rep.add(
                ("nodes", node),
                f"node name {show(node)} would name its end of the link to fabric {fabric} "
                f"{show(naming.fabric_port(node, fabric))}, which is that fabric's own bridge; "
                "choose another name",
            )
        if node in STATE_SUBDIRS - naming.RESERVED_NODE_NAMES:
            rep.add(
                ("nodes", node),
                f"node name {show(node)} is the name of a directory the lab keeps for itself "
                f"({', '.join(sorted(STATE_SUBDIRS))}); choose another name",
            )


def _fabrics(parts: Parts, rep: Reporter) -> None:
    for fabric in parts.written.get("fabric", []):
        if fabric in RESERVED_FABRICS:
            rep.add(
                ("fabric", fabric),
                f"fabric name {show(fabric)} would make the interface {show(fabric)} or bridge "
                f"{show(naming.fabric_bridge(fabric))} that Linux or OVS already use on every "
                "chassis; choose another name",
            )


def _vms(parts: Parts, rep: Reporter) -> None:
    fabrics = set(parts.written.get("fabric", []))
    for vm in parts.written.get("vms", []):
        if vm == "fabric":
            rep.add(
                ("vms", vm),
                f"VM name {show(vm)} would be the lab's fabric namespace "
                f"{show(naming.fabric_netns(parts.name or 'LAB'))}; choose another name",
            )
        elif vm in CHASSIS_IFACES or vm in {naming.fabric_bridge(f) for f in fabrics}:
            rep.add(
                ("vms", vm),
                f"VM name {show(vm)} is an interface OVS or Linux makes on every chassis; "
                "choose another name",
            )
        elif vm in fabrics:
            rep.add(
                ("vms", vm),
                f"VM name {show(vm)} is also a fabric, whose interface on each chassis has "
                "that name; choose another name",
            )


def _chassis_interfaces(parts: Parts, rep: Reporter) -> None:
    """Two VMs on one chassis whose ports there would share a name (an internal VM `x-p`
    and a veth VM `x`, whose chassis end is `x-p`)."""
    seen: dict[tuple[str, str], str] = {}
    for name, vm in parts.vms.items():
        node = parts.nodes.get(vm.chassis)
        if node is None or node.role not in CHASSIS_ROLES:
            continue
        iface = naming.vm_chassis_port(name, vm.attach)
        other = seen.setdefault((vm.chassis, iface), name)
        if other != name:
            rep.add(
                ("vms", name),
                f"VM {show(name)} ({vm.attach}) would make interface {show(iface)} on "
                f"{vm.chassis}, as VM {show(other)} does; rename one of them",
            )


def _router_ports(parts: Parts, rep: Reporter) -> None:
    """Router ports and switch ports are all logical ports in OVN (one Port_Binding each):
    a VM port named like a router port would take its place."""
    router_ports = {port: router for router, rtr in parts.routers.items() for port in rtr.ports}
    for name, vm in parts.vms.items():
        port = vm.port or name
        if port in router_ports:
            path = ("vms", name) if vm.port is None else ("vms", name, "port")
            rep.add(
                path,
                f"logical port name {show(port)} is already a port of router "
                f"{show(router_ports[port])}; set port: to another name",
            )
