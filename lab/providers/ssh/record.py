"""What an ssh lab keeps about its hosts: the directory it owns on each (agents, TLS files)
and what each host had before the lab changed it (state.info.ssh["saved"], for lab down)."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from lab.state.store import LabState

if TYPE_CHECKING:
    from lab.providers.ssh.transport import Host

_SAVE_LOCK = threading.Lock()  # hosts are prepared side by side; each save reads, then writes


def save_before(state: LabState, node: str, what: str, value: Any) -> None:
    """Record what a host had before the lab changes it (written to disk at once)."""
    with _SAVE_LOCK:
        ssh = state.info.ssh
        assert ssh is not None  # recorded before the hosts are touched
        saved = ssh.setdefault("saved", {})
        saved[node] = {**saved.get(node, {}), what: value}
        state.save()


HOST_DIR = "/run/ovn-lab"


def lab_dir(lab: str) -> str:
    return f"{HOST_DIR}/{lab}"


OWNER_KEY = "ovn-lab"  # external_ids key tagging what a lab made on a host


# ownership kinds (lab.state.ownership's discipline: pending before, owned after)
SSH_VM = "ssh_vm"  # a VM's namespace and br-int port on its chassis host


SSH_BR_INT = "ssh_br_int"  # br-int on a chassis host that had none


SSH_CHASSIS = "ssh_chassis"  # a guest chassis' namespace (and so its daemons) on a shared host


# userspace datapath: the OVS bridge that takes over the underlay interface's address
UNDERLAY_BRIDGE = "br-ovnlab"


# Open_vSwitch external_ids the lab sets on a chassis host (and restores on down)
CHASSIS_KEYS = (
    "system-id",
    "hostname",
    "ovn-remote",
    "ovn-encap-type",
    "ovn-encap-ip",
    "ovn-bridge-datapath-type",
    "ovn-cms-options",
)


def marker(state: LabState) -> str:
    from lab.state import ownership

    return ownership.marker(state)


def guest_env(directory: str) -> list[str]:
    """`env` argv prefix pointing the stock tools (ovs-vsctl, ovs-appctl, ovs-ofctl) at the
    own daemons of a chassis sharing its host (lab.providers.ssh.guest), in `directory`."""
    from pathlib import PurePosixPath

    from lab.ovn.daemons import dir_env

    return ["env", *(f"{k}={v}" for k, v in dir_env(PurePosixPath(directory)).items())]


def netns_marked(host: Host, netns: str, mark: str) -> bool:
    """The namespace on the host carries this lab's marker (its lo's alias)."""
    proc = host.run(["ip", "-n", netns, "-j", "link", "show", "lo"], check=False)
    try:
        return proc.returncode == 0 and json.loads(proc.stdout)[0].get("ifalias") == mark
    except (ValueError, IndexError, AttributeError):
        return False
