"""`lab down`: remove everything a lab created. Kept light (no planning, no pyroute2) so the
command starts fast."""

from __future__ import annotations

import shutil

from lab.errors import LabError, UserError
from lab.naming import is_lab_name
from lab.ops import preflight
from lab.providers.netns import namespaces as nsprov
from lab.state.store import LabState, is_empty_leftover, lab_dir, lab_lock, load_state, state_root


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
        removed = remove_orphan_containers(name)
        directory = lab_dir(name)
        if directory.is_dir() and not (directory / "state.json").exists():
            if not is_empty_leftover(directory):
                raise UserError(
                    f"{directory} has no state file, so what it holds cannot be told to be "
                    f"lab {name}'s; `lab down {name} --force` removes it and the lab's "
                    "namespaces and containers found by name and label"
                )
            remove_state_dir(name)
        return removed


def force_down(name: str) -> list[str]:
    """`lab down NAME --force`: for a lab whose state is unreadable or lost. Removes what
    carries the lab's name (namespaces `<lab>.*`: no other lab's name starts so) or label
    (containers), and the lab's state directory and lock. Returns what it removed."""
    from lab import naming
    from lab.providers.docker import containers as dockerprov

    preflight.check_root()
    with lab_lock(name, remove_after=True):
        containers = dockerprov.remove_lab_containers(name, unlabelled_root=True)
        prefix = naming.lab_prefix(name)
        found = sorted(p.name for p in nsprov.NETNS_DIR.glob(f"{prefix}*"))
        nsprov.kill_all_in(found)
        dockerprov.remove_vm_netns_dirs(name)
        for ns in found:
            nsprov.remove(ns)
        remove_state_dir(name)
        return [*(f"container {c}" for c in containers), *(f"netns {n}" for n in found)]


def remove_orphan_containers(name: str) -> list[str]:
    """A docker lab whose state file is lost: its containers are found by label; its
    fabric and VM namespaces by the names the lab gives them (the VMs are listed in the
    chassis' pin directories). Returns the containers removed."""
    from lab import naming
    from lab.providers.docker import containers as dockerprov

    vms = dockerprov.pinned_vms(name)
    removed = dockerprov.remove_lab_containers(name)
    if not removed:
        return []
    namespaces = [*removed, naming.fabric_netns(name), *(naming.netns_name(name, v) for v in vms)]
    nsprov.kill_all_in(namespaces)
    dockerprov.remove_vm_netns_dirs(name)
    for ns in namespaces:
        nsprov.remove(ns)
    remove_state_dir(name)
    return removed


def teardown(state: LabState, forget_unreachable: bool = False) -> list[int]:
    """Kill every process living in the lab's namespaces, delete the namespaces (and with
    them every veth, bridge and tap inside), then the state directory. Only what the lab
    provably created (lab.state.ownership): a name that was taken when the lab went to create
    it stays, with its processes."""
    from lab.state import ownership

    state.set(phase="stopping")
    if state.resources.get("ssh_host"):
        from lab.providers.ssh import hosts as ssh_lab

        # the hosts first: on failure the state stays for a retry
        ssh_lab.teardown(state, forget_unreachable)
    namespaces = ownership.removable_netns(state)
    in_containers: set[int] = set()
    containers = ownership.removable_containers(state)
    if containers:
        from lab.providers.docker import containers as dockerprov

        # docker stops the containers' processes itself; left to the netns sweep below,
        # their init would be killed and docker would only notice later
        mine = set(state.resources.get("container", []))
        in_containers = set(nsprov.pids_in([c for c in containers if c in mine]))
        dockerprov.remove_lab_containers(
            state.name,
            required=bool(mine),
            names=containers,
            instance=state.instance,
            unlabelled_root=not state.instance,  # a lab brought up before these labels
        )
    pids = sorted(in_containers | set(nsprov.kill_all_in(namespaces)))
    errors: list[str] = []
    for ns in reversed(namespaces):
        try:
            nsprov.remove(ns)
        except LabError as exc:
            errors.append(str(exc))
    if ownership.owns_vm_netns_dir(state):
        from lab.providers.docker import containers as dockerprov

        dockerprov.remove_vm_netns_dirs(state.name)
    if errors:
        raise LabError("; ".join(errors))
    remove_state_dir(state.name)
    return pids


def remove_state_dir(name: str) -> None:
    """The lab's own directory, a direct child of the state root, and nothing else."""
    directory = lab_dir(name)
    if directory.parent != state_root() or directory.name != name:
        raise LabError(f"refusing to remove {directory}: not a lab directory")
    shutil.rmtree(directory, ignore_errors=True)


def orphan_container_labs() -> list[str]:
    """Labs that still have containers (by label) but may have lost their state."""
    from lab.providers.docker import containers as dockerprov

    if not dockerprov.DOCKER_SOCKET.exists():
        return []
    try:
        containers = dockerprov.lab_containers(None)
    except LabError:
        return []
    # a label is anyone's to write: only valid lab names are ever used to build names
    labels = {
        c.labels.get(dockerprov.LAB_LABEL, "") for c in containers if dockerprov.in_this_root(c)
    }
    return sorted(name for name in labels if is_lab_name(name))
