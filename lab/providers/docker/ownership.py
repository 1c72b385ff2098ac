"""Containers and the VM-namespace pin directory as the lab's own (lab/state/ownership.py):
claimed, made with the lab's instance label or marker file, confirmed."""

from __future__ import annotations

from pathlib import Path

from lab.errors import UserError
from lab.providers.docker import containers as dockerprov
from lab.state.ownership import (
    CONTAINER,
    NETNS,
    VM_NETNS_DIR,
    has_marker_file,
    is_lab_resource_name,
    marker,
    write_marker_file,
)
from lab.state.store import LabState


def claim_vm_netns_dir(state: LabState) -> None:
    """Docker: the machine-wide directory /run/ovn-lab/<lab> where VM namespaces are pinned
    for the chassis containers. Made new (another lab of this name elsewhere would share
    it), with a marker file, so teardown removes only its own."""
    directory = dockerprov.VM_NETNS_ROOT / state.name
    state.claim(VM_NETNS_DIR, [state.name])
    try:
        dockerprov.VM_NETNS_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        directory.mkdir(mode=0o755)
    except FileExistsError:
        state.unclaim(VM_NETNS_DIR, [state.name])
        raise UserError(
            f"{directory} already exists: another lab named {state.name} on this machine (or "
            f"its leftover) uses it; pick another name with --name, or remove it with "
            f"`lab down {state.name} --force`"
        ) from None
    write_marker_file(directory, state)
    state.confirm(VM_NETNS_DIR, [state.name])


def owns_vm_netns_dir(state: LabState) -> bool:
    if state.name in state.resources.get(VM_NETNS_DIR, []):
        return True
    return state.name in state.pending.get(VM_NETNS_DIR, []) and has_marker_file(
        dockerprov.VM_NETNS_ROOT / state.name, state
    )


def create_container(
    state: LabState,
    node: str,
    name: str,
    image: str,
    node_dir: Path,
    extra: list[Path],
    env: dict[str, str],
) -> None:
    """A node's container and the pin of its namespace, each owned once it is made."""
    state.claim(CONTAINER, [name])
    state.claim(NETNS, [name])
    made: set[str] = set()

    def made_container() -> None:
        made.add(CONTAINER)
        state.confirm(CONTAINER, [name])

    try:
        dockerprov.create_node(
            state.name,
            node,
            name,
            image,
            node_dir,
            extra,
            env,
            instance=state.instance,
            marker=marker(state),
            on_created=made_container,
        )
        made.add(NETNS)
    finally:
        if CONTAINER not in made:
            state.unclaim(CONTAINER, [name])
        state.confirm(NETNS, [name] if NETNS in made else [], [] if NETNS in made else [name])


def removable_containers(state: LabState) -> list[str]:
    """Owned containers, and pending ones docker shows with this lab's instance label."""
    names = [*state.resources.get(CONTAINER, []), *state.pending.get(CONTAINER, [])]
    return [n for n in dict.fromkeys(names) if is_lab_resource_name(state.name, n)]
