"""What an ssh lab keeps about its hosts: the directory it owns on each (agents, TLS files)
and what each host had before the lab changed it (state.info.ssh["saved"], for lab down)."""

from __future__ import annotations

import threading
from typing import Any

from lab.state.store import LabState

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
