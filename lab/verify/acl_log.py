"""ACL log hits: what ovn-controller writes for a packet hitting an ACL with `log: true`:

    2026-12-01T15:01:02.345Z|00042|acl_log(ovn_pinctrl0)|INFO|name="deny-ingress",
    verdict=drop, severity=info, direction=to-lport: icmp,vlan_tci=0x0000,dl_src=...,
    nw_src=10.0.0.20,nw_dst=10.0.0.11,...

The `acl_log` check `{name, verdict, direction, min}` counts them in every chassis'
ovn-controller log; connect checks report the hits their own exchange caused.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import UserError
from lab.verify.context import LabContext

_HIT = re.compile(r"\|acl_log\([^)]*\)\|\w+\|(.*?): (\S+)\s*$")
_FIELD = re.compile(r'(\w+)=("[^"]*"|[^,]*)')
_FLOW_FIELDS = ("nw_src", "nw_dst", "tp_src", "tp_dst", "icmp_type")


@dataclass(frozen=True)
class Hit:
    name: str
    verdict: str
    severity: str
    direction: str
    flow: str  # the packet, as OpenFlow prints it
    node: str = ""

    @property
    def packet(self) -> str:
        """proto src > dst, from the flow text."""
        proto = self.flow.split(",", 1)[0]
        fields = dict(_FIELD.findall(self.flow))
        src = fields.get("nw_src", "?") + (f":{fields['tp_src']}" if "tp_src" in fields else "")
        dst = fields.get("nw_dst", "?") + (f":{fields['tp_dst']}" if "tp_dst" in fields else "")
        return f"{proto} {src} > {dst}"


def parse_acl_log(text: str, node: str = "") -> list[Hit]:
    hits = []
    for line in text.splitlines():
        m = _HIT.search(line)
        if not m:
            continue
        fields = {k: v.strip('"') for k, v in _FIELD.findall(m.group(1))}
        hits.append(
            Hit(
                name=fields.get("name", ""),
                verdict=fields.get("verdict", ""),
                severity=fields.get("severity", ""),
                direction=fields.get("direction", ""),
                flow=m.group(2),
                node=node,
            )
        )
    return hits


def _logs(ctx: LabContext) -> dict[str, Path]:
    nodes = ctx.info.nodes
    return {
        name: ctx.state.dir / name / "ovn-controller.log"
        for name, node in nodes.items()
        if node.role in ("chassis", "gateway")
    }


def log_offsets(ctx: LabContext) -> dict[str, int]:
    """Where each chassis' ovn-controller log ends now (to read what comes after)."""
    return {node: path.stat().st_size if path.exists() else 0 for node, path in _logs(ctx).items()}


def hits_since(ctx: LabContext, offsets: dict[str, int] | None = None) -> list[Hit]:
    """ACL log hits written since `offsets` (None: since the lab came up), every chassis."""
    hits: list[Hit] = []
    for node, path in _logs(ctx).items():
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            fh.seek((offsets or {}).get(node, 0))
            hits += parse_acl_log(fh.read().decode(errors="replace"), node)
    return hits


def summarize(hits: list[Hit]) -> list[dict[str, Any]]:
    """(name, verdict, direction) -> count, in the order first seen."""
    counts = Counter((h.name, h.verdict, h.direction) for h in hits)
    return [
        {"name": n, "verdict": v, "direction": d, "count": c} for (n, v, d), c in counts.items()
    ]


def describe(hits: list[Hit]) -> str:
    return ", ".join(
        f"{s['name'] or '(unnamed)'} {s['verdict']} {s['direction']} x{s['count']}"
        for s in summarize(hits)
    )


def check_acl_log(ctx: LabContext, spec: dict[str, Any], cid: str) -> Any:
    from lab.verify.result import CheckResult, require_keys

    require_keys(spec, "acl_log")
    name = str(spec["name"])
    known = {
        str(acl.name) for acl in ctx.topology.ovn.acls if acl.name and (acl.log or acl.severity)
    }
    if name not in known:
        logging = ", ".join(sorted(known)) or "none"
        raise UserError(f"no ACL named {name!r} logs (log: true); logging ACLs: {logging}")
    hits = hits_since(ctx)
    ctx.save_raw(
        cid,
        "acl-log.txt",
        "\n".join(f"{h.node} {h.name} {h.verdict} {h.direction} {h.flow}" for h in hits),
    )
    mine = [
        h
        for h in hits
        if h.name == name
        and ("verdict" not in spec or h.verdict == spec["verdict"])
        and ("direction" not in spec or h.direction == spec["direction"])
    ]
    least = int(spec.get("min", 1))
    per_node = Counter(h.node for h in mine)
    passed = len(mine) >= least
    packets = sorted({h.packet for h in mine})
    summary = (
        f"{name}: {len(mine)} hits in ovn-controller logs "
        f"({', '.join(f'{n} {c}' for n, c in sorted(per_node.items())) or 'none'})"
    )
    if mine:
        summary += f"; {describe(mine)}"
    evidence = {"hits": summarize(hits), "matching": len(mine), "packets": packets[:20]}
    diagnosis = None
    if not passed:
        seen = describe([h for h in hits if h.name == name]) or "no hit at all"
        diagnosis = f"expected at least {least} matching hits; {name} logged: {seen}"
    return CheckResult("acl_log", spec, passed, summary, evidence, diagnosis)
