"""Integration tests: real namespaces, real OVS/OVN daemons. They need root.

In CI (CI=true) a missing prerequisite is a failure, never a silent skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab import naming

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"
DAEMONS = ("ovsdb-server", "ovs-vswitchd", "ovn-controller", "ovn-northd")


def _prereq_problem() -> str | None:
    if os.geteuid() != 0:
        return "integration tests need root"
    for tool in ("ovs-vswitchd", "ovn-controller", "ovn-northd", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run `make install`)"
    return None


@pytest.fixture(autouse=True)
def _prerequisites(request: pytest.FixtureRequest) -> None:
    """Outside CI, a machine without root/OVS skips these tests; in CI that is a failure."""
    if "root" not in request.keywords:
        return
    problem = _prereq_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI must provide it (see Makefile `install`)")
        pytest.skip(problem)


def lab(
    *args: str, check: bool = False, timeout: float = 120, prefix: list[str] | None = None, **kw
) -> subprocess.CompletedProcess:
    """Run the `lab` CLI as a user would (`prefix`: e.g. a command that drops privileges)."""
    proc = subprocess.run(
        [*(prefix or []), sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        **kw,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"lab {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}"
        )
    return proc


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def live_processes() -> Iterator[tuple[str, str]]:
    """(pid, command line) of every live (non-zombie) process on this machine."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            yield entry.name, cmdline.strip()


def lab_processes(prefix: str) -> list[str]:
    """Live OVS/OVN processes whose pidfile/db paths mention this lab."""
    return [
        f"{pid}: {cmd}"
        for pid, cmd in live_processes()
        if any(d in cmd for d in DAEMONS) and f"/{prefix}/" in cmd
    ]


def host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def assert_nothing_left(name: str, links_before: set[str]) -> None:
    ns = {n for n in namespaces() if n.startswith(naming.lab_prefix(name))}
    assert not ns, f"namespaces left behind: {ns}"
    procs = lab_processes(name)
    assert not procs, f"processes left behind: {procs}"
    extra = host_links() - links_before
    assert not extra, f"links left in the host namespace: {extra}"
    state_root = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))
    assert not (state_root / name).exists(), "state directory left behind"
    assert not (state_root / f".{name}.lock").exists(), "lock file left behind"


@contextmanager
def running_lab(topology: str, name: str, *extra: str) -> Iterator[subprocess.CompletedProcess]:
    """`lab up` a topology under a test-only name; always `lab down`, then prove nothing is left."""
    links_before = host_links()
    proc = lab("up", str(TOPOLOGIES / topology), "--name", name, *extra)
    try:
        assert proc.returncode == 0, f"lab up failed ({proc.returncode}):\n{proc.stderr}"
        yield proc
    finally:
        down = lab("down", name)
        assert down.returncode == 0, down.stderr
        assert_nothing_left(name, links_before)


def ping(lab_name: str, vm: str, address: str, count: int = 3) -> subprocess.CompletedProcess:
    return lab(
        "exec",
        "--lab",
        lab_name,
        vm,
        "--",
        "ping",
        "-c",
        str(count),
        "-i",
        "0.2",
        "-W",
        "2",
        address,
    )


def chassis_remote(name: str) -> list[str]:
    """worker1's `external_ids:ovn-remote`: the Southbound remotes its chassis uses."""
    out = lab(
        "exec",
        "--lab",
        name,
        "worker1",
        "--",
        "ovs-vsctl",
        "get",
        "Open_vSwitch",
        ".",
        "external_ids:ovn-remote",
        check=True,
    ).stdout
    return out.strip().strip('"').split(",")
