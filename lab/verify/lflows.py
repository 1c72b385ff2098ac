"""`lab lflows [NAME] [--diff OTHER]`: a lab's logical flows, normalised so two labs (say
the same topology on two builds) compare line by line.

Normalised: datapaths by name (not UUID), flows keyed by stage name (table numbers move
between OVN releases), UUIDs anywhere in a match or action replaced by <uuid>, spaces
collapsed, and flows sorted by datapath, pipeline (ingress first), table, descending
priority, match.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass

from lab.errors import RuntimeFailure, UserError
from lab.ovn.wait import sb_db
from lab.providers.targets import centrals_of
from lab.runner import run
from lab.state.store import LabState, list_labs, open_lab

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SPACES = re.compile(r"\s+")


@dataclass(frozen=True, order=True)
class Flow:
    datapath: str
    pipeline: str  # ingress | egress
    table: int  # for order only: the same stage has other numbers in other releases
    stage: str
    neg_priority: int  # sorted highest priority first
    match: str
    actions: str

    @property
    def priority(self) -> int:
        return -self.neg_priority

    def line(self) -> str:
        return f"priority={self.priority} match=({self.match}) action=({self.actions})"


def _clean(text: str) -> str:
    return SPACES.sub(" ", UUID.sub("<uuid>", text)).strip()


def _rows(db: str, table: str, columns: str) -> list[list[object]]:
    out = run(
        ["ovn-sbctl", f"--db={db}", "--format=json", f"--columns={columns}", "list", table],
        timeout=60,
    ).stdout
    return json.loads(out)["data"]


def _map(value: object) -> dict[str, str]:
    if isinstance(value, list) and value and value[0] == "map":
        return {str(k): str(v) for k, v in value[1]}
    return {}


def _uuids(value: object) -> list[str]:
    if isinstance(value, list) and value and value[0] == "uuid":
        return [str(value[1])]
    if isinstance(value, list) and value and value[0] == "set":
        return [str(v[1]) for v in value[1] if isinstance(v, list) and v[0] == "uuid"]
    return []


def read_flows(state: LabState) -> list[Flow]:
    """Every logical flow of a lab's Southbound DB (datapath groups expanded)."""
    db = sb_db(centrals_of(state))
    names = {}
    for uuid, external_ids in _rows(db, "Datapath_Binding", "_uuid,external_ids"):
        ids = _map(external_ids)
        names[_uuids(uuid)[0]] = ids.get("name") or ids.get("name2") or "?"
    groups = {}
    try:
        for uuid, datapaths in _rows(db, "Logical_DP_Group", "_uuid,datapaths"):
            groups[_uuids(uuid)[0]] = [names.get(d, "?") for d in _uuids(datapaths)]
    except RuntimeFailure:  # a schema without datapath groups
        pass
    columns = (
        "logical_datapath,logical_dp_group,pipeline,table_id,priority,match,actions,external_ids"
    )
    flows = []
    for dp, group, pipeline, table, priority, match, actions, ids in _rows(
        db, "Logical_Flow", columns
    ):
        stage = _map(ids).get("stage-name") or f"table{table}"
        where = [names.get(d, "?") for d in _uuids(dp)]
        for g in _uuids(group):
            where += groups.get(g, [])
        for name in where:
            flows.append(
                Flow(
                    name,
                    str(pipeline),
                    int(table),
                    stage,
                    -int(priority),
                    _clean(match),
                    _clean(actions),
                )
            )
    return sorted(set(flows), key=_order)


def _order(flow: Flow) -> tuple[object, ...]:
    return (flow.datapath, flow.pipeline != "ingress", flow.table, flow.stage, flow.neg_priority,
            flow.match, flow.actions)  # fmt: skip


def render(flows: list[Flow]) -> str:
    lines: list[str] = []
    current = None
    for flow in flows:
        key = (flow.datapath, flow.pipeline, flow.stage)
        if key != current:
            lines.append(f"{flow.datapath} {flow.pipeline} table={flow.table} {flow.stage}")
            current = key
        lines.append(f"  {flow.line()}")
    return "\n".join(lines) + ("\n" if lines else "")


def diff(left: list[Flow], right: list[Flow], left_name: str, right_name: str) -> str:
    """Stage by stage: which flows only one side has ('-' left only, '+' right only)."""
    by_stage: dict[tuple[str, str, str], tuple[set[str], set[str]]] = defaultdict(
        lambda: (set(), set())
    )
    position: dict[tuple[str, str, str], tuple[object, ...]] = {}
    for side, flows in ((0, left), (1, right)):
        for flow in flows:
            key = (flow.datapath, flow.pipeline, flow.stage)
            by_stage[key][side].add(flow.line())
            position.setdefault(key, (flow.datapath, flow.pipeline != "ingress", flow.table))
    out = [f"--- {left_name} ({len(left)} flows)", f"+++ {right_name} ({len(right)} flows)"]
    changed = 0
    for key in sorted(by_stage, key=lambda k: (position[k], k)):
        a, b = by_stage[key]
        if a == b:
            continue
        changed += 1
        only_a, only_b = sorted(a - b), sorted(b - a)
        tag = "only in " + (right_name if not a else left_name) if not (a and b) else ""
        out.append(f"@@ {' '.join(key)}: -{len(only_a)} +{len(only_b)} {tag}".rstrip())
        for line in difflib.unified_diff(only_a, only_b, lineterm="", n=0):
            if line.startswith(("---", "+++", "@@")):
                continue
            out.append(f"  {line}")
    out.append(f"{changed} stages differ")
    return "\n".join(out) + "\n"


def _flow_rows(flows: list[Flow]) -> list[dict[str, object]]:
    return [
        {
            "datapath": f.datapath,
            "pipeline": f.pipeline,
            "table": f.table,
            "stage": f.stage,
            "priority": f.priority,
            "match": f.match,
            "actions": f.actions,
        }
        for f in sorted(flows, key=_order)
    ]


def command(name: str | None, other: str | None, datapath: str | None, output: str = "text") -> int:
    from lab.output import emit

    if name is None and other is not None and len(list_labs()) > 1:
        raise UserError("with --diff OTHER, name the first lab too: lab lflows NAME --diff OTHER")
    state = open_lab(name)
    flows = read_flows(state)
    if datapath:
        flows = [f for f in flows if f.datapath == datapath]
    if other is None:
        if output == "json":
            return emit("lflows", lab=state.name, flows=_flow_rows(flows))
        sys.stdout.write(render(flows))
        return 0
    other_state = open_lab(other)
    others = read_flows(other_state)
    if datapath:
        others = [f for f in others if f.datapath == datapath]
    if output == "json":  # both sides, row by row: a reader computes the difference it needs
        only_a, only_b = set(flows) - set(others), set(others) - set(flows)
        return emit(
            "lflows",
            lab=state.name,
            other=other_state.name,
            only_in_lab=_flow_rows(list(only_a)),
            only_in_other=_flow_rows(list(only_b)),
        )
    sys.stdout.write(diff(flows, others, state.name, other_state.name))
    return 0
