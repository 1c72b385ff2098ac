"""The `lb` check: requests through a load balancer VIP, answered by its backends (VM
services answer with the VM's name, so every answer says which backend served it).

    lb: {from: vm3, vip: "10.0.0.100:80", requests: 30, backends: [vm1, vm2]}
        passes when every request was answered, every listed backend answered some, and
        no one else did; reports the spread and requests/s from this one client.
    lb: {from: vm3, vip: "10.0.0.100:80", stop: vm1, within_s: 10}
        stops vm1's service behind the VIP; passes when, within within_s, the health check
        took it out of the pool (no request reaches it any more and none fails); then
        starts it again and waits for it to answer again. Reports both times.
    lb: {from: vm3, vip: "10.0.0.100:80", stop: {node: hv1}, within_s: 10}
        the same with the backend's chassis crashed (as `lab stop hv1`), every backend VM
        on it at once; `lab start hv1` brings it back.

Built on the `connect` check's exchange (lab.verify.connect) and VM services
(lab.vm.services).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab.errors import UserError
from lab.topology.l3 import parse_endpoint

if TYPE_CHECKING:
    from lab.verify.context import LabContext
    from lab.verify.result import CheckResult

REQUEST_TIMEOUT = 1.0
# "out of the pool" = at least this many requests in a row answered, none by the stopped
# backend, and more when the pool is small: with 2 backends a run of 10 happens by chance
# once in 1,000 starts (CHANCE_RUN bounds that at 1 in 10,000)
CLEAN_RUN = 10
CHANCE_RUN = 1e-4


def clean_run_length(backends: int, stopped: int) -> int:
    """Requests in a row the others must answer before the stopped ones count as removed."""
    left = backends - stopped
    if left <= 0 or stopped <= 0:
        return CLEAN_RUN
    return max(CLEAN_RUN, math.ceil(math.log(CHANCE_RUN) / math.log(left / backends)))


def _lb_of(ctx: LabContext, vip: str) -> tuple[str, str, list[str]]:
    """(load balancer, protocol, backends as written) of a VIP of the topology."""
    want = parse_endpoint(vip)
    for name, lb in ctx.topology.ovn.load_balancers.items():
        for text, backends in lb.vips.items():
            got = parse_endpoint(text)
            if got.address == want.address and got.port == want.port:
                return name, lb.protocol, [str(b) for b in backends]
    raise UserError(f"check 'lb': {vip} is not a VIP of any load balancer under ovn.load_balancers")


def _backend_port(ctx: LabContext, backends: list[str], vm: str) -> int:
    """The port `vm` serves behind this VIP."""
    from lab.plan.l3commands import backend_vm

    for text in backends:
        backend = parse_endpoint(text)
        if backend_vm(ctx.topology, backend) == vm and backend.port is not None:
            return backend.port
    raise UserError(f"check 'lb': {vm} is not a backend of this VIP")


def check_lb(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    from lab.verify.result import CheckResult, require_keys

    require_keys(spec, "lb")
    vip = parse_endpoint(str(spec["vip"]))
    if vip.address is None or vip.port is None:
        raise UserError(f"check 'lb': vip must be ADDRESS:PORT, not {spec['vip']!r}")
    name, proto, backends = _lb_of(ctx, str(spec["vip"]))
    if "stop" in spec:
        return _stop_backend(ctx, spec, cid, name, proto, backends)
    from lab.verify.connect import exchange

    src = str(spec["from"])
    requests = int(spec.get("requests", 20))
    timeout = float(spec.get("timeout", REQUEST_TIMEOUT))
    start = time.monotonic()
    found = exchange(ctx, src, str(vip.address), vip.port, proto, timeout, requests)
    took = time.monotonic() - start
    ctx.save_raw(cid, "answers.txt", "\n".join(f"{e.outcome} {e.answer}" for e in found))
    spread = Counter(str(e.answer) for e in found if e.answered)
    failed = [e.outcome for e in found if not e.answered]
    want = [str(b) for b in spec.get("backends", [])]
    strangers = sorted(set(spread) - set(want)) if want else []
    silent = [b for b in want if b not in spread]
    passed = not failed and not silent and not strangers and bool(spread)
    rps = round(requests / took, 1) if took > 0 else None
    shown = ", ".join(f"{b} {spread[b]}" for b in sorted(spread)) or "nobody"
    summary = f"{len(found) - len(failed)}/{requests} {proto} requests to {spec['vip']} "
    summary += f"({name}) answered: {shown}; {rps} req/s from {src}"
    diagnosis = None
    if failed:
        diagnosis = f"{len(failed)} requests got no answer ({', '.join(sorted(set(failed)))})"
    elif silent:
        diagnosis = f"backend(s) {', '.join(silent)} never answered"
    elif strangers:
        diagnosis = f"{', '.join(strangers)} answered but is not a listed backend"
    evidence = {
        "load_balancer": name,
        "spread": dict(spread),
        "failed": len(failed),
        "requests_per_s": rps,
        "seconds": round(took, 3),
    }
    return CheckResult("lb", spec, passed, summary, evidence, diagnosis)


def _stop_backend(
    ctx: LabContext,
    spec: dict[str, Any],
    cid: str,
    name: str,
    proto: str,
    backends: list[str],
) -> CheckResult:
    from lab.verify.connect import exchange
    from lab.verify.result import CheckResult

    src = str(spec["from"])
    within = float(spec.get("within_s", 10))
    timeout = float(spec.get("timeout", REQUEST_TIMEOUT))
    vip = parse_endpoint(str(spec["vip"]))
    assert vip.port is not None
    what, gone, stop, start = _stopper(ctx, spec, proto, backends)
    vm = gone[0]  # the one whose service monitor is reported
    port = _backend_port(ctx, backends, vm)
    log: list[str] = []

    def one() -> tuple[float, str]:
        ex = exchange(ctx, src, str(vip.address), vip.port, proto, timeout, 1)[0]
        answer = str(ex.answer) if ex.answered else f"<{ex.outcome}>"
        stamp = time.monotonic()
        log.append(f"{stamp - t0:7.2f} {answer}")
        return stamp, answer

    t0 = time.monotonic()
    stop()
    stopped = time.monotonic()
    log.append(f"{0:7.2f} stopped {what}")
    # removed = the last request that still went to it (or failed), once CLEAN_RUN
    # requests in a row after it were answered by the others
    needed = clean_run_length(len(backends), len(gone))
    removed_s, failures, clean, last_bad = None, 0, 0, stopped
    deadline = stopped + within + 5
    while time.monotonic() < deadline:
        stamp, answer = one()
        if answer in gone or answer.startswith("<"):
            failures += answer.startswith("<")
            clean, last_bad = 0, stamp
        else:
            clean += 1
            if clean >= needed:
                removed_s = round(last_bad - stopped, 2)
                break
    monitor_down = _monitor_status(ctx, vm, port)
    if monitor_down == "online":
        # only the health check takes a backend out; with it still online, the clean
        # run was the hash's luck, not a removal
        removed_s = None
    start()
    restarted = time.monotonic()
    log.append(f"{restarted - t0:7.2f} started {what}")
    returned_s = None
    while time.monotonic() < restarted + within + 10:
        _, answer = one()
        if answer in gone:
            returned_s = round(time.monotonic() - restarted, 2)
            break
    ctx.save_raw(cid, "requests.txt", "\n".join(log))
    passed = removed_s is not None and removed_s <= within and returned_s is not None
    summary = (
        f"{what} stopped: {', '.join(gone)} out of {name}'s pool after "
        f"{removed_s if removed_s is not None else '?'} s (max {within:g}; {failures} requests "
        f"failed meanwhile, service monitor: {monitor_down or '?'}); started: answering "
        f"again after {returned_s if returned_s is not None else '?'} s"
    )
    diagnosis = None
    if removed_s is None and what.startswith("node ") and monitor_down == "online":
        diagnosis = (
            f"requests to {', '.join(gone)} still failed after {within + 5:g} s and OVN's service "
            f"monitor still says online: its probes come from the backend's own chassis, and "
            f"{what} is down, so nothing marks the backend offline"
        )
    elif removed_s is None:
        diagnosis = (
            f"requests kept reaching {', '.join(gone)} or failing for {within + 5:g} s; does "
            "its load balancer have a health_check?"
        )
    elif removed_s > within:
        diagnosis = f"the health check took {removed_s} s to remove {vm}, more than {within:g} s"
    elif returned_s is None:
        diagnosis = f"{vm} did not answer through the VIP again after {what} started"
    evidence = {
        "stopped": what,
        "backends_stopped": gone,
        "removed_s": removed_s,
        "returned_s": returned_s,
        "failed_requests": failures,
        "service_monitor": monitor_down,
    }
    return CheckResult("lb", spec, passed, summary, evidence, diagnosis)


def _stopper(
    ctx: LabContext, spec: dict[str, Any], proto: str, backends: list[str]
) -> tuple[str, list[str], Callable[[], None], Callable[[], None]]:
    """What `stop:` names, the backends (VMs) that go with it, how to stop and start it.

    stop: VM            that VM's service behind the VIP (SIGKILL; started again after)
    stop: {node: NODE}  the chassis node itself (crashed as `lab stop NODE` does, then
                        `lab start NODE`): every backend VM on it leaves the pool
    """
    from lab.plan.l3commands import backend_vm

    stop = spec["stop"]
    if isinstance(stop, dict):
        if set(stop) != {"node"}:
            raise UserError(f"check 'lb': stop must be a VM or {{node: NODE}}, not {stop!r}")
        node = str(stop["node"])
        from lab.providers.base import LOCAL_DAEMONS, require

        require(ctx.provider, LOCAL_DAEMONS, "check 'lb' stop: {node: ...} (lab stop)")
        mine = {backend_vm(ctx.topology, parse_endpoint(b)) for b in backends}
        gone = sorted(
            vm for vm, info in ctx.info.vms.items()
            if info.chassis == node and vm in mine
        )  # fmt: skip
        if not gone:
            raise UserError(f"check 'lb': node {node} hosts no backend of {spec['vip']}")
        from lab.ops.faults import start_node, stop_node

        return (
            f"node {node}",
            gone,
            lambda: stop_node(ctx.state, node) and None,
            lambda: start_node(ctx.state, node),
        )
    vm = str(stop)
    port = _backend_port(ctx, backends, vm)
    return f"{vm} {proto}/{port}", [vm], *_service_stopper(ctx, vm, proto, port)


def _service_stopper(
    ctx: LabContext, vm: str, proto: str, port: int
) -> tuple[Callable[[], None], Callable[[], None]]:
    from lab.vm import services

    if not ctx.provider.services_alive(ctx.state).get((vm, proto, port), False):
        raise UserError(f"check 'lb': VM {vm} runs no {proto}/{port} service to stop")
    plan = services.ServicePlan(vm, ctx.vm(vm).netns, proto, port)

    def stop() -> None:
        ctx.provider.kill_service(ctx.state, plan)  # the service, not the VM

    def start() -> None:
        ctx.provider.start_service(ctx.state, plan)

    return stop, start


def _monitor_status(ctx: LabContext, vm: str, port: int) -> str | None:
    """The SB Service_Monitor status of a backend (online | offline)."""
    from lab.ovn.db import list_rows

    rows = list_rows("ovn-sbctl", "logical_port,port,status", "Service_Monitor", db=ctx.sb) or []
    want = ctx.vm(vm).port
    for lport, mport, status in rows:
        if lport == want and int(mport) == port:  # type: ignore[call-overload]
            return status if isinstance(status, str) else None
    return None
