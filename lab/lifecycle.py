"""`lab up` and `lab down`: the pipeline from plan to a running lab, and back to nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

from lab import fabric, preflight
from lab.errors import LabError, UserError
from lab.ovn import central as ovn_central
from lab.ovn import chassis as ovn_chassis
from lab.ovn import daemons
from lab.ovn.wait import nb_db, wait_ports_up
from lab.plan.commands import transaction
from lab.plan.model import NodePlan, Plan
from lab.progress import Progress
from lab.providers import netns as nsprov
from lab.runner import run
from lab.state import LabState, create_state, lab_dir, lab_lock, load_state
from lab.testhooks import checkpoint

PORT_UP_TIMEOUT = 60.0


def node_dir(state: LabState, node: str) -> Path:
    return state.dir / node


def lab_info(plan: Plan, topology_file: str) -> dict[str, object]:
    """What later commands (exec, status, nbctl, check) need, without re-planning."""
    return {
        "topology_file": topology_file,
        "central": plan.central,
        "overlay": plan.overlay,
        "fabric_netns": plan.fabric_netns,
        "vlan_fabrics": [f.name for f in plan.fabrics.values() if f.vlans],
        "nodes": {
            n.name: {
                "role": n.role,
                "netns": n.netns,
                "encap_ip": str(n.encap_ip) if n.encap_ip else None,
                "links": {
                    lk.fabric: {
                        "node_if": lk.node_if,
                        "fabric_if": lk.fabric_if,
                        "address": str(lk.address) if lk.address else None,
                    }
                    for lk in n.links
                },
            }
            for n in plan.nodes.values()
        },
        "vms": {
            v.name: {
                "chassis": v.chassis,
                "netns": v.netns,
                "port": v.port,
                "switch": v.switch,
                "ip": str(v.ip),
                "mac": v.mac,
                "attach": v.attach,
                "ifname": v.vm_if,
                "chassis_if": v.chassis_if,
            }
            for v in plan.vms.values()
        },
    }


def up(
    plan: Plan,
    topology_file: str,
    topology_text: str,
    provider: str = "netns",
    progress: Progress | None = None,
    keep_on_error: bool = False,
) -> LabState:
    progress = progress or Progress(enabled=False)
    preflight.check_up()
    if provider != "netns":
        raise UserError(f"provider '{provider}' is not available yet; use provider: netns")
    with lab_lock(plan.lab, remove_after=True):
        existing = load_state(plan.lab)  # lock kept only while state exists
        if existing is not None:
            raise UserError(
                f"lab '{plan.lab}' is already up (phase {existing.phase}); "
                f"run `lab down {plan.lab}` first, or pick another name with --name"
            )
        state = create_state(plan.lab, topology_file, provider)
        (state.dir / "topology.yaml").write_text(topology_text)
        state.set(info=lab_info(plan, topology_file))
        checkpoint("state")
        try:
            _build(plan, state, progress)
        except BaseException as exc:  # Ctrl-C included: never leave half a lab behind
            if keep_on_error and not isinstance(exc, KeyboardInterrupt):
                state.set(phase="failed")
                raise
            with progress.step("rolling back"):
                _teardown(state)
            if isinstance(exc, KeyboardInterrupt):
                raise UserError(f"interrupted; lab '{plan.lab}' was rolled back") from exc
            raise
        state.set(phase="up")
        return state


def _build(plan: Plan, state: LabState, progress: Progress) -> None:
    central_dir = node_dir(state, plan.central)
    with progress.step("namespaces"):
        for name in [plan.fabric_netns, *(n.netns for n in plan.nodes.values())]:
            state.record("netns", name)
            nsprov.create(name)
    checkpoint("namespaces")
    with progress.step("fabric"):
        fabric.build_bridges(plan, state.dir / fabric.FABRIC_DIR)
    checkpoint("fabric")
    with progress.step(f"{len(plan.nodes)} nodes, {len(plan.vms)} VMs"):
        tasks = [
            lambda n=n: _bring_up_node(plan, n, state, central_dir) for n in plan.nodes.values()
        ]
        _run_parallel(tasks)
    checkpoint("nodes")
    with progress.step(f"waiting for {len(plan.vms)} ports up"):
        wait_ports_up(central_dir, [v.port for v in plan.vms.values()], PORT_UP_TIMEOUT)
    checkpoint("ports-up")
    with progress.step("resolving tunnel endpoints"):
        ovn_chassis.warm_tunnels(plan)


def _bring_up_node(plan: Plan, node: NodePlan, state: LabState, central_dir: Path) -> None:
    directory = node_dir(state, node.name)
    directory.mkdir(mode=0o700, exist_ok=True)
    fabric.wire_node(plan, node, state.dir / fabric.FABRIC_DIR)
    checkpoint("node-wired", node.name)
    if node.role == "central":
        ovn_central.start_central(plan, node, directory)
        checkpoint("node-daemons", node.name)
        if plan.nb_commands:
            run(["ovn-nbctl", f"--db={nb_db(directory)}", *transaction(plan.nb_commands)])
    elif node.is_chassis:
        ovn_chassis.start_chassis(plan, node, directory, central_dir)
        checkpoint("node-daemons", node.name)
        ovn_chassis.bind_vms(
            node, plan.vms_on(node.name), directory, lambda ns: state.record("netns", ns)
        )
        checkpoint("vms", node.name)


def _run_parallel(tasks: list[Callable[[], None]]) -> None:
    """Run node bring-ups side by side; on the first failure (or Ctrl-C) start no more,
    let the running ones finish, then raise the first failure."""
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(tasks))) as pool:
        futures = [pool.submit(task) for task in tasks]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            for future in futures:
                future.cancel()  # only those not started yet
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]


def down(name: str) -> list[int]:
    """Remove everything lab `name` created. Safe to run twice; returns the PIDs it stopped."""
    preflight.check_root()
    with lab_lock(name, remove_after=True):
        state = load_state(name)
        if state is None:
            return []
        return _teardown(state)


def _teardown(state: LabState) -> list[int]:
    """Kill every process living in the lab's namespaces, delete the namespaces (and with
    them every veth, bridge and tap inside), then the state directory."""
    state.set(phase="stopping")
    namespaces = list(state.resources.get("netns", []))
    pids = nsprov.kill_all_in(namespaces)
    errors: list[str] = []
    for ns in reversed(namespaces):
        try:
            nsprov.remove(ns)
        except LabError as exc:
            errors.append(str(exc))
    if errors:
        raise LabError("; ".join(errors))
    shutil.rmtree(lab_dir(state.name), ignore_errors=True)
    return pids


def saved_plan(state: LabState) -> Plan:
    """The plan of a running lab, remade from the topology saved when it came up (planning
    is deterministic, so every name and address is the same)."""
    from lab.plan.planner import make_plan
    from lab.topology import parse_topology

    text = (state.dir / "topology.yaml").read_text()
    return make_plan(parse_topology(text, state.topology or "topology.yaml", name=state.name))


def node_daemons(state: LabState, node: str) -> list[daemons.Daemon]:
    role = state.info["nodes"][node]["role"]
    return [daemons.Daemon(d, node_dir(state, node)) for d in daemons.daemon_names(role)]
