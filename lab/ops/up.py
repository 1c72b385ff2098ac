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
from lab.state.store import LabState, create_state, lab_lock, load_state, refuse_leftover
from lab.testhooks import checkpoint


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
            (state.dir / "topology.yaml").write_text(topology_text)
            info = lab_info(plan, topology_file)
            provider.runtime_info(prepared, info)
            state.set(info=info)
            checkpoint("state")
            builds_now = {n.name: n.build for n in plan.nodes.values()}
            state.set(info={**state.info, "builds": builds_now})
            _in_thread(lambda: provider.create(prepared, state, progress, options))
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


def saved_plan(state: LabState) -> Plan:
    """The plan of a running lab, remade from the topology saved when it came up (planning
    is deterministic, so every name and address is the same)."""
    from lab.plan.planner import make_plan
    from lab.topology import parse_topology

    text = (state.dir / "topology.yaml").read_text()
    return make_plan(parse_topology(text, state.topology or "topology.yaml", name=state.name))
