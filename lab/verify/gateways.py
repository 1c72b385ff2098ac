"""Gateways: distributed gateway ports (gateway_chassis or an HA chassis group) and
gateway routers (options:chassis), their chassis by priority, which one is active, and
BFD (between chassis over Geneve, and to router next hops)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.ovn.db import list_rows, map_of, uuid_of, uuids_of
from lab.ovn.wait import nb_db, sb_db
from lab.providers.targets import centrals_of, netns_env
from lab.state.store import LabState


@dataclass
class GatewayPort:
    port: str
    chassis: list[tuple[str, int]]  # (chassis, priority), highest first
    active: str | None  # chassis the chassisredirect port is bound to
    kind: str = "gateway_chassis"  # | "ha_chassis_group NAME" | "gateway router NAME"


@dataclass
class NextHopBfd:
    """A `bfd: true` route's next hop: OVN's BFD row, and the speaker's own view."""

    port: str
    nexthop: str
    status: str  # NB BFD status: up | down | admin_down | "" (not yet)
    speaker: str | None = None  # host node answering it
    speaker_state: str = ""


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
    nexthops: list[NextHopBfd] = field(default_factory=list)


def active_chassis(state: LabState, port: str) -> str | None:
    """The active gateway of a router port: where its chassisredirect port cr-<port> is
    bound, or, on a gateway router (no cr- port), where the port itself (type l3gateway)
    is bound."""
    central = centrals_of(state)
    chassis = {
        uuid_of(u): str(n)
        for u, n in list_rows("ovn-sbctl", "_uuid,name", "Chassis", db=sb_db(central)) or []
    }
    rows = (
        list_rows("ovn-sbctl", "logical_port,type,chassis", "Port_Binding", db=sb_db(central)) or []
    )
    bound = {str(lport): (str(kind), chassis.get(uuid_of(ch))) for lport, kind, ch in rows}
    if f"cr-{port}" in bound:
        return bound[f"cr-{port}"][1]
    kind, where = bound.get(port, ("", None))
    return where if kind == "l3gateway" else None


def gateway_report(state: LabState, nexthops: bool = True) -> GatewayReport:
    """`nexthops`: also the BFD sessions to router next hops (asks each speaker)."""
    central = centrals_of(state)
    nb = nb_db(central)
    report = GatewayReport()
    report.ports = gateway_ports(state, nb)
    if nexthops:
        report.nexthops = nexthop_bfd(state, nb)
    by_ip = {info.encap_ip: n for n, info in state.info.nodes.items() if info.encap_ip}
    stopped = set(state.info.stopped)
    for node, info in state.info.nodes.items():
        if info.role not in ("chassis", "gateway") or node in stopped:
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
        report = gateway_report(state, nexthops=False)
        sessions = [b for b in report.bfd if node in (b.node, b.peer)]
        if sessions and all(b.state == "up" for b in sessions):
            return round(time.monotonic() - start, 2)
        time.sleep(0.3)
    return None


def _rows(columns: str, table: str, db: str) -> list[list[object]]:
    return list_rows("ovn-nbctl", columns, table, db=db) or []


def gateway_ports(state: LabState, nb: str) -> list[GatewayPort]:
    """Every router port handled on one chassis at a time, with its candidates."""
    gws = {
        uuid_of(u): (str(ch), int(prio))  # type: ignore[call-overload]
        for u, ch, prio in _rows("_uuid,chassis_name,priority", "Gateway_Chassis", nb)
    }
    ha = {
        uuid_of(u): (str(ch), int(prio))  # type: ignore[call-overload]
        for u, ch, prio in _rows("_uuid,chassis_name,priority", "HA_Chassis", nb)
    }
    groups = {
        uuid_of(u): (str(name), [ha[c] for c in uuids_of(refs) if c in ha])
        for u, name, refs in _rows("_uuid,name,ha_chassis", "HA_Chassis_Group", nb)
    }
    ports: list[GatewayPort] = []
    lrps = {}
    for uuid, name, gw_refs, group_ref in _rows(
        "_uuid,name,gateway_chassis,ha_chassis_group", "Logical_Router_Port", nb
    ):
        lrps[uuid_of(uuid)] = str(name)
        chassis = [gws[u] for u in uuids_of(gw_refs) if u in gws]
        kind = "gateway_chassis"
        group = groups.get(next(iter(uuids_of(group_ref)), None))
        if group is not None:
            kind, chassis = f"ha_chassis_group {group[0]}", group[1]
        if chassis:
            chassis = sorted(chassis, key=lambda c: -c[1])
            ports.append(GatewayPort(str(name), chassis, active_chassis(state, str(name)), kind))
    for router, options, port_refs in _rows("name,options,ports", "Logical_Router", nb):
        where = map_of(options).get("chassis")
        if not where:
            continue
        for ref in uuids_of(port_refs):
            if ref in lrps:
                port = lrps[ref]
                kind = f"gateway router {router}"
                ports.append(GatewayPort(port, [(where, 0)], active_chassis(state, port), kind))
    return sorted(ports, key=lambda p: p.port)


def nexthop_bfd(state: LabState, nb: str) -> list[NextHopBfd]:
    """NB BFD rows (`bfd: true` routes) and, where a host node of the lab answers them,
    what its bfdd says."""
    from lab.providers.netns import bfd

    rows = _rows("logical_port,dst_ip,status", "BFD", nb)
    if not rows:
        return []
    speakers: dict[str, str] = {}  # address -> host node
    for name, info in state.info.nodes.items():
        if info.role == "host":
            for link in info.links.values():
                if link.address:
                    speakers[str(link.address).split("/")[0]] = name
    stopped = set(state.info.stopped)
    seen: dict[str, dict[str, str]] = {}
    result = []
    for port, dst, status in rows:
        node = speakers.get(str(dst))
        speaker_state = ""
        if node is not None and node not in stopped:
            if node not in seen:
                seen[node] = bfd.peer_states(state, node)
            speaker_state = next(iter(seen[node].values()), "") if seen[node] else ""
        text = status if isinstance(status, str) else ""
        result.append(NextHopBfd(str(port), str(dst), text, node, speaker_state))
    return sorted(result, key=lambda b: (b.port, b.nexthop))
