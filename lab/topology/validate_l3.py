"""Semantic rules for gateway routers, HA chassis groups, ECMP/BFD routes, router policies
and load balancers (DESIGN.md "Topology file (v2)"), and the `lb` / `nexthop` checks
that name them. Called from lab.topology.validate with its rule set."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from lab.topology.l3 import EndpointError, is_gateway_port, networks_of, parse_endpoint, port_for
from lab.topology.problems import Path, one_of, show

if TYPE_CHECKING:
    from lab.topology.model import Router
    from lab.topology.validate import _Rules

HA_PRIORITY_RANGE = (0, 32767)


def validate_l3(rules: _Rules) -> None:
    _gateway_routers(rules)
    _ha_groups(rules)
    _routes(rules)
    _policies(rules)
    _load_balancers(rules)
    _checks(rules)


def _gateway_routers(rules: _Rules) -> None:
    for name, router in rules.p.routers.items():
        path: Path = ("ovn", "routers", name)
        if router.chassis is not None:
            rules._gateway_node((*path, "chassis"), router.chassis)
        for port_name, port in router.ports.items():
            where = (*path, "ports", port_name)
            if router.chassis is not None and (port.gateway_chassis or port.ha_chassis_group):
                key = "gateway_chassis" if port.gateway_chassis else "ha_chassis_group"
                rules.rep.add(
                    (*where, key),
                    f"router {name} is a gateway router (chassis: {router.chassis}), so its "
                    f"port {port_name} cannot have {key} too; remove one of them",
                )
            elif port.gateway_chassis and port.ha_chassis_group:
                rules.rep.add(
                    (*where, "ha_chassis_group"),
                    f"port {port_name} has both gateway_chassis and ha_chassis_group; "
                    "an HA chassis group replaces gateway_chassis, so keep only one",
                )
            group = port.ha_chassis_group
            if group is not None and not rules.exists("ha_chassis_groups", group):
                groups = rules.written("ha_chassis_groups")
                rules.rep.add(
                    (*where, "ha_chassis_group"),
                    f"HA chassis group {show(group)} does not exist; define it under "
                    "ovn.ha_chassis_groups"
                    + (f" or use one of {one_of(groups)}" if groups else ""),
                )


def _ha_groups(rules: _Rules) -> None:
    low, high = HA_PRIORITY_RANGE
    gateways = [n for n, node in rules.p.nodes.items() if node.role == "gateway"]
    for group, members in rules.p.ha_chassis_groups.items():
        path: Path = ("ovn", "ha_chassis_groups", group)
        rules._ovn_name(path, "HA chassis group name", group)
        for node, priority in members.items():
            where = (*path, node)
            if not rules.exists("nodes", node):
                rules.rep.add(
                    where,
                    f"{show(node)} is not a node; define it under nodes:"
                    + (f" or use one of {one_of(gateways)}" if gateways else ""),
                )
            elif node in rules.p.nodes and rules.p.nodes[node].role != "gateway":
                rules.rep.add(
                    where,
                    f"{show(node)} is a {rules.p.nodes[node].role} node; HA chassis group "
                    "members must be gateway nodes"
                    + (f" such as {one_of(gateways)}" if gateways else " (role: gateway)"),
                )
            if not low <= priority <= high:
                rules.rep.add(
                    where, f"priority {show(priority)} is out of range; use {low} to {high}"
                )


def _routes(rules: _Rules) -> None:
    for name, router in rules.p.routers.items():
        nets = [str(net.network) for _, net in networks_of(router)]
        for index, route in enumerate(router.routes):
            path: Path = ("ovn", "routers", name, "routes", index)
            ecmp = isinstance(route.nexthop, list)
            if ecmp and len(route.nexthops) < 2:
                rules.rep.add(
                    (*path, "nexthop"),
                    "an ECMP route needs at least two next hops; list two or write one "
                    "next hop without brackets",
                )
            if ecmp and len(set(route.nexthops)) != len(route.nexthops):
                rules.rep.add(
                    (*path, "nexthop"), "a next hop is listed twice; list each next hop once"
                )
            if not (ecmp or route.bfd):
                continue
            for hop in route.nexthops:
                port = port_for(router, hop)
                if port is None:
                    rules.rep.add(
                        (*path, "nexthop"),
                        f"next hop {hop} is outside every network of router {name} "
                        f"({', '.join(nets) or 'none'}); use an address in one of them",
                    )
                elif route.bfd and not is_gateway_port(router, port):
                    rules.rep.add(
                        (*path, "bfd"),
                        f"BFD to {hop} runs on a gateway, but port {port} of router {name} has "
                        "no gateway_chassis or ha_chassis_group; add one or give the router "
                        "chassis:",
                    )


def _policies(rules: _Rules) -> None:
    for name, router in rules.p.routers.items():
        for index, policy in enumerate(router.policies):
            path: Path = ("ovn", "routers", name, "policies", index)
            if policy.action == "reroute" and policy.nexthop is None:
                rules.rep.add(
                    path, "a reroute policy needs a nexthop; add nexthop: with an address"
                )
            elif policy.action != "reroute" and policy.nexthop is not None:
                rules.rep.add(
                    (*path, "nexthop"),
                    f"nexthop is only for action reroute, not {policy.action}; remove it",
                )
            if not policy.match.strip():
                rules.rep.add(
                    (*path, "match"),
                    'the match is empty; write an OVN match like "ip4.src == 10.0.1.0/24"',
                )


def _load_balancers(rules: _Rules) -> None:
    vms = rules.written("vms")
    for name, lb in rules.p.load_balancers.items():
        path: Path = ("ovn", "load_balancers", name)
        rules._ovn_name(path, "load balancer name", name)
        if not lb.vips:
            rules.rep.add((*path, "vips"), 'no VIPs; add one like {"10.0.0.100:80": [vm1:8080]}')
        for vip_text, backends in lb.vips.items():
            where = (*path, "vips", vip_text)
            try:
                vip = parse_endpoint(vip_text)
            except EndpointError as exc:
                rules.rep.add(where, f"VIP {exc}")
                continue
            if vip.address is None:
                rules.rep.add(
                    where, f"VIP {show(vip_text)} is not an address; write it like 10.0.0.100:80"
                )
                continue
            if lb.health_check is not None and vip.port is None:
                rules.rep.add(
                    (*path, "health_check"),
                    f"VIP {vip_text} has no port, and OVN health-checks only VIPs with ports; "
                    "add a port to the VIP or remove health_check",
                )
            if lb.health_check is not None and vip.address.version == 6:
                rules.rep.add(
                    (*path, "health_check"),
                    f"VIP {vip_text} is IPv6, and the lab health-checks IPv4 VIPs only; put it "
                    "in a load balancer without health_check",
                )
            if not backends:
                rules.rep.add(where, "no backends; list them like [vm1:8080, 10.0.0.12:8080]")
            for index, text in enumerate(backends):
                _backend(rules, (*where, index), str(text), vip.port, vms, lb.health_check)
                _backend_family(rules, (*where, index), str(text), vip.address.version)
    for kind, section in (("switches", rules.p.switches), ("routers", rules.p.routers)):
        for owner, obj in section.items():
            for index, lb_name in enumerate(obj.load_balancers):
                where = ("ovn", kind, owner, "load_balancers", index)
                if not rules.exists("load_balancers", lb_name):
                    known = rules.written("load_balancers")
                    rules.rep.add(
                        where,
                        f"load balancer {show(lb_name)} does not exist; define it under "
                        "ovn.load_balancers" + (f" or use one of {one_of(known)}" if known else ""),
                    )
            if kind == "routers" and obj.load_balancers:
                router: Router = obj  # type: ignore[assignment]
                if router.chassis is None and not any(
                    p.gateway_chassis or p.ha_chassis_group for p in router.ports.values()
                ):
                    rules.rep.add(
                        ("ovn", kind, owner, "load_balancers"),
                        f"router {owner} has no chassis: and no gateway port, and OVN runs a "
                        "router's load balancers on its gateway; add chassis: or a port with "
                        "gateway_chassis",
                    )


def _backend(
    rules: _Rules, where: Path, text: str, vip_port: int | None, vms: list[str], health: Any
) -> None:
    try:
        backend = parse_endpoint(text)
    except EndpointError as exc:
        rules.rep.add(where, f"backend {exc}")
        return
    if backend.address is None and backend.host not in vms and "vms" not in rules.p.broken:
        rules.rep.add(
            where,
            f"backend {show(backend.host)} is no VM and no address; "
            + (f"use one of {one_of(vms)} or an address" if vms else "use an address"),
        )
        return
    if vip_port is not None and backend.port is None:
        rules.rep.add(
            where, f"backend {show(text)} has no port but its VIP has one; write it like vm1:8080"
        )
    elif vip_port is None and backend.port is not None:
        rules.rep.add(
            where, f"backend {show(text)} has a port but its VIP has none; remove the port"
        )
    unprobed = backend.address is not None and vm_at(rules, backend.address) is None
    if health is not None and unprobed:
        rules.rep.add(
            where,
            f"backend {show(text)} is not a VM's address, and a health check probes each "
            "backend through its VM's port; name the VM (vm1:8080) or remove health_check",
        )


def _backend_family(rules: _Rules, where: Path, text: str, version: int) -> None:
    """A backend answers in its VIP's family: an address of it, or a VM with a fixed
    address of it (an IPv6 VIP needs the VM's `ipv6:` address)."""
    try:
        backend = parse_endpoint(text)
    except EndpointError:
        return  # said by _backend
    if backend.address is not None:
        if backend.address.version != version:
            rules.rep.add(
                where,
                f"backend {show(text)} is not IPv{version} like its VIP; use an "
                f"IPv{version} address or a VM name",
            )
        return
    vm = rules.p.vms.get(backend.host)
    if vm is None:
        return
    fixed = getattr(vm.ipv6 if version == 6 else vm.ip, "ip", None)
    if fixed is None:
        key = "ipv6" if version == 6 else "ip"
        rules.rep.add(
            where,
            f"backend {show(text)} has no fixed IPv{version} address for its IPv{version} VIP; "
            f"give VM {backend.host} one with `{key}:`",
        )


def vm_at(rules: _Rules, address: IPv4Address | IPv6Address) -> str | None:
    return next(
        (
            n
            for n, vm in rules.p.vms.items()
            if address in (getattr(a, "ip", None) for a in (vm.ip, vm.ipv6))
        ),
        None,
    )


def _checks(rules: _Rules) -> None:
    vms, hosts = rules.written("vms"), rules.hosts()
    for path, kind, spec in rules.p.check_specs():
        if kind == "lb":
            stop = spec.get("stop")
            if isinstance(stop, dict):  # stop: {node: NODE}, the backend's chassis
                node = stop.get("node")
                chassis = [
                    n for n, nd in rules.p.nodes.items() if nd.role in ("chassis", "gateway")
                ]
                if set(stop) != {"node"}:
                    keys = ", ".join(str(k) for k in stop)
                    rules.rep.add((*path, "stop"), f"stop takes {{node: CHASSIS}}, not {keys}")
                elif node not in chassis:
                    rules.rep.add(
                        (*path, "stop", "node"),
                        f"{show(node)} is not a chassis node; use one of "
                        f"{one_of(chassis) or 'the chassis'}",
                    )
            elif stop is not None and (not isinstance(stop, str) or not rules.exists("vms", stop)):
                rules.rep.add(
                    (*path, "stop"),
                    f"{show(stop)} is not a VM or {{node: CHASSIS}}; use one of "
                    f"{one_of(vms) or 'the VMs'}",
                )
            for i, backend in enumerate(spec.get("backends") or []):
                if not isinstance(backend, str) or not rules.exists("vms", backend):
                    rules.rep.add(
                        (*path, "backends", i),
                        f"{show(backend)} is not a VM; use one of {one_of(vms) or 'the VMs'}",
                    )
        elif kind == "nexthop":
            for key in ("via", "stop"):
                value = spec.get(key)
                names = value if isinstance(value, list) else [value] if value else []
                for name in names:
                    if not isinstance(name, str) or name not in hosts:
                        rules.rep.add(
                            (*path, key),
                            f"{show(name)} is not a host node; use one of "
                            f"{one_of(hosts) or 'the host nodes'}",
                        )
