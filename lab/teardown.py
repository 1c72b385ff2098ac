"""`lab down`: remove everything a lab created. Kept light (no planning, no pyroute2) so the
command starts fast."""

from __future__ import annotations

import shutil

from lab import preflight
from lab.errors import LabError
from lab.providers import netns as nsprov
from lab.state import LabState, lab_dir, lab_lock, load_state


def down(name: str, forget_unreachable: bool = False) -> list[int]:
    """Remove everything lab `name` created. Safe to run twice; returns the PIDs it stopped.
    `forget_unreachable`: SSH hosts that cannot be cleaned are given up on (they are gone)."""
    preflight.check_root()
    with lab_lock(name, remove_after=True):
        state = load_state(name)
        if state is None:
            remove_orphan_containers(name)
            return []
        return teardown(state, forget_unreachable)


def down_orphan(name: str) -> list[str]:
    """`lab down NAME` for a lab with no state: its containers by label, and a lock file
    left beside the lost state."""
    preflight.check_root()
    with lab_lock(name, remove_after=True):
        return remove_orphan_containers(name)


def remove_orphan_containers(name: str) -> list[str]:
    """A docker lab whose state file is lost: its containers are found by label; its
    fabric and VM namespaces by the names the lab gives them (the VMs are listed in the
    chassis' pin directories). Returns the containers removed."""
    from lab import naming
    from lab.providers import docker as dockerprov

    vms = dockerprov.pinned_vms(name)
    removed = dockerprov.remove_lab_containers(name)
    if not removed:
        return []
    namespaces = [*removed, naming.fabric_netns(name), *(naming.netns_name(name, v) for v in vms)]
    nsprov.kill_all_in(namespaces)
    dockerprov.remove_vm_netns_dirs(name)
    for ns in namespaces:
        nsprov.remove(ns)
    shutil.rmtree(lab_dir(name), ignore_errors=True)
    return removed


def teardown(state: LabState, forget_unreachable: bool = False) -> list[int]:
    """Kill every process living in the lab's namespaces, delete the namespaces (and with
    them every veth, bridge and tap inside), then the state directory."""
    state.set(phase="stopping")
    if state.resources.get("ssh_host"):
        from lab import ssh_lab

        # the hosts first: on failure the state stays for a retry
        ssh_lab.teardown(state, forget_unreachable)
    namespaces = list(state.resources.get("netns", []))
    in_containers: set[int] = set()
    if state.resources.get("container"):
        from lab.providers import docker as dockerprov

        # docker stops the containers' processes itself; left to the netns sweep below,
        # their init would be killed and docker would only notice later
        in_containers = set(nsprov.pids_in(state.resources["container"]))
        dockerprov.remove_lab_containers(state.name, required=True)
    pids = sorted(in_containers | set(nsprov.kill_all_in(namespaces)))
    errors: list[str] = []
    for ns in reversed(namespaces):
        try:
            nsprov.remove(ns)
        except LabError as exc:
            errors.append(str(exc))
    if state.resources.get("vm_netns_dir"):
        from lab.providers import docker as dockerprov

        dockerprov.remove_vm_netns_dirs(state.name)
    if errors:
        raise LabError("; ".join(errors))
    shutil.rmtree(lab_dir(state.name), ignore_errors=True)
    return pids


def orphan_container_labs() -> list[str]:
    """Labs that still have containers (by label) but may have lost their state."""
    from lab.providers import docker as dockerprov

    if not dockerprov.DOCKER_SOCKET.exists():
        return []
    try:
        containers = dockerprov.lab_containers(None)
    except LabError:
        return []
    return sorted({c.labels.get(dockerprov.LAB_LABEL, "") for c in containers} - {""})
