"""ovn-trace of TCP/UDP microflows, and which ACL decided a packet's fate.

`ovn-trace --detailed` prints every logical flow a packet matches, as
`  5. ls_out_acl (northd.c:6658): MATCH, priority 2001, uuid 1a2b3c4d`. The uuid is
the first 8 hex digits of the Southbound Logical_Flow row, whose
external_ids:stage-hint is the first 8 hex digits of the Northbound ACL row that made
it: that names the ACL (name, direction, priority, match) that allowed or dropped it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lab.errors import UserError
from lab.ovn.db import list_rows, map_of, uuid_of, uuids_of
from lab.runner import run
from lab.verify import trace as tr
from lab.verify.context import LabContext

SOURCE_PORT = 40000  # the microflow's client port
CT_NEXT_CALLS = 4  # --ct given this many times: every ct_next of the path sees the same state
CT_FLAGS = ("trk", "new", "est", "rel", "rpl", "inv")
_STAGE = re.compile(r"^\s*(\d+)\. (\S+) \([^)]*\): (.*), priority (\d+), uuid ([0-9a-f]+)")
ACL_STAGE = re.compile(r"^ls_(in|out)_acl$")


@dataclass
class Matched:
    """One logical flow the packet matched, in the order ovn-trace printed them."""

    table: int
    stage: str
    match: str
    priority: int
    uuid: str  # first 8 hex digits of the SB Logical_Flow
    actions: list[str] = field(default_factory=list)


@dataclass
class Acl:
    uuid: str
    name: str | None
    direction: str
    priority: int
    match: str
    action: str
    owner: str | None = None  # the port group or switch it is on

    def describe(self) -> str:
        name = f"ACL {self.name}" if self.name else "an unnamed ACL"
        owner = f" on {self.owner}" if self.owner else ""
        return (
            f"{name}{owner} ({self.direction}, priority {self.priority}, "
            f"match `{self.match}`, {self.action})"
        )


@dataclass
class AclVerdict:
    verdict: str  # allow | drop | reject
    stage: str | None  # the stage that decided (ls_out_acl ...)
    table: int | None
    acl: Acl | None  # the ACL whose flow decided, when an ACL did
    flow: Matched | None
    output: str | None

    def describe(self) -> str:
        """`drop at ls_out_acl (table 4) by ACL deny-ingress ...` / `allow: delivered to
        web1, at ls_out_acl (table 4) by ACL web-8080 ...`."""
        where = f" at {self.stage} (table {self.table})" if self.stage else ""
        by = f" by {self.acl.describe()}" if self.acl else ""
        if self.verdict == "allow":
            return f"allow: delivered to {self.output}" + (f",{where}{by}" if self.acl else "")
        flow = (
            f" (flow `{self.flow.match}`, priority {self.flow.priority})"
            if self.flow and not self.acl
            else ""
        )
        return f"{self.verdict}{where}{by}{flow}"


def l4_match(proto: str, port: int, sport: int = SOURCE_PORT) -> str:
    if proto not in ("tcp", "udp"):
        raise UserError(f"proto must be tcp or udp, not {proto!r}")
    return f"{proto} && {proto}.src == {sport} && {proto}.dst == {port}"


def ct_args(ct: str | None) -> list[str]:
    """`ct: new` (default for TCP/UDP traces) -> --ct=new for every ct_next on the path."""
    if not ct:
        return []
    flags = [f.strip() for f in re.split(r"[,\s]+", ct) if f.strip()]
    bad = [f for f in flags if f not in CT_FLAGS]
    if bad:
        raise UserError(f"unknown ct flag {bad[0]!r}; use some of {', '.join(CT_FLAGS)}")
    return [f"--ct={','.join(flags)}"] * CT_NEXT_CALLS


def trace_l4(
    ctx: LabContext,
    src: str,
    dst: str,
    proto: str | None = None,
    port: int | None = None,
    ct: str | None = None,
    detailed: bool = True,
) -> tuple[tr.Trace, str, list[str]]:
    """ovn-trace of a packet from VM `src` to `dst`, TCP/UDP to `port` when `proto` is given
    (then with ct state `ct`, default new: a connection being opened)."""
    datapath, flow = ctx.microflow(src, dst)
    extra: list[str] = []
    if proto:
        flow = flow + " && " + l4_match(proto, int(port or 0))
        extra = ct_args(ct or "new")
    elif ct:
        extra = ct_args(ct)
    argv = tr.trace_argv(ctx.sb, datapath, flow, detailed=detailed)
    argv = [argv[0], *extra, *argv[1:]]
    proc = run(argv, check=False, timeout=30)
    if proc.returncode != 0:
        raise UserError(f"ovn-trace failed: {(proc.stderr or proc.stdout).strip()[:300]}")
    return tr.parse_trace(proc.stdout), proc.stdout, argv


def parse_matched(output: str) -> list[Matched]:
    """Every logical flow of a --detailed trace, with the actions printed under it."""
    flows: list[Matched] = []
    for line in output.splitlines():
        if m := _STAGE.match(line):
            flows.append(
                Matched(int(m.group(1)), m.group(2), m.group(3), int(m.group(4)), m.group(5))
            )
        elif flows and line.startswith("    ") and line.strip():
            flows[-1].actions.append(line.strip())
    return flows


def acls_by_hint(ctx: LabContext) -> dict[str, Acl]:
    """NB ACLs by the first 8 hex digits of their uuid (the lflows' stage-hint)."""
    rows = list_rows("ovn-nbctl", "_uuid,name,direction,priority,match,action", "ACL", db=ctx.nb)
    owners = _acl_owners(ctx)
    found = {}
    for uuid, name, direction, priority, match, action in rows or []:
        text = uuid_of(uuid) or ""
        acl_name = name if isinstance(name, str) and name else None
        found[text[:8]] = Acl(
            text,
            acl_name,
            str(direction),
            int(priority),  # type: ignore[call-overload]
            str(match),
            str(action),
            owners.get(text),
        )
    return found


def _acl_owners(ctx: LabContext) -> dict[str, str]:
    owners: dict[str, str] = {}
    for table, prefix in (("Port_Group", "port group "), ("Logical_Switch", "switch ")):
        for name, acls in list_rows("ovn-nbctl", "name,acls", table, db=ctx.nb) or []:
            for uuid in uuids_of(acls):
                owners[uuid] = f"{prefix}{name}"
    return owners


def flow_hints(ctx: LabContext, uuids: list[str]) -> dict[str, str]:
    """SB Logical_Flow uuid prefix -> its stage-hint, for the flows of a trace."""
    rows = list_rows("ovn-sbctl", "_uuid,external_ids", "Logical_Flow", db=ctx.sb) or []
    wanted = set(uuids)
    hints = {}
    for uuid, ids in rows:
        text = uuid_of(uuid) or ""
        hint = map_of(ids).get("stage-hint")
        if text[:8] in wanted and hint:
            hints[text[:8]] = hint
    return hints


def deciding_flow(trace: tr.Trace, output: str) -> tuple[str, Matched | None]:
    """(verdict, the flow that decided it) of a --detailed trace: allow (delivered: the
    last ACL flow that let it through), reject, or drop (the flow that dropped it)."""
    flows = parse_matched(output)
    acl_flows = [f for f in flows if ACL_STAGE.match(f.stage) and f.priority > 0]
    rejecting = [f for f in flows if any(a.startswith(("reject", "tcp_reset")) for a in f.actions)]
    if rejecting:  # the answer OVN sends back is traced too: the first reject decided
        return "reject", rejecting[0]
    if trace.output is not None:
        return "allow", acl_flows[-1] if acl_flows else None
    return "drop", _dropping_flow(flows)


def decide(ctx: LabContext, trace: tr.Trace, output: str) -> AclVerdict:
    """The verdict of a traced packet and the flow (ACL, when one did) that decided it."""
    verdict, deciding = deciding_flow(trace, output)
    acl = None
    if deciding is not None:
        hint = flow_hints(ctx, [deciding.uuid]).get(deciding.uuid)
        if hint:
            acl = acls_by_hint(ctx).get(hint[:8])
    return AclVerdict(
        verdict,
        deciding.stage if deciding else None,
        deciding.table if deciding else None,
        acl,
        deciding,
        trace.output,
    )


def _dropping_flow(flows: list[Matched]) -> Matched | None:
    """The flow that dropped the packet: the last one with a drop action, else the last
    flow matched (a drop ACL that logs prints only its log() action)."""
    for flow in reversed(flows):
        if any(a.rstrip(";") in ("drop", "/* drop */") for a in flow.actions):
            return flow
    return flows[-1] if flows else None


def diagnose_connect(ctx: LabContext, spec: dict[str, Any], cid: str) -> str:
    """Why a connect check's traffic got nowhere: ovn-trace of the first packet (ct new)."""
    src, dst = str(spec["from"]), str(spec["to"])
    if src not in ctx.info.vms:
        return f"{src} is not a VM, so ovn-trace cannot follow its packet"
    try:
        trace, text, argv = trace_l4(
            ctx, src, dst, str(spec.get("proto", "tcp")), int(spec["port"])
        )
    except UserError as exc:
        return str(exc)
    ctx.save_raw(cid, "diagnosis-ovn-trace.txt", " ".join(argv) + "\n\n" + text)
    verdict = decide(ctx, trace, text)
    if verdict.verdict == "allow":
        return (
            f"ovn-trace delivers the first packet to {verdict.output}, so the ACLs allow it; "
            "is the service running (`lab status`) and the reply allowed back?"
        )
    return "ovn-trace: " + verdict.describe()


def check_trace_l4(ctx: LabContext, spec: dict[str, Any], cid: str) -> Any:
    """The trace check with proto/port/ct/verdict/stage: where the ACLs decide."""
    from lab.verify.result import CheckResult, require_keys

    require_keys(spec, "trace")
    proto = spec.get("proto")
    if proto is not None and "port" not in spec:
        raise UserError("check 'trace': proto needs port: too (the destination port)")
    trace, text, argv = trace_l4(
        ctx,
        str(spec["from"]),
        str(spec["to"]),
        str(proto) if proto else None,
        int(spec["port"]) if "port" in spec else None,
        str(spec["ct"]) if "ct" in spec else None,
    )
    ctx.save_raw(cid, "ovn-trace.txt", " ".join(argv) + "\n\n" + text)
    verdict = decide(ctx, trace, text)
    problems = []
    want = spec.get("verdict")
    if want is not None and want != verdict.verdict:
        problems.append(f"expected verdict {want}")
    if "stage" in spec and spec["stage"] != verdict.stage:
        problems.append(f"expected stage {spec['stage']}")
    want_path = [str(p) for p in spec.get("path", [])]
    if want_path and trace.datapaths != want_path:
        problems.append(f"expected path {' -> '.join(want_path)}")
    want_out = spec.get("output")
    if want_out is not None and want_out in ctx.info.vms:
        want_out = ctx.vm(want_out).port
    if want_out is not None and trace.output != want_out:
        problems.append(f"expected output {want_out}")
    summary = f"verdict {verdict.describe()}"
    evidence = {
        "verdict": verdict.verdict,
        "stage": verdict.stage,
        "table": verdict.table,
        "acl": verdict.acl.__dict__ if verdict.acl else None,
        "flow": verdict.flow.__dict__ if verdict.flow else None,
        "datapaths": trace.datapaths,
        "output": trace.output,
    }
    diagnosis = "; ".join(problems) if problems else None
    return CheckResult("trace", spec, not problems, summary, evidence, diagnosis)
