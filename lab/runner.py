"""Running commands: argv lists only, never a shell, with failures turned into RuntimeFailure."""

from __future__ import annotations

import logging
import os
import select
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import IO

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
