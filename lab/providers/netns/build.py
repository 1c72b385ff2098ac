"""Bring-up on this machine: the fabric, the nodes' daemons, the VMs, the logical network.

What the netns and docker providers share. The nodes come from the provider (namespaces, or
containers whose namespaces are pinned as the nodes'); from there on both are the same
machinery, handed each node's NodeRunner by the provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Protocol

from lab.fabric import wiring as fabric
from lab.ovn import central as ovn_central
from lab.ovn import chassis as ovn_chassis
from lab.ovn.remotes import Centrals
from lab.ovn.wait import nb_db, port_up_timeout, sb_db, wait_port_bindings, wait_ports_up
from lab.plan.commands import chassis_registration, transaction
from lab.plan.model import NodePlan, Plan
from lab.progress import Progress
from lab.providers.netns.ownership import create_netns
from lab.runner import NodeRunner, run
from lab.sched import ahead_of_the_daemons
from lab.state.store import LabState, node_dir
from lab.testhooks import checkpoint
from lab.vm.dhcp import control as dhcp


class Nodes(Protocol):
    """What differs between the providers that build on this machine."""

    def make_nodes(self, plan: Plan, state: LabState, progress: Progress) -> None:
        """What must exist before anything is wired (the fabric's namespace; on netns every
        node's namespace too), recorded as the lab's own."""

    def make_node(self, plan: Plan, node: NodePlan, state: LabState) -> None:
        """What one node needs before it is wired (docker: its container, recorded as the
        lab's own); runs beside the fabric's bridges and the other nodes' bring-up."""

    def runner_for(self, state: LabState, node: str) -> NodeRunner:
        """How the ovn layer runs things in that node."""


# Bring-up work is mostly waiting on daemons and netlink, not CPU: more threads than cores.
PARALLEL = 16


def build(
    plan: Plan,
    state: LabState,
    progress: Progress,
    nodes: Nodes,
    nb_backup: Path | None = None,
) -> None:
    """The lab's nodes from `nodes`, then the same bring-up for every provider here."""
    central_dir = central_dirs(plan, state)  # every central's, for a raft cluster
    nodes.make_nodes(plan, state, progress)
    checkpoint("namespaces")

    def bridges() -> None:
        start = time.monotonic()
        fabric.build_bridges(plan, state.dir / fabric.FABRIC_DIR)
        progress.timings["fabric (beside the nodes)"] = time.monotonic() - start
        checkpoint("fabric")

    def node_up(node: NodePlan, fabric_ready: InBackground) -> None:
        nodes.make_node(plan, node, state)  # docker: a container start, ~0.2 s in dockerd
        fabric_ready.result()  # a node is wired to the fabric's bridges
        runner = nodes.runner_for(state, node.name)
        _bring_up_node(plan, node, state, central_dir, runner, nb_backup)

    # Each node goes on as soon as it exists: the central's daemons start while a chassis'
    # container is still starting, and the bridges are made meanwhile.
    with progress.step(f"{len(plan.nodes)} nodes"), InBackground(bridges) as fabric_ready:
        run_parallel([lambda n=n: node_up(n, fabric_ready) for n in plan.nodes.values()])
        fabric_ready.result()  # its error, had no node waited for it
    checkpoint("nodes")
    with progress.step(f"{len(plan.vms)} VMs' namespaces and ports"):
        run_parallel(
            [
                lambda n=n: _plug_vms(plan, n, state, nodes.runner_for(state, n.name))
                for n in plan.chassis()
            ]
        )
    # Moving the ports into their VMs is kernel time (one move at a time under RTNL, the CPUs
    # idle); converging the controllers is CPU time. Side by side, neither waits for the other.
    with ahead_of_the_daemons():
        placing = InBackground(
            lambda: run_parallel([lambda n=n: _place_vms(plan, n, state) for n in plan.chassis()])
        )
        with placing:
            _converge(plan, state, progress, nodes, central_dir)
        with progress.step(f"{len(plan.vms)} VMs' interfaces in place"):
            placing.result()
    with progress.step("resolving tunnel endpoints"):
        ovn_chassis.warm_tunnels(plan, state.dir)
    if any(n.role == "host" for n in plan.nodes.values()):
        from lab.providers.netns import bfd

        with progress.step("BFD speakers"):
            bfd.start(state)  # host nodes that are next hops of `bfd: true` routes
    _start_services(plan, state, progress)
    waiting = [vm for vm in plan.vms.values() if vm.waits_for_addresses]
    if waiting:
        with progress.step(f"waiting for {len(waiting)} VMs' addresses (DHCP, RA)"):
            record_addresses(state, dhcp.wait_addresses(waiting, state.dir))


def _converge(
    plan: Plan, state: LabState, progress: Progress, nodes: Nodes, central_dir: Centrals
) -> None:
    """Register every chassis in one SB transaction, start the controllers, wait for every
    VM port up."""
    with progress.step("registering chassis"):
        registration = chassis_registration(plan, _iface_types(plan, state))
        if registration:
            # The Port_Binding rows it binds exist once northd has made them. Waited for
            # in the SB, not with `ovn-nbctl --wait=sb sync`: that bumps nb_cfg, and every
            # controller would then report catching up with it while the others converge.
            wait_port_bindings(central_dir, [vm.port for vm in plan.vms.values()], 60)
            run(["ovn-sbctl", f"--db={sb_db(central_dir)}", *transaction(registration)])
    if plan.acl_matches and plan.vms:
        with progress.step("checking ACL matches"):
            # northd has written the flows (with the Port_Binding rows waited for above)
            from lab.ovn.acls import check_acl_matches

            first = next(iter(plan.vms.values()))
            check_acl_matches(sb_db(central_dir), first.switch, first.port, plan.acl_matches)
    with progress.step("ovn-controllers"):
        run_parallel(
            [
                lambda n=n: ovn_chassis.start_controller(
                    n, node_dir(state, n.name), central_dir, nodes.runner_for(state, n.name)
                )
                for n in plan.chassis()
            ]
        )
    with progress.step(f"waiting for {len(plan.vms)} ports up"):
        wait_ports_up(central_dir, [v.port for v in plan.vms.values()], port_up_timeout(plan))
    checkpoint("ports-up")


def record_addresses(state: LabState, leases: dict[str, dict[str, object]]) -> None:
    """What each VM got from OVN into the lab's state: `ip: dynamic` shows its address."""
    info = state.info
    for name, lease in leases.items():
        vm = info.vms[name]
        dhcp4, dhcp6, ra = (lease.get(k) or {} for k in ("dhcp4", "dhcp6", "ra"))
        if isinstance(dhcp4, dict) and dhcp4.get("address"):
            vm.ip = str(dhcp4["address"])
        if isinstance(dhcp6, dict) and dhcp6.get("address"):
            vm.ipv6 = str(dhcp6["address"])
        elif isinstance(ra, dict) and ra.get("slaac"):
            vm.ipv6 = str(ra["slaac"][0])  # type: ignore[index]
    state.save()


def _start_services(plan: Plan, state: LabState, progress: Progress) -> None:
    """VM services (lab/vm/services.py): each recorded in state before it starts."""
    from lab.vm import services

    wanted = [
        services.ServicePlan(vm.name, vm.netns, proto, port)
        for vm in plan.vms.values()
        for proto, port in vm.services
    ]
    if not wanted:
        return
    with progress.step(f"{len(wanted)} VM services"):
        state.info.services = services.start_all(wanted, state.dir, state.record)
        state.save()
    checkpoint("services")


def central_dirs(plan: Plan, state: LabState) -> list[Path]:
    """The centrals' directories: where the lab's own clients find the databases."""
    return [node_dir(state, name) for name in plan.centrals]


def _bring_up_node(
    plan: Plan,
    node: NodePlan,
    state: LabState,
    central_dir: Centrals,
    runner: NodeRunner,
    nb_backup: Path | None = None,
) -> None:
    """Wire a node and start its daemons (a chassis: all but ovn-controller)."""
    directory = node_dir(state, node.name)
    directory.mkdir(mode=0o700, exist_ok=True)
    fabric.wire_node(plan, node, state.dir / fabric.FABRIC_DIR)
    checkpoint("node-wired", node.name)
    if node.role == "central":
        restore = nb_backup is not None and node.name == plan.central
        if restore:
            from lab.ovn.central import restore_nb

            restore_nb(plan, node, directory, nb_backup)
        ovn_central.start_central(plan, node, directory, runner)
        checkpoint("node-daemons", node.name)
        if plan.nb_commands and node.name == plan.central and not restore:  # once, by the first
            run(["ovn-nbctl", f"--db={nb_db(central_dir)}", *transaction(plan.nb_commands)])
    elif node.is_chassis:
        ovn_chassis.start_chassis(plan, node, directory, central_dir, runner)
        checkpoint("node-daemons", node.name)


def _iface_types(plan: Plan, state: LabState) -> str:
    """The interface types this OVS build supports, as ovn-controller reports them."""
    chassis = plan.chassis()
    if not chassis:
        return ""
    sock = f"unix:{node_dir(state, chassis[0].name) / 'db.sock'}"
    out = run(["ovs-vsctl", f"--db={sock}", "get", "Open_vSwitch", ".", "iface_types"]).stdout
    return ",".join(t.strip() for t in out.strip().strip("[]").split(",") if t.strip())


def _plug_vms(plan: Plan, node: NodePlan, state: LabState, runner: NodeRunner) -> None:
    ovn_chassis.plug_vms(
        node,
        plan.vms_on(node.name),
        node_dir(state, node.name),
        lambda names: create_netns(state, names),
        runner,
    )


def _place_vms(plan: Plan, node: NodePlan, state: LabState) -> None:
    ovn_chassis.place_vms(node, plan.vms_on(node.name), node_dir(state, node.name))
    checkpoint("vms", node.name)


class InBackground:
    """One task on its own thread for the length of a `with` block; result() waits for it
    and raises what it raised. Leaving the block by an error still waits for it (so teardown
    never races a half-done task); the block's error wins."""

    def __init__(self, task: Callable[[], None]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._future: Future[None] = self._pool.submit(task)

    def __enter__(self) -> InBackground:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is not None:
            wait([self._future])
        self._pool.shutdown(wait=kind is not None)

    def result(self) -> None:
        self._future.result()


def run_parallel(tasks: list[Callable[[], None]]) -> None:
    """Run node bring-ups side by side; on the first failure (or Ctrl-C) start no more,
    let the running ones finish, then raise the first failure."""
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(tasks))) as pool:
        futures = [pool.submit(task) for task in tasks]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            for future in futures:
                future.cancel()  # only those not started yet
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
