"""Typed topology model (DESIGN.md "Topology file (v1)").

These classes describe the YAML as the user wrote it. The loader
(lab.topology.loader) validates shape with pydantic, then cross-references
and fills defaults (lab.topology.validate) so everything downstream sees a
complete model: every node has its links, every router port its peer, every
VM its port name.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["central", "chassis", "gateway", "host"]
ProviderName = Literal["netns", "docker", "ssh"]
CHASSIS_ROLES: frozenset[str] = frozenset({"chassis", "gateway"})
CHECK_KINDS: frozenset[str] = frozenset(
    {"ping", "trace", "geneve", "flows", "fdb", "gateway", "failover", "raft", "connect", "acl_log"}
)


class Strict(BaseModel):
    """Every topology object rejects keys it does not know."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class Fabric(Strict):
    """One physical L2 segment ("a wire and the ToR switch")."""

    subnet: IPv4Network | None = None
    vlans: bool = False
    mtu: int | None = Field(default=None, ge=1280, le=9000)
    # VLAN fabrics: give each chassis a MAC for routed traffic (ovn-chassis-mac-mappings).
    # false shows what it prevents: router MACs flapping between ToR ports.
    chassis_mac_mappings: bool = True


class Link(Strict):
    """A node's attachment to a fabric, with its address there (if any)."""

    fabric: str
    address: IPv4Interface | None = None


class Route(Strict):
    prefix: IPv4Network
    nexthop: IPv4Address
    output_port: str | None = None


class Node(Strict):
    role: Role
    # As written: list of fabric names / {fabric: address} items, or a mapping
    # fabric -> address|null. The loader normalises it to list[Link].
    links: list[Link] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)  # host nodes: kernel routes
    host: str | None = None  # ssh provider: inventory host this node runs on
    chassis_mac_mappings: bool = True


class Localnet(Strict):
    network: str
    vlan: int | None = Field(default=None)


# Tunnel keys (OVN's requested-tnl-key): datapaths 1..2^24-1, ports 1..32767. Unset, the
# planner assigns them in file order (lab.plan.tunnel_keys), so every run is the same.
def _datapath_key() -> Any:
    return Field(default=None, ge=1, le=16_777_215)


def _port_key() -> Any:
    return Field(default=None, ge=1, le=32_767)


class Switch(Strict):
    localnet: Localnet | None = None
    other_config: dict[str, str] = Field(default_factory=dict)
    tunnel_key: int | None = _datapath_key()


class RouterPort(Strict):
    switch: str
    mac: str
    networks: list[IPv4Interface]
    peer: str | None = None  # default "<switch>-<router>"
    gateway_chassis: dict[str, int] = Field(default_factory=dict)
    tunnel_key: int | None = _port_key()  # of the router port (its peer's is assigned)


class Nat(Strict):
    type: Literal["snat", "dnat", "dnat_and_snat"]
    external_ip: IPv4Address
    logical_ip: IPv4Network  # an address is a /32 network
    logical_port: str | None = None
    external_mac: str | None = None


class Router(Strict):
    ports: dict[str, RouterPort] = Field(default_factory=dict)
    nat: list[Nat] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)
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
    ip: IPv4Interface
    gateway: IPv4Address | None = None
    attach: Literal["internal", "veth"] = "internal"
    port: str | None = None  # logical switch port; default: the VM's name
    tunnel_key: int | None = _port_key()  # of its logical switch port
    services: list[Service] = Field(default_factory=list)  # servers answering with its name


class Topology(Strict):
    name: str
    provider: ProviderName = "netns"
    # TLS everywhere OVSDB is reached over the network: NB/SB remotes pssl:, chassis,
    # northd and raft connections ssl:, with a lab-local PKI (one certificate per node).
    ssl: bool = False
    fabric: dict[str, Fabric] = Field(default_factory=dict)
    nodes: dict[str, Node]
    ovn: Ovn = Field(default_factory=Ovn)
    vms: dict[str, VM] = Field(default_factory=dict)
    # Each entry is {kind: spec}; kinds are validated by the loader, specs by lab.verify.
    checks: list[dict[str, dict[str, Any]]] = Field(default_factory=list)

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
