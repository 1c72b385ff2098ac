"""Ownership: a lab removes only what it provably created.

Before creating a namespace (or container, or pin directory) the lab records its name as
*pending*; once the name is the lab's (the create succeeded, the name was free) it moves
to *owned*. A name that already existed is refused and never becomes owned, so rollback
and `lab down` leave it alone. A crash between the two writes leaves the name pending:
teardown then removes it only if it carries this lab's marker (the alias of the
namespace's `lo`, the container's instance label, a marker file), written before the
resource got its name, so at no kill point is a stranger's resource taken for the lab's.
"""

from __future__ import annotations

from pathlib import Path

from lab import naming
from lab.ops.testhooks import checkpoint
from lab.providers.netns import namespaces as nsprov
from lab.providers.netns import nsfs
from lab.state.store import LabState

NETNS = "netns"
CONTAINER = "container"
VM_NETNS_DIR = "vm_netns_dir"


def marker(state: LabState) -> str:
    """What this lab writes on what it creates: its name and its instance."""
    return f"ovn-lab {state.name} {state.instance}"


def is_lab_resource_name(lab: str, name: str) -> bool:
    """Only names built for this lab are ever touched (`<lab>.x`; `<lab>-x` from state
    written before the separator changed), and only plain names (no path)."""
    if "/" in name or name in (".", "..") or "\0" in name:
        return False
    return name.startswith(naming.lab_prefix(lab)) or name.startswith(f"{lab}-")


def create_netns(state: LabState, names: list[str]) -> None:
    """Create namespaces as the lab's own: one state write before, one after."""
    if not names:
        return
    state.claim(NETNS, names)
    made: list[str] = []
    try:
        for name in names:
            nsprov.create(name, marker(state))
            made.append(name)
        checkpoint("netns-made")  # a crash here: teardown proves them ours by the marker
    finally:  # what was made is ours whatever happened next; the rest is not
        state.confirm(NETNS, made, [n for n in names if n not in made])


def removable_netns(state: LabState) -> list[str]:
    """The namespaces teardown may delete: every owned one, and every pending one that
    provably is this lab's (its marker), or is only the empty pin file of a `create`
    cut short (not a namespace at all)."""
    found = [n for n in state.resources.get(NETNS, []) if is_lab_resource_name(state.name, n)]
    for name in state.pending.get(NETNS, []):
        if name in found or not is_lab_resource_name(state.name, name):
            continue
        path = nsprov.NETNS_DIR / name
        if not path.exists():
            continue
        if not nsfs.is_namespace(path) or nsfs.lo_alias(path) == marker(state):
            found.append(name)
    return found


def not_removed(state: LabState) -> list[str]:
    """Pending names that exist but are not provably the lab's: left alone, and named."""
    keep = set(removable_netns(state))
    return [
        n for n in state.pending.get(NETNS, []) if n not in keep and (nsprov.NETNS_DIR / n).exists()
    ]


def write_marker_file(directory: Path, state: LabState) -> None:
    (directory / ".owner").write_text(marker(state) + "\n")


def has_marker_file(directory: Path, state: LabState) -> bool:
    try:
        return (directory / ".owner").read_text().strip() == marker(state)
    except OSError:
        return False


def claim_vm_netns_dir(state: LabState) -> None:
    """Docker: the machine-wide directory /run/ovn-lab/<lab> where VM namespaces are pinned
    for the chassis containers. Made new (another lab of this name elsewhere would share
    it), with a marker file, so teardown removes only its own."""
    from lab.errors import UserError
    from lab.providers.docker import containers as dockerprov

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
    from lab.providers.docker import containers as dockerprov

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
    from lab.providers.docker import containers as dockerprov

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
