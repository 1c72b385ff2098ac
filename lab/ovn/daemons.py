"""Per-node OVS/OVN daemons, each with its own run/log/db directory.

Every node's environment points OVS_RUNDIR, OVN_RUNDIR, ... at the node's own
directory, so the stock tools (`ovs-vsctl`, `ovs-ofctl`, `ovs-appctl`,
`ovn-nbctl`) find that node's daemons with no extra flags: `lab exec worker1 --
ovs-vsctl show` just works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lab.errors import RuntimeFailure
from lab.ovn.remotes import Centrals, nb_db, sb_db
from lab.runner import run

OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")
SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")


@dataclass(frozen=True)
class Daemon:
    """One daemon of a node: how to find it again (pidfile) and what it logs to."""

    name: str  # ovsdb-server, ovs-vswitchd, ovn-controller, ovnnb_db, ovnsb_db, ovn-northd
    node_dir: Path

    @property
    def pidfile(self) -> Path:
        return self.node_dir / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.node_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The daemon's PID as this (host) process sees it."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        container = _container(self.node_dir)
        if container is None:
            return pid
        # a container node's pidfile holds the PID inside the container
        from lab.providers.docker.containers import host_pid

        return host_pid(int(container["pid"]), pid)

    def control_socket(self) -> Path | None:
        """The daemon's unixctl socket, named after the PID in its pidfile (inside the
        container for a docker node). Given by path, not as `-t NAME`: that checks the
        pidfile's lock holder against the PID in it, which differ in a container."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return self.node_dir / f"{self.name}.{pid}.ctl"

    def alive(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False


CHASSIS_DAEMONS = ("ovsdb-server", "ovs-vswitchd", "ovn-controller")
CENTRAL_DAEMONS = ("ovnnb_db", "ovnsb_db", "ovn-northd")


def daemon_names(role: str) -> tuple[str, ...]:
    if role == "central":
        return CENTRAL_DAEMONS
    if role in ("chassis", "gateway"):
        return CHASSIS_DAEMONS
    return ()


def node_env(node_dir: Path, central_dir: Centrals) -> dict[str, str]:
    """The node's own run/log/db directories; the OVN databases at the lab's central(s)."""
    d = str(node_dir)
    return {
        "OVS_RUNDIR": d,
        "OVS_LOGDIR": d,
        "OVS_DBDIR": d,
        "OVS_SYSCONFDIR": d,
        "OVN_RUNDIR": d,
        "OVN_LOGDIR": d,
        "OVN_DBDIR": d,
        "OVN_SYSCONFDIR": d,
        "OVN_NB_DB": nb_db(central_dir),
        "OVN_SB_DB": sb_db(central_dir),
    }


def start(netns: str, daemon: Daemon, argv: list[str], env: dict[str, str]) -> None:
    """Start a daemon detached inside a namespace. OVS daemons' --detach returns only
    once the daemon is ready (e.g. ovsdb-server listening), so no polling is needed."""
    full = [
        *argv[:1],
        "--detach",
        "--no-chdir",
        f"--pidfile={daemon.pidfile}",
        f"--log-file={daemon.logfile}",
        *argv[1:],
    ]
    container = _container(daemon.node_dir)
    if container is not None:  # docker provider: the daemon lives inside the node
        from lab.providers.docker.containers import exec_in

        exec_in(container["name"], full, env)
        return
    run(full, netns=netns, env=env, timeout=30)


def unixctl_many(daemon: Daemon, command: str, calls: list[list[str]]) -> None:
    """Run one unixctl command with each argument list, on one connection to the daemon's
    control socket (`ovs-appctl` makes one per process). Unix sockets reach into
    namespaces and containers alike."""
    from ovs.unixctl.client import UnixctlClient

    path = daemon.control_socket()
    if path is None:
        raise RuntimeFailure(f"{daemon.name} of {daemon.node_dir.name} is not running")
    error, client = UnixctlClient.create(str(path))
    if error:
        raise RuntimeFailure(f"cannot reach {path}: {os.strerror(error)}")
    try:
        for argv in calls:
            error, failure, _ = client.transact(command, argv)
            if error or failure:
                why = os.strerror(error) if error else failure.strip()
                raise RuntimeFailure(f"{daemon.name} of {daemon.node_dir.name}: {command}: {why}")
    finally:
        client.close()


def _container(node_dir: Path) -> dict[str, object] | None:
    """The container a node is (docker provider), from the marker in its directory."""
    from lab.providers.docker.containers import container_of

    return container_of(node_dir)


def create_db(path: Path, schema: Path) -> None:
    if not path.exists():
        run_tool(path.parent, ["ovsdb-tool", "create", str(path), str(schema)])


def run_tool(node_dir: Path, argv: list[str], check: bool = True) -> str | None:
    """An offline tool (ovsdb-tool) on a node's files: inside its container when it is one,
    so a database is made from the schema of the OVS/OVN that node runs, not the host's.
    With check=False a failure returns None (and success at least "ok")."""
    container = _container(node_dir)
    try:
        if container is not None:
            from lab.providers.docker.containers import exec_in

            return exec_in(str(container["name"]), argv, {}) or "ok"
        return run(argv).stdout or "ok"
    except RuntimeFailure:
        if check:
            raise
        return None


def start_ovsdb(netns: str, node_dir: Path, env: dict[str, str]) -> str:
    """The node's Open_vSwitch database server (created on first start); returns the
    `unix:` remote that ovs-vsctl and ovs-vswitchd use."""
    db = node_dir / "conf.db"
    create_db(db, OVS_SCHEMA)
    start(
        netns,
        Daemon("ovsdb-server", node_dir),
        [
            "ovsdb-server",
            f"--remote=punix:{node_dir / 'db.sock'}",
            "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
            str(db),
        ],
        env,
    )
    return f"unix:{node_dir / 'db.sock'}"
