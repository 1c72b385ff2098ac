"""Shape: raw YAML data -> model objects, validated one object at a time.

Validating each node, VM, switch, router port... on its own means one bad
object does not hide the others: the semantic rules (validate.py) still run on
everything that has a good shape. Pydantic's errors are rewritten into
one-sentence messages that name the value and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, IPvAnyAddress, IPvAnyInterface, IPvAnyNetwork, ValidationError

from lab.naming import DEFAULT_PROVIDER
from lab.topology.model import (
    VM,
    Acl,
    Fabric,
    Link,
    LoadBalancer,
    Node,
    Ovn,
    ProviderName,
    Router,
    RouterPort,
    Switch,
    Topology,
)
from lab.topology.problems import Path, Reporter, one_of, show
from lab.topology.source import Source

# Sections validated item by item; at the top level they are replaced by empty
# containers so Topology itself only checks their type.
_SECTIONS = {"fabric": dict, "nodes": dict, "vms": dict, "ovn": dict, "checks": list}
# YAML reads some unquoted text as numbers or booleans; where the model wants text
# (or an address, which is text) we use what was written instead.
_TEXT_TYPES = (
    str,
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPvAnyAddress,
    IPvAnyInterface,
    IPvAnyNetwork,
)
# How pydantic names the member of a union in an error's location ("literal['dynamic']",
# "function-plain[_validate()]"): not a key the user wrote.
_UNION_TAG = re.compile(r"^[a-z-]+\[.*\]$")

_MISSING_HINTS = {
    "name": "a lab name like lab1",
    "nodes": "at least one node of role central",
    "role": "one of central, chassis, gateway, host",
    "switch": "the name of a switch under ovn.switches",
    "chassis": "the name of a chassis or gateway node",
    "mac": "a MAC like '40:44:00:00:00:01'",
    "ip": "an address with prefix like 10.0.0.10/24",
    "networks": "a list like [10.0.0.1/24]",
    "network": "the name of a fabric",
    "type": "one of snat, dnat, dnat_and_snat",
    "external_ip": "an address like 198.51.100.10",
    "logical_ip": "an address or network like 10.0.0.0/24",
    "prefix": "a network like 0.0.0.0/0",
    "nexthop": "an address like 198.51.100.1",
    "direction": "from-lport or to-lport",
    "priority": "a number from 0 to 32767",
    "match": "an OVN match like 'outport == @web && tcp.dst == 8080'",
    "action": "one of allow, allow-related, allow-stateless, drop, reject, pass "
    "(a router policy: reroute, drop, allow)",
    "vips": 'a mapping like {"10.0.0.100:80": [vm1:8080]}',
}
_EXAMPLES = {
    "Fabric": "{subnet: 192.0.2.0/24}",
    "Node": "{role: chassis}",
    "Route": "{prefix: 0.0.0.0/0, nexthop: 198.51.100.1}",
    "Localnet": "{network: provider, vlan: 100}",
    "Switch": "{} or {localnet: {network: provider}}",
    "RouterPort": "{switch: net1, mac: '40:44:00:00:00:03', networks: [10.0.0.1/24]}",
    "Nat": "{type: snat, external_ip: 198.51.100.10, logical_ip: 10.0.0.0/24}",
    "Router": "{ports: {...}}",
    "Ovn": "{switches: {...}, routers: {...}}",
    "Acl": "{port_group: web, direction: to-lport, priority: 1002, match: ..., action: allow}",
    "LoadBalancer": '{protocol: tcp, vips: {"10.0.0.100:80": [vm1:8080]}}',
    "HealthCheck": "{interval: 2, timeout: 1, success_count: 1, failure_count: 2}",
    "RouterRoute": "{prefix: 0.0.0.0/0, nexthop: [198.51.100.1, 198.51.100.2]}",
    "Policy": "{priority: 100, match: 'ip4.src == 10.0.1.0/24', action: drop}",
    "VM": "{chassis: worker1, switch: net1, mac: '40:44:00:00:00:01', ip: 10.0.0.10/24}",
}
_IP_WORDS = {
    "ip_v4_address": ("a valid IPv4 address", "10.0.0.1"),
    "ip_v4_interface": ("a valid IPv4 address with prefix", "10.0.0.10/24"),
    "ip_v4_network": ("a valid IPv4 network", "10.0.0.0/24 (host bits zero)"),
    "ip_v6_address": ("a valid IPv6 address", "2001:db8:1::1"),
    "ip_v6_interface": ("a valid IPv6 address with prefix", "2001:db8:1::10/64"),
    "ip_any_address": ("a valid IPv4 or IPv6 address", "10.0.0.1 or 2001:db8:1::1"),
    "ip_any_interface": (
        "a valid IPv4 or IPv6 address with prefix",
        "10.0.0.10/24 or 2001:db8:1::10/64",
    ),
    "ip_any_network": (
        "a valid IPv4 or IPv6 network",
        "10.0.0.0/24 or 2001:db8:1::/64 (host bits zero)",
    ),
}
# Fields that also take a word instead of an address: the union's other member.
_IP_OR_WORD = {"ip": "dynamic", "ipv6": "slaac or dhcpv6"}
_LINK_FORMS = "e.g. [overlay] or {overlay: 192.0.2.12/24}"


@dataclass
class Parts:
    """What passed shape validation, plus every name as written.

    Names as written let a reference to an object that failed shape validation
    pass quietly instead of being reported a second time as dangling.
    """

    name: str | None = None
    name_from_cli: bool = False
    provider: ProviderName = DEFAULT_PROVIDER
    ssl: bool = False
    fabric: dict[str, Fabric] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    switches: dict[str, Switch] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
    vms: dict[str, VM] = field(default_factory=dict)
    port_groups: dict[str, list[str]] = field(default_factory=dict)
    address_sets: dict[str, list[str]] = field(default_factory=dict)
    acls: dict[int, Acl] = field(default_factory=dict)  # index in ovn.acls -> ACL
    acls_written: int = 0  # how many ACLs the file has (some may have failed shape)
    ha_chassis_groups: dict[str, dict[str, int]] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    checks: list[Any] = field(default_factory=list)
    written: dict[str, list[str]] = field(default_factory=dict)  # section -> names
    broken: set[str] = field(default_factory=set)  # sections that are not even a mapping
    ports_written: dict[str, list[str]] = field(default_factory=dict)  # router -> port names
    overlay: str | None = None  # from the raw data, so a bad fabric still counts
    link_lines: dict[tuple[str, int], int | None] = field(default_factory=dict)
    all_nodes_ok: bool = True
    build: str = "host"
    provider_written: bool = False  # `provider:` in the file (a non-host build needs docker)

    def check_specs(self) -> Iterator[tuple[Path, str, dict[str, Any]]]:
        """(path, kind, settings) of every check written as {kind: {...}}; the others are
        reported once, by the core rules (validate.py)."""
        for index, item in enumerate(self.checks):
            if isinstance(item, dict) and len(item) == 1:
                ((kind, spec),) = item.items()
                if isinstance(spec, dict):
                    yield ("checks", index, kind), kind, spec


class Shaper:
    def __init__(self, src: Source, rep: Reporter):
        self.src = src
        self.rep = rep
        self.parts = Parts()

    def run(self, cli_name: str | None) -> Parts | None:
        data = self.src.data
        if data is None and not self.src.problems:
            self.rep.add((), "the file is empty; a topology needs at least name: and nodes:")
            return None
        if not isinstance(data, dict):
            if data is not None:
                self.rep.add(
                    (),
                    f"the top level must be a mapping of sections like name: and nodes:, "
                    f"but it is {show(data)}; write each section as a top-level key",
                )
            return None
        if cli_name is not None:
            data = {**data, "name": cli_name}
            self.parts.name_from_cli = True
        self._top(data)
        self._fabrics(data.get("fabric"))
        self._nodes(data.get("nodes"))
        self._ovn(data.get("ovn"))
        self._vms(data.get("vms"))
        if isinstance(data.get("checks"), list):
            self.parts.checks = data["checks"]
        return self.parts

    # --- sections ------------------------------------------------------------------------

    def _top(self, data: dict[str, Any]) -> None:
        stripped = {}
        for key, value in data.items():
            kind = _SECTIONS.get(key)
            stripped[key] = kind() if kind is not None and isinstance(value, kind) else value
        top = self.validate(Topology, stripped, ())
        if isinstance(data.get("name"), str):
            self.parts.name = data["name"]
        elif top is not None:  # `name: 2024` or `name: true`: the text as written
            self.parts.name = top.name
        if top is not None:
            self.parts.provider = top.provider
            self.parts.ssl = top.ssl
            self.parts.build = top.build
            self.parts.provider_written = "provider" in data

    def _fabrics(self, raw: Any) -> None:
        for name, value in self._items("fabric", raw):
            if (
                isinstance(value, dict)
                and value.get("subnet") is not None
                and not self.parts.overlay
            ):
                self.parts.overlay = name
            fabric = self.validate(Fabric, {} if value is None else value, ("fabric", name))
            if fabric is not None:
                self.parts.fabric[name] = fabric

    def _nodes(self, raw: Any) -> None:
        for name, value in self._items("nodes", raw):
            path = ("nodes", name)
            links: list[Link] = []
            if isinstance(value, dict):
                links = self._links(name, value.get("links"))
                value = {**value, "links": []}
            node = self.validate(Node, value, path)
            if node is None:
                self.parts.all_nodes_ok = False
            else:
                node.links = links
                self.parts.nodes[name] = node

    def _ovn(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            if raw is not None:  # its type was reported by _top
                self.parts.broken.update(("switches", "routers"))
            return
        stripped = {
            k: {} if isinstance(v, dict) else [] if k == "acls" and isinstance(v, list) else v
            for k, v in raw.items()
        }
        self.validate(Ovn, stripped, ("ovn",))
        self._security(raw)
        for name, value in self._items("switches", raw.get("switches")):
            switch = self.validate(
                Switch, {} if value is None else value, ("ovn", "switches", name)
            )
            if switch is not None:
                self.parts.switches[name] = switch
        for name, value in self._items("routers", raw.get("routers")):
            self._router(name, value)
        self._ovn_extras(raw)

    def _ovn_extras(self, raw: dict[str, Any]) -> None:
        """ovn.ha_chassis_groups and ovn.load_balancers, one item at a time."""
        for name, value in self._items("ha_chassis_groups", raw.get("ha_chassis_groups")):
            path = ("ovn", "ha_chassis_groups", name)
            if not isinstance(value, dict) or not value:
                self.rep.add(
                    path,
                    f"expected a mapping of gateway node -> priority but got {show(value)}; "
                    "write it like {gw1: 30, gw2: 20}",
                )
                continue
            members: dict[str, int] = {}
            for node, priority in value.items():
                if isinstance(priority, bool) or not isinstance(priority, int):
                    self.rep.add(
                        (*path, node),
                        f"priority {show(priority)} is not a whole number; write it like 30",
                    )
                else:
                    members[str(node)] = priority
            self.parts.ha_chassis_groups[name] = members
        for name, value in self._items("load_balancers", raw.get("load_balancers")):
            lb = self.validate(LoadBalancer, value, ("ovn", "load_balancers", name))
            if lb is not None:
                self.parts.load_balancers[name] = lb

    def _security(self, raw: dict[str, Any]) -> None:
        """Port groups and address sets (name -> list of text), ACLs one by one."""
        for section, target in (
            ("port_groups", self.parts.port_groups),
            ("address_sets", self.parts.address_sets),
        ):
            for name, value in self._items(section, raw.get(section)):
                path = ("ovn", section, name)
                items = value if isinstance(value, list) else None
                if items is None or not all(isinstance(v, str | int) for v in items):
                    self.rep.add(
                        path,
                        f"expected a list of names or addresses but got {show(value)}; "
                        "write it like [vm1, vm2] or [10.0.0.10, 10.0.1.0/24]",
                    )
                    continue
                target[name] = [
                    str(v) if isinstance(v, str) else self.src.plain.get((*path, i), str(v))
                    for i, v in enumerate(items)
                ]
        acls = raw.get("acls")
        if isinstance(acls, list):
            self.parts.acls_written = len(acls)
            for index, value in enumerate(acls):
                acl = self.validate(Acl, value, ("ovn", "acls", index))
                if acl is not None:
                    self.parts.acls[index] = acl

    def _router(self, name: str, value: Any) -> None:
        path = ("ovn", "routers", name)
        ports: dict[str, RouterPort] = {}
        raw_ports = value.get("ports") if isinstance(value, dict) else None
        if isinstance(raw_ports, dict):
            self.parts.ports_written[name] = list(raw_ports)
            value = {**value, "ports": {}}
            for port_name, port_value in raw_ports.items():
                port = self.validate(RouterPort, port_value, (*path, "ports", port_name))
                if port is not None:
                    ports[port_name] = port
        router = self.validate(Router, value, path)
        if router is not None:
            router.ports = ports
            self.parts.routers[name] = router

    def _vms(self, raw: Any) -> None:
        for name, value in self._items("vms", raw):
            vm = self.validate(VM, value, ("vms", name))
            if vm is not None:
                self.parts.vms[name] = vm

    def _items(self, section: str, raw: Any) -> list[tuple[str, Any]]:
        """The (name, value) pairs of a mapping section; records the names as written."""
        if not isinstance(raw, dict):
            if raw is not None:  # its type was reported by the enclosing object
                self.parts.broken.add(section)
            return []
        self.parts.written[section] = list(raw)
        return list(raw.items())

    # --- node links: the accepted forms, normalised to list[Link] -------------------------

    def _links(self, node: str, raw: Any) -> list[Link]:
        path: Path = ("nodes", node, "links")
        items: list[tuple[str, Any, Path]] = []  # (fabric, address as written, where)
        if isinstance(raw, dict):
            items = [(fabric, address, (*path, fabric)) for fabric, address in raw.items()]
        elif isinstance(raw, list):
            for index, item in enumerate(raw):
                if isinstance(item, str):
                    items.append((item, None, (*path, index)))
                elif isinstance(item, dict) and len(item) == 1:
                    ((fabric, address),) = item.items()
                    items.append((fabric, address, (*path, index, fabric)))
                else:
                    self.rep.add(
                        (*path, index),
                        f"expected a fabric name or {{fabric: address}} but got {show(item)}; "
                        f"write it like overlay or {{overlay: 192.0.2.12/24}}",
                    )
        elif raw is not None:
            self.rep.add(
                path,
                f"expected a list of fabrics or a mapping fabric -> address but got {show(raw)}; "
                f"write {_LINK_FORMS}",
            )
        links = []
        for fabric, address, where in items:
            self.parts.link_lines[(node, len(links))] = self.src.line(where)
            links.append(Link(fabric=fabric, address=self._address(node, fabric, address, where)))
        return links

    def _address(self, node: str, fabric: str, value: Any, where: Path) -> Any:
        """A link address; a bare address takes the prefix length of the fabric's subnet."""
        if value is None:
            return None
        text = self.src.plain.get(where, value)
        if isinstance(text, str):
            subnet = self.parts.fabric[fabric].subnet if fabric in self.parts.fabric else None
            if "/" not in text and subnet is not None:
                text = f"{text}/{subnet.prefixlen}"
            v6 = subnet is not None and subnet.version == 6
            try:
                return IPv6Interface(text) if v6 else IPv4Interface(text)
            except ValueError:
                pass
            if v6 and not _is_ipv6(text):
                self.rep.add(
                    ("nodes", node, "links", fabric),
                    f"{show(value)} is not an IPv6 address but fabric {show(fabric)} is IPv6 "
                    f"({subnet}); use an address in {subnet}",
                    at=where,
                )
                return None
            if subnet is not None and _is_ipv6(text):
                self.rep.add(
                    ("nodes", node, "links", fabric),
                    f"{show(value)} is an IPv6 address but fabric {show(fabric)} is IPv4 "
                    f"({subnet}); use an IPv4 address in {subnet}",
                    at=where,
                )
                return None
        self.rep.add(
            ("nodes", node, "links", fabric),
            f"{show(value)} is not a valid IPv4 address with prefix; "
            f"write it like 192.0.2.12/24, or 192.0.2.12 to take the fabric's prefix",
            at=where,
        )
        return None

    # --- pydantic --------------------------------------------------------------------------

    def validate(self, cls: type[BaseModel], value: Any, path: Path) -> Any:
        """`cls` validated from `value`, or None after reporting why not."""
        value = _as_written(cls, value, path, self.src.plain)
        try:
            return cls.model_validate(value)
        except ValidationError as err:
            errors = err.errors(include_url=False)
            # `X | list[X]` fields (ECMP next hops): the unions with a list member
            listy = {_union_field(e["loc"]) for e in errors if _union_tag(e["loc"], "list[")}
            explained: set[tuple[Any, ...]] = set()  # a union: one error per value
            for error in errors:
                self._explain(cls, path, error, explained, listy)
            return None

    def _explain(
        self,
        cls: type[BaseModel],
        path: Path,
        error: Any,
        explained: set[tuple[Any, ...]],
        listy: set[tuple[Any, ...]],
    ) -> None:
        tags = [p for p in error["loc"] if isinstance(p, str) and "[" in p]
        if tags and _union_field(error["loc"]) in listy and _other_branch(tags[0], error):
            return  # a value of one form (a next hop or a list of them) fails only its own
        loc = _user_loc(error["loc"])
        if loc in explained:  # another member of the same union said it already
            return
        explained.add(loc)
        kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
        last = loc[-1] if loc else ""
        if kind == "extra_forbidden":
            model = _model_at(cls, loc[:-1])
            allowed = one_of(model.model_fields, limit=20) if model else "none"
            self.rep.add(
                (*path, *loc[:-1]),
                f"unknown key {last!r}; allowed keys: {allowed}",
                at=(*path, *loc),
            )
        elif kind == "missing":
            hint = _MISSING_HINTS.get(str(last), "a value")
            self.rep.add(
                (*path, *loc[:-1]), f"missing required key {last!r}; add {last}: with {hint}"
            )
        else:
            self.rep.add((*path, *loc), _message(kind, str(last), value, ctx, error["msg"]))


def _other_branch(tag: str, error: Any) -> bool:
    """For `X | list[X]` fields, pydantic reports both union branches: keep the one that
    matches what was written (a list, or one value)."""
    if tag.startswith("list["):
        return str(error["type"]) == "list_type"
    return isinstance(error.get("input"), list)


def _message(kind: str, field_name: str, value: Any, ctx: dict[str, Any], msg: str) -> str:
    """One sentence for a pydantic error that is not about a missing or unknown key."""
    shown = show(value)
    if kind == "literal_error":
        choices = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"unknown {field_name} {shown}; use one of {choices}"
    if kind in _IP_WORDS:
        what, example = _IP_WORDS[kind]
        if field_name in _IP_OR_WORD:
            what, example = f"{what}, nor {_IP_OR_WORD[field_name]}", example.split(" or ")[0]
        return f"{shown} is not {what}; write it like {example}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        example = _EXAMPLES.get(str(ctx.get("class_name", "")), "{key: value}")
        return f"expected a mapping but got {shown}; write it like {example}"
    if kind == "list_type":
        return f"expected a list but got {shown}; write it like [a, b]"
    if kind in ("string_type", "string_too_long"):
        return f"expected text but got {shown}; write a quoted string"
    if kind.startswith("int_") or kind == "finite_number":
        return f"expected a whole number but got {shown}; write digits only"
    if kind.startswith("bool_"):
        return f"expected true or false but got {shown}; write true or false"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{shown} is too small; use at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{shown} is too large; use at most {ctx.get('le', ctx.get('lt'))}"
    return f"{shown} is not accepted here ({msg.lower().rstrip('.')}); fix the value"


def _is_ipv6(text: str) -> bool:
    try:
        IPv6Interface(text)
    except ValueError:
        return False
    return True


def _union_tag(loc: tuple[Any, ...], prefix: str = "") -> str | None:
    """The first union member tag in an error's location (starting with `prefix`)."""
    for part in loc:
        if isinstance(part, str) and _UNION_TAG.match(part):
            return part if part.startswith(prefix) else None
    return None


def _union_field(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The location of the union-typed value itself (up to the member tag)."""
    tag = _union_tag(loc)
    return _user_loc(loc[: loc.index(tag)] if tag else loc)


def _user_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """An error's location as keys the user wrote: without pydantic's union member tags."""
    return tuple(
        part
        for part in loc
        if isinstance(part, str | int) and not (isinstance(part, str) and _UNION_TAG.match(part))
    )


def _unwrap(tp: Any) -> Any:
    """`X | None` -> X; `Annotated[X, ...]` -> X."""
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, UnionType):
        args = [a for a in get_args(tp) if a is not NoneType]
        return args[0] if len(args) == 1 else tp
    return tp


def _is_text_union(tp: Any) -> bool:
    """`IPvAnyInterface | Literal["dynamic"]` and the like: text in every member."""
    if get_origin(tp) not in (Union, UnionType):
        return False
    members = [a for a in get_args(tp) if a is not NoneType]
    return all(
        m in _TEXT_TYPES
        or (get_origin(m) is Literal and all(isinstance(v, str) for v in get_args(m)))
        for m in members
    )


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _model_at(cls: type[BaseModel], loc: Path) -> type[BaseModel] | None:
    """The model class that validates the value at `loc` inside `cls`."""
    tp: Any = cls
    for part in loc:
        tp = _unwrap(tp)
        if _is_model(tp):
            field_info = tp.model_fields.get(part) if isinstance(part, str) else None
            if field_info is None:
                return None
            tp = field_info.annotation
        elif get_origin(tp) in (dict, list):
            tp = get_args(tp)[-1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if _is_model(tp) else None


def _as_written(tp: Any, value: Any, path: Path, plain: dict[Path, str]) -> Any:
    """`value` with unquoted scalars put back as text where type `tp` expects text."""
    tp = _unwrap(tp)
    if tp in _TEXT_TYPES or _is_text_union(tp):
        return value if isinstance(value, str) else plain.get(path, value)
    if _is_model(tp) and isinstance(value, dict):
        fields = tp.model_fields
        return {
            k: _as_written(fields[k].annotation, v, (*path, k), plain) if k in fields else v
            for k, v in value.items()
        }
    if get_origin(tp) is dict and isinstance(value, dict):
        inner = get_args(tp)[1]
        return {k: _as_written(inner, v, (*path, k), plain) for k, v in value.items()}
    if get_origin(tp) is list and isinstance(value, list):
        inner = get_args(tp)[0]
        return [_as_written(inner, v, (*path, i), plain) for i, v in enumerate(value)]
    return value
