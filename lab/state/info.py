"""What a running lab is, as later commands need it without planning again: its nodes and
their links, its VMs and their addresses, what was stopped, impaired or upgraded.

`LabState.info` is a LabInfo, read from the state file once (`LabInfo.from_json`) and
written with it (`to_json`), in the JSON layout earlier versions wrote: a state file of an
older lab loads, and keys this version does not know are kept (`extra`) and written back.
Changes are made on the objects and saved with `LabState.save()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _known(cls: type, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the fields `cls` has, the rest) of a JSON object."""
    names = {f.name for f in fields(cls)} - {"extra"}
    return {k: v for k, v in data.items() if k in names}, {
        k: v for k, v in data.items() if k not in names
    }


def _dump(obj: Any, skip_default: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass as the JSON object it came from: its fields (those in `skip_default`
    only when set, as earlier versions wrote them), then what it did not know."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        if f.name == "extra":
            continue
        value = getattr(obj, f.name)
        if f.name in skip_default and value in (None, False, {}, []):
            continue
        out[f.name] = value.to_json() if hasattr(value, "to_json") else value
    out.update(getattr(obj, "extra", {}))
    return out


class _Record:
    """from_json/to_json for a dataclass of this module with an `extra` field; OPTIONAL
    fields are written only when set."""

    OPTIONAL: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Any:
        known, rest = _known(cls, data)
        return cls(**known, extra=rest)

    def to_json(self) -> dict[str, Any]:
        return _dump(self, skip_default=self.OPTIONAL)


@dataclass
class LinkInfo(_Record):
    """A node's wire to one fabric: its interface in the node, its peer in the fabric."""

    node_if: str
    fabric_if: str | None = None
    address: str | None = None  # with prefix length
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeInfo(_Record):
    role: str  # central | chassis | gateway | host
    netns: str | None  # None: the node is an SSH host itself
    encap_ip: str | None = None
    links: dict[str, LinkInfo] = field(default_factory=dict)  # fabric -> link
    host: str | None = None  # provider ssh: the inventory host
    datapath_type: str | None = None  # provider ssh: system | netdev
    build: str | None = None  # state written before `builds` was recorded
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeInfo:
        known, rest = _known(cls, data)
        known["links"] = {f: LinkInfo.from_json(v) for f, v in known.get("links", {}).items()}
        return cls(**{"netns": None, **known}, extra=rest)

    OPTIONAL = ("host", "datapath_type", "build")

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["links"] = {f: link.to_json() for f, link in self.links.items()}
        return out

    @property
    def is_chassis(self) -> bool:
        return self.role in ("chassis", "gateway")


@dataclass
class VmInfo(_Record):
    chassis: str
    netns: str
    port: str = ""
    switch: str = ""
    ip: str = ""  # with prefix length, or "dynamic" until OVN's DHCP gave one
    mac: str = ""
    attach: str = "internal"  # internal | veth
    ifname: str = ""
    chassis_if: str = ""
    ipv6: str | None = None
    ipv6_mode: str | None = None  # slaac | dhcpv6
    dhcp: bool = False
    dhcp6: str | None = None  # stateful | stateless
    added: bool = False  # by `lab add-vm`, not in the topology
    extra: dict[str, Any] = field(default_factory=dict)

    OPTIONAL = ("ipv6", "ipv6_mode", "dhcp", "dhcp6", "added")

    def addresses(self) -> list[str]:
        return [a for a in (self.ip, self.ipv6) if a]


@dataclass
class ServiceInfo(_Record):
    proto: str  # tcp | udp
    port: int
    pid: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LabInfo(_Record):
    topology_file: str = ""
    central: str | None = None  # the first central (state of labs before clusters)
    centrals: list[str] = field(default_factory=list)  # 1, or 3 in a raft cluster
    ssl: bool = False
    sb_remote: str = ""  # what chassis have in external_ids:ovn-remote
    overlay: str | None = None
    fabric_netns: str = ""
    vlan_fabrics: list[str] = field(default_factory=list)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    vms: dict[str, VmInfo] = field(default_factory=dict)
    builds: dict[str, str] = field(default_factory=dict)  # node -> build it runs now
    image: str | None = None  # docker: the first node's image
    images: dict[str, str] = field(default_factory=dict)  # docker: node -> image
    services: dict[str, list[ServiceInfo]] = field(default_factory=dict)  # vm -> services
    stopped: list[str] = field(default_factory=list)  # nodes `lab stop` crashed
    faults: dict[str, Any] = field(default_factory=dict)  # lab.ops.wirefaults' record
    ssh: dict[str, Any] | None = None  # provider ssh: hosts, keys, what it changed on them
    up_timings: dict[str, float] = field(default_factory=dict)  # lab up's steps, seconds
    bundle: str | None = None  # `lab up --bundle`: the bundle it was built from
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabInfo:
        known, rest = _known(cls, data)
        known["nodes"] = {n: NodeInfo.from_json(v) for n, v in known.get("nodes", {}).items()}
        known["vms"] = {n: VmInfo.from_json(v) for n, v in known.get("vms", {}).items()}
        known["services"] = {
            vm: [ServiceInfo.from_json(s) for s in found]
            for vm, found in (known.get("services") or {}).items()
        }
        for key in ("builds", "images", "faults", "up_timings"):
            known[key] = known.get(key) or {}
        known["centrals"] = known.get("centrals") or []
        return cls(**known, extra=rest)

    # written only once a command has set them, as before this was a dataclass
    OPTIONAL = ("builds", "image", "images", "services", "stopped", "faults", "ssh",
                "up_timings", "bundle")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["nodes"] = {n: node.to_json() for n, node in self.nodes.items()}
        out["vms"] = {n: vm.to_json() for n, vm in self.vms.items()}
        if self.services:
            out["services"] = {vm: [s.to_json() for s in v] for vm, v in self.services.items()}
        return out

    def central_names(self) -> list[str]:
        """Every central (labs from before clusters record one)."""
        return list(self.centrals) or ([self.central] if self.central else [])

    def target_names(self) -> list[str]:
        return [*self.nodes, *self.vms]
