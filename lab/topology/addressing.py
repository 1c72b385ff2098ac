"""Rules for the v2 addressing keys (DESIGN.md "Topology file (v2)"): IPv6 next to IPv4,
DHCPv4 / DHCPv6 / router advertisements, DNS records, and the `dhcp` / `dns` checks.

They run after validate.py's v1 rules, on what passed shape validation, and report
through the same Reporter: one sentence per problem, naming the fix.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Interface, IPv6Network
from typing import TYPE_CHECKING, Any

from lab.topology.model import VM, Switch
from lab.topology.problems import Path, show

if TYPE_CHECKING:
    from lab.topology.validate import _Rules

# ovn-nb(5) DNS records: names are looked up case-insensitively, one label at least.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DNS_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?")
# RA modes that make hosts configure an address themselves (the A flag in the prefix)
SLAAC_MODES = ("slaac", "dhcpv6_stateless")


def family(value: Any) -> int:
    return int(value.version)


def switch_router_networks(rules: _Rules, switch: str) -> list[tuple[str, Any]]:
    """(router port path, network) of every router port on `switch`."""
    found = []
    for router, rtr in rules.p.routers.items():
        for name, port in rtr.ports.items():
            if port.switch == switch:
                found += [(f"ovn.routers.{router}.ports.{name}", net) for net in port.networks]
    return found


def switch_ra(rules: _Rules, switch: str) -> list[str]:
    """The `ra:` modes of the router ports on `switch`."""
    return [
        port.ra
        for rtr in rules.p.routers.values()
        for port in rtr.ports.values()
        if port.switch == switch and port.ra is not None
    ]


def dhcp_cidr(switch: Switch, networks: list[Any]) -> IPv4Network | None:
    """The network a switch's DHCP_Options row serves: `subnet`, else its router's IPv4 network."""
    if switch.subnet is not None:
        return switch.subnet
    v4 = [net.network for net in networks if net.version == 4]
    return v4[0] if v4 else None


def dhcp6_cidr(networks: list[Any]) -> IPv6Network | None:
    v6 = [net.network for net in networks if net.version == 6]
    return v6[0] if v6 else None


def addressing_rules(rules: _Rules) -> None:
    for rule in (_fabrics, _routers, _switches, _vms, _checks):
        rule(rules)


# --- fabrics --------------------------------------------------------------------------------

DOCUMENTATION_V6 = IPv6Network("2001:db8::/32")  # the only IPv6 a lab's wires may carry


def _fabrics(rules: _Rules) -> None:
    for name, fabric in rules.p.fabric.items():
        subnet = fabric.subnet
        if subnet is not None and subnet.version == 6 and not subnet.subnet_of(DOCUMENTATION_V6):
            rules.rep.add(
                ("fabric", name, "subnet"),
                f"{subnet} is outside {DOCUMENTATION_V6}, the IPv6 documentation range a lab "
                "may use on its wires; use a subnet like 2001:db8:0:1::/64",
            )


# --- routers -------------------------------------------------------------------------------


def _mixed_route(rules: _Rules, path: Path, route: Any) -> None:
    hops = route.nexthop if isinstance(route.nexthop, list) else [route.nexthop]  # ECMP: several
    for hop in hops:
        if family(route.prefix) != family(hop):
            rules.rep.add(
                path,
                f"route {route.prefix} is IPv{family(route.prefix)} but nexthop "
                f"{hop} is IPv{family(hop)}; use a nexthop of the prefix's family",
            )


def _routers(rules: _Rules) -> None:
    for node_name, node in rules.p.nodes.items():
        for index, route in enumerate(node.routes):
            _mixed_route(rules, ("nodes", node_name, "routes", index), route)
    for name, router in rules.p.routers.items():
        base: Path = ("ovn", "routers", name)
        for port_name, port in router.ports.items():
            path = (*base, "ports", port_name)
            for index, network in enumerate(port.networks):
                if network.ip.is_link_local:
                    rules.rep.add(
                        (*path, "networks", index),
                        f"{show(str(network))} is a link-local address; OVN gives every router "
                        "port its link-local address itself, so use a global one like "
                        + ("2001:db8:1::1/64" if network.version == 6 else "10.0.0.1/24"),
                    )
            if port.ra is not None and not any(n.version == 6 for n in port.networks):
                rules.rep.add(
                    (*path, "ra"),
                    f"ra: {port.ra} needs an IPv6 network on the port, but it has only "
                    f"{', '.join(str(n) for n in port.networks) or 'none'}; add one like "
                    "2001:db8:1::1/64 to networks or remove ra",
                )
        for index, route in enumerate(router.routes):
            _mixed_route(rules, (*base, "routes", index), route)
        for index, nat in enumerate(router.nat):
            if family(nat.external_ip) != family(nat.logical_ip):
                rules.rep.add(
                    (*base, "nat", index),
                    f"NAT mixes IPv{family(nat.external_ip)} external_ip {nat.external_ip} with "
                    f"IPv{family(nat.logical_ip)} logical_ip {nat.logical_ip}; a NAT rule "
                    "translates within one family, so write one rule per family",
                )


# --- switches -------------------------------------------------------------------------------


def _switches(rules: _Rules) -> None:
    for name, switch in rules.p.switches.items():
        path: Path = ("ovn", "switches", name)
        networks = [net for _, net in switch_router_networks(rules, name)]
        if switch.dhcp is not None:
            cidr = dhcp_cidr(switch, networks)
            if cidr is None:
                rules.rep.add(
                    (*path, "dhcp"),
                    f"dhcp on switch {name} needs the network it serves; add subnet: (like "
                    "10.0.0.0/24) to the switch or connect it to a router port with an IPv4 "
                    "network",
                )
            else:
                _in_network(rules, (*path, "dhcp", "router"), switch.dhcp.router, cidr, "router")
                for index, dns in enumerate(switch.dhcp.dns):
                    _in_network(rules, (*path, "dhcp", "dns", index), None, cidr, "dns", dns)
        if switch.dhcp6 is not None and dhcp6_cidr(networks) is None:
            rules.rep.add(
                (*path, "dhcp6"),
                f"dhcp6 on switch {name} needs an IPv6 network to serve; give its router port "
                "one like 2001:db8:1::1/64",
            )
        for record, addresses in switch.dns.items():
            where = (*path, "dns", record)
            if not DNS_NAME.fullmatch(record):
                rules.rep.add(
                    where,
                    f"{show(record)} is not a DNS name; write it like vm1.lab.test",
                )
            elif not addresses:
                rules.rep.add(where, f"no address for {record}; write it like {record}: 10.0.0.10")


def _in_network(
    rules: _Rules, path: Path, address: Any, cidr: IPv4Network, what: str, other: Any = None
) -> None:
    """`address` (dhcp router) must be in the DHCP network; `other` (a DNS server) IPv4."""
    if address is not None and address not in cidr:
        rules.rep.add(
            path,
            f"{what} {address} is outside {cidr}, the network this DHCP serves; use an "
            f"address in {cidr}",
        )
    if other is not None and not isinstance(other, IPv4Address):
        rules.rep.add(path, f"{show(str(other))} is not an IPv4 address; DHCPv4 hands out IPv4")


# --- VMs ------------------------------------------------------------------------------------


def _vms(rules: _Rules) -> None:
    for name, vm in rules.p.vms.items():
        switch = rules.p.switches.get(vm.switch)
        if switch is None:
            continue  # a missing switch is reported by the v1 rules
        path: Path = ("vms", name)
        networks = switch_router_networks(rules, vm.switch)
        _vm_ipv6(rules, path, vm, switch, [n for _, n in networks])
        # one "outside" problem per address: the subnet's (or DHCP's) is enough
        outside = _vm_ip(rules, path, vm, switch, [n for _, n in networks])
        static = [(("ip",), vm.ip)] if not isinstance(vm.ip, str) and not outside else []
        if isinstance(vm.ipv6, IPv6Interface):
            static.append((("ipv6",), vm.ipv6))
        for key, address in static:
            _in_router_network(rules, (*path, *key), address, networks)


def _vm_ip(rules: _Rules, path: Path, vm: VM, switch: Switch, networks: list[Any]) -> bool:
    """The rules of `ip` and `dhcp`; True if `ip` was reported outside its network."""
    outside = False
    if vm.ip == "dynamic":
        if switch.subnet is None:
            rules.rep.add(
                (*path, "ip"),
                f"ip: dynamic needs OVN IPAM, but switch {vm.switch} has no subnet; add "
                f"subnet: (like 10.0.0.0/24) to switch {vm.switch}",
            )
        if switch.dhcp is None:
            rules.rep.add(
                (*path, "ip"),
                f"ip: dynamic is delivered by DHCP, but switch {vm.switch} has no dhcp; add "
                f"dhcp: {{router: ...}} to switch {vm.switch}",
            )
        if vm.ipv6 is not None:
            rules.rep.add(
                (*path, "ipv6"),
                "ipv6 next to ip: dynamic is not supported yet; give the VM a fixed ip with "
                "dhcp: true instead",
            )
    if vm.dhcp or vm.ip == "dynamic":
        if vm.dhcp and switch.dhcp is None:
            rules.rep.add(
                (*path, "dhcp"),
                f"dhcp: true but switch {vm.switch} has no dhcp: to serve it; add dhcp: "
                f"{{router: ...}} to switch {vm.switch} or remove dhcp: true",
            )
        if isinstance(vm.ip, IPv6Interface):
            rules.rep.add(
                (*path, "dhcp"),
                f"dhcp: true delivers an IPv4 address, but ip {vm.ip} is IPv6; use ipv6: "
                "dhcpv6 for DHCPv6",
            )
        if vm.gateway is not None:
            rules.rep.add(
                (*path, "gateway"),
                "a VM on DHCP gets its gateway from the switch's dhcp router option; remove "
                "gateway: (set dhcp: {router: ...} on the switch)",
            )
        cidr = dhcp_cidr(switch, networks) if switch.dhcp is not None else None
        if (
            isinstance(vm.ip, IPv4Interface)
            and cidr is not None
            and switch.subnet is None  # else: the subnet rule below says it
            and vm.ip.ip not in cidr
        ):
            outside = True
            rules.rep.add(
                (*path, "ip"),
                f"{vm.ip} is outside {cidr}, the network switch {vm.switch}'s DHCP serves; "
                f"use an address in {cidr}",
            )
    elif (
        vm.gateway is not None
        and not isinstance(vm.ip, str)
        and family(vm.gateway) != family(vm.ip)
    ):
        rules.rep.add(
            (*path, "gateway"),
            f"gateway {vm.gateway} is IPv{family(vm.gateway)} but ip {vm.ip} is "
            f"IPv{family(vm.ip)}; use gateway6: for an IPv6 gateway of ipv6:",
        )
    if (
        switch.subnet is not None
        and isinstance(vm.ip, IPv4Interface)
        and vm.ip.ip not in switch.subnet
    ):
        outside = True
        rules.rep.add(
            (*path, "ip"),
            f"{vm.ip} is outside switch {vm.switch}'s subnet {switch.subnet}; use an "
            f"address in {switch.subnet}",
        )
    return outside


def _vm_ipv6(rules: _Rules, path: Path, vm: VM, switch: Switch, networks: list[Any]) -> None:
    ras = switch_ra(rules, vm.switch)
    if vm.ipv6 is not None and isinstance(vm.ip, IPv6Interface):
        rules.rep.add(
            (*path, "ipv6"),
            f"ip {vm.ip} is IPv6 already; ipv6: is the second address of a dual-stack VM, so "
            "give ip: an IPv4 address or remove ipv6",
        )
    if vm.ipv6 == "slaac" and not any(mode in SLAAC_MODES for mode in ras):
        rules.rep.add(
            (*path, "ipv6"),
            f"ipv6: slaac needs router advertisements on switch {vm.switch}; set ra: slaac "
            "(or dhcpv6_stateless) on its router port",
        )
    if vm.ipv6 == "dhcpv6":
        if switch.dhcp6 is None or switch.dhcp6.mode != "stateful":
            rules.rep.add(
                (*path, "ipv6"),
                f"ipv6: dhcpv6 needs a stateful DHCPv6 server on switch {vm.switch}; add "
                "dhcp6: {mode: stateful} to the switch",
            )
        if "dhcpv6_stateful" not in ras:
            rules.rep.add(
                (*path, "ipv6"),
                f"ipv6: dhcpv6 needs router advertisements telling hosts to use DHCPv6 (and "
                f"giving the route); set ra: dhcpv6_stateful on switch {vm.switch}'s router port",
            )
    if vm.gateway6 is not None:
        if not isinstance(vm.ipv6, IPv6Interface):
            rules.rep.add(
                (*path, "gateway6"),
                "gateway6 is the route of a given ipv6 address; with slaac or dhcpv6 the "
                "router advertisement gives it, so remove gateway6",
            )
        elif vm.gateway6 not in vm.ipv6.network:
            rules.rep.add(
                (*path, "gateway6"),
                f"gateway6 {vm.gateway6} is outside the VM's network {vm.ipv6.network}; use an "
                f"address in {vm.ipv6.network}",
            )


def _in_router_network(
    rules: _Rules, path: Path, address: Any, networks: list[tuple[str, Any]]
) -> None:
    """A static address on a switch whose router port has networks of its family must be in
    one of them (else the router never routes to it)."""
    same = [net for _, net in networks if net.version == address.version]
    if same and not any(address.ip in net.network for net in same):
        nets = ", ".join(str(net.network) for net in same)
        rules.rep.add(
            path,
            f"{address} is outside the router network {nets} of its switch; use an address "
            f"in {nets}",
        )


# --- checks ---------------------------------------------------------------------------------


def _checks(rules: _Rules) -> None:
    vms = rules.written("vms")
    for path, kind, spec in rules.p.check_specs():
        if kind != "dhcp" or "vm" not in spec:
            continue
        vm = spec["vm"]
        if not isinstance(vm, str) or not rules.exists("vms", vm):
            rules.rep.add(
                (*path, "vm"),
                f"{show(vm)} is not a VM; "
                + (f"use one of {', '.join(vms[:8])}" if vms else "define it under vms:"),
            )
        elif vm in rules.p.vms:
            v = rules.p.vms[vm]
            if not (v.dhcp or v.ip == "dynamic" or v.ipv6 in ("dhcpv6", "slaac")):
                rules.rep.add(
                    (*path, "vm"),
                    f"VM {vm} gets no address from OVN; give it dhcp: true, ip: dynamic, or "
                    "ipv6: slaac or dhcpv6",
                )
