"""Network namespaces by syscall, per thread: create (as `ip netns add` does) and enter.

setns(2) and unshare(2) with CLONE_NEWNET switch only the calling thread, so each
bring-up thread can work in its own namespace at once: no forked helper process (what
pyroute2's netns.create and IPRoute(netns=) do, costly at a thousand namespaces and
unsafe to interrupt mid-fork) and no process-wide lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 0x2
NETNS_DIR = Path("/run/netns")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


@contextmanager
def entered(path: str | Path) -> Iterator[None]:
    """Run the block with this thread in the namespace at `path`, then come back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def create(name: str, marker: str | None = None) -> None:
    """A new network namespace pinned at /run/netns/<name> (visible to `ip netns`).

    `marker`: written as the alias of the namespace's `lo` before the namespace gets its
    name, so whoever finds it by that name later can tell it is the one this code made
    (a lab proving ownership after a crash). FileExistsError: the name is taken."""
    _shared_run_dir()
    path = NETNS_DIR / name
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare")
        try:
            if marker is not None:
                set_lo_alias(marker)
            _check(
                _libc.mount(b"/proc/thread-self/ns/net", str(path).encode(), None, MS_BIND, None),
                f"bind-mount {path}",
            )
        finally:
            _setns(home)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(home)


_run_dir_ready: list[bool] = []


def _shared_run_dir() -> None:
    """/run/netns a shared mount point before the first namespace is pinned in it, as
    `ip netns add` makes it. Otherwise the first `ip netns add` after ours bind-mounts
    /run/netns over itself, and every namespace pinned before then stays mounted on the
    covered directory below: it can no longer be deleted (EBUSY)."""
    if not _run_dir_ready:
        make_shared_mount(NETNS_DIR)
        _run_dir_ready.append(True)


# rtnetlink, by hand: one RTM_SETLINK per namespace (pyroute2 would cost a handle each)
_RTM_SETLINK = 19
_NLM_F_REQUEST_ACK = 0x1 | 0x4
_NLMSG_ERROR = 2
_IFLA_IFALIAS = 20
LOOPBACK_INDEX = 1


def set_lo_alias(alias: str) -> None:
    """`ip link set lo alias ALIAS` in this thread's network namespace."""
    value = alias.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(value), _IFLA_IFALIAS) + value
    attr += b"\0" * (-len(attr) % 4)
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, LOOPBACK_INDEX, 0, 0) + attr
    message = struct.pack("=IHHII", 16 + len(body), _RTM_SETLINK, _NLM_F_REQUEST_ACK, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.sendto(message + body, (0, 0))
        reply = sock.recv(65536)
    kind = struct.unpack_from("=H", reply, 4)[0]
    code = struct.unpack_from("=i", reply, 16)[0] if kind == _NLMSG_ERROR else 0
    if code:
        raise OSError(-code, f"set lo alias: {os.strerror(-code)}")


def lo_alias(path: str | Path) -> str | None:
    """The alias of `lo` in the namespace at `path` (None: none, or not a namespace)."""
    from pyroute2 import IPRoute  # only after a crash: no cost on the way up

    if not is_namespace(path):
        return None
    try:
        with entered(path):
            handle = IPRoute()
        try:
            found = handle.get_links(LOOPBACK_INDEX)
        finally:
            handle.close()
    except OSError:
        return None
    return found[0].get_attr("IFLA_IFALIAS") if found else None


def is_namespace(path: str | Path) -> bool:
    """True if `path` is a pinned namespace: a bind mount (of an nsfs inode), so on another
    device than its directory. An empty file left where a crash stopped `create` is not."""
    path = Path(path)
    try:
        return path.stat().st_dev != path.parent.stat().st_dev
    except OSError:
        return False


def pin(source: Path, name: str, directory: Path = NETNS_DIR) -> None:
    """Pin an existing namespace (e.g. /proc/PID/ns/net of a container) at /run/netns/<name>
    (or in another directory), as `ip netns attach` does, so it is reachable by name."""
    directory.mkdir(mode=0o755, exist_ok=True)
    path = directory / name
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    try:
        _check(
            _libc.mount(str(source).encode(), str(path).encode(), None, MS_BIND, None),
            f"bind-mount {path}",
        )
    except OSError:
        path.unlink(missing_ok=True)
        raise


def make_shared_mount(directory: Path) -> None:
    """Turn a directory into a shared mount point: namespaces pinned in it later show up
    in the containers that mount it with slave propagation (what `ip netns` does to
    /run/netns)."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    if not is_mount_point(directory):
        _check(  # recursive, as iproute2 does: what is pinned there already stays visible
            _libc.mount(
                str(directory).encode(), str(directory).encode(), None, MS_BIND | MS_REC, None
            ),
            f"bind-mount {directory}",
        )
    _check(
        _libc.mount(b"none", str(directory).encode(), None, MS_SHARED | MS_REC, None),
        f"make {directory} shared",
    )


def is_mount_point(directory: Path) -> bool:
    """True if something is mounted at `directory`, by /proc/self/mountinfo: a bind mount of a
    directory onto itself keeps its device and inode, so os.path.ismount cannot tell (and a
    second bind would stack on the first, every mount propagating to the others)."""
    wanted = os.path.realpath(directory)
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split(" ", 5)[4]
            if point == wanted or _unescape(point) == wanted:
                return True
    return False


def _unescape(point: str) -> str:
    """mountinfo writes space, tab, newline and backslash in a path as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        point = point.replace(code, char)
    return point


def unmount_tree(directory: Path) -> None:
    """Detach a mount point and everything mounted below it; gone already is fine."""
    if _libc.umount2(str(directory).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise OSError(err, f"umount {directory}: {os.strerror(err)}")


def remove(name: str) -> None:
    """Unpin and delete /run/netns/<name>; a namespace already gone is fine."""
    path = NETNS_DIR / name
    if _libc.umount2(str(path).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not a mount point
            raise OSError(err, f"umount {path}: {os.strerror(err)}")
    path.unlink(missing_ok=True)
