"""The `nexthop` check: where do a VM's flows leave OVN? Many TCP flows (one source port
each, SYNs only) are sent towards an address, and every host node that is a router next hop
captures what reaches it. Proves ECMP spread (each flow on one next hop, every listed
next hop used), policies (reroute: only that next hop; drop: none), and with `stop:` how
long BFD takes to move every flow off a dead next hop, and to bring it back.

    nexthop: {from: vm1, to: 203.0.113.100, via: [up1, up2], flows: 24}
    nexthop: {from: vm1, to: 203.0.113.100, via: [up1, up2], stop: up1, within_s: 6}
"""

from __future__ import annotations

import random
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.errors import UserError
from lab.runner import wait_for_output

if TYPE_CHECKING:
    from lab.verify.context import LabContext
    from lab.verify.result import CheckResult

# One TCP SYN per flow (a fixed source port each) every `interval` seconds until
# `duration` has passed: argv DST PORT FIRST_SPORT FLOWS INTERVAL DURATION. TCP, not UDP:
# OVS's userspace datapath hashes ECMP with its symmetric L3/L4 hash, which leaves UDP
# ports out, so UDP flows between two addresses all take one next hop.
SENDER = """
import socket, sys, time
dst, port, first, flows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
interval, duration = float(sys.argv[5]), float(sys.argv[6])
end = time.time() + duration
while True:
    socks = []
    for i in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setblocking(False)
        try:
            s.bind(("", first + i))
            s.connect_ex((dst, port))
        except OSError:
            pass
        socks.append(s)
    time.sleep(interval)
    for s in socks:
        s.close()
    if time.time() >= end:
        break
"""
# Only frames addressed to the node ("In"): with a next hop's cable pulled the fabric
# bridge floods frames for its MAC to every port, and those ("P", other host) prove nothing.
_ARRIVAL = re.compile(r"^(\d+\.\d+) (?:\S+ )?In +IP \S+?\.(\d+) > \S+?\.(\d+): tcp")


@dataclass
class Arrivals:
    """Per source port (flow), the capture timestamps at one node."""

    times: dict[int, list[float]] = field(default_factory=dict)

    def flows(self, since: float = 0.0) -> set[int]:
        return {p for p, ts in self.times.items() if any(t >= since for t in ts)}

    def first_after(self, port: int, since: float) -> float | None:
        return min((t for t in self.times.get(port, []) if t >= since), default=None)


def parse_arrivals(text: str, port: int) -> Arrivals:
    """tcpdump -tt -q lines of SYNs to `port`."""
    result = Arrivals()
    for line in text.splitlines():
        m = _ARRIVAL.match(line)
        if m and int(m.group(3)) == port:
            result.times.setdefault(int(m.group(2)), []).append(float(m.group(1)))
    return result


def watched_nodes(ctx: LabContext) -> list[str]:
    """Host nodes whose address is a router's next hop (routes and reroute policies)."""
    topo = ctx.topology
    hops = set()
    for router in topo.ovn.routers.values():
        for route in router.routes:
            hops |= {str(h) for h in route.nexthops}
        hops |= {str(p.nexthop) for p in router.policies if p.nexthop is not None}
    return [
        name
        for name, node in topo.nodes.items()
        if node.role == "host"
        and any(link.address is not None and str(link.address.ip) in hops for link in node.links)
    ]


class Captures:
    """tcpdump on several nodes at once, for TCP SYNs to one port. A thread per capture
    drains its output as it comes (a full pipe would stall tcpdump)."""

    def __init__(self, ctx: LabContext, nodes: list[str], port: int):
        self.ctx, self.port = ctx, port
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.readers: dict[str, threading.Thread] = {}
        self.lines: dict[str, list[str]] = {n: [] for n in nodes}
        for node in nodes:
            self.start(node)

    def start(self, node: str) -> None:
        argv = ["tcpdump", "-tt", "-q", "-l", "-n", "-i", "any", "tcp", "and", "dst", "port"]
        syn = ["and", "tcp[tcpflags] & tcp-syn != 0"]
        proc = self.ctx.popen_in(node, [*argv, str(self.port), *syn])
        if not wait_for_output(proc.stderr, "listening on"):
            proc.kill()
            proc.communicate()
            raise UserError(f"tcpdump did not start on {node}")
        self.procs[node] = proc
        sink = self.lines.setdefault(node, [])
        reader = threading.Thread(target=_drain, args=(proc, sink), daemon=True)
        reader.start()
        self.readers[node] = reader

    def arrivals(self, node: str) -> Arrivals:
        return parse_arrivals("\n".join(list(self.lines.get(node, []))), self.port)

    def text(self, node: str) -> str:
        return "\n".join(self.lines.get(node, []))

    def stop(self, node: str) -> None:
        proc = self.procs.pop(node, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.readers.pop(node).join(timeout=5)

    def stop_all(self) -> dict[str, Arrivals]:
        for node in list(self.procs):
            self.stop(node)
        return {n: self.arrivals(n) for n in self.lines}


def _drain(proc: subprocess.Popen[str], sink: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sink.append(line.rstrip("\n"))
    if proc.stderr is not None:
        proc.stderr.close()


def _send_argv(address: str, port: int, first: int, flows: int, every: float, for_s: float):
    numbers = [port, first, flows, every, for_s]
    return ["python3", "-c", SENDER, address, *(str(n) for n in numbers)]


def check_nexthop(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    from lab.verify.result import CheckResult, require_keys

    require_keys(spec, "nexthop")
    src = str(spec["from"])
    ctx.vm(src)
    address = ctx.address_of(str(spec["to"]))
    via = [str(v) for v in spec["via"] or []]
    flows = int(spec.get("flows", 16))
    port = int(spec.get("port", random.randint(40000, 49999)))
    first = 50000
    watch = sorted(set(watched_nodes(ctx)) | set(via))
    if "stop" in spec:
        return _failover(ctx, spec, cid, src, address, via, watch, flows, port, first)
    caps = Captures(ctx, watch, port)
    try:
        proc = ctx.run_in(src, _send_argv(address, port, first, flows, 0.2, 1.0), timeout=30)
        time.sleep(0.5)
    finally:
        seen = caps.stop_all()
    for node in caps.lines:
        ctx.save_raw(cid, f"tcpdump-{node}.txt", caps.text(node))
    counts = {n: len(a.flows()) for n, a in seen.items()}
    split = sorted(
        p for p in range(first, first + flows) if sum(p in a.times for a in seen.values()) > 1
    )
    used = {n for n, c in counts.items() if c}
    missing = sorted(
        p for p in range(first, first + flows) if not any(p in a.times for a in seen.values())
    )
    passed = proc.returncode == 0 and used == set(via) and not split
    if via:
        passed = passed and not missing
    spread = ", ".join(f"{n} {counts[n]}" for n in watch)
    summary = f"{flows} flows from {src} to {address}:{port}: {spread}"
    diagnosis = None
    if proc.returncode != 0:
        diagnosis = f"the sender failed in {src}: {proc.stderr.strip()[-200:]}"
    elif used != set(via):
        diagnosis = (
            f"expected flows at {', '.join(via) or 'no next hop'}, they arrived at "
            f"{', '.join(sorted(used)) or 'none'}"
        )
    elif split:
        diagnosis = f"flows {split[:5]} arrived at more than one next hop (not per-flow ECMP)"
    elif via and missing:
        diagnosis = f"{len(missing)} flows arrived nowhere"
    evidence = {"counts": counts, "split_flows": split, "missing_flows": missing, "port": port}
    return CheckResult("nexthop", spec, passed, summary, evidence, diagnosis)


def _failover(
    ctx: LabContext,
    spec: dict[str, Any],
    cid: str,
    src: str,
    address: str,
    via: list[str],
    watch: list[str],
    flows: int,
    port: int,
    first: int,
) -> CheckResult:
    """Flows running; stop a next hop; time until every flow arrives at the others; start
    it again; time until flows arrive at it again."""
    from lab.ops.faults import start_node, stop_node
    from lab.verify.result import CheckResult

    dead = str(spec["stop"])
    within = float(spec.get("within_s", 5))
    if dead not in via:
        raise UserError(f"check 'nexthop': stop {dead} must be one of via ({', '.join(via)})")
    rest = [n for n in via if n != dead]
    interval, settle, back_wait = 0.05, 2.0, 20.0
    duration = settle + within + 4 + back_wait
    caps = Captures(ctx, watch, port)
    sender = ctx.popen_in(src, _send_argv(address, port, first, flows, interval, duration))
    stopped_at = returned_at = restarted_at = None
    try:
        time.sleep(settle)
        stopped_at = time.time()
        stop_node(ctx.state, dead)
        caps.stop(dead)
        time.sleep(within + 2)
        restarted_at = time.time()
        start_node(ctx.state, dead)
        caps.start(dead)
        deadline = time.monotonic() + back_wait
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if caps.arrivals(dead).times:
                returned_at = time.time()
                break
        time.sleep(1.0)
    finally:
        sender.kill()
        sender.communicate()
        seen = caps.stop_all()
        if dead in ctx.state.info.stopped:
            start_node(ctx.state, dead)
    for node in caps.lines:
        ctx.save_raw(cid, f"tcpdump-{node}.txt", caps.text(node))
    assert stopped_at is not None and restarted_at is not None
    before = {
        n: len({p for p, ts in seen[n].times.items() if any(t < stopped_at for t in ts)})
        for n in via
    }
    moved = {p for p, ts in seen[dead].times.items() if any(t < stopped_at for t in ts)}
    # the first arrival after the stop of every flow at a surviving next hop
    firsts: dict[int, float] = {}
    for p in range(first, first + flows):
        stamps = [seen[n].first_after(p, stopped_at) for n in rest]
        stamps = [t for t in stamps if t is not None and t < restarted_at]
        if stamps:
            firsts[p] = min(stamps)
    all_moved = len(firsts) == flows
    move_s = round(max(firsts[p] for p in moved) - stopped_at, 2) if moved and all_moved else None
    back_s = round(returned_at - restarted_at, 2) if returned_at else None
    passed = bool(moved) and all_moved and move_s is not None and move_s <= within
    summary = (
        f"before: {', '.join(f'{n} {c}' for n, c in before.items())} of {flows} flows; "
        f"{dead} stopped: its {len(moved)} flows at {', '.join(rest)} after "
        f"{move_s if move_s is not None else '?'} s (max {within:g}); "
        f"{dead} started: flows back after {back_s if back_s is not None else '?'} s"
    )
    diagnosis = None
    if not moved:
        diagnosis = f"no flow used {dead} before it was stopped; nothing to move"
    elif not all_moved:
        diagnosis = f"{flows - len(firsts)} flows never reached {', '.join(rest)} after the stop"
    elif move_s is not None and move_s > within:
        diagnosis = f"flows took {move_s} s to move, more than {within:g} s (BFD detection?)"
    evidence = {
        "flows_before": before,
        "moved_flows": len(moved),
        "move_s": move_s,
        "back_s": back_s,
        "port": port,
        "stopped_at": stopped_at,
        "restarted_at": restarted_at,
        "returned_at": returned_at,
        "last_at_dead_before_stop": max(
            (t for ts in seen[dead].times.values() for t in ts if t < stopped_at), default=None
        ),
    }
    return CheckResult("nexthop", spec, passed, summary, evidence, diagnosis)
