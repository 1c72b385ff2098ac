"""`lab status` of an ssh lab: whether each host answers and runs its daemons, which VM
namespaces exist on the chassis hosts."""

from __future__ import annotations

import shlex

from lab.errors import LabError
from lab.providers.ssh.session import session
from lab.state.store import LabState

# where Debian's ovs-ctl / ovn-ctl (and so the playbook's services) keep each daemon's pidfile
PIDFILES = {
    "ovsdb-server": "/var/run/openvswitch/ovsdb-server.pid",
    "ovs-vswitchd": "/var/run/openvswitch/ovs-vswitchd.pid",
    "ovn-controller": "/var/run/ovn/ovn-controller.pid",
    "ovnnb_db": "/var/run/ovn/ovnnb_db.pid",
    "ovnsb_db": "/var/run/ovn/ovnsb_db.pid",
    "ovn-northd": "/var/run/ovn/ovn-northd.pid",
}


def node_health(
    state: LabState, node: str, daemons: tuple[str, ...]
) -> tuple[bool, dict[str, bool]]:
    """(host answers, daemon -> running) for a node of an ssh lab: one command on its host."""
    try:
        host = session(state).host(node)
        pidfiles = dict(PIDFILES)
        found = (state.info.ssh or {}).get("guests", {}).get(node)
        if found is not None:  # a chassis sharing its host: the lab's own daemons
            pidfiles = {d: f"{found['dir']}/{d}.pid" for d in daemons}
        if state.info.ssl:  # the lab's own ovn-northd (lab.providers.ssh.tls), not the host's
            from lab.providers.ssh import tls

            pidfiles["ovn-northd"] = tls.northd_files(state.name)[0]
        probe = "; ".join(
            f"kill -0 $(cat {shlex.quote(pidfiles[d])} 2>/dev/null) 2>/dev/null && echo {d}"
            for d in daemons
        )
        running = set(host.run(["sh", "-c", probe], check=False, timeout=15).stdout.split())
    except LabError:
        return False, dict.fromkeys(daemons, False)
    return True, {d: d in running for d in daemons}


def vm_namespaces(state: LabState) -> set[str]:
    """The VM namespaces that exist on the lab's chassis hosts."""
    found: set[str] = set()
    for chassis in {vm.chassis for vm in state.info.vms.values()}:
        try:
            listed = session(state).host(chassis).run(["ip", "netns", "list"], check=False)
        except LabError:
            continue
        found |= {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    return found
