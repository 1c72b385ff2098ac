"""Namespaces as the lab's own (lab/state/ownership.py): claimed, made with the lab's
marker on their `lo`, confirmed; and which of them teardown may delete."""

from __future__ import annotations

from lab.fabric import nsfs
from lab.providers.netns import namespaces as nsprov
from lab.state.ownership import NETNS, is_lab_resource_name, marker
from lab.state.store import LabState
from lab.testhooks import checkpoint


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
