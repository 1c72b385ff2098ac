"""`lab down`: remove everything a lab created, by its provider. Kept light (no planning, no
pyroute2) so the command starts fast."""

from __future__ import annotations

from lab import providers
from lab.errors import UserError
from lab.ops import preflight
from lab.providers.base import Provider
from lab.state.store import (
    LabState,
    is_empty_leftover,
    lab_dir,
    lab_lock,
    load_state,
    remove_state_dir,
)


def down(name: str, forget_unreachable: bool = False) -> list[int]:
    """Remove everything lab `name` created. Safe to run twice; returns the PIDs it stopped.
    `forget_unreachable`: SSH hosts that cannot be cleaned are given up on (they are gone)."""
    preflight.check_root()
    with lab_lock(name, remove_after=True):
        state = load_state(name)
        if state is None:
            remove_orphan(name)
            return []
        return teardown(state, forget_unreachable)


def down_orphan(name: str) -> list[str]:
    """`lab down NAME` for a lab with no state: what labels prove is its own, and a lock
    file left beside the lost state."""
    preflight.check_root()
    with lab_lock(name, remove_after=True):
        removed = remove_orphan(name)
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
    """`lab down NAME --force`: for a lab whose state is unreadable or lost. Every provider
    removes what carries the lab's name or label, then the state directory and lock go.
    Returns what was removed."""
    preflight.check_root()
    with lab_lock(name, remove_after=True):
        removed: list[str] = []
        for provider in _all():
            removed += provider.sweep(name)
        remove_state_dir(name)
        return removed


def remove_orphan(name: str) -> list[str]:
    """What every provider finds of a lab whose state file is lost, by label."""
    return [found for provider in _all() for found in provider.remove_orphan(name)]


def teardown(state: LabState, forget_unreachable: bool = False) -> list[int]:
    """Everything the lab provably created (lab.state.ownership), by its provider: a name
    that was taken when the lab went to create it stays, with its processes."""
    state.set(phase="stopping")
    return providers.of(state).destroy(state, forget_unreachable)


def orphan_labs() -> list[str]:
    """Labs that still have resources (found by label) but may have lost their state."""
    return sorted({name for provider in _all() for name in provider.orphans()})


def _all() -> list[Provider]:
    """Every provider, the last registered first: a provider built on another (docker on
    netns) cleans its own resources before the one below sweeps the namespaces."""
    return [providers.get(name) for name in reversed(providers.REGISTRY)]
