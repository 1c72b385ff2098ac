"""Test hook: crash `lab up` at a named point, to prove teardown works after a crash there.

Set OVN_LAB_TEST_KILL_AT to a checkpoint name (see CHECKPOINTS, or "<stage>:<node>" for
per-node points) and the process SIGKILLs itself on reaching it: no cleanup code runs,
exactly like a kill -9 from outside. Unset, a checkpoint costs one dictionary lookup."""

from __future__ import annotations

import os
import signal

ENV = "OVN_LAB_TEST_KILL_AT"

CHECKPOINTS = (
    "state",  # state recorded, nothing created yet
    "netns-made",  # the first namespaces made, still only *pending* in state (ownership)
    "namespaces",  # every node namespace created
    "fabric",  # bridges (and the ToR switch) up
    "node-wired",  # per node: veths made  (as node-wired:<node>)
    "node-daemons",  # per node: daemons started  (node-daemons:<node>)
    "vms",  # per chassis: VM namespaces created and bound  (vms:<node>)
    "nodes",  # every node up
    "ports-up",  # every VM port up
)


def checkpoint(name: str, node: str | None = None) -> None:
    wanted = os.environ.get(ENV)
    if wanted and wanted in (name, f"{name}:{node}"):
        os.kill(os.getpid(), signal.SIGKILL)
