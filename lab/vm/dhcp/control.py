"""The host side of VM addressing: start each VM's client in its namespace, wait until every
VM has its addresses, read what each one got."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import lab
from lab.errors import RuntimeFailure
from lab.plan.commands import client_argv
from lab.plan.model import VMPlan
from lab.vm.dhcp.client import LEASE_FILE, RESOLV_FILE

ADDRESS_TIMEOUT = 20.0  # after every port is up: OVN answers DHCP and RS at once
LOG_FILE = "dhcp-client.log"


def vm_dir(lab_dir: Path, vm: str) -> Path:
    """A VM's own directory in the lab's state directory (VM and node names never clash)."""
    return lab_dir / vm


def start(vm: VMPlan, lab_dir: Path) -> None:
    """Start the VM's client (a previous one, e.g. before `lab start` re-plugged the VM,
    is stopped first). It runs on in the VM's namespace until `lab down`."""
    if not vm.waits_for_addresses:
        return
    directory = vm_dir(lab_dir, vm.name)
    directory.mkdir(mode=0o700, exist_ok=True)
    _stop_previous(directory)
    (directory / LEASE_FILE).unlink(missing_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "PYTHONPATH": str(Path(lab.__file__).resolve().parent.parent),
    }
    with open(directory / LOG_FILE, "a") as log:
        subprocess.Popen(
            ["ip", "netns", "exec", vm.netns, *client_argv(vm, directory)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=env,
            start_new_session=True,  # not in the terminal's process group: Ctrl-C is lab up's
        )


def _stop_previous(directory: Path) -> None:
    lease = read_lease(directory)
    pid = lease.get("pid") if lease else None
    if isinstance(pid, int):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def read_lease(directory: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((directory / LEASE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return found if isinstance(found, dict) else None


def read_resolv(directory: Path) -> list[str]:
    """The name servers the VM learned (its resolv.conf, in the lab's state directory)."""
    try:
        text = (directory / RESOLV_FILE).read_text()
    except OSError:
        return []
    return [line.split()[1] for line in text.splitlines() if line.startswith("nameserver ")]


def missing(vm: VMPlan, lease: dict[str, Any] | None) -> list[str]:
    """What the VM is still waiting for, in words."""
    lease = lease or {}
    waits = []
    if vm.dhcp4 and "dhcp4" not in lease:
        waits.append("no DHCPv4 lease")
    if vm.dhcp6 and "dhcp6" not in lease:
        waits.append("no DHCPv6 reply")
    if vm.accept_ra and "ra" not in lease:
        waits.append("no router advertisement" + (" (SLAAC)" if vm.ipv6_mode == "slaac" else ""))
    return waits


def wait_addresses(
    vms: list[VMPlan], lab_dir: Path, timeout: float = ADDRESS_TIMEOUT
) -> dict[str, dict[str, Any]]:
    """Block until every VM that gets its addresses from OVN has them; vm -> its lease."""
    pending = {vm.name: vm for vm in vms if vm.waits_for_addresses}
    leases: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while pending:
        for name in list(pending):
            lease = read_lease(vm_dir(lab_dir, name))
            if lease and lease.get("ready"):
                leases[name] = lease
                del pending[name]
        if not pending:
            break
        if time.monotonic() > deadline:
            why = "; ".join(
                f"{n}: {', '.join(missing(vm, read_lease(vm_dir(lab_dir, n))))}"
                for n, vm in pending.items()
            )
            raise RuntimeFailure(
                f"{len(pending)} VM(s) got no address from OVN within {timeout:.0f} s "
                f"({why}); see {LOG_FILE} in their directories under {lab_dir}"
            )
        time.sleep(0.02)
    return leases
