"""Semantic rules (DESIGN.md "Topology file (v1)"): names, references, addresses,
MACs and uniqueness. They run on everything that passed shape validation; each
rule reports through the Reporter and none stops the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from lab import naming
from lab.topology.addressing import addressing_rules
from lab.topology.check_kinds import CHECK_KINDS
from lab.topology.model import CHASSIS_ROLES, Link
from lab.topology.problems import Path, Reporter, dotted, one_of, show
from lab.topology.security import validate_security
from lab.topology.shape import Parts
from lab.topology.steps import VALIDATORS as STEP_VALIDATORS
from lab.topology.validate_l3 import validate_l3

MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
VLAN_RANGE = (1, 4094)
PRIORITY_RANGE = (1, 32767)
# Check spec keys that name a VM / a node (searched one level deep too, e.g. failover.ping).
CHECK_VM_KEYS = ("from",)
CHECK_NODE_KEYS = ("on", "node")
OVN_NAME_MAX = 64


def validate(parts: Parts, rep: Reporter) -> None:
    rules = _Rules(parts, rep)
    for rule in (
        rules.names,
        rules.centrals,
        rules.links,
        rules.overlay,
        rules.routes,
        rules.switches,
        rules.routers,
        rules.vms,
        rules.macs,
        rules.addresses,
        rules.switch_ports,
        rules.checks,
    ):
        rule()
    validate_security(parts, rep)  # VM services, connect checks, ACLs (v2)
    validate_l3(rules)  # gateway routers, HA groups, ECMP/BFD, policies, load balancers
    addressing_rules(rules)  # v2: IPv6, DHCP, router advertisements, DNS
    from lab.topology.build_rules import check_builds

    check_builds(parts, rep)
    from lab.topology.reserved import check_reserved  # names the lab uses itself

    check_reserved(parts, rep)
    _pinned_tunnel_keys(parts, rep)


def _pinned_tunnel_keys(parts: Parts, rep: Reporter) -> None:
    """Two objects pinned to one tunnel key in one scope (lab.plan.tunnel_keys)."""
    from lab.topology.model import Ovn, Topology
    from lab.topology.tunnel_keys import duplicate_keys

    view = Topology.model_construct(
        name=parts.name or "",
        nodes=parts.nodes,
        ovn=Ovn.model_construct(switches=parts.switches, routers=parts.routers),
        vms=parts.vms,
    )
    for path, key, other in duplicate_keys(view):
        rep.add(
            (*path, "tunnel_key"),
            f"tunnel_key {key} is already {other}'s; give each its own or leave it out",
        )


def _or_use(names: Iterable[str]) -> str:
    """' or use one of a, b' - the tail of a 'define it ...' fix, empty if nothing exists."""
    names = list(names)
    return f" or use one of {one_of(names)}" if names else ""


def _reserved(ip: Any, network: Any) -> str | None:
    """'network address' / 'broadcast address' if `ip` is one of them (not on /31, /32;
    IPv6 has no broadcast, and its network address is the subnet-router anycast)."""
    if network.prefixlen >= network.max_prefixlen - 1:
        return None
    if network.version == 6:
        return "subnet-router anycast address" if ip == network.network_address else None
    if ip == network.network_address:
        return "network address"
    if ip == network.broadcast_address:
        return "broadcast address"
    return None


class _Rules:
    def __init__(self, parts: Parts, rep: Reporter):
        self.p = parts
        self.rep = rep

    def written(self, section: str) -> list[str]:
        return self.p.written.get(section, [])

    def hosts(self) -> list[str]:
        return [n for n, node in self.p.nodes.items() if node.role == "host"]

    def _is_source(self, name: str) -> bool:
        """Traffic in checks starts in a VM or a host node (an upstream/internet host)."""
        return self.exists("vms", name) or name in self.hosts()

    def exists(self, section: str, name: str) -> bool:
        """True if `name` is defined, or `section` is too broken to tell (reported already)."""
        return section in self.p.broken or name in self.written(section)

    def chassis_nodes(self) -> list[str]:
        return [n for n, node in self.p.nodes.items() if node.role in CHASSIS_ROLES]

    def vm_ports(self) -> list[str]:
        """Logical switch port names of the VMs (a VM that failed shape counts by name)."""
        return [(self.p.vms[v].port or v) if v in self.p.vms else v for v in self.written("vms")]

    # --- names -----------------------------------------------------------------------------

    def names(self) -> None:
        self._lab_name()
        for fabric in self.written("fabric"):
            if not naming.FABRIC_NAME.fullmatch(fabric):
                self.rep.add(
                    ("fabric", fabric),
                    f"fabric name {show(fabric)} is not valid; it must {naming.FABRIC_NAME_RULE}",
                )
        for node in self.written("nodes"):
            self._node_name(("nodes", node), "node")
            if node in naming.RESERVED_NODE_NAMES:
                self.rep.add(
                    ("nodes", node),
                    f"node name {show(node)} is reserved for the lab's fabric namespace; "
                    "choose another name",
                )
        for vm in self.written("vms"):
            self._node_name(("vms", vm), "VM")
            if vm in self.written("nodes"):
                self.rep.add(
                    ("vms", vm),
                    f"VM name {show(vm)} is already a node name; nodes and VMs share one "
                    "namespace, so rename the VM",
                )
        for switch in self.written("switches"):
            self._ovn_name(("ovn", "switches", switch), "switch name", switch)
        for router in self.written("routers"):
            self._ovn_name(("ovn", "routers", router), "router name", router)
            for port in self.p.ports_written.get(router, []):
                self._ovn_name(("ovn", "routers", router, "ports", port), "router port name", port)

    def _lab_name(self) -> None:
        name = self.p.name
        if name is None or naming.LAB_NAME.fullmatch(name):
            return
        if self.p.name_from_cli:
            message = f"--name {show(name)} is not a valid lab name; it must {naming.LAB_NAME_RULE}"
            self.rep.add_line(("name",), message, None)
        else:
            message = f"lab name {show(name)} is not valid; it must {naming.LAB_NAME_RULE}"
            self.rep.add(("name",), message)

    def _node_name(self, path: Path, what: str) -> None:
        name = str(path[-1])
        if not naming.NODE_NAME.fullmatch(name):
            self.rep.add(
                path, f"{what} name {show(name)} is not valid; it must {naming.NODE_NAME_RULE}"
            )

    def _ovn_name(self, path: Path, what: str, name: str, fix: str = "") -> bool:
        if naming.OVN_NAME.fullmatch(name):
            return True
        fix = fix or f"use only {naming.OVN_NAME_RULE}, at most {OVN_NAME_MAX} characters"
        self.rep.add(path, f"{what} {show(name)} is not valid; {fix}")
        return False

    # --- nodes -----------------------------------------------------------------------------

    def centrals(self) -> None:
        if not self.p.all_nodes_ok or "nodes" not in self.p.written:
            return  # a node without a valid role would make the count wrong
        centrals = [n for n, node in self.p.nodes.items() if node.role == "central"]
        if not centrals:
            self.rep.add(
                ("nodes",), "no node has role central; add one, e.g. central: {role: central}"
            )
        elif len(centrals) not in (1, 3):
            self.rep.add(
                ("nodes",),
                f"{len(centrals)} central nodes ({one_of(centrals)}) but OVN needs 1, or 3 for "
                "a raft cluster; change how many nodes have role central",
            )

    def links(self) -> None:
        used: dict[tuple[str, IPv4Address], str] = {}  # (fabric, address) -> node
        for name, node in self.p.nodes.items():
            linked: set[str] = set()
            for index, link in enumerate(node.links):
                path = ("nodes", name, "links", link.fabric)
                line = self.p.link_lines.get((name, index))
                if not self.exists("fabric", link.fabric):
                    self.rep.add_line(
                        path,
                        f"fabric {show(link.fabric)} does not exist; define it under fabric:"
                        + _or_use(self.written("fabric")),
                        line,
                    )
                elif link.fabric in linked:
                    self.rep.add_line(
                        path,
                        f"fabric {show(link.fabric)} is linked twice; list each fabric once",
                        line,
                    )
                else:
                    linked.add(link.fabric)
                    message = self._link_address(name, link, used)
                    if message:
                        self.rep.add_line(path, message, line)

    def _link_address(
        self, node: str, link: Link, used: dict[tuple[str, IPv4Address], str]
    ) -> str | None:
        """What is wrong with a link's address, if anything."""
        fabric = self.p.fabric.get(link.fabric)
        if link.address is None or fabric is None:
            return None  # no address, or the fabric's own problem is already reported
        address, subnet = link.address, fabric.subnet
        shown = show(str(address.ip) if subnet is None else str(address))
        if subnet is None:
            return (
                f"address {shown} is on fabric {show(link.fabric)}, which has no subnet; "
                f"add subnet: to fabric {link.fabric} or remove the address"
            )
        if address.ip not in subnet:
            return (
                f"address {shown} is outside the subnet {subnet} of fabric {show(link.fabric)}; "
                f"use an address in {subnet}"
            )
        if address.network != subnet:
            return (
                f"address {shown} has prefix /{address.network.prefixlen} but fabric "
                f"{show(link.fabric)} is {subnet}; use /{subnet.prefixlen} or leave the prefix out"
            )
        reserved = _reserved(address.ip, subnet)
        if reserved:
            return (
                f"address {shown} is the {reserved} of {subnet}; "
                f"use a host address such as {subnet.network_address + 1}"
            )
        other = used.setdefault((link.fabric, address.ip), node)
        if other != node:
            return (
                f"address {address.ip} is already used by node {other} on fabric {link.fabric}; "
                "give each node its own address"
            )
        return None

    def overlay(self) -> None:
        """Chassis, gateways and centrals talk Geneve / OVSDB over the overlay fabric."""
        needy = {n: node for n, node in self.p.nodes.items() if node.role != "host"}
        overlay = self.p.overlay
        if overlay is None:
            if needy:
                self.rep.add(
                    ("fabric",),
                    f"no fabric has a subnet, so there is no overlay for {one_of(needy)}; "
                    "give the first fabric a subnet, e.g. overlay: {subnet: 192.0.2.0/24}",
                )
            return
        for name, node in needy.items():
            if node.links and all(link.fabric != overlay for link in node.links):
                self.rep.add(
                    ("nodes", name, "links"),
                    f"{node.role} node {show(name)} must link to the overlay fabric "
                    f"{show(overlay)}; add {overlay} to its links",
                )

    def routes(self) -> None:
        for name, node in self.p.nodes.items():
            if not node.routes:
                continue
            path = ("nodes", name, "routes")
            if node.role != "host":
                self.rep.add(
                    path,
                    f"routes are only allowed on host nodes, not on {node.role} node "
                    f"{show(name)}; remove them or make it role: host",
                )
                continue
            subnets = self._node_subnets(node.links)
            if subnets is None:
                continue
            for index, route in enumerate(node.routes):
                if not any(route.nexthop in subnet for subnet in subnets):
                    where = ", ".join(str(s) for s in subnets) or "none"
                    self.rep.add(
                        (*path, index, "nexthop"),
                        f"nexthop {show(str(route.nexthop))} is not in a subnet of the node's "
                        f"links ({where}); use an address in one of them",
                    )

    def _node_subnets(self, links: list[Link]) -> list[IPv4Network] | None:
        """Subnets the node is on, or None if a fabric it uses failed validation."""
        if not links and self.p.overlay:
            links = [Link(fabric=self.p.overlay)]
        subnets = []
        for link in links:
            fabric = self.p.fabric.get(link.fabric)
            if fabric is None:
                return None
            if link.address is not None:
                subnets.append(link.address.network)
            elif fabric.subnet is not None:
                subnets.append(fabric.subnet)
        return subnets

    # --- OVN switches and routers ------------------------------------------------------------

    def switches(self) -> None:
        others = [f for f in self.written("fabric") if f != self.p.overlay]
        for name, switch in self.p.switches.items():
            localnet = switch.localnet
            if localnet is None:
                continue
            path = ("ovn", "switches", name, "localnet")
            network = localnet.network
            if not self.exists("fabric", network):
                self.rep.add(
                    (*path, "network"),
                    f"fabric {show(network)} does not exist; define it under fabric:"
                    + _or_use(others),
                )
            elif network == self.p.overlay:
                self.rep.add(
                    (*path, "network"),
                    f"{show(network)} is the overlay fabric (Geneve runs over it); use another "
                    "fabric for a localnet" + (f", e.g. {one_of(others)}" if others else ""),
                )
            self._vlan(path, localnet.network, localnet.vlan)

    def _vlan(self, path: Path, network: str, vlan: int | None) -> None:
        if vlan is None:
            return
        low, high = VLAN_RANGE
        fabric = self.p.fabric.get(network)
        if not low <= vlan <= high:
            self.rep.add((*path, "vlan"), f"VLAN {show(vlan)} is out of range; use {low} to {high}")
        elif fabric is not None and not fabric.vlans and network != self.p.overlay:
            self.rep.add(
                (*path, "vlan"),
                f"VLAN {vlan} is set but fabric {show(network)} does not carry VLANs; "
                f"set vlans: true on fabric {network} or remove vlan",
            )

    def routers(self) -> None:
        owner: dict[str, str] = {}  # router port name -> router
        vm_ports = self.vm_ports()
        for router in self.written("routers"):
            for port in self.p.ports_written.get(router, []):
                first = owner.setdefault(port, router)
                if first != router:
                    self.rep.add(
                        ("ovn", "routers", router, "ports", port),
                        f"router port name {show(port)} is already used by router {first}; "
                        "router port names must be unique, so rename it",
                    )
        for name, router in self.p.routers.items():
            for port_name, port in router.ports.items():
                self._router_port(("ovn", "routers", name, "ports", port_name), port)
            ports = self.p.ports_written.get(name, [])
            for index, route in enumerate(router.routes):
                if route.output_port is not None and route.output_port not in ports:
                    self.rep.add(
                        ("ovn", "routers", name, "routes", index, "output_port"),
                        f"{show(route.output_port)} is not a port of router {name}; "
                        + (f"use one of {one_of(ports)}" if ports else "add it under ports:"),
                    )
            for index, nat in enumerate(router.nat):
                port = nat.logical_port
                if port is not None and port not in vm_ports and "vms" not in self.p.broken:
                    self.rep.add(
                        ("ovn", "routers", name, "nat", index, "logical_port"),
                        f"{show(port)} is not a VM's port; "
                        + (f"use one of {one_of(vm_ports)}" if vm_ports else "define a VM first"),
                    )

    def _router_port(self, path: Path, port: Any) -> None:
        if not self.exists("switches", port.switch):
            self.rep.add(
                (*path, "switch"),
                f"switch {show(port.switch)} does not exist; define it under ovn.switches:"
                + _or_use(self.written("switches")),
            )
        if not port.networks:
            self.rep.add(
                (*path, "networks"),
                "no networks given; list at least one address with prefix, like [10.0.0.1/24]",
            )
        for index, network in enumerate(port.networks):
            self._host_address((*path, "networks", index), network)
        low, high = PRIORITY_RANGE
        for node, priority in port.gateway_chassis.items():
            where = (*path, "gateway_chassis", node)
            self._gateway_node(where, node)
            if not low <= priority <= high:
                self.rep.add(
                    where, f"priority {show(priority)} is out of range; use {low} to {high}"
                )

    def _gateway_node(self, path: Path, node: str) -> None:
        choices = self.chassis_nodes()
        if not self.exists("nodes", node):
            self.rep.add(
                path, f"{show(node)} is not a node; define it under nodes:" + _or_use(choices)
            )
        elif node in self.p.nodes and self.p.nodes[node].role not in CHASSIS_ROLES:
            self.rep.add(
                path,
                f"{show(node)} is a {self.p.nodes[node].role} node; gateway_chassis must be "
                "gateway or chassis nodes" + (f" such as {one_of(choices)}" if choices else ""),
            )

    def _host_address(self, path: Path, address: Any) -> None:
        if isinstance(address, str):  # ip: dynamic
            return
        reserved = _reserved(address.ip, address.network)
        if reserved:
            net = address.network
            self.rep.add(
                path,
                f"{show(str(address))} is the {reserved} of {net}; use a host address such as "
                f"{net.network_address + 1}/{net.prefixlen}",
            )

    # --- VMs -------------------------------------------------------------------------------

    def vms(self) -> None:
        choices = self.chassis_nodes()
        for name, vm in self.p.vms.items():
            path = ("vms", name)
            chassis = self.p.nodes.get(vm.chassis)
            if not self.exists("nodes", vm.chassis):
                self.rep.add(
                    (*path, "chassis"),
                    f"{show(vm.chassis)} is not a node; define it under nodes:" + _or_use(choices),
                )
            elif chassis is not None and chassis.role not in CHASSIS_ROLES:
                self.rep.add(
                    (*path, "chassis"),
                    f"{show(vm.chassis)} is a {chassis.role} node and cannot host VMs; use a "
                    "chassis or gateway node" + (f" such as {one_of(choices)}" if choices else ""),
                )
            if not self.exists("switches", vm.switch):
                self.rep.add(
                    (*path, "switch"),
                    f"switch {show(vm.switch)} does not exist; define it under ovn.switches:"
                    + _or_use(self.written("switches")),
                )
            self._host_address((*path, "ip"), vm.ip)
            if not isinstance(vm.ipv6, str | None):
                self._host_address((*path, "ipv6"), vm.ipv6)
            if (
                vm.gateway is not None
                and not isinstance(vm.ip, str)
                and vm.gateway.version == vm.ip.version  # else: addressing.py says so
                and vm.gateway not in vm.ip.network
            ):
                self.rep.add(
                    (*path, "gateway"),
                    f"gateway {show(str(vm.gateway))} is outside the VM's network "
                    f"{vm.ip.network}; use an address in {vm.ip.network}",
                )

    # --- uniqueness across objects ------------------------------------------------------------

    def _sorted(self, entries: list[tuple[Path, Any]]) -> list[tuple[Path, Any]]:
        """Entries in file order, so 'already used by' names the earlier one."""
        return sorted(entries, key=lambda entry: self.rep.src.line(entry[0]) or 0)

    def macs(self) -> None:
        entries: list[tuple[Path, str]] = []
        for name, router in self.p.routers.items():
            for port_name, port in router.ports.items():
                entries.append((("ovn", "routers", name, "ports", port_name, "mac"), port.mac))
            for index, nat in enumerate(router.nat):
                if nat.external_mac is not None:
                    path = ("ovn", "routers", name, "nat", index, "external_mac")
                    entries.append((path, nat.external_mac))
        for name, vm in self.p.vms.items():
            entries.append((("vms", name, "mac"), vm.mac))
        first: dict[str, Path] = {}
        for path, mac in self._sorted(entries):
            message = _mac_problem(mac)
            if message is None:
                other = first.setdefault(mac.lower(), path)
                if other != path:
                    message = (
                        f"MAC {mac} is already used by {dotted(other[:-1])}; "
                        "give each port its own MAC"
                    )
            if message:
                self.rep.add(path, message)

    def addresses(self) -> None:
        entries: list[tuple[Path, Any]] = []
        for name, router in self.p.routers.items():
            for port_name, port in router.ports.items():
                for index, network in enumerate(port.networks):
                    path = ("ovn", "routers", name, "ports", port_name, "networks", index)
                    entries.append((path, network))
        for name, vm in self.p.vms.items():
            for key, address in (("ip", vm.ip), ("ipv6", vm.ipv6)):
                if address is not None and not isinstance(address, str):
                    entries.append((("vms", name, key), address))
        first: dict[Any, Path] = {}
        for path, address in self._sorted(entries):
            other = first.setdefault(address.ip, path)
            if other != path:
                owner = other[:5] if other[0] == "ovn" else other[:2]
                self.rep.add(
                    path,
                    f"address {address.ip} is already used by {dotted(owner)}; "
                    "give each VM and router port its own address",
                )

    def switch_ports(self) -> None:
        """Router port peers and VM ports are all logical switch ports: one name each."""
        entries: list[tuple[Path, str, str]] = []  # (where, name, how to fix)
        for router, rtr in self.p.routers.items():
            for port_name, port in rtr.ports.items():
                path: Path = ("ovn", "routers", router, "ports", port_name)
                if port.peer is not None:
                    if self._ovn_name((*path, "peer"), "peer name", port.peer):
                        entries.append(((*path, "peer"), port.peer, "set peer: to another name"))
                    continue
                peer = f"{port.switch}-{router}"
                fix = "set peer: to a valid name"
                if self._ovn_name(path, "the default peer name", peer, fix):
                    entries.append((path, peer, "set peer: to another name"))
        for name, vm in self.p.vms.items():
            if vm.port is None:
                entries.append((("vms", name), name, "set port: to another name"))
            elif self._ovn_name(("vms", name, "port"), "port name", vm.port):
                entries.append((("vms", name, "port"), vm.port, "set port: to another name"))
        first: dict[str, Path] = {}
        for path, name, fix in sorted(entries, key=lambda e: self.rep.src.line(e[0]) or 0):
            other = first.setdefault(name, path)
            if other != path:
                self.rep.add(
                    path,
                    f"logical switch port name {show(name)} is already used by {dotted(other)}; "
                    + fix,
                )

    # --- checks ----------------------------------------------------------------------------

    def checks(self) -> None:
        for index, item in enumerate(self.p.checks):
            path = ("checks", index)
            if not isinstance(item, dict) or len(item) != 1:
                self.rep.add(path, _check_shape_problem(item))
                continue
            ((kind, spec),) = item.items()
            if kind not in CHECK_KINDS:
                self.rep.add(
                    path,
                    f"unknown check {show(kind)}; use one of "
                    + one_of(sorted(CHECK_KINDS), limit=30),
                    at=(*path, kind),
                )
            elif not isinstance(spec, dict):
                self.rep.add(
                    (*path, kind),
                    f"the {kind} check needs a mapping of settings but got {show(spec)}; "
                    f"write it like {kind}: {{...}}",
                )
            elif kind in STEP_VALIDATORS:  # steps and assert: their own references
                STEP_VALIDATORS[kind](self, (*path, kind), spec)
            else:
                self._check_refs((*path, kind), spec, nested=True)

    def _check_refs(self, path: Path, spec: dict[str, Any], nested: bool) -> None:
        vms, nodes = self.written("vms"), self.written("nodes")
        for key, value in spec.items():
            text = value if isinstance(value, str) else None  # a list or mapping is never a name
            if key in CHECK_VM_KEYS and (text is None or not self._is_source(text)):
                sources = vms + self.hosts()
                self.rep.add(
                    (*path, key),
                    f"{show(value)} is not a VM or host node; "
                    + (f"use one of {one_of(sources)}" if sources else "define it under vms:"),
                )
            elif key in CHECK_NODE_KEYS and (text is None or not self.exists("nodes", text)):
                self.rep.add(
                    (*path, key),
                    f"{show(value)} is not a node; "
                    + (f"use one of {one_of(nodes)}" if nodes else "define it under nodes:"),
                )
            elif isinstance(value, dict) and nested:
                self._check_refs((*path, key), value, nested=False)


def _mac_problem(mac: str) -> str | None:
    if not MAC.fullmatch(mac):
        return f"{show(mac)} is not a MAC address; write six hex pairs like 40:44:00:00:00:01"
    first = int(mac[:2], 16)
    if first & 1:
        unicast = f"{first & 0xFE:02x}{mac[2:]}"
        return f"{show(mac)} is a multicast MAC (odd first octet); use a unicast one like {unicast}"
    return None


def _check_shape_problem(item: Any) -> str:
    if isinstance(item, dict) and item:
        return (
            f"a check has exactly one kind but this one has {len(item)} ({one_of(item)}); "
            "split it into separate list items"
        )
    return (
        f"expected a check like {{ping: {{from: vm1, to: vm2}}}} but got {show(item)}; "
        "write a mapping with one key, the kind of check"
    )
