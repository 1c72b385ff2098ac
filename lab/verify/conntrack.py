"""`lab conntrack NODE`: a chassis' connection tracking entries, each with the logical port
its zone belongs to.

The userspace datapath keeps its own conntrack (`ovs-appctl dpctl/dump-conntrack`), one
zone per logical port that has stateful ACLs; ovn-controller records which zone is whose
in br-int's external_ids (`ct-zone-web1="1"`, `ct-zone-<datapath>_dnat="3"` for routers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.errors import UserError
from lab.ovn.daemons import control_socket
from lab.ovn.db import json_rows, map_of
from lab.state.store import node_dir
from lab.verify.context import LabContext

_TUPLE = re.compile(r"(orig|reply)=\(([^)]*)\)")
_ZONE_KEY = re.compile(r"^ct-zone-(.+)$")


@dataclass
class Entry:
    proto: str
    src: str
    dst: str
    sport: int | None  # tcp/udp ports; for ICMP: None (id/type in `extra`)
    dport: int | None
    reply_src: str
    reply_dst: str
    zone: int
    state: str  # TCP state (protoinfo), or "-"
    extra: str = ""  # icmp id/type/code, mark, labels
    port: str | None = None  # the logical port (or router datapath) the zone belongs to


def parse_conntrack(text: str) -> list[Entry]:
    """Lines of `ovs-appctl dpctl/dump-conntrack`, e.g.
    tcp,orig=(src=10.0.0.20,dst=10.0.0.11,sport=37356,dport=8080),reply=(...),zone=4,
    protoinfo=(state=TIME_WAIT)"""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or "orig=(" not in line:
            continue
        proto = line.split(",", 1)[0]
        tuples = {side: dict(_pairs(body)) for side, body in _TUPLE.findall(line)}
        rest = _TUPLE.sub("", line)
        fields = dict(_pairs(re.sub(r"protoinfo=\(([^)]*)\)", r"\1", rest)))
        orig, reply = tuples.get("orig", {}), tuples.get("reply", {})
        extra = [f"{k}={orig[k]}" for k in ("id", "type", "code") if k in orig]
        extra += [f"{k}={fields[k]}" for k in ("mark", "labels") if k in fields]
        entries.append(
            Entry(
                proto=proto,
                src=orig.get("src", "?"),
                dst=orig.get("dst", "?"),
                sport=int(orig["sport"]) if "sport" in orig else None,
                dport=int(orig["dport"]) if "dport" in orig else None,
                reply_src=reply.get("src", "?"),
                reply_dst=reply.get("dst", "?"),
                zone=int(fields.get("zone", 0)),
                state=fields.get("state", "-"),
                extra=",".join(extra),
            )
        )
    return entries


def _pairs(text: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in text.split(",") if "=" in p]  # type: ignore[misc]


def parse_zones(external_ids: dict[str, str]) -> dict[int, str]:
    """br-int external_ids -> zone -> logical port (or `<datapath>_dnat/_snat`)."""
    zones = {}
    for key, value in external_ids.items():
        m = _ZONE_KEY.match(key)
        if m and value.strip('"').isdigit():
            zones[int(value.strip('"'))] = m.group(1)
    return zones


def name_router_zones(zones: dict[int, str], datapaths: dict[str, str]) -> dict[int, str]:
    """`<uuid>_dnat` -> `router1 (dnat)` where the uuid is a known datapath."""
    named = {}
    for zone, owner in zones.items():
        base, _, kind = owner.rpartition("_")
        if kind in ("dnat", "snat") and base in datapaths:
            owner = f"{datapaths[base]} ({kind})"
        named[zone] = owner
    return named


def _datapath_names(ctx: LabContext) -> dict[str, str]:
    """SB datapath uuid and NB router/switch uuid -> name (how zones name routers)."""
    from lab.ovn.db import list_rows, uuid_of

    names: dict[str, str] = {}
    for uuid, ids in (
        list_rows("ovn-sbctl", "_uuid,external_ids", "Datapath_Binding", db=ctx.sb) or []
    ):
        data = map_of(ids)
        name = data.get("name")
        if not name:
            continue
        names[uuid_of(uuid) or ""] = name
        for key in ("logical-router", "logical-switch"):
            if key in data:
                names[data[key]] = name
    return names


def conntrack(ctx: LabContext, node: str) -> list[Entry]:
    info = ctx.info.nodes.get(node)
    if info is None or info.role not in ("chassis", "gateway"):
        chassis = [n for n, i in ctx.info.nodes.items() if i.role in ("chassis", "gateway")]
        raise UserError(
            f"'{node}' is not a chassis of lab {ctx.state.name} (chassis: {', '.join(chassis)})"
        )
    socket = control_socket(node_dir(ctx.state, node), "ovs-vswitchd")
    target = ["-t", str(socket)] if socket else []
    dump = ctx.run_in(node, ["ovs-appctl", *target, "dpctl/dump-conntrack"])
    if dump.returncode != 0:
        raise UserError(f"cannot read {node}'s conntrack: {(dump.stderr or dump.stdout).strip()}")
    ids = ctx.run_in(
        node, ["ovs-vsctl", "--format=json", "--columns=external_ids", "list", "Bridge", "br-int"]
    )
    rows = json_rows(ids.stdout) if ids.returncode == 0 else []
    zones = parse_zones(map_of(rows[0][0]) if rows else {})
    zones = name_router_zones(zones, _datapath_names(ctx))
    entries = parse_conntrack(dump.stdout)
    for entry in entries:
        entry.port = zones.get(entry.zone)
    return entries


def show_port(port: int | None) -> str:
    return f":{port}" if port is not None else ""
