"""ovn-trace: build the microflow from the model, parse the datapaths a packet crosses.

Works on `--summary` (nested braces) and `--detailed` (stanzas with numbered
stages) output alike: both print one `ingress(dp=..., inport=...)` /
`egress(dp=..., inport=..., outport=...)` header per pipeline and
`/* output to "PORT", type "TYPE" */` where a packet leaves one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PIPELINE = re.compile(
    r'^\s*(ingress|egress)\(dp="([^"]+)", inport="([^"]*)"(?:, outport="([^"]*)")?\)'
)
_OUTPUT = re.compile(r'/\* output to "([^"]+)", type "([^"]*)" \*/')
_STAGE = re.compile(r"^\s*(\d+)\. (\S+) \([^)]*\): (.*), priority (\d+), uuid (\w+)")


@dataclass
class Hop:
    pipeline: str  # ingress | egress
    datapath: str
    inport: str
    outport: str | None


@dataclass
class Stage:
    table: int
    name: str
    match: str
    priority: int


@dataclass
class Trace:
    hops: list[Hop] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (port, type)
    dropped: bool = False
    last_stage: Stage | None = None  # --detailed: the stage that matched last

    @property
    def datapaths(self) -> list[str]:
        """Datapaths in the order crossed, each once per visit (ingress+egress = one visit)."""
        path: list[str] = []
        for hop in self.hops:
            if hop.pipeline == "ingress":
                path.append(hop.datapath)
        return path

    @property
    def output(self) -> str | None:
        """The final port the packet is delivered to (not a patch between datapaths)."""
        final = [port for port, kind in self.outputs if kind != "patch"]
        return final[-1] if final else None

    def ingress_port_on(self, datapath: str) -> str | None:
        """The port through which the packet entered `datapath` (last visit)."""
        ports = [h.inport for h in self.hops if h.pipeline == "ingress" and h.datapath == datapath]
        return ports[-1] if ports else None


def microflow(
    inport: str, eth_src: str, eth_dst: str, ip_src: str, ip_dst: str, ttl: int = 64
) -> str:
    ip = "ip6" if ":" in ip_dst else "ip4"
    return (
        f'inport == "{inport}" && eth.src == {eth_src} && eth.dst == {eth_dst} && '
        f"{ip}.src == {ip_src} && {ip}.dst == {ip_dst} && ip.ttl == {ttl}"
    )


def trace_argv(sb_db: str, datapath: str, flow: str, detailed: bool = True) -> list[str]:
    return ["ovn-trace", f"--db={sb_db}", "--detailed" if detailed else "--summary", datapath, flow]


def parse_trace(output: str) -> Trace:
    trace = Trace()
    for line in output.splitlines():
        if m := _PIPELINE.match(line):
            trace.hops.append(Hop(m.group(1), m.group(2), m.group(3), m.group(4)))
        elif m := _OUTPUT.search(line):
            trace.outputs.append((m.group(1), m.group(2)))
        elif m := _STAGE.match(line):
            trace.last_stage = Stage(int(m.group(1)), m.group(2), m.group(3), int(m.group(4)))
        elif line.strip() == "drop;":
            trace.dropped = True
    if trace.output is not None:
        trace.dropped = False
    return trace


def explain_drop(trace: Trace) -> str:
    """Where and why a packet went nowhere, in words."""
    where = trace.hops[-1] if trace.hops else None
    place = f"{where.pipeline} pipeline of {where.datapath}" if where else "the first datapath"
    if trace.last_stage is None:
        return f"dropped in the {place}"
    st = trace.last_stage
    text = (
        f"dropped in the {place} at table {st.table} {st.name} "
        f"(match `{st.match}`, priority {st.priority})"
    )
    if st.name.endswith("ip_routing") and st.match == "1":
        text += ": no route matches the destination"
    return text
