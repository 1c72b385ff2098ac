"""Preflight: what must be true before `lab up` touches anything, with the command that fixes it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lab.errors import UserError

APT_PACKAGES = {
    "ovsdb-server": "openvswitch-switch",
    "ovs-vswitchd": "openvswitch-switch",
    "ovs-vsctl": "openvswitch-switch",
    "ovs-ofctl": "openvswitch-switch",
    "ovsdb-tool": "openvswitch-switch",
    "ovn-northd": "ovn-central",
    "ovn-nbctl": "ovn-central",
    "ovn-sbctl": "ovn-central",
    "ovn-controller": "ovn-host",
    "ip": "iproute2",
}


def missing_binaries(names: dict[str, str] = APT_PACKAGES) -> dict[str, str]:
    return {binary: pkg for binary, pkg in names.items() if shutil.which(binary) is None}


def check_up() -> None:
    """Root, OVS/OVN and the tun device (the userspace datapath's ports are taps)."""
    if os.geteuid() != 0:
        raise UserError("lab needs root to create namespaces and run OVS; run it with sudo")
    missing = missing_binaries()
    if missing:
        pkgs = " ".join(sorted(set(missing.values())))
        raise UserError(
            f"OVS/OVN tools are missing ({', '.join(sorted(missing))}); install them with: "
            f"apt-get install -y {pkgs}  (or run `make install`)"
        )
    if not Path("/dev/net/tun").exists():
        raise UserError(
            "/dev/net/tun is missing (OVS userspace ports need it); "
            "create it with: mkdir -p /dev/net && mknod /dev/net/tun c 10 200"
        )


def check_root() -> None:
    if os.geteuid() != 0:
        raise UserError("this command needs root; run it with sudo")
