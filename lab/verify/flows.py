"""OpenFlow: parse `ovs-ofctl dump-flows` and `ovs-ofctl show`, find the flows a packet hit.

`idle_age` is the seconds since a flow last matched a packet: keeping only
flows with a small idle_age shows the flows the traffic really used (the
debugging trick from the seed article).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD = re.compile(r"(\w+)=([^,\s]+)")
_PORT = re.compile(r"^\s*(\d+|LOCAL)\(([^)]+)\): addr:")
TUNNEL_INPUT_ACTION = "move:NXM_NX_TUN_ID[0..23]->OXM_OF_METADATA[0..23]"


@dataclass
class Flow:
    table: int
    priority: int
    n_packets: int
    idle_age: int | None
    match: str
    actions: str
    text: str

    def match_fields(self) -> dict[str, str]:
        return dict(_FIELD.findall(self.match))

    @property
    def output_port(self) -> int | None:
        m = re.fullmatch(r"output:(\d+)", self.actions)
        return int(m.group(1)) if m else None

    @property
    def is_tunnel_input(self) -> bool:
        return TUNNEL_INPUT_ACTION in self.actions


def dump_flows_argv(table: int | None = None) -> list[str]:
    return ["ovs-ofctl", "dump-flows", "br-int", *([f"table={table}"] if table is not None else [])]


def parse_dump_flows(output: str) -> list[Flow]:
    flows = []
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("cookie="):
            continue
        head, _, actions = line.partition(" actions=")
        parts = [p.strip() for p in head.split(",")]
        stats: dict[str, str] = {}
        match_parts: list[str] = []
        for part in parts:
            key, sep, value = part.partition("=")
            if sep and key in (
                "cookie",
                "duration",
                "table",
                "n_packets",
                "n_bytes",
                "idle_age",
                "hard_age",
                "idle_timeout",
                "priority",
            ):
                stats[key] = value
            elif part:
                match_parts.append(part)
        flows.append(
            Flow(
                table=int(stats.get("table", "0")),
                priority=int(stats.get("priority", "32768")),
                n_packets=int(stats.get("n_packets", "0")),
                idle_age=int(stats["idle_age"]) if "idle_age" in stats else None,
                match=",".join(match_parts),
                actions=actions,
                text=line,
            )
        )
    return flows


def recently_hit(flows: list[Flow], idle_age: int) -> list[Flow]:
    return [f for f in flows if f.idle_age is not None and f.idle_age <= idle_age and f.n_packets]


def parse_ofctl_show(output: str) -> dict[int, str]:
    """OpenFlow port number -> interface name (LOCAL left out)."""
    ports = {}
    for line in output.splitlines():
        m = _PORT.match(line)
        if m and m.group(1) != "LOCAL":
            ports[int(m.group(1))] = m.group(2)
    return ports


def output_flow_for(flows: list[Flow], port_key: int, datapath_key: int) -> Flow | None:
    """The physical output flow for a logical port: reg15=<port key>,metadata=<dp key>."""
    for flow in flows:
        fields = flow.match_fields()
        if (
            flow.output_port is not None
            and _int(fields.get("reg15")) == port_key
            and _int(fields.get("metadata")) == datapath_key
        ):
            return flow
    return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        return None
