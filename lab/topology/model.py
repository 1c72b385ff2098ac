"""Typed topology model (DESIGN.md "Topology file (v1)").

These classes describe the YAML as the user wrote it. The loader
(lab.topology.loader) validates shape with pydantic, then cross-references
and fills defaults (lab.topology.validate) so everything downstream sees a
complete model: every node has its links, every router port its peer, every
VM its port name.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Interface
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyAddress,
    IPvAnyInterface,
    IPvAnyNetwork,
)

from lab.naming import DEFAULT_PROVIDER, PROVIDERS

Role = Literal["central", "chassis", "gateway", "host"]
ProviderName = Literal[PROVIDERS]  # type: ignore[valid-type]  # lab.naming, written once
CHASSIS_ROLES: frozenset[str] = frozenset({"chassis", "gateway"})


class Strict(BaseModel):
    """Every topology object rejects keys it does not know."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class Fabric(Strict):
    """One physical L2 segment ("a wire and the ToR switch")."""

    subnet: IPvAnyNetwork | None = None  # IPv6 (from 2001:db8::/32): an IPv6 underlay
    vlans: bool = False
    mtu: int | None = Field(default=None, ge=1280, le=9000)
    # VLAN fabrics: give each chassis a MAC for routed traffic (ovn-chassis-mac-mappings).
    # false shows what it prevents: router MACs flapping between ToR ports.
    chassis_mac_mappings: bool = True


class Link(Strict):
    """A node's attachment to a fabric, with its address there (if any)."""

    fabric: str
    address: IPvAnyInterface | None = None


class Route(Strict):
    prefix: IPvAnyNetwork  # IPv4 or IPv6; nexthop of the same family
    nexthop: IPvAnyAddress
    output_port: str | None = None


class RouterRoute(Route):
    """A logical router's static route: a list of next hops is ECMP (`lr-route-add --ecmp`),
    `bfd: true` monitors each next hop with BFD (`--bfd`)."""

    nexthop: IPvAnyAddress | list[IPvAnyAddress]  # type: ignore[assignment]
    bfd: bool = False

    @property
    def nexthops(self) -> list[IPvAnyAddress]:
        return self.nexthop if isinstance(self.nexthop, list) else [self.nexthop]


class Policy(Strict):
    """A logical router policy (`lr-policy-add ROUTER PRIORITY MATCH ACTION [NEXTHOP]`)."""

    priority: int = Field(ge=0, le=32767)
    match: str
    action: Literal["reroute", "drop", "allow"]
    nexthop: IPv4Address | None = None


class HealthCheck(Strict):
    """Load_Balancer_Health_Check options (OVN's defaults: 5, 20, 3, 3)."""

    interval: int = Field(default=5, ge=1, le=3600)
    timeout: int = Field(default=20, ge=1, le=3600)
    success_count: int = Field(default=3, ge=1, le=100)
    failure_count: int = Field(default=3, ge=1, le=100)


class LoadBalancer(Strict):
    protocol: Literal["tcp", "udp"] = "tcp"
    # "VIP[:port]" -> backends written "VM:port" or "address:port"
    vips: dict[str, list[str]]
    health_check: HealthCheck | None = None


class Node(Strict):
    role: Role
    # As written: list of fabric names / {fabric: address} items, or a mapping
    # fabric -> address|null. The loader normalises it to list[Link].
    links: list[Link] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)  # host nodes: kernel routes
    host: str | None = None  # ssh provider: inventory host this node runs on
    chassis_mac_mappings: bool = True
    build: str | None = (
        None  # this node's OVS/OVN (lab.providers.docker.builds); default: the topology's
    )


class Localnet(Strict):
    network: str
    vlan: int | None = Field(default=None)


# Tunnel keys (OVN's requested-tnl-key): datapaths 1..2^24-1, ports 1..32767. Unset, the
# planner assigns them in file order (lab.plan.tunnel_keys), so every run is the same.
def _datapath_key() -> Any:
    return Field(default=None, ge=1, le=16_777_215)


def _port_key() -> Any:
    return Field(default=None, ge=1, le=32_767)


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


# a DNS record's addresses: one, or a list (IPv4 and IPv6 for one name)
# (json_schema_input_type: the JSON Schema says what is written, not what it becomes)
DnsAddresses = Annotated[
    list[IPvAnyAddress],
    BeforeValidator(_as_list, json_schema_input_type=IPvAnyAddress | list[IPvAnyAddress]),
]


class Dhcp(Strict):
    """A DHCP_Options row (DHCPv4) for the switch's VMs with `dhcp: true` / `ip: dynamic`."""

    router: IPv4Address | None = None
    dns: list[IPv4Address] = Field(default_factory=list)
    lease_time: int = Field(default=3600, ge=60, le=2**31 - 1)
    mtu: int | None = Field(default=None, ge=576, le=9000)
    # any other OVN DHCPv4 option by its name (ovn-nb(5) DHCP_Options), passed through
    options: dict[str, str] = Field(default_factory=dict)


class Dhcp6(Strict):
    """A DHCP_Options row for DHCPv6 (the ports' dhcpv6_options): addresses too (stateful),
    or only DNS (stateless)."""

    mode: Literal["stateful", "stateless"] = "stateful"
    dns: list[IPv6Address] = Field(default_factory=list)


class Switch(Strict):
    localnet: Localnet | None = None
    other_config: dict[str, str] = Field(default_factory=dict)
    subnet: IPv4Network | None = None  # other_config:subnet: OVN IPAM for `ip: dynamic`
    dhcp: Dhcp | None = None
    dhcp6: Dhcp6 | None = None
    dns: dict[str, DnsAddresses] = Field(default_factory=dict)  # the OVN DNS table
    load_balancers: list[str] = Field(default_factory=list)  # ls-lb-add
    tunnel_key: int | None = _datapath_key()


class RouterPort(Strict):
    switch: str
    mac: str
    networks: list[IPvAnyInterface]
    peer: str | None = None  # default "<switch>-<router>"
    gateway_chassis: dict[str, int] = Field(default_factory=dict)
    # ipv6_ra_configs:address_mode: ovn-controller answers router solicitations
    ra: Literal["slaac", "dhcpv6_stateful", "dhcpv6_stateless"] | None = None
    ha_chassis_group: str | None = None  # a name under ovn.ha_chassis_groups
    tunnel_key: int | None = _port_key()  # of the router port (its peer's is assigned)


class Nat(Strict):
    type: Literal["snat", "dnat", "dnat_and_snat"]
    external_ip: IPvAnyAddress
    logical_ip: IPvAnyNetwork  # an address is a /32 (/128) network; same family as external_ip
    logical_port: str | None = None
    external_mac: str | None = None


class Router(Strict):
    ports: dict[str, RouterPort] = Field(default_factory=dict)
    nat: list[Nat] = Field(default_factory=list)
    routes: list[RouterRoute] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)
    chassis: str | None = None  # a gateway router: options:chassis
    policies: list[Policy] = Field(default_factory=list)  # lr-policy-add
    load_balancers: list[str] = Field(default_factory=list)  # lr-lb-add
    tunnel_key: int | None = _datapath_key()


AclAction = Literal["allow", "allow-related", "allow-stateless", "drop", "reject", "pass"]
AclSeverity = Literal["alert", "warning", "notice", "info", "debug"]


class Acl(Strict):
    """One `ovn-nbctl acl-add`, on a port group or a switch (exactly one of them)."""

    port_group: str | None = None
    switch: str | None = None
    direction: Literal["from-lport", "to-lport"]
    priority: int = Field(ge=0, le=32767)
    match: str
    action: AclAction
    log: bool = False
    name: str | None = Field(default=None, max_length=63)
    severity: AclSeverity | None = None
    label: int | None = Field(default=None, ge=0, le=4294967295)

    @property
    def entity(self) -> str:
        return self.port_group or self.switch or ""


class Ovn(Strict):
    switches: dict[str, Switch] = Field(default_factory=dict)
    routers: dict[str, Router] = Field(default_factory=dict)
    port_groups: dict[str, list[str]] = Field(default_factory=dict)  # name -> VM names
    address_sets: dict[str, list[str]] = Field(default_factory=dict)  # name -> addresses
    acls: list[Acl] = Field(default_factory=list)  # acl-add, in this order
    ha_chassis_groups: dict[str, dict[str, int]] = Field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = Field(default_factory=dict)


class Service(Strict):
    """A server the lab starts in a VM: `{tcp: 8080}` or `{udp: 5353}`."""

    tcp: int | None = Field(default=None, ge=1, le=65535)
    udp: int | None = Field(default=None, ge=1, le=65535)

    @property
    def proto(self) -> str:
        return "tcp" if self.tcp is not None else "udp"

    @property
    def port(self) -> int:
        return self.tcp if self.tcp is not None else self.udp or 0


class VM(Strict):
    chassis: str
    switch: str
    mac: str
    # an address with prefix (IPv4 or IPv6), or `dynamic`: OVN IPAM picks, DHCP delivers
    ip: IPvAnyInterface | Literal["dynamic"]
    gateway: IPvAnyAddress | None = None
    dhcp: bool = False  # the fixed `ip` is delivered by OVN's DHCP (Neutron's way)
    # a second, IPv6 address: given, by the kernel's SLAAC, or by DHCPv6 (stateful)
    ipv6: IPv6Interface | Literal["slaac", "dhcpv6"] | None = None
    gateway6: IPv6Address | None = None  # default IPv6 route for a given `ipv6` address
    attach: Literal["internal", "veth"] = "internal"
    port: str | None = None  # logical switch port; default: the VM's name
    tunnel_key: int | None = _port_key()  # of its logical switch port
    services: list[Service] = Field(default_factory=list)  # servers answering with its name


class Topology(Strict):
    name: str
    provider: ProviderName = DEFAULT_PROVIDER
    # TLS everywhere OVSDB is reached over the network: NB/SB remotes pssl:, chassis,
    # northd and raft connections ssl:, with a lab-local PKI (one certificate per node).
    ssl: bool = False
    fabric: dict[str, Fabric] = Field(default_factory=dict)
    nodes: dict[str, Node]
    ovn: Ovn = Field(default_factory=Ovn)
    vms: dict[str, VM] = Field(default_factory=dict)
    # Each entry is {kind: spec}; kinds are validated by the loader, specs by lab.verify.
    checks: list[dict[str, dict[str, Any]]] = Field(default_factory=list)
    # Which OVS/OVN the nodes run (lab.providers.docker.builds): host | debian:SUITE | source:PATH
    build: str = "host"

    # --- derived views used by the planner and the checks --------------------------------

    @property
    def overlay(self) -> str | None:
        """The overlay fabric: the first fabric with a subnet (Geneve runs over it)."""
        for name, fab in self.fabric.items():
            if fab.subnet is not None:
                return name
        return None

    def nodes_with_role(self, *roles: str) -> list[str]:
        return [n for n, node in self.nodes.items() if node.role in roles]

    @property
    def chassis(self) -> list[str]:
        return self.nodes_with_role(*CHASSIS_ROLES)

    @property
    def centrals(self) -> list[str]:
        return self.nodes_with_role("central")

    def link(self, node: str, fabric: str) -> Link | None:
        for link in self.nodes[node].links:
            if link.fabric == fabric:
                return link
        return None

    def vm_port(self, vm: str) -> str:
        return self.vms[vm].port or vm

    def node_build(self, node: str) -> str:
        return self.nodes[node].build or self.build
