"""`lab heal`: restart what died in a lab, leave alone what runs.

What `lab status` finds dead is restarted node by node (central first), with the machinery
of `lab start`:
- a chassis whose only dead daemon is ovn-controller gets a new ovn-controller and nothing
  else: its ovsdb-server, ovs-vswitchd and VM ports keep running untouched;
- any other dead daemon restarts its node as a whole on its existing databases, the path of
  `lab start` (lab.ops.faults.restart_node): ovs-vswitchd cannot come back alone (it recreates
  the VMs' internal ports, which must be moved into the VMs again), and the central's
  daemons are restarted together. Healthy nodes are never touched.
Nodes stopped with `lab stop` stay stopped: that was on purpose. A node or VM whose
namespace is gone cannot be healed (everything that lived in it is gone): recreate the lab.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lab import providers
from lab.errors import LabError, UserError
from lab.ops.status import LabStatus, lab_status
from lab.state.saved import saved_plan
from lab.state.store import LabState, lab_lock, load_state, node_dir

HEAL_TIMEOUT = 30.0  # for restarted daemons to reconnect and the ports to be up again
GRACE = 5.0  # nothing restarted: how long a transient problem may take to clear by itself


@dataclass
class Restart:
    node: str
    dead: list[str]  # the daemons found dead
    restarted: list[str]  # the daemons started again (the whole node's, or only the dead one)


@dataclass
class HealReport:
    lab: str
    restarts: list[Restart] = field(default_factory=list)
    left_stopped: list[str] = field(default_factory=list)  # by `lab stop`, on purpose
    unhealable: list[str] = field(default_factory=list)  # one sentence each
    status: LabStatus | None = None  # after healing

    @property
    def healthy(self) -> bool:
        return self.status is not None and self.status.healthy


def heal(state: LabState, timeout: float = HEAL_TIMEOUT) -> HealReport:
    """Restart the dead daemons of a lab, then wait up to `timeout` s for it to be healthy."""
    report = HealReport(lab=state.name)
    with lab_lock(state.name):  # not while `lab stop`/`start`/`down` change the lab
        current = load_state(state.name)
        if current is None:
            raise UserError(f"lab '{state.name}' is gone")
        state = current
        before = lab_status(state)
        recreate = f"recreate the lab (`lab down {state.name}`, then `lab up` it again)"
        report.left_stopped = [n.name for n in before.nodes if n.stopped]
        for n in before.nodes:
            if not n.netns:
                netns = state.info.nodes[n.name].netns
                report.unhealable.append(
                    f"node {n.name}: its namespace {netns} is gone, with everything that ran "
                    f"in it; {recreate}"
                )
        vms_gone: dict[str, list[str]] = {}  # chassis -> its VMs whose namespace is gone
        vm_exists = providers.of(state).vm_exists(state)
        for vm, info in state.info.vms.items():
            if not vm_exists(info.netns):
                vms_gone.setdefault(info.chassis, []).append(vm)
                report.unhealable.append(f"VM {vm}: its namespace {info.netns} is gone; {recreate}")
        dead = {
            n.name: ([d for d, alive in n.daemons.items() if not alive], list(n.daemons))
            for n in before.nodes
            if n.netns and not n.stopped and not all(n.daemons.values())
        }
        if dead:
            _restart(state, dead, vms_gone, recreate, report)
        _restart_services(state, before, vms_gone, report)
    if report.restarts:
        wait = timeout
    elif before.problems and not report.unhealable and not report.left_stopped:
        wait = min(GRACE, timeout)  # e.g. a chassis re-registering itself
    else:
        wait = 0.0
    report.status = _wait_healthy(state, wait)
    return report


def _restart(
    state: LabState,
    dead: dict[str, tuple[list[str], list[str]]],
    vms_gone: dict[str, list[str]],
    recreate: str,
    report: HealReport,
) -> None:
    # the node machinery (pyroute2 and the ovn layer) only when something is restarted
    from lab.ops import faults
    from lab.ovn import chassis as ovn_chassis
    from lab.providers.netns.build import central_dirs

    plan = saved_plan(state)
    central_dir = central_dirs(plan, state)
    for name in sorted(dead, key=lambda n: plan.nodes[n].role != "central"):  # central first
        node = plan.nodes[name]
        dead_daemons, all_daemons = dead[name]
        try:
            if dead_daemons == ["ovn-controller"]:
                runner = providers.of(state).node_runner(state, name)
                ovn_chassis.start_controller(node, node_dir(state, name), central_dir, runner)
                report.restarts.append(Restart(name, dead_daemons, dead_daemons))
            elif name in vms_gone:
                report.unhealable.append(
                    f"node {name}: {', '.join(dead_daemons)} dead, but restarting it needs "
                    f"the namespaces of {', '.join(vms_gone[name])}; {recreate}"
                )
            else:
                faults.restart_node(state, plan, node)
                report.restarts.append(Restart(name, dead_daemons, all_daemons))
        except LabError as exc:
            report.unhealable.append(f"node {name}: restarting it failed: {exc}")
    if report.restarts:
        ovn_chassis.warm_tunnels(plan, state.dir)


def _restart_services(
    state: LabState, before: LabStatus, vms_gone: dict[str, list[str]], report: HealReport
) -> None:
    """VM services that died are started again in their (still existing) VMs."""
    from lab.vm import services

    gone = {vm for vms in vms_gone.values() for vm in vms}
    for svc in before.services:
        if svc.alive or svc.vm in gone:
            continue
        netns = state.info.vms[svc.vm].netns
        plan = services.ServicePlan(svc.vm, netns, svc.proto, svc.port)
        try:
            pid = providers.of(state).start_service(state, plan)
        except LabError as exc:
            report.unhealable.append(f"VM {svc.vm}: restarting its service failed: {exc}")
            continue
        for entry in state.info.services.get(svc.vm, []):
            if entry.proto == svc.proto and int(entry.port) == svc.port:
                entry.pid = pid
        state.save()
        what = f"{svc.proto}/{svc.port} service"
        report.restarts.append(Restart(svc.vm, [what], [what]))


def _wait_healthy(state: LabState, timeout: float) -> LabStatus:
    """The lab's status once healthy, or as it is after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        status = lab_status(state)
        if status.healthy or time.monotonic() >= deadline:
            return status
        time.sleep(0.5)
