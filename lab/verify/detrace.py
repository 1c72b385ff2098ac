"""`lab flows NODE --detrace`: each OpenFlow flow of br-int with the Southbound record it came
from, the way ovn-detrace does it: ovn-controller sets a flow's cookie to the first 32 bits
of the UUID of the SB row it translated (a Logical_Flow, or a Port_Binding, Mac_Binding,
Multicast_Group... for physical flows). Flows are parsed with the `ovs` package's
ovs.flow.ofp (the parser ovs-flowviz uses), not with regexes of our own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lab.errors import UserError
from lab.runner import run

# SB tables whose rows own OpenFlow flows (ovn-detrace's cookie handlers)
OWNER_TABLES = ("Port_Binding", "Mac_Binding", "Multicast_Group", "Chassis", "Datapath_Binding")


@dataclass
class Origin:
    kind: str  # Logical_Flow | Port_Binding | ...
    uuid: str
    text: str  # one line for people; "{dp}" where the datapath goes
    datapaths: dict[int, str] = field(default_factory=dict)  # tunnel key -> name

    def line(self, metadata: int | None) -> str:
        """The text for one flow: a logical flow of a datapath group is named by the
        datapath the flow's metadata selects."""
        if metadata is not None and metadata in self.datapaths:
            dp = self.datapaths[metadata]
        else:
            dp = ",".join(sorted(self.datapaths.values())) or "?"
        return self.text.replace("{dp}", dp)


def _sb_json(sb: str, table: str, columns: str) -> list[dict[str, Any]]:
    proc = run(
        ["ovn-sbctl", f"--db={sb}", "--format=json", f"--columns={columns}", "list", table],
        check=False,
        timeout=30,
    )
    if proc.returncode != 0:
        raise UserError("the Southbound DB cannot be read; see `lab status`")
    data = json.loads(proc.stdout)
    return [dict(zip(data["headings"], row, strict=True)) for row in data["data"]]


def _uuid(value: Any) -> str:
    return str(value[1]) if isinstance(value, list) and value[:1] == ["uuid"] else ""


def _map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value[1]} if isinstance(value, list) else {}


def origins(sb: str) -> dict[int, list[Origin]]:
    """cookie (first 32 bits of a UUID) -> the SB rows it can stand for."""
    datapaths: dict[str, tuple[int, str]] = {}  # uuid -> (tunnel key, name)
    for row in _sb_json(sb, "Datapath_Binding", "_uuid,external_ids,tunnel_key"):
        ids = _map(row["external_ids"])
        key = int(row["tunnel_key"])
        datapaths[_uuid(row["_uuid"])] = (key, ids.get("name") or f"dp{key}")
    groups = {
        _uuid(row["_uuid"]): row for row in _sb_json(sb, "Logical_DP_Group", "_uuid,datapaths")
    }
    found: dict[int, list[Origin]] = {}

    def add(uuid: str, kind: str, text: str, dps: dict[int, str] | None = None) -> None:
        found.setdefault(int(uuid[:8], 16), []).append(Origin(kind, uuid, text, dps or {}))

    columns = (
        "_uuid,logical_datapath,logical_dp_group,pipeline,table_id,priority,match,actions,"
        "external_ids"
    )
    for row in _sb_json(sb, "Logical_Flow", columns):
        uuid = _uuid(row["_uuid"])
        members = [_uuid(row["logical_datapath"])]
        group = groups.get(_uuid(row["logical_dp_group"]))
        if group is not None:
            value = group["datapaths"]
            members = [_uuid(m) for m in (value[1] if value[0] == "set" else [value])]
        dps = dict(datapaths[m] for m in members if m in datapaths)
        ids = _map(row["external_ids"])
        stage = ids.get("stage-name", "?")
        pipeline = "ingress" if row["pipeline"] == "ingress" else "egress"
        text = (
            f"lflow {uuid[:8]} {{dp}} {pipeline} table={row['table_id']} ({stage}) "
            f"priority={row['priority']} match=({row['match']}) actions=({row['actions']})"
        )
        if "source" in ids:
            text += f" [{ids['source']}]"
        add(uuid, "Logical_Flow", text, dps)
    for table in OWNER_TABLES:
        name_col = {
            "Port_Binding": "logical_port",
            "Mac_Binding": "logical_port",
            "Multicast_Group": "name",
            "Chassis": "name",
            "Datapath_Binding": "tunnel_key",
        }[table]
        for row in _sb_json(sb, table, f"_uuid,{name_col}"):
            uuid = _uuid(row["_uuid"])
            add(uuid, table, f"{table} {row[name_col]} ({uuid[:8]})")
    return found


@dataclass
class Annotated:
    text: str  # the flow as ovs-ofctl printed it
    table: int
    cookie: int
    origins: list[Origin]
    metadata: int | None = None  # the datapath (tunnel key) the flow matches on

    @property
    def lines(self) -> list[str]:
        return [origin.line(self.metadata) for origin in self.origins]


def annotate(dump: str, owners: dict[int, list[Origin]]) -> list[Annotated]:
    """Each flow line of `ovs-ofctl dump-flows`, parsed by ovs.flow, with its origins."""
    from ovs.flow.ofp import OFPFlow

    result = []
    for line in dump.splitlines():
        line = line.strip()
        if not line or line.startswith(("NXST_FLOW", "OFPST_FLOW")):
            continue
        try:
            flow = OFPFlow(line)
        except Exception:  # a line ovs.flow cannot read: shown, not annotated
            result.append(Annotated(line, -1, 0, []))
            continue
        cookie = int(flow.info.get("cookie", 0))
        table = int(flow.info.get("table", 0))
        metadata = flow.match.get("metadata")
        result.append(
            Annotated(
                line,
                table,
                cookie,
                owners.get(cookie, []) if cookie else [],
                int(metadata.value) if metadata is not None else None,
            )
        )
    return result
