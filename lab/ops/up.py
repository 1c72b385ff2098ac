"""`lab up`: from a prepared plan to a running lab, recorded in its state, or rolled back."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.errors import LabError, UserError
from lab.ops import preflight
from lab.ops.down import teardown
from lab.plan.model import Plan, VMPlan
from lab.progress import Progress
from lab.providers.base import Prepared, Provider, UpOptions
from lab.state.info import LabInfo, LinkInfo, NodeInfo, VmInfo
from lab.state.saved import saved_topology_path
from lab.state.store import LabState, create_state, lab_lock, load_state, refuse_leftover
from lab.testhooks import checkpoint


def lab_info(plan: Plan, topology_file: str) -> LabInfo:
    """What later commands (exec, status, nbctl, check) need, without re-planning."""
    return LabInfo(
        topology_file=topology_file,
        central=plan.central,
        centrals=list(plan.centrals),
        ssl=plan.ssl,
        sb_remote=plan.sb_remote,
        overlay=plan.overlay,
        fabric_netns=plan.fabric_netns,
        vlan_fabrics=[f.name for f in plan.fabrics.values() if f.vlans],
        nodes={
            n.name: NodeInfo(
                role=n.role,
                netns=n.netns,
                encap_ip=str(n.encap_ip) if n.encap_ip else None,
                links={
                    lk.fabric: LinkInfo(
                        node_if=lk.node_if,
                        fabric_if=lk.fabric_if,
                        address=str(lk.address) if lk.address else None,
                    )
                    for lk in n.links
                },
            )
            for n in plan.nodes.values()
        },
        vms={v.name: vm_info(v) for v in plan.vms.values()},
    )


def vm_info(vm: VMPlan, added: bool = False) -> VmInfo:
    """A VM as the lab's state records it (its v2 addressing only where it applies)."""
    return VmInfo(
        chassis=vm.chassis,
        netns=vm.netns,
        port=vm.port,
        switch=vm.switch,
        ip=str(vm.ip) if vm.ip is not None else "dynamic",  # learned by `lab up`
        mac=vm.mac,
        attach=vm.attach,
        ifname=vm.vm_if,
        chassis_if=vm.chassis_if,
        ipv6=str(vm.ipv6) if vm.ipv6 is not None else None,
        ipv6_mode=vm.ipv6_mode or None,
        dhcp=bool(vm.dhcp4),
        dhcp6=vm.dhcp6 or None,
        added=added,
    )


def up(
    prepared: Prepared,
    provider: Provider,
    topology_file: str,
    topology_text: str,
    progress: Progress | None = None,
    keep_on_error: bool = False,
    options: UpOptions | None = None,
) -> LabState:
    """Build a lab from a plan its provider prepared (Provider.prepare: hosts found, images
    built, nothing created). `options.nb_backup` (from `lab up --bundle`): the NB database
    to start from instead of the topology's logical network."""
    progress = progress or Progress(enabled=False)
    options = options or UpOptions()
    plan = prepared.plan
    preflight.check_up()
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
            state = create_state(plan.lab, topology_file, provider.name)
            saved_topology_path(state).write_text(topology_text)
            info = lab_info(plan, topology_file)
            provider.runtime_info(prepared, info)
            info.builds = {n.name: n.build for n in plan.nodes.values()}
            state.info = info
            state.save()
            checkpoint("state")
            _in_thread(lambda: provider.create(prepared, state, progress, options))
            # where the time went, for `lab status`-style tools and benchmarks/scale.py
            state.info.up_timings = {s: round(took, 3) for s, took in progress.timings.items()}
            state.set(phase="up")
            return state
        except BaseException as exc:  # Ctrl-C included: never leave half a lab behind
            if keep_on_error and state is not None and not isinstance(exc, KeyboardInterrupt):
                state.set(phase="failed")
                raise
            interrupted = isinstance(exc, KeyboardInterrupt)
            kept = _keep_logs(state) if state is not None and not interrupted else None
            with progress.step("rolling back"):
                # interrupted inside create_state: its directory may exist, state.json not
                teardown(state or LabState(name=plan.lab, provider=provider.name))
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
