"""`lab up` and `lab down`: the pipeline from plan to a running lab, and back to nothing."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import LabError, UserError
from lab.fabric import wiring as fabric
from lab.ops import preflight
from lab.ops.down import teardown as _teardown
from lab.ops.testhooks import checkpoint
from lab.ovn import central as ovn_central
from lab.ovn import chassis as ovn_chassis
from lab.ovn import daemons
from lab.ovn.remotes import Centrals
from lab.ovn.wait import nb_db, sb_db, wait_port_bindings, wait_ports_up
from lab.plan.commands import chassis_registration, transaction
from lab.plan.model import NodePlan, Plan, VMPlan
from lab.progress import Progress
from lab.providers.docker import builds
from lab.runner import run
from lab.state.ownership import claim_vm_netns_dir, create_container, create_netns
from lab.state.store import LabState, create_state, lab_lock, load_state, node_dir, refuse_leftover
from lab.vm.dhcp import control as dhcp

if TYPE_CHECKING:
    from lab.providers.ssh.hosts import Placement

PORT_UP_TIMEOUT = 60.0  # for a small lab; big ones get more (port_up_timeout)
# Bring-up work is mostly waiting on daemons and netlink, not CPU: more threads than cores.
PARALLEL = 16


def port_up_timeout(plan: Plan) -> float:
    """Every chassis processes every port binding: convergence grows with ports x chassis."""
    return max(PORT_UP_TIMEOUT, 0.002 * len(plan.vms) * len(plan.chassis()))


def lab_info(plan: Plan, topology_file: str) -> dict[str, object]:
    """What later commands (exec, status, nbctl, check) need, without re-planning."""
    return {
        "topology_file": topology_file,
        "central": plan.central,  # the first central (compatibility)
        "centrals": plan.centrals,  # all of them: 1, or 3 in a raft cluster
        "ssl": plan.ssl,
        "sb_remote": plan.sb_remote,  # what chassis have in external_ids:ovn-remote
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
                "ip": str(v.ip) if v.ip is not None else "dynamic",  # learned by `lab up`
                "mac": v.mac,
                "attach": v.attach,
                "ifname": v.vm_if,
                "chassis_if": v.chassis_if,
                **vm_address_info(v),
            }
            for v in plan.vms.values()
        },
    }


def vm_address_info(vm: VMPlan) -> dict[str, object]:
    """A VM's v2 addressing in the lab's state (only the keys that apply)."""
    info: dict[str, object] = {}
    if vm.ipv6 is not None:
        info["ipv6"] = str(vm.ipv6)
    if vm.ipv6_mode:
        info["ipv6_mode"] = vm.ipv6_mode
    if vm.dhcp4:
        info["dhcp"] = True
    if vm.dhcp6:
        info["dhcp6"] = vm.dhcp6
    return info


def up(
    plan: Plan,
    topology_file: str,
    topology_text: str,
    provider: str = "netns",
    progress: Progress | None = None,
    keep_on_error: bool = False,
    placed: Placement | None = None,
    nb_backup: Path | None = None,
) -> LabState:
    """Build a lab; provider ssh needs `placed` (ssh_lab.place: its hosts, found first).
    `nb_backup` (from `lab up --bundle`): the NB database to start from instead of the
    topology's logical network."""
    progress = progress or Progress(enabled=False)
    preflight.check_up()
    if provider not in ("netns", "docker", "ssh") or (provider == "ssh") != (placed is not None):
        raise UserError(f"provider '{provider}' is not known; use netns, docker or ssh")
    images = builds.images_for(plan, progress) if provider == "docker" else {}
    builds.refuse_mix(plan, images)
    image = images[next(iter(plan.nodes))] if images else None
    with lab_lock(plan.lab, remove_after=True):
        existing = load_state(plan.lab)  # lock kept only while state exists
        if existing is not None:
            raise UserError(
                f"lab '{plan.lab}' is already up (phase {existing.phase}); "
                f"run `lab down {plan.lab}` first, or pick another name with --name"
            )
        refuse_leftover(plan.lab)  # before the rollback below could remove it
        state: LabState | None = None
        try:  # from the first file written: a Ctrl-C while writing state rolls back too
            state = create_state(plan.lab, topology_file, provider)
            (state.dir / "topology.yaml").write_text(topology_text)
            info = lab_info(plan, topology_file)
            if placed is not None:
                from lab.providers.ssh import hosts as ssh_lab

                ssh_lab.adapt_info(info, placed)
                info["ssh"] = ssh_lab.ssh_info(plan, placed)
            state.set(info=info)
            checkpoint("state")
            builds_now = {n.name: n.build for n in plan.nodes.values()}
            state.set(info={**state.info, "builds": builds_now})
            if image:
                state.set(info={**state.info, "image": image, "images": images})
            if placed is not None:
                _in_thread(lambda: ssh_lab.build(plan, state, placed, progress))
            else:
                # only what differs from the usual call: a bundle's NB, per-node images
                extra: dict[str, object] = {}
                if nb_backup is not None:
                    extra["nb_backup"] = nb_backup
                if len(set(images.values())) > 1:  # builds differ between nodes
                    extra["images"] = images
                _in_thread(lambda: _build(plan, state, progress, image, **extra))  # type: ignore[arg-type]
            # where the time went, for `lab status`-style tools and benchmarks/scale.py
            timings = {step: round(took, 3) for step, took in progress.timings.items()}
            state.set(phase="up", info={**state.info, "up_timings": timings})
            return state
        except BaseException as exc:  # Ctrl-C included: never leave half a lab behind
            if keep_on_error and state is not None and not isinstance(exc, KeyboardInterrupt):
                state.set(phase="failed")
                raise
            interrupted = isinstance(exc, KeyboardInterrupt)
            kept = _keep_logs(state) if state is not None and not interrupted else None
            with progress.step("rolling back"):
                # interrupted inside create_state: its directory may exist, state.json not
                _teardown(state or LabState(name=plan.lab))
            if interrupted:
                raise UserError(f"interrupted; lab '{plan.lab}' was rolled back") from exc
            if kept is not None and isinstance(exc, LabError):
                exc.args = (f"{exc}; lab rolled back, daemon logs kept in {kept}",)
            raise


def _in_thread(build: Callable[[], None]) -> None:
    """Build in a worker thread while this (main) thread only waits for it.

    Ctrl-C raises KeyboardInterrupt in the main thread, wherever it is. Building here, it
    could land inside os.fork()'s at-fork hooks (pyroute2 forks for namespace operations):
    Python drops the exception there and logging's hook keeps its lock held, so the next
    thread that logs hangs, with half a lab up. A wait is safe to interrupt; leaving the
    `with` then waits for the build (and its node threads) to finish, and up() rolls back."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-up") as pool:
        pool.submit(build).result()


def _build(
    plan: Plan,
    state: LabState,
    progress: Progress,
    image: str | None = None,
    nb_backup: Path | None = None,
    images: dict[str, str] | None = None,  # per node, when builds differ
) -> None:
    central_dir = central_dirs(plan, state)  # every central's, for a raft cluster
    with progress.step("namespaces" if image is None else "containers"):
        if image is None:
            create_netns(state, [plan.fabric_netns, *(n.netns for n in plan.nodes.values())])
        else:
            create_netns(state, [plan.fabric_netns])
            claim_vm_netns_dir(state)
            _run_parallel(
                [
                    lambda n=n: _create_container(plan, n, state, (images or {}).get(n.name, image))
                    for n in plan.nodes.values()
                ]
            )
    checkpoint("namespaces")
    with progress.step("fabric"):
        fabric.build_bridges(plan, state.dir / fabric.FABRIC_DIR)
    checkpoint("fabric")
    with progress.step(f"{len(plan.nodes)} nodes"):
        _run_parallel(
            [
                lambda n=n: _bring_up_node(plan, n, state, central_dir, nb_backup)
                for n in plan.nodes.values()
            ]
        )
    checkpoint("nodes")
    with progress.step(f"{len(plan.vms)} VMs"):
        _run_parallel([lambda n=n: _bind_vms(plan, n, state) for n in plan.chassis()])
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
        _run_parallel(
            [
                lambda n=n: ovn_chassis.start_controller(n, node_dir(state, n.name), central_dir)
                for n in plan.chassis()
            ]
        )
    with progress.step(f"waiting for {len(plan.vms)} ports up"):
        wait_ports_up(central_dir, [v.port for v in plan.vms.values()], port_up_timeout(plan))
    checkpoint("ports-up")
    with progress.step("resolving tunnel endpoints"):
        ovn_chassis.warm_tunnels(plan, state.dir)
    if any(n.role == "host" for n in plan.nodes.values()):
        from lab.fabric import bfd

        with progress.step("BFD speakers"):
            bfd.start(state)  # host nodes that are next hops of `bfd: true` routes
    _start_services(plan, state, progress)
    waiting = [vm for vm in plan.vms.values() if vm.waits_for_addresses]
    if waiting:
        with progress.step(f"waiting for {len(waiting)} VMs' addresses (DHCP, RA)"):
            record_addresses(state, dhcp.wait_addresses(waiting, state.dir))


def record_addresses(state: LabState, leases: dict[str, dict[str, object]]) -> None:
    """What each VM got from OVN into the lab's state: `ip: dynamic` shows its address."""
    info = state.info
    for name, lease in leases.items():
        vm = info["vms"][name]
        dhcp4, dhcp6, ra = (lease.get(k) or {} for k in ("dhcp4", "dhcp6", "ra"))
        if isinstance(dhcp4, dict) and dhcp4.get("address"):
            vm["ip"] = dhcp4["address"]
        if isinstance(dhcp6, dict) and dhcp6.get("address"):
            vm["ipv6"] = dhcp6["address"]
        elif isinstance(ra, dict) and ra.get("slaac"):
            vm["ipv6"] = ra["slaac"][0]  # type: ignore[index]
    state.set(info=info)


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
        shown = services.start_all(wanted, state.dir, state.record)
        state.set(info={**state.info, "services": shown})
    checkpoint("services")


def _create_container(plan: Plan, node: NodePlan, state: LabState, image: str) -> None:
    """A node as a docker container whose network namespace is pinned as the node's."""
    from lab.fabric import links

    directory = node_dir(state, node.name)
    directory.mkdir(mode=0o700, exist_ok=True)
    # the centrals' directories too: `lab exec NODE -- ovn-sbctl ...` reaches the databases
    # by their unix sockets, as on the netns provider
    extra = [
        node_dir(state, n.name)
        for n in plan.nodes.values()
        if n.role == "central" and n.name != node.name
    ]
    for path in extra:
        path.mkdir(mode=0o700, exist_ok=True)
    if plan.ssl and node.role != "host":  # the node's own key and certificate, and the CA's
        from lab.ovn import pki

        files = pki.ensure_node(state.dir, plan.lab, node.name)
        extra += [files.private_key, files.certificate, files.ca_cert]
    # the env `lab exec` sets, as the container's own: a bare `docker exec NODE ovs-vsctl
    # show` (or testinfra's docker backend) reaches the node's daemons too
    env = {} if node.role == "host" else daemons.node_env(directory, central_dirs(plan, state))
    create_container(state, node.name, node.netns, image, directory, extra, env)
    checkpoint("container", node.name)  # docker only, so not in testhooks.CHECKPOINTS
    links.disable_ipv6(node.netns)


def central_dirs(plan: Plan, state: LabState) -> list[Path]:
    """The centrals' directories: where the lab's own clients find the databases."""
    return [node_dir(state, name) for name in plan.centrals]


def _bring_up_node(
    plan: Plan,
    node: NodePlan,
    state: LabState,
    central_dir: Centrals,
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
            from lab.report.bundle import restore_nb

            restore_nb(plan, node, directory, nb_backup)
        ovn_central.start_central(plan, node, directory)
        checkpoint("node-daemons", node.name)
        if plan.nb_commands and node.name == plan.central and not restore:  # once, by the first
            run(["ovn-nbctl", f"--db={nb_db(central_dir)}", *transaction(plan.nb_commands)])
    elif node.is_chassis:
        ovn_chassis.start_chassis(plan, node, directory, central_dir)
        checkpoint("node-daemons", node.name)


def _iface_types(plan: Plan, state: LabState) -> str:
    """The interface types this OVS build supports, as ovn-controller reports them."""
    chassis = plan.chassis()
    if not chassis:
        return ""
    sock = f"unix:{node_dir(state, chassis[0].name) / 'db.sock'}"
    out = run(["ovs-vsctl", f"--db={sock}", "get", "Open_vSwitch", ".", "iface_types"]).stdout
    return ",".join(t.strip() for t in out.strip().strip("[]").split(",") if t.strip())


def _bind_vms(plan: Plan, node: NodePlan, state: LabState) -> None:
    ovn_chassis.bind_vms(
        node,
        plan.vms_on(node.name),
        node_dir(state, node.name),
        lambda names: create_netns(state, names),
    )
    checkpoint("vms", node.name)


def _keep_logs(state: LabState) -> Path | None:
    """Copy the daemons' logs out of a lab that is about to be rolled back, so the failure
    can be understood; the rollback itself removes everything else."""
    logs = list(state.dir.glob("*/*.log"))
    if not logs:
        return None
    target = Path(tempfile.mkdtemp(prefix=f"ovn-lab-{state.name}-failed-"))
    for log in logs:
        (target / log.parent.name).mkdir(exist_ok=True)
        shutil.copy2(log, target / log.parent.name / log.name)
    return target


def _run_parallel(tasks: list[Callable[[], None]]) -> None:
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
