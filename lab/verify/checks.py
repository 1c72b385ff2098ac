"""The check kinds of `lab check`. Each runs real commands in the lab and decides from their
parsed output; the raw output is kept under the lab's state directory."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.errors import UserError
from lab.providers.base import PCAP_FILE
from lab.runner import wait_for_output
from lab.state.info import VmInfo
from lab.topology.check_kinds import L4_KEYS
from lab.verify import flows as fl
from lab.verify import geneve as gv
from lab.verify import ping as pg
from lab.verify import steps
from lab.verify import trace as tr
from lab.verify.context import LabContext, slug
from lab.verify.result import CheckResult, require_keys

# --- ping ---------------------------------------------------------------------------------

# the source of an echo request in `tcpdump -vv` output, IPv4 or IPv6
_ECHO_REQUEST_SOURCE = (
    r"([\d.]+|[0-9a-f:]+) > [\da-f.:]+: (?:\[icmp6 sum ok\] )?ICMP6?,? echo request"
)

# `gateway`: how long the binding may take to settle, and how long it must then hold
GATEWAY_SETTLE_S = 10.0
GATEWAY_HOLD_S = 1.0


def check_ping(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    require_keys(spec, "ping")
    expect = spec.get("expect", "reach")
    if expect not in ("reach", "no-reach"):
        raise UserError(f"check 'ping': expect must be reach or no-reach, not '{expect}'")
    family = spec.get("family")
    if family not in (None, 4, 6):
        raise UserError(f"check 'ping': family must be 4 or 6, not {family!r}")
    address = ctx.address_of(str(spec["to"]), family)
    argv = pg.ping_argv(address, int(spec.get("count", 3)))
    sources: list[str] = []
    if "seen_as" in spec:
        # Capture at the destination while pinging: which source address arrives there?
        target = str(spec["to"])
        if target not in ctx.info.vms and target not in ctx.info.nodes:
            raise UserError("check 'ping': seen_as needs `to` to be a VM or node to capture on")
        holder: list[subprocess.CompletedProcess[str]] = []
        raw = _capture_while(
            ctx,
            target,
            "any",
            2 * int(spec.get("count", 3)),
            lambda: holder.append(ctx.run_in(str(spec["from"]), argv)),
            capture=["icmp6" if ":" in address else "icmp", "and", "dst", "host", address],
        )
        ctx.save_raw(cid, "destination-capture.txt", raw)
        sources = sorted(set(re.findall(_ECHO_REQUEST_SOURCE, raw)))
        proc = holder[0]
    else:
        proc = ctx.run_in(str(spec["from"]), argv)
    ctx.save_raw(cid, "ping.txt", proc.stdout + proc.stderr)
    result = pg.parse_ping(proc.stdout)
    ttl_seen = sorted(set(result.ttls))
    evidence = {
        "address": address,
        "transmitted": result.transmitted,
        "received": result.received,
        "loss_pct": result.loss_pct,
        "rtt_avg_ms": result.rtt_avg_ms,
        "ttl": ttl_seen,
    }
    passed = result.reached if expect == "reach" else not result.reached
    if passed and "ttl" in spec and ttl_seen != [int(spec["ttl"])]:
        passed = False
    if "seen_as" in spec:
        evidence["seen_as"] = sources
        if sources != [str(spec["seen_as"])]:
            passed = False
    summary = f"{result.received}/{result.transmitted} replies from {address}"
    if ttl_seen:
        summary += f", ttl {','.join(map(str, ttl_seen))}"
    if result.rtt_avg_ms is not None:
        summary += f", rtt {result.rtt_avg_ms:.2f} ms"
    if "seen_as" in spec:
        summary += f"; {spec['to']} sees source {', '.join(sources) or 'nothing'}"
    diagnosis = None
    if not passed and expect == "reach":
        diagnosis = diagnose(ctx, str(spec["from"]), str(spec["to"]), cid)
    return CheckResult("ping", spec, passed, summary, evidence, diagnosis)


def diagnose(ctx: LabContext, src: str, dst: str, cid: str) -> str:
    """Why a ping failed: where ovn-trace says the packet goes, and the port bindings."""
    from lab.ops.status import lab_status

    parts = []
    try:
        trace, text, _ = ctx.trace(src, dst)
        ctx.save_raw(cid, "diagnosis-ovn-trace.txt", text)
        if trace.output is None:
            from lab.verify.acl_trace import ACL_STAGE, decide

            last = trace.last_stage
            if last is not None and ACL_STAGE.match(last.name):  # name the ACL that dropped it
                parts.append("ovn-trace: " + decide(ctx, trace, text).describe())
            else:
                parts.append("ovn-trace: " + tr.explain_drop(trace))
        else:
            parts.append(
                f"ovn-trace delivers to {trace.output} via {' -> '.join(trace.datapaths)}, "
                "so the logical network is right and the physical path is not"
            )
    except UserError as exc:
        parts.append(str(exc))
    problems = lab_status(ctx.state).problems
    parts += problems or ["every port is bound and up on its chassis"]
    return "; ".join(parts)


# --- trace --------------------------------------------------------------------------------


def check_trace(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    from lab.verify import acl_trace

    if any(key in spec for key in L4_KEYS):  # TCP/UDP, ct states, ACL verdicts
        return acl_trace.check_trace_l4(ctx, spec, cid)  # type: ignore[no-any-return]
    require_keys(spec, "trace")
    trace, text, argv = ctx.trace(str(spec["from"]), str(spec["to"]))
    ctx.save_raw(cid, "ovn-trace.txt", " ".join(argv) + "\n\n" + text)
    want_path = [str(p) for p in spec.get("path", [])]
    want_out = spec.get("output")
    if want_out is not None and want_out in ctx.info.vms:
        want_out = ctx.vm(want_out).port
    path_ok = not want_path or trace.datapaths == want_path
    out_ok = want_out is None or trace.output == want_out
    summary = f"{' -> '.join(trace.datapaths) or 'no datapath'}; output {trace.output or 'none'}"
    diagnosis = None
    if not (path_ok and out_ok):
        wanted = " -> ".join(want_path) if want_path else "any path"
        diagnosis = f"expected {wanted}, output {want_out}"
        if trace.output is None:
            diagnosis += "; " + tr.explain_drop(trace)
    evidence = {
        "datapaths": trace.datapaths,
        "output": trace.output,
        "hops": [h.__dict__ for h in trace.hops],
    }
    return CheckResult("trace", spec, path_ok and out_ok, summary, evidence, diagnosis)


# --- geneve -------------------------------------------------------------------------------


def _capture_while(
    ctx: LabContext,
    node: str,
    interface: str,
    count: int,
    traffic: Callable[[], None],
    linger: float = 1.0,
    capture: list[str] | None = None,
    argv: list[str] | None = None,
) -> str:
    """Start tcpdump on a node, wait until it listens, run the traffic, then give the last
    packets `linger` seconds to arrive before stopping the capture."""
    argv = argv or gv.capture_argv(interface, count)
    if capture is not None:  # another filter than Geneve's UDP port
        argv = [*argv[: argv.index("udp")], *capture]
    proc = ctx.popen_in(node, argv)
    wait_for_output(proc.stderr, "listening on")
    try:
        traffic()
        out, _ = proc.communicate(timeout=linger)
    except subprocess.TimeoutExpired:
        proc.terminate()  # tcpdump prints what it captured on SIGTERM
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return out


def check_geneve(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    require_keys(spec, "geneve")
    src, dst, node = str(spec["from"]), str(spec["to"]), str(spec["on"])
    ctx.chassis_of(node)
    if dst not in ctx.info.vms:
        raise UserError("check 'geneve': `to` must be a VM (its port keys are what is decoded)")
    dst_ip = ctx.address_of(dst)
    # What OVN should put in the tunnel, from ovn-trace and the Southbound tunnel keys
    # (the reply in the request's family: an IPv6-only VM answers over IPv6).
    fwd, _, _ = ctx.trace(src, dst)
    rev, _, _ = ctx.trace(dst, ctx.address_of(src, 6 if ":" in dst_ip else 4))
    expect = {
        "echo request": _expected(ctx, fwd, ctx.vm(dst)),
        "echo reply": _expected(ctx, rev, ctx.vm(src)),
    }
    count = int(spec.get("count", 4))
    interface = ctx.info.nodes[node].links[ctx.info.overlay].node_if

    def traffic() -> None:
        ctx.run_in(src, pg.ping_argv(dst_ip, count=count, interval=0.2))

    if PCAP_FILE in ctx.provider.supports:  # a pcap, kept, decoded from its bytes
        pcap = _capture_pcap(ctx, node, interface, 2 * count, traffic, cid)
        decoded = gv.from_pcap(pcap.read_bytes())
    else:
        raw = _capture_while(ctx, node, interface, 2 * count, traffic)
        ctx.save_raw(cid, "tcpdump.txt", raw)
        decoded = gv.parse_geneve(raw)
    packets = [p for p in decoded if p.icmp in expect]
    seen = []
    wrong = []
    for p in packets:
        want = expect[p.icmp]
        got = {"vni": p.vni, "ingress": p.ingress_key, "egress": p.egress_key}
        row = {
            "icmp": p.icmp,
            "inner": f"{p.inner_src} > {p.inner_dst}",
            "outer": f"{p.outer_src} > {p.outer_dst}",
            "data": p.data,
            "options": p.options,
            **got,
            "ovn_option": p.is_ovn,
        }
        seen.append(row)
        if not p.is_ovn or got != {k: want[k] for k in got}:
            wrong.append(row)
    kinds = {p.icmp for p in packets}
    passed = bool(packets) and not wrong and kinds == set(expect)
    req = expect["echo request"]
    summary = f"{len(packets)} Geneve packets on {node}"
    if packets:
        summary += (
            f"; request VNI {req['vni']} ({req['datapath']}) data "
            f"{req['ingress']:04x}{req['egress']:04x} = in {req['in_port']} key "
            f"{req['ingress']}, out {req['out_port']} key {req['egress']}"
        )
    diagnosis = None
    if fwd.output is None:
        diagnosis = "ovn-trace: " + tr.explain_drop(fwd)
    elif not packets:
        diagnosis = (
            f"no Geneve packet between {src} and {dst} crossed {node}'s overlay; is "
            f"{node} the chassis of either VM?"
        )
    elif wrong:
        diagnosis = f"decoded {wrong[0]} but the Southbound keys say {expect[wrong[0]['icmp']]}"
    elif kinds != set(expect):
        diagnosis = f"saw only {sorted(kinds)} packets"
    evidence = {"expected": expect, "packets": seen}
    return CheckResult("geneve", spec, passed, summary, evidence, diagnosis)


def _capture_pcap(
    ctx: LabContext,
    node: str,
    interface: str,
    count: int,
    traffic: Callable[[], None],
    cid: str,
) -> Path:
    """Capture into the node's own directory (visible inside a docker node at the same
    path), then keep the pcap under the check's raw outputs."""
    from lab.state.store import node_dir

    in_node = node_dir(ctx.state, node) / f"capture-{cid}.pcap"
    argv = gv.pcap_capture_argv(interface, count, str(in_node))
    _capture_while(ctx, node, interface, count, traffic, argv=argv)
    kept = ctx.save_raw(cid, "geneve.pcap", "")
    if in_node.exists():
        in_node.replace(kept)
    return kept


def _expected(ctx: LabContext, trace: tr.Trace, dst_vm: VmInfo) -> dict[str, Any]:
    """VNI = destination switch's datapath key; option data = (port the packet entered that
    switch through, destination port) tunnel keys."""
    switch = dst_vm.switch
    in_port = trace.ingress_port_on(switch) or "?"
    return {
        "datapath": switch,
        "vni": ctx.datapath_keys.get(switch),
        "in_port": in_port,
        "out_port": dst_vm.port,
        "ingress": ctx.port_keys.get(in_port, -1),
        "egress": ctx.port_keys.get(dst_vm.port, -1),
    }


# --- flows --------------------------------------------------------------------------------


def check_flows(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    require_keys(spec, "flows")
    node, out_vm = str(spec["node"]), str(spec["output"])
    ctx.chassis_of(node)
    vm = ctx.vm(out_vm)
    idle = int(spec.get("idle_age", 1))
    src = str(spec.get("from") or _other_vm(ctx, out_vm))
    traffic = ctx.popen_in(src, pg.ping_argv(ctx.address_of(out_vm), count=8, interval=0.2))
    try:
        time.sleep(0.8)
        dump = ctx.run_in(node, fl.dump_flows_argv())
        show = ctx.run_in(node, ["ovs-ofctl", "show", "br-int"])
    finally:
        traffic.kill()
        traffic.communicate()
    ctx.save_raw(cid, "dump-flows.txt", dump.stdout)
    ctx.save_raw(cid, "ofctl-show.txt", show.stdout)
    flows = fl.parse_dump_flows(dump.stdout)
    ports = fl.parse_ofctl_show(show.stdout)
    hit = fl.recently_hit(flows, idle)
    port_key = ctx.port_keys.get(vm.port, -1)
    dp_key = ctx.datapath_keys.get(vm.switch, -1)
    out_flow = fl.output_flow_for(flows, port_key, dp_key)
    output_table = out_flow.table if out_flow else None
    input_tables = sorted({f.table for f in flows if f.is_tunnel_input})
    table = spec.get("table", "output")
    table = {"output": output_table, "input": input_tables[0] if input_tables else None}.get(
        table, table
    )
    evidence: dict[str, Any] = {
        "table": table,
        "output_table": output_table,
        "tunnel_input_tables": input_tables,
        "recent_flows": [f.text for f in hit if f.table == table],
    }
    if out_flow is None:
        return CheckResult(
            "flows",
            spec,
            False,
            f"no output flow for {out_vm} on {node}",
            evidence,
            (
                f"{out_vm} lives on {vm.chassis}, not {node}"
                if vm.chassis != node
                else f"{node} has no flow delivering to {out_vm}: is its ovn-controller or "
                "ovs-vswitchd running? (`lab status`)"
            ),
        )
    vm_ofport = next((n for n, name in ports.items() if name == _chassis_if(ctx, out_vm)), None)
    if table == output_table:
        recent = out_flow.idle_age is not None and out_flow.idle_age <= idle
        passed = recent and out_flow.output_port == vm_ofport
        summary = (
            f"table {table}: reg15={port_key:#x},metadata={dp_key:#x} "
            f"actions=output:{out_flow.output_port} ({ports.get(out_flow.output_port or -1)})"
            f", idle_age={out_flow.idle_age}"
        )
        evidence["flow"] = out_flow.text
        diagnosis = (
            None
            if passed
            else (
                f"the output flow was last hit {out_flow.idle_age} s ago (> {idle})"
                if not recent
                else f"output:{out_flow.output_port} is not {out_vm}'s port {vm_ofport}"
            )
        )
        return CheckResult("flows", spec, passed, summary, evidence, diagnosis)
    tunnel = [f for f in hit if f.table == table and f.is_tunnel_input]
    if tunnel:
        in_port = int(tunnel[0].match_fields().get("in_port", "-1"))
        evidence["flow"] = tunnel[0].text
        summary = (
            f"table {table}: tunnel input from {ports.get(in_port, in_port)} "
            f"(VNI -> metadata, option -> reg14/reg15), idle_age={tunnel[0].idle_age}; "
            f"delivered by table {output_table} output:{out_flow.output_port}"
        )
        return CheckResult("flows", spec, True, summary, evidence)
    return CheckResult(
        "flows",
        spec,
        False,
        f"no flow in table {table} hit in the last {idle} s",
        evidence,
        f"this OVN delivers to ports in table {output_table} and takes tunnel input "
        f"in table(s) {input_tables}; traffic from {src} may not reach {node} over a tunnel",
    )


def _other_vm(ctx: LabContext, vm: str) -> str:
    """A VM to send traffic from: one on another chassis if there is one."""
    vms = ctx.info.vms
    others = [v for v in vms if v != vm]
    remote = [v for v in others if vms[v].chassis != vms[vm].chassis]
    if not others:
        raise UserError(f"check 'flows': no other VM to send traffic to {vm} from; add `from:`")
    return (remote or others)[0]


def _chassis_if(ctx: LabContext, vm: str) -> str:
    return ctx.vm(vm).chassis_if


# --- gateways -----------------------------------------------------------------------------


def check_gateway(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    from lab.verify.gateways import active_chassis, gateway_ports

    require_keys(spec, "gateway")
    port = str(spec["port"])
    within = float(spec.get("within_s", GATEWAY_SETTLE_S))
    # right after lab up (or a restart) the gateways' BFD sessions are still coming up and
    # the binding may move between them: the expected chassis must hold it for a moment
    start = time.monotonic()
    held_since: float | None = None
    while True:
        active = active_chassis(ctx.state, port)
        now = time.monotonic()
        if active == spec["active"]:
            held_since = now if held_since is None else held_since
            if now - held_since >= GATEWAY_HOLD_S:
                break
        else:
            held_since = None
        if now - start >= within:
            break
        time.sleep(0.2)
    passed = held_since is not None and active == spec["active"]
    # what makes it a gateway port: gateway_chassis, an HA chassis group, a gateway router
    found = next((g for g in gateway_ports(ctx.state, ctx.nb) if g.port == port), None)
    kind = found.kind if found else "no gateway"
    candidates = ", ".join(f"{c} ({p})" for c, p in found.chassis) if found else ""
    bound = port if kind.startswith("gateway router") else f"cr-{port}"
    summary = f"{bound} is bound on {active or 'no chassis'} ({kind}"
    summary += f": {candidates})" if candidates and bound != port else ")"
    diagnosis = None if passed else f"expected {spec['active']}; see `lab gateways` for BFD"
    evidence = {"active": active, "kind": kind, "chassis": found.chassis if found else []}
    if passed and held_since is not None:
        evidence["settled_s"] = round(held_since - start, 2)
    return CheckResult("gateway", spec, passed, summary, evidence, diagnosis)


def check_failover(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """Stop the active gateway while a ping runs; measure the outage, check the standby took
    over, restart the node and check the lab recovered."""
    from lab.ops.faults import start_node, stop_node
    from lab.verify.gateways import active_chassis, wait_bfd_up

    require_keys(spec, "failover")
    port, node, traffic = str(spec["port"]), str(spec["stop"]), dict(spec["ping"])
    max_loss = float(spec.get("max_loss_s", 5))
    bfd_wait = wait_bfd_up(ctx.state, node)
    if bfd_wait is None:
        return CheckResult(
            "failover",
            spec,
            False,
            f"BFD to {node} never came up",
            {},
            "failover needs BFD between the gateways and chassis; see `lab gateways`",
        )
    before = active_chassis(ctx.state, port)
    address = ctx.address_of(str(traffic["to"]))
    window = max(10.0, 2 * max_loss + 6)
    ping = ctx.popen_in(
        str(traffic["from"]),
        ["ping", "-n", "-D", "-i", "0.1", "-W", "1", "-w", str(int(window)), address],
    )
    try:
        time.sleep(1.5)
        stopped_at = time.time()
        stop_node(ctx.state, node)
        after = None
        deadline = time.monotonic() + window - 2
        while time.monotonic() < deadline:
            after = active_chassis(ctx.state, port)
            if after not in (None, node):
                break
            time.sleep(0.2)
        if after not in (None, node):
            # Long enough for traffic to resume within the allowed loss, then stop early.
            time.sleep(max_loss + 1)
            ping.send_signal(signal.SIGINT)  # ping prints its replies so far and exits
        output, _ = ping.communicate(timeout=window + 10)
    finally:
        if ping.poll() is None:
            ping.kill()
            ping.communicate()
    ctx.save_raw(cid, "ping-during-failover.txt", output)
    outage = pg.longest_gap(output, since=stopped_at)
    start_node(ctx.state, node)
    # Gateway chassis are preemptive: once BFD to the restarted node is up again, the
    # highest priority takes the port back. Wait for that (or give up after 20 s).
    restarted = time.monotonic()
    after_restart = active_chassis(ctx.state, port)
    while after_restart != before and time.monotonic() - restarted < 20:
        time.sleep(0.2)
        after_restart = active_chassis(ctx.state, port)
    preempt_s = round(time.monotonic() - restarted, 2) if after_restart == before else None
    # Taking the port back is a second, shorter switch-over (the restarted node still
    # learns its neighbours): recovered = replies flow again within max_loss_s.
    probe = pg.ping_argv(address, count=3, interval=0.1, deadline_s=int(max_loss) + 1)
    recovered = ctx.run_in(str(traffic["from"]), probe, timeout=max_loss + 10)
    ctx.save_raw(cid, "ping-after-restart.txt", recovered.stdout)
    back = pg.parse_ping(recovered.stdout).received >= 3
    evidence = {
        "active_before": before,
        "active_after": after,
        "outage_s": outage,
        "recovered": back,
        "active_after_restart": after_restart,
        "preempted_back_s": preempt_s,
    }
    took_over = after not in (None, node)
    passed = took_over and outage is not None and outage <= max_loss and back
    back_to = (
        f"{after_restart} active again {preempt_s} s after restart"
        if preempt_s is not None
        else f"{after_restart} still active 20 s after restart"
    )
    summary = (
        f"{port}: {before} stopped, {after or 'nobody'} took over, outage "
        f"{outage if outage is not None else '?'} s (max {max_loss:g}); {back_to}, "
        f"ping {'ok' if back else 'FAILS'}"
    )
    diagnosis = None
    if not took_over:
        diagnosis = f"no other chassis claimed cr-{port}; see `lab gateways`"
    elif outage is None or outage > max_loss:
        diagnosis = f"traffic stopped for {outage} s, more than {max_loss:g} s"
    elif not back:
        diagnosis = f"after `lab start {node}` traffic did not flow again within {max_loss:g} s"
    return CheckResult("failover", spec, passed, summary, evidence, diagnosis)


def check_nexthop(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """Where a VM's flows leave OVN: ECMP spread, policies, BFD failover (lab.verify.nexthop)."""
    from lab.verify.nexthop import check_nexthop as run_nexthop

    return run_nexthop(ctx, spec, cid)


def check_lb(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """Requests through a load balancer VIP; health checks (lab.verify.lb)."""
    from lab.verify.lb import check_lb as run_lb

    return run_lb(ctx, spec, cid)


def check_raft(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """Kill raft leaders (or followers) of a clustered central; see lab.verify.raft."""
    from lab.verify.raft import check_raft as run_raft

    return run_raft(ctx, spec, cid)


def check_dhcp(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """The VM's lease = NB's address and options, applied in the VM; lab.verify.addressing."""
    from lab.verify.addressing import check_dhcp as run_dhcp

    return run_dhcp(ctx, spec, cid)


def check_dns(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """A name resolved through the DHCP name server, answered by ovn-controller."""
    from lab.verify.addressing import check_dns as run_dns

    return run_dns(ctx, spec, cid)


# --- the ToR CAM table -----------------------------------------------------------------------


def check_fdb(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """Evaluated after all other checks: was the MAC seen on the VLAN, and how often did it
    move between ToR ports while the checks ran?"""
    require_keys(spec, "fdb")
    watcher = ctx.fdb_watcher
    if watcher is None:
        raise UserError(f"lab {ctx.state.name} has no VLAN fabric to watch")
    key = (str(spec["network"]), int(spec["vlan"]), str(spec["mac"]).lower())
    where = watcher.seen.get(key)
    moves = watcher.move_counts()[(key[1], key[2])]
    evidence = {
        "port_node": where,
        "moves": moves,
        "tor_moves_counter": watcher.tor_moves,
        "history": [m.__dict__ for m in watcher.moves if (m.vlan, m.mac) == key[1:]],
    }
    max_moves = spec.get("max_moves")
    min_moves = spec.get("min_moves")
    passed = where is not None
    passed = passed and (max_moves is None or moves <= int(max_moves))
    passed = passed and (min_moves is None or moves >= int(min_moves))
    summary = (
        f"vid {key[1]} {key[2]} behind {where or 'nobody'}, moved {moves} times during the "
        f"checks (frames entering the ToR; its own move counter: {watcher.tor_moves})"
    )
    diagnosis = None
    if where is None:
        diagnosis = f"the ToR never learned {key[2]} on VLAN {key[1]}"
    elif not passed:
        diagnosis = f"expected moves within [{min_moves or 0}, {max_moves}] (flapping MAC)"
    return CheckResult("fdb", spec, passed, summary, evidence, diagnosis)


def check_connect(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """A real TCP/UDP exchange with a VM service; see lab.verify.connect."""
    from lab.verify.connect import check_connect as run_connect

    return run_connect(ctx, spec, cid)  # type: ignore[no-any-return]


def check_acl_log(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """Hits of a logging ACL in the chassis' ovn-controller logs; see lab.verify.acl_log."""
    from lab.verify.acl_log import check_acl_log as run_acl_log

    return run_acl_log(ctx, spec, cid)  # type: ignore[no-any-return]


def check_upgrade(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    """A rolling upgrade with a ping running; see lab.verify.upgrade_check."""
    from lab.verify.upgrade_check import check_upgrade as run_upgrade

    return run_upgrade(ctx, spec, cid)


CHECKS: dict[str, Callable[[LabContext, dict[str, Any], str], CheckResult]] = {
    "ping": check_ping,
    "trace": check_trace,
    "geneve": check_geneve,
    "flows": check_flows,
    "gateway": check_gateway,
    "failover": check_failover,
    "raft": check_raft,
    "fdb": check_fdb,
    "dhcp": check_dhcp,
    "dns": check_dns,
    "connect": check_connect,
    "acl_log": check_acl_log,
    "nexthop": check_nexthop,
    "lb": check_lb,
    # steps between checks, and assert (lab.verify.steps)
    "link": steps.step_link,
    "impair": steps.step_impair,
    "partition": steps.step_partition,
    "add-vm": steps.step_add_vm,
    "assert": steps.check_assert,
    "upgrade": check_upgrade,
}


def run_check(ctx: LabContext, index: int, entry: dict[str, dict[str, Any]]) -> CheckResult:
    ((kind, spec),) = entry.items()
    cid = f"{index:02d}-{kind}-{slug('-'.join(str(v) for v in spec.values()))}"
    start = time.monotonic()
    func = CHECKS.get(kind)
    if func is None:
        result = CheckResult(kind, spec, False, f"check kind '{kind}' is not implemented yet")
    else:
        try:
            result = func(ctx, dict(spec), cid)
        except UserError as exc:
            result = CheckResult(kind, spec, False, "could not run", diagnosis=str(exc))
    result.seconds = time.monotonic() - start
    return result


def run_checks(
    ctx: LabContext, on_result: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Run every check of the topology. When any `fdb` check exists, the ToR CAM table is
    watched while the others run, and the fdb checks are judged last, on what was seen."""
    from lab.verify.fdb import CamTable, Watcher

    entries = list(enumerate(ctx.topology.checks, 1))
    deferred = [(i, e) for i, e in entries if "fdb" in e]
    if deferred:
        ctx.fdb_watcher = Watcher(CamTable(ctx.state))
        ctx.fdb_watcher.start()
    results: list[CheckResult] = []
    try:
        for index, entry in entries:
            if "fdb" in entry:
                continue
            results.append(run_check(ctx, index, entry))
            if on_result:
                on_result(results[-1])
    finally:
        if ctx.fdb_watcher:
            ctx.fdb_watcher.stop()
        undone = steps.undo_steps(ctx)  # a failed run too: no fault outlives `lab check`
        if undone:
            results.append(CheckResult("undo", {}, False, "; ".join(undone)))
            if on_result:
                on_result(results[-1])
    for index, entry in deferred:
        results.append(run_check(ctx, index, entry))
        if on_result:
            on_result(results[-1])
    return results
