"""Semantic rules for VM services and the `connect` check (and, with them, security groups):
each problem one sentence naming the value and the fix, reported through the Reporter."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, ip_network
from typing import Any

from lab.topology.problems import Path, Reporter, one_of, show
from lab.topology.shape import Parts

PROTOS = ("tcp", "udp")
CONNECT_EXPECT = ("reach", "no-reach", "rejected")
CONNECT_KEYS = ("from", "to", "port", "proto", "expect", "timeout", "count")


# Names an OVN match refers to as @NAME / $NAME: the expression lexer's identifiers.
REF_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
REF_RULE = "use letters, digits and '_' (it is written @NAME or $NAME in matches)"
_REFS = re.compile(r"([@$])([A-Za-z_][A-Za-z0-9_]*)")


def validate_security(parts: Parts, rep: Reporter) -> None:
    _services(parts, rep)
    _connect_checks(parts, rep)
    _port_groups(parts, rep)
    _address_sets(parts, rep)
    _acls(parts, rep)


def _written(parts: Parts, section: str) -> list[str]:
    return parts.written.get(section, [])


def _port_groups(parts: Parts, rep: Reporter) -> None:
    vms = _written(parts, "vms")
    for name in _written(parts, "port_groups"):
        if not REF_NAME.fullmatch(name):
            rep.add(
                ("ovn", "port_groups", name),
                f"port group name {show(name)} is not valid; {REF_RULE}",
            )
    for name, members in parts.port_groups.items():
        seen: set[str] = set()
        for index, member in enumerate(members):
            path: Path = ("ovn", "port_groups", name, index)
            if member not in vms and "vms" not in parts.broken:
                rep.add(
                    path,
                    f"{show(member)} is not a VM; a port group holds VMs' ports"
                    + (f", use some of {one_of(vms)}" if vms else ", define VMs under vms:"),
                )
            elif member in seen:
                rep.add(path, f"VM {member} is listed twice in port group {name}; list it once")
            seen.add(member)


def _address_sets(parts: Parts, rep: Reporter) -> None:
    for name in _written(parts, "address_sets"):
        if not REF_NAME.fullmatch(name):
            rep.add(
                ("ovn", "address_sets", name),
                f"address set name {show(name)} is not valid; {REF_RULE}",
            )
    for name, addresses in parts.address_sets.items():
        for index, text in enumerate(addresses):
            try:
                ip_network(text, strict=True)
            except ValueError:
                rep.add(
                    ("ovn", "address_sets", name, index),
                    f"{show(text)} is not an IP address or network; write it like 10.0.0.10 or "
                    "10.0.1.0/24 (host bits zero)",
                )


def _acls(parts: Parts, rep: Reporter) -> None:
    groups, switches = _written(parts, "port_groups"), _written(parts, "switches")
    seen: dict[tuple[str, str, int, str], int] = {}
    for index, acl in parts.acls.items():
        path: Path = ("ovn", "acls", index)
        if (acl.port_group is None) == (acl.switch is None):
            rep.add(
                path,
                "an ACL is on exactly one of port_group: or switch:; "
                + ("remove one of them" if acl.port_group else "add one"),
            )
            continue
        if acl.port_group is not None and not _exists(parts, "port_groups", acl.port_group):
            rep.add(
                (*path, "port_group"),
                f"port group {show(acl.port_group)} does not exist; define it under "
                "ovn.port_groups:" + (f" or use one of {one_of(groups)}" if groups else ""),
            )
        if acl.switch is not None and not _exists(parts, "switches", acl.switch):
            rep.add(
                (*path, "switch"),
                f"switch {show(acl.switch)} does not exist; define it under ovn.switches:"
                + (f" or use one of {one_of(switches)}" if switches else ""),
            )
        if acl.label is not None and acl.action not in ("allow", "allow-related"):
            rep.add(
                (*path, "label"),
                f"label is only for allow and allow-related ACLs (ovn-nbctl refuses it on "
                f"{acl.action}); remove it or change the action",
            )
        if acl.name is not None and not acl.name.strip():
            rep.add((*path, "name"), "the ACL name is empty; give it a name or remove name:")
        _match_refs(parts, rep, path, acl.match)
        key = (acl.entity, acl.direction, acl.priority, acl.match)
        first = seen.setdefault(key, index)
        if first != index:
            rep.add(
                path,
                f"the same ACL (on {acl.entity}, {acl.direction}, priority {acl.priority}, "
                f"same match) is already ovn.acls.{first}; ovn-nbctl refuses duplicates, remove it",
            )


def _exists(parts: Parts, section: str, name: str) -> bool:
    return section in parts.broken or name in _written(parts, section)


def _match_refs(parts: Parts, rep: Reporter, path: Path, match: str) -> None:
    """@GROUP and $SET in a match must exist ($GROUP_ip4 / _ip6: a group's addresses)."""
    groups, sets = _written(parts, "port_groups"), _written(parts, "address_sets")
    for sigil, name in _REFS.findall(match):
        if sigil == "@" and name not in groups and "port_groups" not in parts.broken:
            rep.add(
                (*path, "match"),
                f"the match names port group @{name}, which does not exist; define it under "
                "ovn.port_groups:" + (f" or use one of {one_of(groups)}" if groups else ""),
            )
        if sigil == "$":
            base = re.sub(r"_ip[46]$", "", name)
            if name not in sets and base not in groups and "address_sets" not in parts.broken:
                rep.add(
                    (*path, "match"),
                    f"the match names address set ${name}, which does not exist; define it "
                    "under ovn.address_sets:" + (f" or use one of {one_of(sets)}" if sets else ""),
                )


def _services(parts: Parts, rep: Reporter) -> None:
    for name, vm in parts.vms.items():
        seen: dict[tuple[str, int], int] = {}
        for index, service in enumerate(vm.services):
            path: Path = ("vms", name, "services", index)
            if (service.tcp is None) == (service.udp is None):
                rep.add(
                    path,
                    "a service is exactly one of {tcp: PORT} or {udp: PORT}; "
                    "write each as its own list item",
                )
                continue
            key = (service.proto, service.port)
            first = seen.setdefault(key, index)
            if first != index:
                rep.add(
                    (*path, service.proto),
                    f"{service.proto} port {service.port} is already a service of VM {name} "
                    f"(services.{first}); list each port once",
                )


def vm_services(parts: Parts, vm: str) -> set[tuple[str, int]]:
    return {
        (s.proto, s.port)
        for s in (parts.vms[vm].services if vm in parts.vms else [])
        if (s.tcp is None) != (s.udp is None)
    }


def _connect_checks(parts: Parts, rep: Reporter) -> None:
    """connect checks, and the v2 keys of trace and acl_log checks."""
    for path, kind, spec in parts.check_specs():
        if kind == "connect":
            _connect(parts, rep, path, spec)
        elif kind == "trace":
            _trace(rep, path, spec)
        elif kind == "acl_log":
            _acl_log(parts, rep, path, spec)


TRACE_VERDICTS = ("allow", "drop", "reject")
CT_FLAGS = ("trk", "new", "est", "rel", "rpl", "inv")


def _trace(rep: Reporter, path: Path, spec: dict[str, Any]) -> None:
    proto = spec.get("proto")
    if proto is not None and proto not in PROTOS:
        rep.add((*path, "proto"), f"unknown proto {show(proto)}; use one of tcp, udp")
    if proto is not None and "port" not in spec:
        rep.add(path, "a trace with proto: needs port: too (the destination port)")
    port = spec.get("port")
    if port is not None and (not isinstance(port, int) or not 1 <= port <= 65535):
        rep.add((*path, "port"), f"port {show(port)} is not a port number; use 1 to 65535")
    verdict = spec.get("verdict")
    if verdict is not None and verdict not in TRACE_VERDICTS:
        rep.add(
            (*path, "verdict"),
            f"unknown verdict {show(verdict)}; use one of {one_of(TRACE_VERDICTS)}",
        )
    ct = spec.get("ct")
    if ct is not None:
        flags = [f for f in re.split(r"[,\s]+", str(ct)) if f]
        bad = [f for f in flags if f not in CT_FLAGS]
        if bad or not flags:
            rep.add(
                (*path, "ct"),
                f"unknown ct state {show(ct)}; write flags like new or est,rpl "
                f"(of {one_of(CT_FLAGS)})",
            )


def _acl_log(parts: Parts, rep: Reporter, path: Path, spec: dict[str, Any]) -> None:
    logging = [a.name for a in parts.acls.values() if a.name and (a.log or a.severity)]
    name = spec.get("name")
    if name is None:
        rep.add(path, "the acl_log check needs name:, the name of an ACL with log: true")
    elif name not in logging and len(parts.acls) == parts.acls_written:  # all ACLs shaped
        rep.add(
            (*path, "name"),
            f"no ACL named {show(name)} logs; give an ACL name: {name} and log: true"
            + (f", or use one of {one_of(logging)}" if logging else ""),
        )


def _connect(parts: Parts, rep: Reporter, path: Path, spec: dict[str, Any]) -> None:
    for key in spec:
        if key not in CONNECT_KEYS:
            rep.add(
                (*path, key),
                f"unknown key {key!r} in a connect check; allowed keys: {one_of(CONNECT_KEYS)}",
            )
    for key in ("from", "to", "port"):
        if key not in spec:
            rep.add(path, f"the connect check needs {key}:; add it, e.g. {_EXAMPLE}")
    proto = spec.get("proto", "tcp")
    if proto not in PROTOS:
        rep.add((*path, "proto"), f"unknown proto {show(proto)}; use one of tcp, udp")
    expect = spec.get("expect", "reach")
    if expect not in CONNECT_EXPECT:
        rep.add(
            (*path, "expect"), f"unknown expect {show(expect)}; use one of {one_of(CONNECT_EXPECT)}"
        )
    port = spec.get("port")
    if "port" in spec and (not isinstance(port, int) or isinstance(port, bool)):
        rep.add((*path, "port"), f"port {show(port)} is not a whole number; write it like 8080")
        return
    if port is not None and not 1 <= port <= 65535:
        rep.add((*path, "port"), f"port {show(port)} is out of range; use 1 to 65535")
        return
    target = spec.get("to")
    hosts = [n for n, node in parts.nodes.items() if node.role == "host"]
    if isinstance(target, str) and not (
        target in parts.written.get("vms", []) or target in hosts or _is_address(target)
    ):
        rep.add(
            (*path, "to"),
            f"{show(target)} is not a VM, host node or IPv4 address; use one of "
            f"{one_of([*parts.written.get('vms', []), *hosts])} or an address",
        )
        return
    if (
        isinstance(target, str)
        and target in parts.vms
        and proto in PROTOS
        and port is not None
        and (proto, port) not in vm_services(parts, target)
    ):
        have = sorted(f"{p}/{n}" for p, n in vm_services(parts, target))
        rep.add(
            (*path, "to"),
            f"VM {target} has no {proto}/{port} service, so nothing could answer; add "
            f"{{{proto}: {port}}} to its services:"
            + (f" or use one of {', '.join(have)}" if have else ""),
        )


def _is_address(text: str) -> bool:
    try:
        IPv4Address(text)
    except ValueError:
        return False
    return True


_EXAMPLE = "connect: {from: vm3, to: vm1, port: 8080, proto: tcp}"
