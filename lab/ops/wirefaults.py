"""Faults on the wires: `lab link` (cut one cable), `lab impair` (delay, jitter, loss, rate),
`lab partition` (drop only the traffic between two nodes).

Everything is done at the fabric, in the lab's fabric namespace, where every node link is a
veth (`fabric_if`) plugged into the fabric's bridge, so it works the same for netns and
docker nodes and needs nothing inside them:

- link: the fabric end of the veth goes down (the node sees no carrier).
- partition: ebtables in the bridge's FORWARD chain drops frames from one node's port to
  the other's, both ways, on every fabric the two share: a chassis partitioned from the
  central loses its Southbound connection and keeps its Geneve tunnels to other chassis.
- impair: sch_netem where the kernel has it; this machine's kernel does not, so loss is an
  iptables `statistic` rule on the bridged traffic (br_netfilter), delay and jitter an
  NFQUEUE rule whose packets lab.fabric.nfqueue_delay holds back, and rate a tbf qdisc on both
  ends of the veth. A packet that crosses the fabric between two impaired links is
  impaired once, by the first.

VLAN fabrics are an OVS bridge (userspace, invisible to netfilter): links can be cut there,
impair and partition refuse them. Each fault is recorded in the lab's state before it is
applied; they all live in the lab's namespaces, so `lab down` removes them with those.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from dataclasses import asdict
from typing import Any

from lab import providers
from lab.errors import RuntimeFailure, UserError
from lab.providers.base import WIRE_FAULTS, require
from lab.runner import netns_argv, run, wait_for_output
from lab.state.info import LinkInfo
from lab.state.store import LabState, lab_lock, load_state
from lab.topology.impairments import Impairment

FIRST_QUEUE = 100


# --- state ------------------------------------------------------------------------------------


def faults(state: LabState) -> dict[str, Any]:
    """{"links": {"node/fabric": "down"}, "impair": {"node/fabric": {...}},
    "partitions": {"a|b": [fabrics]}} (pairs sorted by name)."""
    found = state.info.faults
    for key in ("links", "impair", "partitions"):
        found.setdefault(key, {})
    return found


def describe(state: LabState) -> list[str]:
    """One line per fault in place, for `lab status`."""
    found = state.info.faults
    lines = [f"link {k.replace('/', ' ')} is down" for k in found.get("links", {})]
    for key, entry in found.get("impair", {}).items():
        imp = Impairment(**{k: entry[k] for k in asdict(Impairment())})
        lines.append(f"impair {key.replace('/', ' ')}: {imp.describe()}")
    for key, fabrics in found.get("partitions", {}).items():
        a, b = key.split("|")
        lines.append(f"partition {a} <-> {b} on {', '.join(fabrics)}")
    return lines


@contextlib.contextmanager
def _locked(name: str):  # type: ignore[no-untyped-def]
    """The lab's state, freshly read under its lock, saved on the way out."""
    with lab_lock(name):
        state = load_state(name)
        if state is None:
            raise UserError(f"lab '{name}' is gone")
        require(providers.of(state), WIRE_FAULTS, "link, impair and partition")
        try:
            yield state
        finally:  # also after a failure: what was undone is forgotten, what is left is known
            state.save()


def _link(state: LabState, node: str, fabric: str) -> LinkInfo:
    nodes = state.info.nodes
    if node not in nodes:
        raise UserError(f"'{node}' is not a node of lab {state.name} (nodes: {', '.join(nodes)})")
    links = nodes[node].links
    if fabric not in links:
        raise UserError(
            f"node {node} is not on fabric '{fabric}' (its fabrics: {', '.join(links)}); "
            "name one of those"
        )
    return links[fabric]


def _not_vlan(state: LabState, fabric: str, what: str) -> None:
    if fabric in state.info.vlan_fabrics:
        raise UserError(
            f"{what} on VLAN fabric '{fabric}' is not supported (its ToR is an OVS userspace "
            "bridge netfilter cannot see); use a plain fabric such as the overlay"
        )


def _stopped(state: LabState, node: str) -> None:
    if node in state.info.stopped:
        raise UserError(f"node {node} is stopped (its cables are out); `lab start {node}` first")


# --- link -------------------------------------------------------------------------------------


def _set_link(state: LabState, fabric_if: str, up: bool) -> None:
    from lab.fabric import links

    with links.ipr(state.info.fabric_netns) as handle:
        handle.link("set", index=links.index(handle, fabric_if), state="up" if up else "down")


def set_link(name: str, node: str, fabric: str, up: bool) -> None:
    with _locked(name) as state:
        link = _link(state, node, fabric)
        _stopped(state, node)
        key = f"{node}/{fabric}"
        down = faults(state)["links"]
        if up and key not in down:
            raise UserError(f"link {node} {fabric} is not down; nothing to restore")
        if not up and key in down:
            raise UserError(f"link {node} {fabric} is already down; `lab link {node} {fabric} up`")
        if not up:
            down[key] = "down"
            state.save()  # recorded first
        _set_link(state, link.fabric_if, up)
        if up:
            down.pop(key)


def relink(state: LabState, node: str) -> None:
    """After `lab start NODE` plugged every cable back in: cut again those `lab link` cut."""
    for key in faults(state)["links"]:
        owner, fabric = key.split("/", 1)
        if owner == node:
            _set_link(state, state.info.nodes[node].links[fabric].fabric_if, False)


# --- impair -----------------------------------------------------------------------------------


def need(tool: str) -> None:
    """iptables and ebtables (Debian's iptables package has both): the fix if missing."""
    import shutil

    if shutil.which(tool) is None:
        raise UserError(f"{tool} is not installed; install it with `apt-get install -y iptables`")


def _xt(state: LabState, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["iptables", "-w", "5", *args], netns=state.info.fabric_netns, check=check)


def _chain(fabric_if: str) -> str:
    return f"lab-imp-{fabric_if}"[:28]


def _jumps(fabric_if: str) -> list[list[str]]:
    """Bridged traffic leaving the node's port into the fabric, and entering it."""
    chain = _chain(fabric_if)
    return [
        ["FORWARD", "-m", "physdev", "--physdev-in", fabric_if, "-j", chain],
        [
            "FORWARD",
            "-m",
            "physdev",
            "--physdev-is-bridged",
            "--physdev-out",
            fabric_if,
            "-j",
            chain,
        ],
    ]


def _free_queue(state: LabState) -> int:
    used = {e.get("queue") for e in faults(state)["impair"].values()}
    queue = FIRST_QUEUE
    while queue in used:
        queue += 1
    return queue


def _start_delayer(state: LabState, queue: int, imp: Impairment) -> int:
    argv = [
        sys.executable,
        "-m",
        "lab.fabric.nfqueue_delay",
        "--queue",
        str(queue),
        "--delay",
        f"{imp.delay_ms:g}",
        "--jitter",
        f"{imp.jitter_ms:g}",
    ]
    proc = subprocess.Popen(
        netns_argv(state.info.fabric_netns, argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # outlives this command; dies with the fabric namespace
    )
    if not wait_for_output(proc.stdout, "ready", timeout=10):
        proc.kill()
        raise RuntimeFailure(f"the delay process for nfqueue {queue} did not start")
    return proc.pid


def _rate(state: LabState, netns: str, ifname: str, mbit: float | None) -> None:
    """tbf on one end of a veth (None: remove it)."""
    from lab.fabric import links

    with links.ipr(netns) as handle:
        idx = links.index(handle, ifname)
        with contextlib.suppress(Exception):  # no qdisc of ours: nothing to remove
            handle.tc("del", index=idx, handle="1:", parent=0xFFFFFFFF)
        if mbit:
            burst = max(1600, int(mbit * 1_000_000 / 8 / 250))  # ~4 ms of traffic, >= a frame
            handle.tc(
                "add",
                "tbf",
                index=idx,
                handle="1:",
                rate=f"{max(1, round(mbit * 1000))}kbit",
                burst=burst,
                latency="50ms",
            )


def _node_netns(state: LabState, node: str) -> str:
    return state.info.nodes[node].netns


def _apply_impairment(state: LabState, node: str, link: LinkInfo, entry: dict[str, Any]) -> None:
    imp = Impairment(**{k: entry[k] for k in asdict(Impairment())})
    fabric_if = link.fabric_if
    chain = _chain(fabric_if)
    if imp.delay_ms or imp.loss_pct:
        _xt(state, "-N", chain)
        if imp.loss_pct:
            probability = f"{imp.loss_pct / 100:.6f}"
            _xt(
                state,
                "-A",
                chain,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                probability,
                "-j",
                "DROP",
            )
        if imp.delay_ms:
            entry["pid"] = _start_delayer(state, entry["queue"], imp)
            state.save()
            _xt(
                state,
                "-A",
                chain,
                "-j",
                "NFQUEUE",
                "--queue-num",
                str(entry["queue"]),
                "--queue-bypass",
            )
        for jump in _jumps(fabric_if):
            _xt(state, "-I", *jump)
    if imp.rate_mbit:
        _rate(state, state.info.fabric_netns, fabric_if, imp.rate_mbit)
        _rate(state, _node_netns(state, node), link.node_if, imp.rate_mbit)


def _remove_impairment(state: LabState, node: str, link: LinkInfo, entry: dict[str, Any]) -> None:
    """Undo whatever part of an impairment exists (also of one that failed half-way)."""
    import os
    import signal

    fabric_if = link.fabric_if
    for jump in _jumps(fabric_if):
        _xt(state, "-D", *jump, check=False)
    _xt(state, "-F", _chain(fabric_if), check=False)
    _xt(state, "-X", _chain(fabric_if), check=False)
    pid = entry.get("pid")
    if pid:
        from lab.providers.netns import namespaces as nsprov

        # only if it still lives in the fabric namespace: a reused pid is not ours
        if pid in nsprov.pids_in([state.info.fabric_netns]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if entry.get("rate_mbit"):
        _rate(state, state.info.fabric_netns, fabric_if, None)
        _rate(state, _node_netns(state, node), link.node_if, None)


def impair(name: str, node: str, fabric: str, imp: Impairment | None) -> Impairment | None:
    """Set (replacing what was there) or clear (`imp` None) a link's impairment; returns the
    one that was in place."""
    with _locked(name) as state:
        link = _link(state, node, fabric)
        _not_vlan(state, fabric, "impair")
        key = f"{node}/{fabric}"
        table = faults(state)["impair"]
        old = table.get(key)
        if imp is None and old is None:
            raise UserError(f"link {node} {fabric} is not impaired; nothing to clear")
        if imp is not None and imp.empty:
            raise UserError(
                "impair needs at least one of --delay, --jitter, --loss, --rate (or --clear)"
            )
        if old is not None:
            _remove_impairment(state, node, link, old)
            table.pop(key)
            state.save()
        if imp is not None:
            need("iptables")
            entry = {**asdict(imp), "queue": _free_queue(state), "pid": None}
            table[key] = entry
            state.save()  # recorded before it is applied
            try:
                _apply_impairment(state, node, link, entry)
            except BaseException:
                _remove_impairment(state, node, link, entry)
                table.pop(key)
                raise
        return Impairment(**{k: old[k] for k in asdict(Impairment())}) if old else None


# --- partition --------------------------------------------------------------------------------


def _pair(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))


def _eb(state: LabState, action: str, src_if: str, dst_if: str) -> None:
    run(
        ["ebtables", action, "FORWARD", "-i", src_if, "-o", dst_if, "-j", "DROP"],
        netns=state.info.fabric_netns,
        check=action != "-D",
    )


def shared_fabrics(state: LabState, a: str, b: str) -> list[str]:
    links_a = state.info.nodes[a].links
    links_b = state.info.nodes[b].links
    return [f for f in links_a if f in links_b]


def partition(name: str, node: str, others: list[str], heal: bool) -> list[tuple[str, list[str]]]:
    """Drop (or stop dropping) all traffic between `node` and each of `others` on every
    plain fabric they share. Returns (other, fabrics) per pair changed."""
    with _locked(name) as state:
        nodes = state.info.nodes
        table = faults(state)["partitions"]
        for who in [node, *others]:
            if who not in nodes:
                raise UserError(f"'{who}' is not a node of lab {name} (nodes: {', '.join(nodes)})")
        if heal and not others:  # every partition of the node
            others = [
                p for key in table for p in key.split("|") if node in key.split("|") and p != node
            ]
            if not others:
                raise UserError(f"node {node} is not partitioned from anything; nothing to heal")
        if node in others:
            raise UserError(
                f"a node cannot be partitioned from itself; --from names other nodes than {node}"
            )
        if len(set(others)) != len(others):
            raise UserError("--from names a node twice; name each once")
        plan: list[tuple[str, list[str]]] = []
        for other in others:
            key = _pair(node, other)
            if heal:
                if key not in table:
                    raise UserError(f"{node} and {other} are not partitioned; nothing to heal")
                plan.append((other, list(table[key])))
                continue
            if key in table:
                raise UserError(f"{node} and {other} are already partitioned")
            fabrics = [
                f for f in shared_fabrics(state, node, other) if f not in state.info.vlan_fabrics
            ]
            if not fabrics:
                raise UserError(
                    f"{node} and {other} share no plain fabric to partition them on "
                    "(VLAN fabrics are not supported)"
                )
            plan.append((other, fabrics))
        need("ebtables")
        for other, fabrics in plan:
            key = _pair(node, other)
            if not heal:
                table[key] = fabrics
                state.save()  # recorded before it is applied
            for fabric in fabrics:
                a_if = nodes[node].links[fabric].fabric_if
                b_if = nodes[other].links[fabric].fabric_if
                for src, dst in ((a_if, b_if), (b_if, a_if)):
                    _eb(state, "-D" if heal else "-A", src, dst)
            if heal:
                table.pop(key)
                state.save()
        return plan


def undo(name: str, applied: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Undo faults a `lab check` run applied, newest first; returns problems (never raises:
    a failed run must still undo what it can)."""
    problems = []
    for kind, args in reversed(applied):
        try:
            if kind == "link":
                set_link(name, args[0], args[1], up=True)
            elif kind == "impair":
                impair(name, args[0], args[1], None)
            elif kind == "partition":
                partition(name, args[0], [args[1]], heal=True)
        except UserError:
            continue  # the script itself undid it already
        except Exception as exc:
            problems.append(f"undoing {kind} {' '.join(args)}: {exc}")
    return problems
