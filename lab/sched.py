"""The lab's own work ahead of the daemons it started, for as long as it needs the CPU.

Every OVS/OVN daemon detaches into a session of its own, and the kernel's scheduler shares
the CPUs between sessions (autogroups) before it shares them between processes. With a
hundred chassis busy, the lab's session, and any one chassis' daemons, get about 1/100 of
the CPU. A block that must finish first (lab up placing VMs while the controllers
converge; lab add-vm, whose own chassis must claim the port while every other chassis
processes it too) raises those sessions' nice for the block and puts it back afterwards.
Where an autogroup cannot be read or written (no CONFIG_SCHED_AUTOGROUP, a process gone),
nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

PROC = Path("/proc")
AHEAD_NICE = -10


def _nice(autogroup: Path) -> int:
    """The nice of an autogroup, as the kernel shows it: '/autogroup-7 nice 0'."""
    return int(autogroup.read_text().split("nice")[1])


@contextmanager
def ahead_of_the_daemons(pids: Iterable[int] = ()) -> Iterator[None]:
    """For the block, this process's session, and the sessions of `pids`, at nice
    AHEAD_NICE (never lowered: a session already further ahead stays as it is)."""
    raised: list[tuple[Path, int]] = []
    for autogroup in [
        PROC / "self" / "autogroup",
        *(PROC / str(pid) / "autogroup" for pid in pids),
    ]:
        try:
            before = _nice(autogroup)
            if before > AHEAD_NICE:
                autogroup.write_text(str(AHEAD_NICE))
                raised.append((autogroup, before))
        except (OSError, ValueError, IndexError):
            continue
    try:
        yield
    finally:
        for autogroup, before in reversed(raised):
            with suppress(OSError):
                autogroup.write_text(str(before))
