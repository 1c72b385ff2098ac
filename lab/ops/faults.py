"""Fault rehearsal: `lab stop NODE` crashes a node (every daemon SIGKILLed, its cables pulled
at the fabric), `lab start NODE` brings it back as it was."""

from __future__ import annotations

from lab import providers
from lab.errors import UserError
from lab.fabric import links
from lab.ovn import central as ovn_central
from lab.ovn import chassis as ovn_chassis
from lab.ovn.wait import wait_ports_up
from lab.plan.model import NodePlan, Plan
from lab.providers.netns import namespaces as nsprov
from lab.providers.netns.build import central_dirs
from lab.state.saved import saved_plan
from lab.state.store import LabState, lab_lock, node_dir

START_TIMEOUT = 60.0


def stopped_nodes(state: LabState) -> list[str]:
    return list(state.info.stopped)


def _node(plan: Plan, name: str) -> NodePlan:
    if name not in plan.nodes:
        raise UserError(
            f"'{name}' is not a node of lab {plan.lab} (nodes: {', '.join(plan.nodes)})"
        )
    return plan.nodes[name]


def _set_cables(plan: Plan, node: NodePlan, state: str) -> None:
    with links.ipr(plan.fabric_netns) as handle:
        for link in node.links:
            handle.link("set", index=links.index(handle, link.fabric_if), state=state)


def _kill_daemons(state: LabState, node: NodePlan) -> list[int]:
    """SIGKILL everything in the node's namespace but a container's own init (the node
    itself stays; only what it runs dies)."""
    spare = providers.of(state).spared_pids(state, node.name)
    return nsprov.kill_all_in([node.netns], hard=True, spare=spare)


def stop_node(state: LabState, name: str) -> list[int]:
    """Crash a node: SIGKILL everything in its namespace, then unplug it from every fabric.
    Its namespace and state stay, so `lab start` can restore it."""
    with lab_lock(state.name):
        state.refresh()
        plan = saved_plan(state)
        node = _node(plan, name)
        if name in stopped_nodes(state):
            raise UserError(f"node {name} is already stopped; `lab start {name}` restores it")
        state.info.stopped = [*stopped_nodes(state), name]
        state.save()
        pids = _kill_daemons(state, node)
        _set_cables(plan, node, "down")
        return pids


def start_node(state: LabState, name: str) -> None:
    """Plug the node back in and restart its daemons on their existing databases; re-attach
    its VMs' ports (a restarted ovs-vswitchd recreates internal ports in the node)."""
    with lab_lock(state.name):
        state.refresh()
        plan = saved_plan(state)
        node = _node(plan, name)
        if name not in stopped_nodes(state):
            raise UserError(f"node {name} is not stopped")
        restart_node(state, plan, node)
        state.info.stopped = [n for n in stopped_nodes(state) if n != name]
        state.save()


def restart_node(state: LabState, plan: Plan, node: NodePlan) -> None:
    """Kill whatever runs in the node's namespace, plug it in, restart its daemons on their
    existing databases and re-attach its VMs' ports. The caller holds the lab lock (used
    by `lab start` and `lab heal`)."""
    _kill_daemons(state, node)  # whatever a failed start left running
    _set_cables(plan, node, "up")
    from lab.ops.wirefaults import relink

    relink(state, node.name)  # cables `lab link` cut stay cut
    directory = node_dir(state, node.name)
    central_dir = central_dirs(plan, state)
    runner = providers.of(state).node_runner(state, node.name)
    if node.role == "central":
        ovn_central.start_central(plan, node, directory, runner)
    elif node.is_chassis:
        ovn_chassis.start_chassis(plan, node, directory, central_dir, runner)
        vms = plan.vms_on(node.name)
        internal = [v for v in vms if v.attach == "internal"]
        ovn_chassis.attach_vms(node, internal, directory, restart=True)
        ovn_chassis.start_controller(node, directory, central_dir, runner)
        wait_ports_up(central_dir, [v.port for v in vms], START_TIMEOUT)
        ovn_chassis.warm_tunnels(plan, state.dir)
    elif node.role == "host":
        from lab.providers.netns import bfd

        bfd.restart_if_speaker(state, node.name)  # its bfdd died with it
