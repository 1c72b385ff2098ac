"""Commands in a docker node from the host, without `docker exec`.

A docker exec goes through dockerd and runc (about 60 ms each here, against 5 ms), and a
lab's bring-up makes several per node (each daemon start, each ovsdb-tool call). What it
does is done here directly: `nsenter --all` into the namespaces of the container's init
(mount, UTS, IPC, network, PID; its root and working directory), with the container's
own environment and capability bounding set (`setpriv`), and the started daemons then
join the container's cgroups, so `docker stats`/`docker top` still count them. A daemon
started so is, like one from docker exec, a child of the container's init once its
`--detach` parent exits, and dies with the container.

Where this cannot be done (nsenter or setpriv missing, the container's init gone or not
the one that holds the node's namespace), the caller falls back to docker exec.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.errors import RuntimeFailure

log = logging.getLogger("lab.run")

NETNS_DIR = Path("/run/netns")


@functools.cache
def tools_present() -> bool:
    return bool(shutil.which("nsenter") and shutil.which("setpriv"))


# nsenter runs with the container's capabilities: it needs these to enter and to chroot
_NEEDED = (21, 18)  # CAP_SYS_ADMIN (setns), CAP_SYS_CHROOT


def init_of(name: str, pid: int) -> int | None:
    """`pid` when it is still the docker-init of the container whose network namespace is
    pinned as `name` (a PID can be reused once a container is gone), and the container's
    capabilities let nsenter in."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != "docker-init":
            return None
        if os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat(NETNS_DIR / name).st_ino:
            return None
        if any(not _capabilities(pid) >> cap & 1 for cap in _NEEDED):
            return None
    except (OSError, RuntimeFailure):
        return None
    return pid


def enter_argv(init_pid: int, argv: Sequence[str]) -> list[str]:
    """argv that runs `argv` as docker exec would, with the container's capabilities."""
    return [
        "setpriv",
        f"--bounding-set={_bounding_set(init_pid)}",
        "--inh-caps=-all",
        "nsenter",
        "--all",
        "-t",
        str(init_pid),
        "-r",
        "-w",
        "--",
        *argv,
    ]


def environment(init_pid: int, env: Mapping[str, str]) -> dict[str, str]:
    """The container's own environment (its init's: the image's and the node's), then
    `env` on top, as docker exec sets it."""
    raw = Path(f"/proc/{init_pid}/environ").read_bytes()
    base = dict(
        item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item
    )
    return {**base, **env}


def run_in(
    container: str, init_pid: int, argv: Sequence[str], env: Mapping[str, str], timeout: float
) -> str:
    """Run `argv` in the container to completion; its output (stdout and stderr, as
    docker exec returns them). Then any daemon it left behind joins the container's
    cgroups."""
    full = enter_argv(init_pid, argv)
    log.debug("run %s", full)
    try:
        proc = subprocess.run(
            full,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment(init_pid, env),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeFailure(
            f"`{' '.join(argv[:6])}` in container {container} did not finish within {timeout:.0f} s"
        ) from None
    finally:
        adopt_children(init_pid)
    text = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        detail = text.strip().splitlines()
        raise RuntimeFailure(
            f"`{' '.join(argv[:6])}` in container {container} failed (exit {proc.returncode}): "
            + (detail[-1] if detail else "no output")
        )
    return text


def adopt_children(init_pid: int) -> None:
    """The container init's children that are not in its cgroups (daemons started by
    run_in, reparented to it when their --detach parent exited) join them."""
    own = _cgroups(init_pid)
    if not own:
        return
    try:
        children = Path(f"/proc/{init_pid}/task/{init_pid}/children").read_text().split()
    except OSError:
        return
    for child in children:
        if _cgroups(int(child)) in (own, None):
            continue
        for directory in own.values():
            try:
                (directory / "cgroup.procs").write_text(child)
            except OSError as exc:  # accounting only: the daemon runs either way
                log.debug("cannot move %s into %s: %s", child, directory, exc)


def _cgroups(pid: int) -> dict[str, Path] | None:
    """hierarchy -> the cgroup directory of `pid` in it (cgroup v1 and v2)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    mounts = _hierarchy_mounts()
    found: dict[str, Path] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        mount = mounts.get(controllers)
        if mount is not None:
            found[controllers] = mount / path.lstrip("/")
    return found


@functools.cache
def _hierarchy_mounts() -> dict[str, Path]:
    """Where each cgroup hierarchy is mounted, by its name in /proc/PID/cgroup ("" for
    cgroup v2, "memory", "cpu,cpuacct", "name=systemd" ...)."""
    found: dict[str, Path] = {}
    with open("/proc/self/mounts") as fh:
        for line in fh:
            _, point, kind, options, *_ = line.split()
            if kind == "cgroup2":
                found.setdefault("", Path(point))
            elif kind == "cgroup":
                opts = options.split(",")
                names = [o for o in opts if o.startswith("name=")]
                known = [o for o in opts if o in _V1_CONTROLLERS]
                for key in (",".join(known), *names):
                    if key:
                        found.setdefault(key, Path(point))
    return found


_V1_CONTROLLERS = (
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
    "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc",
)  # fmt: skip


def _bounding_set(init_pid: int) -> str:
    """setpriv's --bounding-set for the capabilities the container's init may hold."""
    mask = _capabilities(init_pid)
    return ",".join(["-all", *(f"+cap_{i}" for i in range(64) if mask >> i & 1)])


def _capabilities(pid: int) -> int:
    """The capability bounding set of a process, as a bit mask."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    raise RuntimeFailure(f"no capability set for process {pid}")
