"""Every interface name a lab makes, by the namespace it lives in, and the clashes among them.

Linux interface names (and OVS port names, one database per chassis) are unique per
namespace only, and every namespace a lab makes is `<lab>.<member>` (naming.netns_name:
injective across labs, `.` being in no name). So (namespace, interface) is injective across
all labs exactly when no namespace holds one name twice - what `clashes` checks, shortened
names (naming.ifname: 11 characters and a 4-hex hash) included:

- the fabric namespace: `lo`, each fabric's bridge `br-<fabric>`, with a VLAN fabric the
  ToR's OVS datapath interfaces, and one veth end per node link `<node>-<fabric>`;
- a node's namespace: `lo`, its link ends `<fabric>`, on a chassis the OVS bridges
  `br-<fabric>`, `br-int`, OVS's own datapath interfaces and each VM's port;
- a VM's namespace: `lo` and its interface.
"""

from __future__ import annotations

from collections.abc import Iterable

from lab import naming
from lab.plan.model import Plan

# what ovs-vswitchd makes itself: the userspace and kernel datapaths' interfaces
OVS_OWN = ("ovs-netdev", "ovs-system")
CHASSIS_OWN = ("br-int", *OVS_OWN)


def chassis_names(
    links: Iterable[tuple[str, str]], vm_ports: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """A chassis' (interface, what it is): `links` (fabric, node-side name), `vm_ports` (VM,
    its port on br-int)."""
    names = [("lo", "the loopback"), *((n, "an interface OVS makes") for n in CHASSIS_OWN)]
    for fabric, node_if in links:
        names.append((node_if, f"the link to fabric {fabric}"))
        names.append((naming.fabric_bridge(fabric), f"the OVS bridge of fabric {fabric}"))
    names += [(port, f"the port of VM {vm}") for vm, port in vm_ports]
    return names


def namespaces(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    """namespace -> every (interface, what it is) the lab makes there."""
    fabric = [("lo", "the loopback")]
    fabric += [(f.bridge, f"the bridge of fabric {f.name}") for f in plan.fabrics.values()]
    if any(f.vlans for f in plan.fabrics.values()):  # the ToR is an OVS of its own
        fabric += [(n, "an interface of the ToR's OVS") for n in OVS_OWN]
    found = {plan.fabric_netns: fabric}
    for node in plan.nodes.values():
        fabric += [(lk.fabric_if, f"node {node.name}'s link to {lk.fabric}") for lk in node.links]
        if node.is_chassis:
            vms = [(vm.name, vm.chassis_if) for vm in plan.vms_on(node.name)]
            found[node.netns] = chassis_names([(lk.fabric, lk.node_if) for lk in node.links], vms)
        else:
            found[node.netns] = [("lo", "the loopback")]
            found[node.netns] += [(lk.node_if, f"the link to {lk.fabric}") for lk in node.links]
    for vm in plan.vms.values():
        found[vm.netns] = [("lo", "the loopback"), (vm.vm_if, f"VM {vm.name}'s interface")]
    return found


def clashes(plan: Plan) -> list[str]:
    """One sentence per interface name made twice in one namespace."""
    problems = []
    for netns, names in namespaces(plan).items():
        seen: dict[str, str] = {}
        for name, what in names:
            other = seen.setdefault(name, what)
            if other is not what:  # any second use, even of the same description
                problems.append(
                    f"interface name '{name}' in namespace {netns} would be both {other} and "
                    f"{what}; rename the node, VM or fabric"
                )
    return problems
