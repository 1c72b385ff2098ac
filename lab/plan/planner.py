"""Topology -> Plan. Pure and deterministic: the same file always gives the same plan."""

from __future__ import annotations

from ipaddress import ip_interface
from typing import Any

from lab import naming
from lab.errors import UserError
from lab.plan.addressing import vm_addressing
from lab.plan.commands import logical_network_commands
from lab.plan.model import FabricPlan, HostRoute, LinkPlan, NodePlan, Plan, VMPlan
from lab.plan.security import acl_matches
from lab.topology.model import Topology

# Allocated node addresses start at .11 in subnets large enough, leaving the
# low addresses for gateways and hand-picked hosts (the DESIGN examples use them).
FIRST_ALLOCATED_HOST = 11


def make_plan(topo: Topology) -> Plan:
    if len(topo.centrals) not in (1, 3):
        raise UserError(f"{len(topo.centrals)} central nodes; use one, or three for a raft cluster")
    fabrics = {
        name: FabricPlan(
            name=name,
            bridge=naming.fabric_bridge(name),
            subnet=fab.subnet,
            vlans=fab.vlans,
            mtu=fab.mtu,
        )
        for name, fab in topo.fabric.items()
    }
    addresses = allocate_addresses(topo)
    overlay = topo.overlay
    nodes: dict[str, NodePlan] = {}
    for name, node in topo.nodes.items():
        chassis = node.role in ("chassis", "gateway")
        links = [
            LinkPlan(
                fabric=link.fabric,
                node_if=naming.node_port(link.fabric),
                fabric_if=naming.fabric_port(name, link.fabric),
                address=addresses.get((name, link.fabric)),
                ovs_bridge=naming.fabric_bridge(link.fabric) if chassis else None,
            )
            for link in node.links
        ]
        plan_node = NodePlan(
            name=name,
            role=node.role,
            netns=naming.netns_name(topo.name, name),
            links=links,
            routes=[HostRoute(r.prefix, r.nexthop) for r in node.routes],
            build=topo.node_build(name),
        )
        if chassis and overlay:
            ov = addresses.get((name, overlay))
            plan_node.encap_ip = ov.ip if ov else None
            plan_node.bridge_mappings = {
                lk.fabric: naming.fabric_bridge(lk.fabric) for lk in links if lk.fabric != overlay
            }
            if node.chassis_mac_mappings:
                plan_node.chassis_macs = {
                    lk.fabric: naming.chassis_mac(topo.name, name, lk.fabric)
                    for lk in links
                    if topo.fabric[lk.fabric].vlans and topo.fabric[lk.fabric].chassis_mac_mappings
                }
        nodes[name] = plan_node
    vms = {
        name: VMPlan(
            name=name,
            chassis=vm.chassis,
            netns=naming.netns_name(topo.name, name),
            port=topo.vm_port(name),
            switch=vm.switch,
            attach=vm.attach,
            chassis_if=naming.vm_chassis_port(name, vm.attach),
            vm_if=naming.vm_ifname(name),
            mac=vm.mac.lower(),
            **vm_addressing(topo, vm),
            services=tuple((s.proto, s.port) for s in vm.services),
        )
        for name, vm in topo.vms.items()
    }
    _check_unique_ifnames(nodes)
    plan = Plan(
        lab=topo.name,
        fabric_netns=naming.fabric_netns(topo.name),
        overlay=overlay,
        fabrics=fabrics,
        nodes=nodes,
        vms=vms,
        central=topo.centrals[0],
        nb_commands=logical_network_commands(topo),
        centrals=list(topo.centrals),
        ssl=topo.ssl,
        acl_matches=acl_matches(topo),
    )
    from lab.plan.ifnames import clashes

    found = clashes(plan)  # every namespace's names, shortened ones included
    if found:
        raise UserError(found[0])
    return plan


def allocate_addresses(topo: Topology) -> dict[tuple[str, str], Any]:
    """(node, fabric) -> address. Given addresses are kept; the rest are allocated in
    node order from the fabric subnet. Chassis and central nodes get an address only
    on the overlay (their other links are OVS bridge ports); hosts on every subnet."""
    result: dict[tuple[str, str], Any] = {}  # IPv4Interface or IPv6Interface
    used: dict[str, set[Any]] = {name: set() for name in topo.fabric}
    wanted: list[tuple[str, str, Any]] = []
    for name, node in topo.nodes.items():
        for link in node.links:
            subnet = topo.fabric[link.fabric].subnet
            if subnet is None:
                continue
            if link.address is not None:
                addr = ip_interface(f"{link.address.ip}/{subnet.prefixlen}")
                result[(name, link.fabric)] = addr
                used[link.fabric].add(addr.ip)
            elif node.role == "host" or link.fabric == topo.overlay:
                wanted.append((name, link.fabric, subnet))
    for name, fabric, subnet in wanted:
        start = FIRST_ALLOCATED_HOST if subnet.num_addresses > 64 else 1
        for offset in range(start, subnet.num_addresses - 1):
            candidate = subnet.network_address + offset
            if candidate not in used[fabric]:
                used[fabric].add(candidate)
                result[(name, fabric)] = ip_interface(f"{candidate}/{subnet.prefixlen}")
                break
        else:
            raise UserError(
                f"fabric '{fabric}' subnet {subnet} has no free address left for node "
                f"'{name}'; use a larger subnet"
            )
    return result


def _check_unique_ifnames(nodes: dict[str, NodePlan]) -> None:
    """Hashed interface names could in theory collide; refuse rather than misbehave."""
    seen: dict[str, str] = {}
    for node in nodes.values():
        for link in node.links:
            other = seen.setdefault(link.fabric_if, node.name)
            if other != node.name:
                raise UserError(
                    f"nodes '{other}' and '{node.name}' map to the same interface name "
                    f"'{link.fabric_if}'; rename one of them"
                )
