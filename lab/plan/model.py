"""The plan: every name, address and command `lab up` will use, decided before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)


@dataclass(frozen=True)
class FabricPlan:
    name: str
    bridge: str  # Linux bridge in the fabric namespace
    subnet: IPv4Network | IPv6Network | None
    vlans: bool
    mtu: int | None


@dataclass(frozen=True)
class LinkPlan:
    fabric: str
    node_if: str  # veth end inside the node namespace
    fabric_if: str  # veth end on the fabric bridge
    address: IPv4Interface | IPv6Interface | None
    ovs_bridge: str | None  # chassis: OVS bridge the node_if is a port of


@dataclass(frozen=True)
class HostRoute:
    prefix: IPv4Network
    nexthop: IPv4Address


@dataclass
class NodePlan:
    name: str
    role: str
    netns: str
    links: list[LinkPlan]
    encap_ip: IPv4Address | IPv6Address | None = None  # chassis/gateway: Geneve endpoint
    bridge_mappings: dict[str, str] = field(default_factory=dict)  # fabric -> br-<fabric>
    # fabric -> this chassis' MAC on it: routed VLAN traffic leaves with it as source, so
    # the ToR does not see router MACs move between chassis (ovn-chassis-mac-mappings)
    chassis_macs: dict[str, str] = field(default_factory=dict)
    routes: list[HostRoute] = field(default_factory=list)
    build: str = "host"  # which OVS/OVN it runs (lab.providers.docker.builds)

    @property
    def is_chassis(self) -> bool:
        return self.role in ("chassis", "gateway")

    def link(self, fabric: str) -> LinkPlan | None:
        return next((lk for lk in self.links if lk.fabric == fabric), None)


@dataclass(frozen=True)
class VMPlan:
    name: str
    chassis: str
    netns: str
    port: str  # logical switch port name (= iface-id)
    switch: str
    attach: str  # internal | veth
    chassis_if: str  # port on the chassis br-int
    vm_if: str  # interface inside the VM namespace
    mac: str
    ip: IPv4Interface | IPv6Interface | None  # None: `ip: dynamic`, OVN IPAM picks it
    gateway: IPv4Address | IPv6Address | None
    services: tuple[tuple[str, int], ...] = ()  # (proto, port) servers started in the VM
    # v2 addressing (lab.plan.addressing): the IPv6 address (given, or the one SLAAC/DHCPv6
    # will configure), how it comes, and which DHCP clients run in the VM
    ipv6: IPv6Interface | None = None
    ipv6_mode: str | None = None  # static | slaac | dhcpv6
    gateway6: IPv6Address | None = None
    dhcp4: bool = False  # a DHCPv4 client asks OVN for the address
    dhcp6: str | None = None  # stateful | stateless: a DHCPv6 client asks OVN
    accept_ra: bool = False  # the kernel takes OVN's router advertisements (SLAAC, routes)

    @property
    def wants_ipv6(self) -> bool:
        """IPv6 stays on in this VM's namespace."""
        return self.ipv6 is not None or isinstance(self.ip, IPv6Interface)

    @property
    def static_addresses(self) -> list[IPv4Interface | IPv6Interface]:
        """The addresses the lab configures itself (the others come from DHCP or SLAAC)."""
        found: list[IPv4Interface | IPv6Interface] = []
        if self.ip is not None and not self.dhcp4:
            found.append(self.ip)
        if self.ipv6 is not None and self.ipv6_mode == "static":
            found.append(self.ipv6)
        return found

    @property
    def waits_for_addresses(self) -> bool:
        """`lab up` waits until DHCP / SLAAC configured this VM."""
        return self.dhcp4 or self.ipv6_mode in ("slaac", "dhcpv6") or self.dhcp6 is not None


@dataclass
class Plan:
    lab: str
    fabric_netns: str
    overlay: str | None
    fabrics: dict[str, FabricPlan]
    nodes: dict[str, NodePlan]
    vms: dict[str, VMPlan]
    central: str  # the first central: the one that creates the raft cluster
    nb_port: int = 6641
    sb_port: int = 6642
    # One ovn-nbctl transaction: each item is one command's argv (without "ovn-nbctl").
    nb_commands: list[list[str]] = field(default_factory=list)
    centrals: list[str] = field(default_factory=list)  # 1, or 3 (a raft cluster); [central]
    ssl: bool = False  # OVSDB over the network is TLS (pssl:/ssl:) with the lab's PKI
    nb_raft_port: int = 6643
    sb_raft_port: int = 6644
    acl_matches: list[tuple[str, str]] = field(default_factory=list)  # (ACL label, match)

    def __post_init__(self) -> None:
        if not self.centrals:
            self.centrals = [self.central]

    @property
    def clustered(self) -> bool:
        """Three centrals: NB and SB are raft clusters, one ovn-northd per central."""
        return len(self.centrals) > 1

    @property
    def proto(self) -> str:
        """How OVSDB connects over the network: tcp, or ssl with `ssl: true`."""
        return "ssl" if self.ssl else "tcp"

    def ip_of(self, node_name: str) -> IPv4Address | IPv6Address:
        node = self.nodes[node_name]
        link = node.link(self.overlay) if self.overlay else None
        if link is None or link.address is None:
            raise ValueError(f"central node {node_name} has no overlay address")
        return link.address.ip

    def url_ip(self, node_name: str) -> str:
        """A node's overlay address as OVSDB remotes write it: IPv6 in brackets."""
        ip = self.ip_of(node_name)
        return f"[{ip}]" if ip.version == 6 else str(ip)

    @property
    def central_ip(self) -> IPv4Address | IPv6Address:
        return self.ip_of(self.central)

    def remote(self, port: int) -> str:
        """Every central's `tcp:IP:PORT` (or ssl:), comma-separated: where clients connect."""
        return ",".join(f"{self.proto}:{self.url_ip(c)}:{port}" for c in self.centrals)

    @property
    def sb_remote(self) -> str:
        return self.remote(self.sb_port)

    @property
    def nb_remote(self) -> str:
        return self.remote(self.nb_port)

    def raft_address(self, node_name: str, port: int) -> str:
        """A central's raft endpoint for one database (tcp:IP:6643 NB, :6644 SB)."""
        return f"{self.proto}:{self.url_ip(node_name)}:{port}"

    def chassis(self) -> list[NodePlan]:
        return [n for n in self.nodes.values() if n.is_chassis]

    def vms_on(self, chassis: str) -> list[VMPlan]:
        return [v for v in self.vms.values() if v.chassis == chassis]


# Geneve adds 58 bytes (outer Ethernet, IP, UDP, Geneve + OVN option) to a
# 1500-byte VM frame; overlay wires carry that without fragmenting.
OVERLAY_MTU = 1600


def link_mtu(plan: Plan, fabric: str) -> int | None:
    fab = plan.fabrics[fabric]
    if fab.mtu:
        return fab.mtu
    return OVERLAY_MTU if fabric == plan.overlay else None


def localnet_port(switch: str) -> str:
    return f"ln-{switch}"
