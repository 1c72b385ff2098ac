"""Reading a raft cluster and the ovn-northd instances of a clustered central.

`ovs-appctl -t <db>.ctl cluster/status <DB>` says, per server, its role (leader, follower,
candidate), the term and who it believes leads; `ovn-appctl -t ovn-northd status` says
whether a northd is the active one (it holds the Southbound lock) or stands by. Builders
and parsers are pure; reading runs the commands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lab.ovn.daemons import control_socket
from lab.runner import run


@dataclass(frozen=True)
class ClusterStatus:
    server_id: str  # the short (4 hex digit) id cluster/status uses everywhere
    status: str  # "cluster member", "joining cluster", "disconnected from the cluster ..."
    role: str  # leader | follower | candidate
    term: int
    leader: str | None  # the short id of the leader this server knows of, None if unknown

    @property
    def is_leader(self) -> bool:
        return self.role == "leader"

    @property
    def is_member(self) -> bool:
        """A member that knows its leader: rejoined and in sync."""
        return self.status == "cluster member" and self.leader is not None


_FIELD = re.compile(r"^([A-Za-z ]+):\s*(.*)$")


def parse_cluster_status(text: str) -> ClusterStatus:
    """The header of `cluster/status` (Server ID, Status, Role, Term, Leader)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        m = _FIELD.match(line)
        if m and m.group(1) not in fields:
            fields[m.group(1)] = m.group(2).strip()
    missing = [k for k in ("Server ID", "Status", "Role", "Term", "Leader") if k not in fields]
    if missing:
        raise ValueError(f"not a cluster/status output (no {', '.join(missing)})")
    server_id = fields["Server ID"].split()[0]
    leader = fields["Leader"]
    if leader == "self":
        leader = server_id
    return ClusterStatus(
        server_id=server_id,
        status=fields["Status"],
        role=fields["Role"],
        term=int(fields["Term"]),
        leader=None if leader == "unknown" else leader.split()[0],
    )


def cluster_status_argv(ctl: Path, database: str) -> list[str]:
    return ["ovs-appctl", "-T", "5", "-t", str(ctl), "cluster/status", database]


def read_cluster_status(ctl: Path, database: str) -> ClusterStatus | None:
    """A server's view of its cluster; None when it does not answer (dead, not clustered)."""
    proc = run(cluster_status_argv(ctl, database), check=False, timeout=10)
    if proc.returncode != 0:
        return None
    try:
        return parse_cluster_status(proc.stdout)
    except ValueError:
        return None


def leader_of(views: dict[str, ClusterStatus | None]) -> str | None:
    """The node whose server is the leader, as the servers that answered see it: the one
    that says it leads and whose leadership no answering server of a later term denies."""
    answered = {n: v for n, v in views.items() if v is not None}
    if not answered:
        return None
    newest = max(v.term for v in answered.values())
    for node, view in answered.items():
        if view.is_leader and view.term == newest:
            return node
    return None


_NORTHD = re.compile(r"^Status:\s*(\w+)", re.MULTILINE)


def parse_northd_status(text: str) -> str | None:
    """`ovn-appctl -t ovn-northd status` -> active | standby | paused (None: no status)."""
    m = _NORTHD.search(text)
    return m.group(1) if m else None


def northd_status_argv(ctl: Path) -> list[str]:
    return ["ovn-appctl", "-T", "5", "-t", str(ctl), "status"]


def read_northd_status(env: dict[str, str]) -> str | None:
    ctl = control_socket(Path(env["OVN_RUNDIR"]), "ovn-northd")
    if ctl is None:
        return None
    proc = run(northd_status_argv(ctl), env=env, check=False, timeout=10)
    return parse_northd_status(proc.stdout) if proc.returncode == 0 else None
