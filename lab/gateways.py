"""Distributed gateway ports: their chassis by priority, which one is active, and BFD."""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.lifecycle import node_dir
from lab.ovn.wait import json_rows, nb_db, sb_db
from lab.runner import run
from lab.state import LabState
from lab.targets import netns_env


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


def _uuid(value: object) -> str | None:
    return str(value[1]) if isinstance(value, list) and value[:1] == ["uuid"] else None


def _uuids(value: object) -> list[str]:
    if isinstance(value, list) and value[:1] == ["set"]:
        return [str(v[1]) for v in value[1]]
    one = _uuid(value)
    return [one] if one else []


def _map(value: object) -> dict[str, str]:
    if isinstance(value, list) and value[:1] == ["map"]:
        return {str(k): str(v) for k, v in value[1]}
    return {}


def _ctl(tool: str, db: str, table: str, columns: str) -> list[list[object]]:
    proc = run(
        [
            tool,
            f"--db={db}",
            "--timeout=10",
            "--format=json",
            f"--columns={columns}",
            "list",
            table,
        ],
        check=False,
        timeout=15,
    )
    return json_rows(proc.stdout) if proc.returncode == 0 else []


def active_chassis(state: LabState, port: str) -> str | None:
    """Where the chassisredirect port cr-<port> is bound: the active gateway."""
    central = node_dir(state, state.info["central"])
    chassis = {
        _uuid(u): str(n) for u, n in _ctl("ovn-sbctl", sb_db(central), "Chassis", "_uuid,name")
    }
    for lport, ch in _ctl("ovn-sbctl", sb_db(central), "Port_Binding", "logical_port,chassis"):
        if lport == f"cr-{port}":
            return chassis.get(_uuid(ch))
    return None


def gateway_report(state: LabState) -> GatewayReport:
    central = node_dir(state, state.info["central"])
    nb = nb_db(central)
    gws = {
        _uuid(u): (str(ch), int(prio))
        for u, ch, prio in _ctl("ovn-nbctl", nb, "Gateway_Chassis", "_uuid,chassis_name,priority")  # type: ignore[call-overload]
    }
    report = GatewayReport()
    for name, gw_refs in _ctl("ovn-nbctl", nb, "Logical_Router_Port", "name,gateway_chassis"):
        chassis = sorted((gws[u] for u in _uuids(gw_refs) if u in gws), key=lambda c: -c[1])
        if chassis:
            report.ports.append(GatewayPort(str(name), chassis, active_chassis(state, str(name))))
    by_ip = {info["encap_ip"]: n for n, info in state.info["nodes"].items() if info["encap_ip"]}
    stopped = set(state.info.get("stopped", []))
    for node, info in state.info["nodes"].items():
        if info["role"] not in ("chassis", "gateway") or node in stopped:
            continue
        netns, env = netns_env(state, node)
        proc = run(
            [
                "ovs-vsctl",
                "--format=json",
                "--columns=type,options,bfd,bfd_status",
                "list",
                "Interface",
            ],
            netns=netns,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            continue
        for kind, options, bfd, status in json_rows(proc.stdout):
            if kind != "geneve" or _map(bfd).get("enable") != "true":
                continue
            st = _map(status)
            peer = by_ip.get(_map(options).get("remote_ip", ""), "?")
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
