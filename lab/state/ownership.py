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


def write_marker_file(directory: Path, state: LabState) -> None:
    (directory / ".owner").write_text(marker(state) + "\n")


def has_marker_file(directory: Path, state: LabState) -> bool:
    try:
        return (directory / ".owner").read_text().strip() == marker(state)
    except OSError:
        return False
