"""Running commands: argv lists only, never a shell, with failures turned into RuntimeFailure."""

from __future__ import annotations

import logging
import os
import select
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from lab.errors import RuntimeFailure

log = logging.getLogger("lab.run")


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """argv to run `argv` inside a named network namespace.

    `ip netns exec` (not a bare setns) so /sys shows the namespace's own
    interfaces, which OVS reads."""
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 60,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion and capture its output."""
    full = netns_argv(netns, argv)
    log.debug("run %s", full)
    merged = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(
            full,
            capture_output=True,
            text=True,
            env=merged,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise RuntimeFailure(f"{full[0]} is not installed: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RuntimeFailure(f"`{' '.join(full)}` did not finish within {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeFailure(
            f"`{' '.join(_short(full))}` failed (exit {proc.returncode}): "
            + (detail[-1] if detail else "no output")
        )
    return proc


def _short(argv: Sequence[str], limit: int = 12) -> list[str]:
    """A long argv (one big ovn-nbctl transaction) shortened for an error message."""
    return list(argv) if len(argv) <= limit else [*argv[:limit], "..."]


def wait_for_output(stream: IO[str] | None, text: str, timeout: float = 5.0) -> bool:
    """Wait until `text` appears on a child's pipe (e.g. tcpdump's "listening on").

    Reads the raw file descriptor: select() on a buffered text stream misses lines
    already pulled into Python's buffer by an earlier readline()."""
    if stream is None:
        return False
    fd = stream.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return False
            seen += chunk
            if text.encode() in seen:
                return True
    return False


class NodeRunner(Protocol):
    """How the ovn layer runs things in one node. The provider hands it over (see
    lab/providers/base.py), so nothing outside providers/ asks what a node is."""

    def start(self, argv: Sequence[str], env: Mapping[str, str], timeout: float = 30) -> None:
        """Run a command in the node to completion (a daemon's `--detach` start)."""

    def tool(self, argv: Sequence[str]) -> str:
        """An offline tool (ovsdb-tool) on the node's files, of the OVS/OVN the node runs."""

    def host_pid(self, pid: int) -> int | None:
        """A PID the node's own pidfile names, as this (host) process sees it."""

    def show_vms(self, vms: Sequence[tuple[str, str]]) -> None:
        """Make (VM name, namespace) visible inside the node, where the node needs that."""

    def hide_vm(self, vm: str) -> None:
        """Undo show_vms for one VM."""


@dataclass(frozen=True)
class NetnsRunner:
    """A node that is a network namespace of this machine (None: the host itself)."""

    netns: str | None

    def start(self, argv: Sequence[str], env: Mapping[str, str], timeout: float = 30) -> None:
        run(argv, netns=self.netns, env=env, timeout=timeout)

    def tool(self, argv: Sequence[str]) -> str:
        return run(argv).stdout

    def host_pid(self, pid: int) -> int | None:
        return pid

    def show_vms(self, vms: Sequence[tuple[str, str]]) -> None:
        return None  # the host's /run/netns is the node's

    def hide_vm(self, vm: str) -> None:
        return None
