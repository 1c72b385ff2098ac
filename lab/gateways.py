"""Distributed gateway ports: their chassis by priority, which one is active, and BFD."""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.ovn.db import list_rows, map_of, uuid_of, uuids_of
from lab.ovn.wait import nb_db, sb_db
from lab.state import LabState
from lab.targets import centrals_of, netns_env


@dataclass
class GatewayPort:
    port: str
    chassis: list[tuple[str, int]]  # (chassis, priority), highest first
    active: str | None  # chassis the chassisredirect port is bound to


@dataclass
class BfdSession:
    node: str
    peer: str
    state: str  # up | down | init | admin_down | "" when BFD is not enabled
    forwarding: bool


@dataclass
class GatewayReport:
    ports: list[GatewayPort] = field(default_factory=list)
    bfd: list[BfdSession] = field(default_factory=list)


def active_chassis(state: LabState, port: str) -> str | None:
    """Where the chassisredirect port cr-<port> is bound: the active gateway."""
    central = centrals_of(state)
    chassis = {
        uuid_of(u): str(n)
        for u, n in list_rows("ovn-sbctl", "_uuid,name", "Chassis", db=sb_db(central)) or []
    }
    for lport, ch in (
        list_rows("ovn-sbctl", "logical_port,chassis", "Port_Binding", db=sb_db(central)) or []
    ):
        if lport == f"cr-{port}":
            return chassis.get(uuid_of(ch))
    return None


def gateway_report(state: LabState) -> GatewayReport:
    central = centrals_of(state)
    nb = nb_db(central)
    gws = {
        uuid_of(u): (str(ch), int(prio))
        for u, ch, prio in list_rows(
            "ovn-nbctl", "_uuid,chassis_name,priority", "Gateway_Chassis", db=nb
        )
        or []  # type: ignore[call-overload]
    }
    report = GatewayReport()
    for name, gw_refs in (
        list_rows("ovn-nbctl", "name,gateway_chassis", "Logical_Router_Port", db=nb) or []
    ):
        chassis = sorted((gws[u] for u in uuids_of(gw_refs) if u in gws), key=lambda c: -c[1])
        if chassis:
            report.ports.append(GatewayPort(str(name), chassis, active_chassis(state, str(name))))
    by_ip = {info["encap_ip"]: n for n, info in state.info["nodes"].items() if info["encap_ip"]}
    stopped = set(state.info.get("stopped", []))
    for node, info in state.info["nodes"].items():
        if info["role"] not in ("chassis", "gateway") or node in stopped:
            continue
        netns, env = netns_env(state, node)
        rows = list_rows(
            "ovs-vsctl", "type,options,bfd,bfd_status", "Interface", netns=netns, env=env
        )
        for kind, options, bfd, status in rows or []:
            if kind != "geneve" or map_of(bfd).get("enable") != "true":
                continue
            st = map_of(status)
            peer = by_ip.get(map_of(options).get("remote_ip", ""), "?")
            report.bfd.append(
                BfdSession(node, peer, st.get("state", ""), st.get("forwarding") == "true")
            )
    return report


def wait_bfd_up(state: LabState, node: str, timeout: float = 15.0) -> float | None:
    """Seconds until every BFD session to or from `node` is up (failover depends on them);
    None if they were not all up within `timeout`."""
    import time

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        sessions = [b for b in gateway_report(state).bfd if node in (b.node, b.peer)]
        if sessions and all(b.state == "up" for b in sessions):
            return round(time.monotonic() - start, 2)
        time.sleep(0.3)
    return None
