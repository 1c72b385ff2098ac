"""The `connect` check: a real TCP or UDP exchange from a VM (or host node) with a server,
reporting who answered and how long it took.

`exchange()` is the primitive other checks build on (a load balancer's VIP is just another
address): it runs lab/vm/vm_agent.py's client in the source's namespace and returns one
Exchange per request.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from lab.errors import UserError
from lab.verify.context import LabContext
from lab.vm.services import service_of

DEFAULT_TIMEOUT = 2.0
LOG_SETTLE_S = 0.1
WORDS = {
    "answered": "answered",
    "refused": "refused (TCP RST / ICMP port unreachable)",
    "unreachable": "ICMP unreachable",
    "timeout": "no answer",
    "error": "failed",
}


@dataclass
class Exchange:
    outcome: str  # answered | refused | unreachable | timeout | error
    answer: str | None  # the first word of the reply: the name of the VM that answered
    reply: str
    seconds: float  # first packet to answer (or to giving up)
    local: str | None = None  # the client's address:port
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.outcome == "answered"


def parse_exchanges(output: str) -> list[Exchange]:
    """The agent's output: one JSON object per exchange."""
    found = []
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        data = json.loads(line)
        found.append(
            Exchange(
                outcome=str(data["outcome"]),
                answer=data.get("answer"),
                reply=str(data.get("reply", "")),
                seconds=float(data.get("seconds", 0.0)),
                local=data.get("local"),
                error=data.get("error"),
            )
        )
    return found


def exchange(
    ctx: LabContext,
    source: str,
    address: str,
    port: int,
    proto: str = "tcp",
    timeout: float = DEFAULT_TIMEOUT,
    count: int = 1,
) -> list[Exchange]:
    """`count` exchanges, one after the other, from VM or host node `source` with
    ADDRESS:PORT over `proto` (tcp: handshake + request + answer; udp: request + answer)."""
    if proto not in ("tcp", "udp"):
        raise UserError(f"proto must be tcp or udp, not {proto!r}")
    args = ("connect", proto, address, str(port), str(timeout), str(count), source)
    argv = ctx.provider.agent_argv(ctx.state, *args)  # where the lab's nodes run it
    proc = ctx.run_in(source, argv, timeout=count * (timeout + 1) + 10)
    found = parse_exchanges(proc.stdout)
    if len(found) != count:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(
            f"the client in {source} did not run: " + (detail[-1] if detail else "no output")
        )
    return found


def describe(ex: Exchange, proto: str, port: int) -> str:
    ms = f"{ex.seconds * 1000:.1f} ms"
    if ex.answered:
        return f"{ex.answer} answered {proto}/{port} in {ms}"
    if ex.outcome == "timeout":
        return f"no answer on {proto}/{port} within {ex.seconds:.1f} s"
    if ex.outcome == "refused":
        what = "TCP RST" if proto == "tcp" else "ICMP port unreachable"
        return f"refused by {what} on {proto}/{port} after {ms}"
    return f"{WORDS.get(ex.outcome, ex.outcome)} on {proto}/{port} after {ms}"


def check_connect(ctx: LabContext, spec: dict[str, Any], cid: str) -> Any:
    from lab.verify.result import CheckResult, require_keys

    require_keys(spec, "connect")
    src, target = str(spec["from"]), str(spec["to"])
    proto, port = str(spec.get("proto", "tcp")), int(spec["port"])
    expect = str(spec.get("expect", "reach"))
    timeout = float(spec.get("timeout", DEFAULT_TIMEOUT))
    count = int(spec.get("count", 1))
    address = ctx.address_of(target)
    vm_target = target if target in ctx.info.vms else ctx.vm_by_address(address)
    if target in ctx.info.vms and not service_of(ctx.info, target, proto, port):
        raise UserError(f"VM {target} runs no {proto}/{port} service (see `lab status`)")
    from lab.verify import acl_log

    logs_before = acl_log.log_offsets(ctx)
    found = exchange(ctx, src, address, port, proto, timeout, count)
    if any(acl.log or acl.severity for acl in ctx.topology.ovn.acls):
        time.sleep(LOG_SETTLE_S)  # ovn-controller logs from its pinctrl thread, a bit later
    logged = acl_log.hits_since(ctx, logs_before)  # what logging ACLs said about it
    ctx.save_raw(cid, "exchanges.json", json.dumps([asdict(e) for e in found], indent=1))
    outcomes = sorted({e.outcome for e in found})
    if expect == "reach":
        passed = all(e.answered for e in found)
        if passed and vm_target is not None:  # the right VM answered, not some other one
            passed = all(e.answer == vm_target for e in found)
    elif expect == "rejected":
        passed = all(e.outcome in ("refused", "unreachable") for e in found)
    else:  # no-reach: nothing answered within the timeout, not even a reset
        passed = all(e.outcome == "timeout" for e in found)
    seconds = [e.seconds for e in found]
    summary = describe(found[0], proto, port)
    if count > 1:
        answers = sorted({str(e.answer) for e in found if e.answered})
        summary = (
            f"{sum(e.answered for e in found)}/{count} answered {proto}/{port} "
            f"(by {', '.join(answers) or 'nobody'}), {min(seconds) * 1000:.1f}-"
            f"{max(seconds) * 1000:.1f} ms"
        )
    evidence: dict[str, Any] = {
        "address": address,
        "outcomes": outcomes,
        "answered_by": sorted({e.answer for e in found if e.answer}),
        "seconds": seconds,
        "exchanges": [asdict(e) for e in found],
        "acl_log": acl_log.summarize(logged),
    }
    if logged:
        summary += f"; ACL log: {acl_log.describe(logged)}"
    diagnosis = None
    if not passed:
        diagnosis = _why(ctx, spec, found, vm_target, expect, cid)
    return CheckResult("connect", spec, passed, summary, evidence, diagnosis)


def _why(
    ctx: LabContext,
    spec: dict[str, Any],
    found: list[Exchange],
    vm_target: str | None,
    expect: str,
    cid: str,
) -> str:
    """Why the exchange did not go as expected: for traffic that got nowhere, where
    ovn-trace says the packet is dropped (the ACL that did it)."""
    wrong = [e for e in found if e.answered and vm_target and e.answer != vm_target]
    if expect == "reach" and wrong:
        return f"{wrong[0].answer} answered instead of {vm_target}"
    if expect == "reach" or (expect == "rejected" and not any(e.answered for e in found)):
        from lab.verify.acl_trace import diagnose_connect

        return diagnose_connect(ctx, spec, cid)
    got = describe(found[0], str(spec.get("proto", "tcp")), int(spec["port"]))
    return f"expected {expect}, but {got}"
