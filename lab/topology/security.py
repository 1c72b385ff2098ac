"""Semantic rules for VM services and the `connect` check (and, with them, security groups):
each problem one sentence naming the value and the fix, reported through the Reporter."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from lab.topology.problems import Path, Reporter, one_of, show
from lab.topology.shape import Parts

PROTOS = ("tcp", "udp")
CONNECT_EXPECT = ("reach", "no-reach", "rejected")
CONNECT_KEYS = ("from", "to", "port", "proto", "expect", "timeout", "count")


def validate_security(parts: Parts, rep: Reporter) -> None:
    _services(parts, rep)
    _connect_checks(parts, rep)


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
    for index, item in enumerate(parts.checks):
        if isinstance(item, dict) and len(item) == 1 and isinstance(item.get("connect"), dict):
            _connect(parts, rep, ("checks", index, "connect"), item["connect"])


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
