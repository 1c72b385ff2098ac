"""ovn-nbctl commands for gateway routers, HA chassis groups, ECMP/BFD routes, router
policies and load balancers: the ones a person would type, in one transaction with the
rest of the logical network (lab.plan.commands)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from typing import TYPE_CHECKING

from lab.topology.l3 import Endpoint, parse_endpoint, port_for

if TYPE_CHECKING:
    from lab.topology.model import LoadBalancer, Router, RouterRoute, Topology


def router_port_ha_group(port: str, group: str) -> list[str]:
    """ovn-nbctl has no `lrp-set-ha-chassis-group`: point the port at the group's row,
    created with an id earlier in this transaction (ha_group_commands)."""
    return ["set", "Logical_Router_Port", port, f"ha_chassis_group={group_ref(group)}"]


def group_ref(group: str) -> str:
    return f"@ha_{group.replace('-', '_')}"


def ha_group_commands(topo: Topology) -> list[list[str]]:
    """The groups as rows with ids, so router ports can reference them in the same
    transaction: `--id=@ha_edge create HA_Chassis_Group name=edge ha_chassis=...`."""
    cmds: list[list[str]] = []
    for group, members in topo.ovn.ha_chassis_groups.items():
        refs = []
        for node, priority in members.items():
            ref = f"{group_ref(group)}_{node.replace('-', '_')}"
            refs.append(ref)
            cmds.append(
                [
                    f"--id={ref}",
                    "create",
                    "HA_Chassis",
                    f"chassis_name={node}",
                    f"priority={priority}",
                ]
            )
        cmds.append(
            [
                f"--id={group_ref(group)}",
                "create",
                "HA_Chassis_Group",
                f"name={group}",
                f"ha_chassis=[{','.join(refs)}]",
            ]
        )
    return cmds


def route_commands(rname: str, router: Router) -> list[list[str]]:
    """`lr-route-add`; several next hops: once per hop with --ecmp; bfd: with --bfd and the
    port the hop is on (ovn-nbctl creates the BFD row for it)."""
    cmds: list[list[str]] = []
    for route in router.routes:
        cmds += _route(rname, router, route)
    return cmds


def _route(rname: str, router: Router, route: RouterRoute) -> list[list[str]]:
    ecmp = isinstance(route.nexthop, list)
    cmds = []
    for hop in route.nexthops:
        flags = (["--ecmp"] if ecmp else []) + (["--bfd"] if route.bfd else [])
        cmd = [*flags, "lr-route-add", rname, str(route.prefix), str(hop)]
        port = route.output_port or (port_for(router, hop) if route.bfd else None)
        cmds.append([*cmd, port] if port else cmd)
    return cmds


def router_extra_commands(rname: str, router: Router) -> list[list[str]]:
    """Gateway router chassis and policies of one router."""
    cmds: list[list[str]] = []
    if router.chassis is not None:
        cmds.append(["set", "Logical_Router", rname, f"options:chassis={router.chassis}"])
    for policy in router.policies:
        cmd = ["lr-policy-add", rname, str(policy.priority), policy.match, policy.action]
        cmds.append([*cmd, str(policy.nexthop)] if policy.nexthop is not None else cmd)
    return cmds


def load_balancer_commands(topo: Topology) -> list[list[str]]:
    """`lb-add` per VIP, health checks with the ip_port_mappings they need, then
    `ls-lb-add` / `lr-lb-add`."""
    cmds: list[list[str]] = []
    for name, lb in topo.ovn.load_balancers.items():
        for vip_text, backends in lb.vips.items():
            vip = parse_endpoint(vip_text)
            version = vip.address.version if vip.address is not None else 4
            ips = ",".join(backend_ovn(topo, b, version) for b in backends)
            cmds.append(["lb-add", name, vip.ovn(), ips, lb.protocol])
        if lb.health_check is not None:
            cmds += _health_commands(topo, name, lb)
    for sname, switch in topo.ovn.switches.items():
        cmds += [["ls-lb-add", sname, lb] for lb in switch.load_balancers]
    for rname, router in topo.ovn.routers.items():
        cmds += [["lr-lb-add", rname, lb] for lb in router.load_balancers]
    return cmds


def backend_ovn(topo: Topology, text: str, version: int = 4) -> str:
    """A backend as OVN writes it; a VM behind an IPv6 VIP by its fixed IPv6 address."""
    backend = parse_endpoint(text)
    if backend.address is not None:
        return backend.ovn()
    vm = topo.vms[backend.host]
    chosen = vm.ipv6 if version == 6 else vm.ip
    return backend.ovn(str(chosen.ip))  # type: ignore[union-attr]  # validated: an address


def backend_vm(topo: Topology, backend: Endpoint) -> str | None:
    if backend.address is None:
        return backend.host
    return next(
        (
            n
            for n, vm in topo.vms.items()
            if backend.address in (getattr(a, "ip", None) for a in (vm.ip, vm.ipv6))
        ),
        None,
    )


def _health_commands(topo: Topology, name: str, lb: LoadBalancer) -> list[list[str]]:
    hc = lb.health_check
    assert hc is not None
    cmds: list[list[str]] = []
    mappings: dict[str, str] = {}
    for index, (vip_text, backends) in enumerate(lb.vips.items()):
        ref = f"@hc_{name.replace('-', '_')}_{index}"
        cmds += [
            [
                f"--id={ref}",
                "create",
                "Load_Balancer_Health_Check",
                f'vip="{parse_endpoint(vip_text).ovn()}"',
                f"options:interval={hc.interval}",
                f"options:timeout={hc.timeout}",
                f"options:success_count={hc.success_count}",
                f"options:failure_count={hc.failure_count}",
            ],
            ["add", "Load_Balancer", name, "health_check", ref],
        ]
        for text in backends:
            vm = backend_vm(topo, parse_endpoint(text))
            if vm is None:
                continue
            address = topo.vms[vm].ip
            mappings[str(address.ip)] = f"{topo.vm_port(vm)}:{monitor_source(topo, address)}"
    for address, mapping in mappings.items():
        cmds.append(["set", "Load_Balancer", name, f'ip_port_mappings:"{address}"="{mapping}"'])
    return cmds


def monitor_source(topo: Topology, address: IPv4Interface) -> IPv4Address:
    """The source address of OVN's health probes to a backend on `address`'s network: the
    highest host address nobody uses there (northd answers ARP for it with svc_monitor_mac),
    so probes and their replies never collide with a VM or router port."""
    used = {vm.ip.ip for vm in topo.vms.values()}
    for router in topo.ovn.routers.values():
        used |= {net.ip for port in router.ports.values() for net in port.networks}
    net = address.network
    candidate = net.broadcast_address - 1
    while candidate in used and candidate > net.network_address + 1:
        candidate -= 1
    return candidate
