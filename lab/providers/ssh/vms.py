"""A chassis' VMs on its SSH host: made in one remote shell, claimed and marked as the lab's."""

from __future__ import annotations

from collections.abc import Sequence

from lab.plan.commands import vm_commands
from lab.plan.model import VMPlan
from lab.providers.ssh import probe
from lab.providers.ssh.record import SSH_VM, marker
from lab.providers.ssh.transport import Host
from lab.state.store import LabState
from lab.testhooks import checkpoint


def plug_vms(
    state: LabState,
    host: Host,
    vms: Sequence[VMPlan],
    node: str,
    chassis_netns: str | None,
    prefix: Sequence[str] = (),
) -> None:
    """A chassis' VMs made on its host in one remote shell, each namespace claimed before and
    marked right after `ip netns add` (a crash leaves it provable by the marker);
    `chassis_netns`: the namespace of a chassis sharing its host (None: the host itself)."""
    if not vms:
        return
    names = [vm.name for vm in vms]
    state.claim(SSH_VM, names)
    cmds = []
    for vm in vms:
        made = vm_commands(vm, chassis_netns, owner=state.name)
        made.insert(1, ["ip", "-n", vm.netns, "link", "set", "lo", "alias", marker(state)])
        cmds += made
    host.run([*prefix, "sh", "-ec", probe.script(cmds)], timeout=120)
    checkpoint("vms", node)  # made, still pending: teardown proves them by markers
    state.confirm(SSH_VM, names)
