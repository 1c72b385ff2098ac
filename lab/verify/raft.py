"""The `raft` check: the clustered control plane survives losing its leaders.

With a ping running between two VMs:
- fail the active ovn-northd over (unless `northd: false`): SIGKILL it, time until a standby
  reports active, start it again (it stands by). Done first, in a settled cluster;
- SIGKILL the ovsdb-server that leads each database (`kill: leader`: NB and SB both lose
  their leader, on one central or two, and each keeps a 2-of-3 majority) or one follower of
  each (`kill: follower`); time until a surviving server leads a newer term (the election);
- prove the cluster takes writes (unless `write: false`): a new VM is added with the
  machinery of `lab add-vm` (NB write -> northd -> SB -> ovn-controller -> port up), pings
  the ping target, and is removed again;
- restart the killed servers on their databases: they rejoin their clusters as followers;
- the ping's longest silence since the first kill is the data plane outage (expected to be
  none: flows stay installed while ovn-controller reconnects), at most `max_loss_s`;
- `lab status` is healthy at the end.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from ipaddress import IPv4Interface
from typing import Any

from lab import providers
from lab.errors import LabError, UserError
from lab.ovn import central as ovn_central
from lab.ovn.central import DBS, CentralDb
from lab.ovn.cluster import ClusterStatus, leader_of, read_cluster_status, read_northd_status
from lab.ovn.daemons import Daemon, node_env
from lab.plan.model import Plan
from lab.state.store import LabState, lab_lock, node_dir
from lab.verify import ping as pg
from lab.verify.context import LabContext
from lab.verify.result import CheckResult, require_keys

KILLS = ("leader", "follower")
ELECTION_TIMEOUT = 20.0  # s for the survivors to elect a leader
REJOIN_TIMEOUT = 30.0  # s for a restarted server to be a member in sync again
NORTHD_TIMEOUT = 20.0  # s for a standby ovn-northd to take over
HEALTHY_TIMEOUT = 20.0  # s for `lab status` to be healthy after the restarts
POLL = 0.05
PROBE_VM = "raft-probe"


@dataclass
class Kill:
    db: CentralDb
    node: str  # the central whose server was killed
    role: str  # its role then: leader | follower
    term: int
    at: float = 0.0  # time.monotonic() of the SIGKILL


def check_raft(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    from lab.state.saved import saved_plan

    require_keys(spec, "raft")
    kill = str(spec["kill"])
    if kill not in KILLS:
        raise UserError(f"check 'raft': kill must be one of {', '.join(KILLS)}, not '{kill}'")
    plan = saved_plan(ctx.state)
    if not plan.clustered:
        raise UserError(
            "check 'raft' needs a raft cluster: give the topology three nodes of role central"
        )
    traffic = dict(spec["ping"])
    if spec.get("write", True) and str(traffic.get("from")) not in ctx.info.vms:
        raise UserError("check 'raft': ping.from must be a VM (the write probe is put beside it)")
    max_loss = float(spec.get("max_loss_s", 1))
    before = {db.kind: _views(plan, ctx.state, db) for db in DBS}
    kills = _victims(before, kill)
    if kills is None:
        return CheckResult(
            "raft", spec, False, "a database has no leader before the test", _show(before)
        )
    address = ctx.address_of(str(traffic["to"]))
    ping = ctx.popen_in(
        str(traffic["from"]), ["ping", "-n", "-D", "-i", "0.1", "-W", "1", "-w", "300", address]
    )
    evidence: dict[str, Any] = {"before": _show(before)}
    killed: list[Kill] = []
    try:
        time.sleep(1.0)
        killed_at = time.time()
        if spec.get("northd", True):  # first, in a settled cluster: every standby waits
            evidence["northd"] = _northd_failover(ctx.state, plan)
        for k in kills:
            k.at = time.monotonic()
            _sigkill(_daemon(ctx.state, k.node, k.db.daemon))
            killed.append(k)
        evidence["elections"] = [_election(plan, ctx.state, k) for k in kills]
        if spec.get("write", True):
            evidence["write"] = _write_probe(ctx, traffic)
        evidence["rejoin"] = _restart(ctx.state, plan, killed)
        ping.send_signal(signal.SIGINT)  # ping prints its replies so far and exits
        output, _ = ping.communicate(timeout=30)
    finally:
        if killed and "rejoin" not in evidence:  # failed half-way: never leave them dead
            _restart(ctx.state, plan, killed)
        if ping.poll() is None:
            ping.kill()
            ping.communicate()
    ctx.save_raw(cid, "ping-during-raft.txt", output)
    evidence["outage_s"] = pg.longest_gap(output, since=killed_at)
    try:
        stats = pg.parse_ping(output)
        evidence["ping"] = {"transmitted": stats.transmitted, "received": stats.received}
    except ValueError:
        evidence["ping"] = None
    evidence["after"] = _show({db.kind: _views(plan, ctx.state, db) for db in DBS})
    evidence["healthy"], evidence["problems"] = _wait_healthy(ctx.state)
    return _judge(spec, kill, max_loss, evidence)


# --- the cluster ----------------------------------------------------------------------------


def _views(plan: Plan, state: LabState, db: CentralDb) -> dict[str, ClusterStatus | None]:
    return {c: read_cluster_status(db.ctl(node_dir(state, c)), db.name) for c in plan.centrals}


def _victims(before: dict[str, dict[str, ClusterStatus | None]], kill: str) -> list[Kill] | None:
    """One server per database: its leader, or a follower (the first one, in node order)."""
    kills = []
    for db in DBS:
        views = before[db.kind]
        leader = leader_of(views)
        if leader is None:
            return None
        if kill == "leader":
            node = leader
        else:
            node = next((n for n, v in views.items() if v and n != leader), "")
            if not node:
                return None
        view = views[node]
        kills.append(Kill(db, node, "leader" if node == leader else "follower", view.term))  # type: ignore[union-attr]
    return kills


def _daemon(state: LabState, node: str, name: str) -> Daemon:
    return Daemon(name, node_dir(state, node), providers.of(state).node_runner(state, node))


def _sigkill(daemon: Daemon) -> None:
    pid = daemon.pid()
    if pid is None or not daemon.alive():
        raise UserError(f"{daemon.name} in {daemon.node_dir} is not running; see `lab status`")
    os.kill(pid, signal.SIGKILL)


def _election(plan: Plan, state: LabState, k: Kill) -> dict[str, Any]:
    """After killing a leader: the first survivor to lead a newer term, and when. After
    killing a follower: the leader should simply stay."""
    survivors = [c for c in plan.centrals if c != k.node]
    deadline = k.at + ELECTION_TIMEOUT
    leader = None
    while True:  # at least once: several kills share the time
        views = {c: read_cluster_status(k.db.ctl(node_dir(state, c)), k.db.name) for c in survivors}
        leader = leader_of(views)
        if k.role == "leader" and leader is not None:
            elected = views[leader]
            if elected is not None and elected.term > k.term:
                return {
                    "db": k.db.name,
                    "killed": k.node,
                    "killed_role": k.role,
                    "new_leader": leader,
                    "term": elected.term,
                    "election_s": round(time.monotonic() - k.at, 2),
                }
        if k.role != "leader" or time.monotonic() >= deadline:
            break
        time.sleep(POLL)
    view = views.get(leader) if leader else None
    return {
        "db": k.db.name,
        "killed": k.node,
        "killed_role": k.role,
        "new_leader": leader,
        "term": view.term if view else None,
        "election_s": None,
    }


def _restart(state: LabState, plan: Plan, kills: list[Kill]) -> dict[str, Any]:
    """Start the killed servers again on their databases; time until each is a member that
    knows its leader again."""
    with lab_lock(state.name):
        for k in kills:
            runner = providers.of(state).node_runner(state, k.node)
            node = plan.nodes[k.node]
            ovn_central.start_db_server(plan, node, node_dir(state, k.node), k.db, runner)
    started = time.monotonic()
    result: dict[str, Any] = {}
    for k in kills:
        ctl = k.db.ctl(node_dir(state, k.node))
        view = read_cluster_status(ctl, k.db.name)
        while (view is None or not view.is_member) and time.monotonic() - started < REJOIN_TIMEOUT:
            time.sleep(POLL * 4)
            view = read_cluster_status(ctl, k.db.name)
        result[k.db.name] = {
            "node": k.node,
            "rejoined": bool(view and view.is_member),
            "role": view.role if view else None,
            "rejoin_s": round(time.monotonic() - started, 2) if view and view.is_member else None,
        }
    return result


# --- writes -------------------------------------------------------------------------------


def _write_probe(ctx: LabContext, traffic: dict[str, Any]) -> dict[str, Any]:
    """A new VM next to the ping source: its port is a write to the NB cluster that must go
    all the way to `up`; then it pings the ping target."""
    from lab.ops.vms import add_vm, del_vm

    src = str(traffic["from"])
    model = ctx.topology.vms[src]
    if PROBE_VM in ctx.info.vms:  # left over by an interrupted run
        del_vm(ctx.state, PROBE_VM)
    ip = _free_address(ctx, model.ip)
    result: dict[str, Any] = {"vm": PROBE_VM, "ip": str(ip)}
    try:
        took = add_vm(
            ctx.state,
            PROBE_VM,
            model.chassis,
            model.switch,
            str(ip),
            str(model.gateway) if model.gateway else None,
        )
        result["port_up_s"] = round(took, 2)
        probe = ctx.run_in(
            PROBE_VM,
            pg.ping_argv(ctx.address_of(str(traffic["to"])), count=3, deadline_s=5),
            timeout=15,
        )
        result["ping_received"] = pg.parse_ping(probe.stdout).received
    except (LabError, ValueError) as exc:
        result["error"] = str(exc)
    finally:
        if PROBE_VM in ctx.info.vms:
            del_vm(ctx.state, PROBE_VM)
    return result


def _free_address(ctx: LabContext, near: IPv4Interface) -> IPv4Interface:
    """The highest address of the VM's subnet that no VM or router port uses."""
    used = {IPv4Interface(v.ip).ip for v in ctx.info.vms.values()}
    for router in ctx.topology.ovn.routers.values():
        used |= {n.ip for port in router.ports.values() for n in port.networks}
    for host in reversed(list(near.network.hosts())):
        if host not in used:
            return IPv4Interface(f"{host}/{near.network.prefixlen}")
    raise UserError(f"check 'raft': no free address in {near.network} for the write probe")


# --- ovn-northd -----------------------------------------------------------------------------


def _northd_states(state: LabState, plan: Plan) -> dict[str, str | None]:
    return {
        c: read_northd_status(node_env(node_dir(state, c), node_dir(state, c)))
        for c in plan.centrals
    }


def _one_active(states: dict[str, str | None]) -> str | None:
    active = [c for c, s in states.items() if s == "active"]
    return active[0] if len(active) == 1 else None


def _northd_failover(state: LabState, plan: Plan) -> dict[str, Any]:
    """Kill the active ovn-northd; time until a standby reports active; restart it."""
    deadline = time.monotonic() + NORTHD_TIMEOUT
    states = _northd_states(state, plan)
    while _one_active(states) is None and time.monotonic() < deadline:
        time.sleep(POLL * 4)
        states = _northd_states(state, plan)
    active = _one_active(states)
    result: dict[str, Any] = {"before": states, "killed": active}
    if active is None:
        return result
    killed_at = time.monotonic()
    _sigkill(_daemon(state, active, "ovn-northd"))
    others = [c for c in plan.centrals if c != active]
    while time.monotonic() - killed_at < NORTHD_TIMEOUT:
        now = {
            c: read_northd_status(node_env(node_dir(state, c), node_dir(state, c))) for c in others
        }
        took_over = _one_active(now)
        if took_over is not None:
            result.update(active_after=took_over, failover_s=round(time.monotonic() - killed_at, 2))
            break
        time.sleep(POLL)
    with lab_lock(state.name):
        runner = providers.of(state).node_runner(state, active)
        ovn_central.start_northd(plan, plan.nodes[active], node_dir(state, active), runner)
    restarted = None
    while time.monotonic() - killed_at < NORTHD_TIMEOUT * 2:
        restarted = read_northd_status(node_env(node_dir(state, active), node_dir(state, active)))
        if restarted is not None:
            break
        time.sleep(POLL * 4)
    result["restarted_status"] = restarted
    return result


# --- verdict --------------------------------------------------------------------------------


def _wait_healthy(state: LabState) -> tuple[bool, list[str]]:
    from lab.ops.status import lab_status

    deadline = time.monotonic() + HEALTHY_TIMEOUT
    while True:
        status = lab_status(state)
        if status.healthy or time.monotonic() >= deadline:
            return status.healthy, status.problems
        time.sleep(0.5)


def _show(views: dict[str, dict[str, ClusterStatus | None]]) -> dict[str, Any]:
    """Per database, per central: role/term/leader as JSON-able text."""
    return {
        kind: {
            node: (
                f"{v.role} term {v.term} leader {v.leader or '?'} ({v.server_id})" if v else None
            )
            for node, v in per_node.items()
        }
        for kind, per_node in views.items()
    }


def _judge(spec: dict[str, Any], kill: str, max_loss: float, ev: dict[str, Any]) -> CheckResult:
    problems: list[str] = []
    parts: list[str] = []
    northd = ev.get("northd")
    if northd is not None:
        if northd.get("failover_s") is None:
            problems.append(f"no standby ovn-northd became active (before: {northd['before']})")
        else:
            parts.append(
                f"ovn-northd {northd['killed']} -> {northd['active_after']} in "
                f"{northd['failover_s']} s"
            )
        if northd.get("restarted_status") not in ("standby", "active"):
            problems.append(f"the restarted ovn-northd {northd.get('killed')} does not answer")
    for e in ev["elections"]:
        if kill == "leader":
            if e["election_s"] is None:
                problems.append(f"no new {e['db']} leader within {ELECTION_TIMEOUT:g} s")
            else:
                parts.append(
                    f"{e['db']} leader {e['killed']} killed, {e['new_leader']} elected in "
                    f"{e['election_s']} s"
                )
        else:
            parts.append(f"{e['db']} follower {e['killed']} killed, leader {e['new_leader']} stays")
            if e["new_leader"] is None or e["new_leader"] == e["killed"]:
                problems.append(f"{e['db']} has no leader after a follower died")
    write = ev.get("write")
    if write is not None:
        if "error" in write or write.get("ping_received", 0) < 1:
            problems.append(f"write probe failed: {write.get('error', 'its VM could not ping')}")
        else:
            parts.append(f"new VM {write['vm']} up in {write['port_up_s']} s and pinging")
    slow = [db for db, r in ev["rejoin"].items() if not r["rejoined"]]
    if slow:
        problems.append(f"killed servers did not rejoin within {REJOIN_TIMEOUT:g} s: {slow}")
    else:
        parts.append(
            "rejoined in " + ", ".join(f"{r['rejoin_s']} s" for r in ev["rejoin"].values())
        )
    outage = ev["outage_s"]
    parts.append(f"ping outage {outage if outage is not None else '?'} s (max {max_loss:g})")
    if outage is None or outage > max_loss:
        problems.append(f"the ping between the VMs stopped for {outage} s (max {max_loss:g} s)")
    if not ev["healthy"]:
        problems.append("lab status is unhealthy afterwards: " + "; ".join(ev["problems"]))
    passed = not problems
    return CheckResult(
        "raft", spec, passed, "; ".join(parts), ev, "; ".join(problems) if problems else None
    )
