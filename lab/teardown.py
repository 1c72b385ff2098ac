"""`lab down`: remove everything a lab created. Kept light (no planning, no pyroute2) so the
command starts fast."""

from __future__ import annotations

import shutil

from lab import preflight
from lab.errors import LabError
from lab.providers import netns as nsprov
from lab.state import LabState, lab_dir, lab_lock, load_state


def down(name: str) -> list[int]:
    """Remove everything lab `name` created. Safe to run twice; returns the PIDs it stopped."""
    preflight.check_root()
    with lab_lock(name, remove_after=True):
        state = load_state(name)
        if state is None:
            return []
        return teardown(state)


def teardown(state: LabState) -> list[int]:
    """Kill every process living in the lab's namespaces, delete the namespaces (and with
    them every veth, bridge and tap inside), then the state directory."""
    state.set(phase="stopping")
    namespaces = list(state.resources.get("netns", []))
    pids = nsprov.kill_all_in(namespaces)
    errors: list[str] = []
    for ns in reversed(namespaces):
        try:
            nsprov.remove(ns)
        except LabError as exc:
            errors.append(str(exc))
    if errors:
        raise LabError("; ".join(errors))
    shutil.rmtree(lab_dir(state.name), ignore_errors=True)
    return pids
