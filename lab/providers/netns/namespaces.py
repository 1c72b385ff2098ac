"""The netns provider: every node and VM is a Linux network namespace on this machine.

Processes a node runs live in its namespace, so teardown finds them by the
namespace they are in (/proc/PID/ns/net), not by name patterns: it kills
exactly what runs inside the lab's namespaces and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from lab.errors import RuntimeFailure, UserError
from lab.fabric import nsfs

NETNS_DIR = Path("/run/netns")


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def create(name: str, marker: str | None = None) -> None:
    """Create a namespace; refuse if one of that name already exists (it is not ours).
    `marker`: see nsfs.create (lab.state.ownership proves by it that the namespace is the lab's)."""
    try:
        nsfs.create(name, marker)
    except FileExistsError:
        raise UserError(
            f"network namespace '{name}' already exists; another lab or a leftover holds it "
            f"(remove it with `ip netns delete {name}` or choose another lab name with --name)"
        ) from None
    except OSError as exc:
        raise RuntimeFailure(f"cannot create network namespace '{name}': {exc}") from exc
    from lab.fabric import links  # pyroute2: only where links are made (keeps `lab down` light)

    links.disable_ipv6(name)


def remove(name: str) -> None:
    """Delete a namespace; a namespace already gone is fine."""
    try:
        nsfs.remove(name)
    except OSError as exc:
        raise RuntimeFailure(f"cannot delete network namespace '{name}': {exc}") from exc


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def pids_in(names: Iterable[str]) -> dict[int, str]:
    """PID -> namespace name, for every process living in one of the named namespaces."""
    wanted: dict[tuple[int, int], str] = {}
    for name in names:
        ino = _inode(NETNS_DIR / name)
        if ino is not None:
            wanted[ino] = name
    if not wanted:
        return {}
    found: dict[int, str] = {}
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        ino = _inode(Path(entry.path) / "ns" / "net")
        if ino in wanted:
            found[int(entry.name)] = wanted[ino]
    return found


def kill_all_in(
    names: Iterable[str], grace: float = 1.0, hard: bool = False, spare: Iterable[int] = ()
) -> list[int]:
    """SIGTERM every process in the namespaces, SIGKILL what is left after `grace` seconds
    (`hard`: SIGKILL at once, like a crash). `spare`: PIDs to leave alone (a container's
    own init). Returns the PIDs that were found. Raises if any is still alive at the end."""
    names = list(names)
    kept = set(spare)
    pids = {pid: ns for pid, ns in pids_in(names).items() if pid not in kept}
    _signal_all(pids, signal.SIGKILL if hard else signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = {p for p in alive if _alive(p)}
    if alive:
        _signal_all(alive, signal.SIGKILL)
        deadline = time.monotonic() + 2.0
        while alive and time.monotonic() < deadline:
            time.sleep(0.02)
            alive = {p for p in alive if _alive(p)}
    if alive:
        raise RuntimeFailure(f"processes {sorted(alive)} survived SIGKILL")
    return sorted(pids)


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True
