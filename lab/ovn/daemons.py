"""Per-node OVS/OVN daemons, each with its own run/log/db directory.

Every node's environment points OVS_RUNDIR, OVN_RUNDIR, ... at the node's own
directory, so the stock tools (`ovs-vsctl`, `ovs-ofctl`, `ovs-appctl`,
`ovn-nbctl`) find that node's daemons with no extra flags: `lab exec worker1 --
ovs-vsctl show` just works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath

from lab.errors import RuntimeFailure
from lab.ovn.remotes import Centrals, nb_db, sb_db
from lab.runner import NodeRunner

OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")
SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")


@dataclass(frozen=True)
class Daemon:
    """One daemon of a node: how to find it again (pidfile), what it logs to, and the
    runner of its node (from the lab's provider) that starts it and knows its PIDs."""

    name: str  # ovsdb-server, ovs-vswitchd, ovn-controller, ovnnb_db, ovnsb_db, ovn-northd
    node_dir: Path
    runner: NodeRunner

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
        return self.runner.host_pid(pid)  # a container's pidfile holds its own PID

    def control_socket(self) -> Path | None:
        return control_socket(self.node_dir, self.name)

    def alive(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False


def control_socket(node_dir: Path, name: str) -> Path | None:
    """A daemon's unixctl socket, named after the PID in its pidfile (inside the container
    for a docker node). Given by path, not as `-t NAME`: that checks the pidfile's lock
    holder against the PID in it, which differ in a container."""
    try:
        pid = int((node_dir / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return node_dir / f"{name}.{pid}.ctl"


CHASSIS_DAEMONS = ("ovsdb-server", "ovs-vswitchd", "ovn-controller")
CENTRAL_DAEMONS = ("ovnnb_db", "ovnsb_db", "ovn-northd")


def daemon_names(role: str) -> tuple[str, ...]:
    if role == "central":
        return CENTRAL_DAEMONS
    if role in ("chassis", "gateway"):
        return CHASSIS_DAEMONS
    return ()


def dir_env(node_dir: PurePath) -> dict[str, str]:
    """The node's own run/log/db directories, for the stock OVS/OVN tools and daemons."""
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
    }


def node_env(node_dir: Path, central_dir: Centrals) -> dict[str, str]:
    """The node's own run/log/db directories; the OVN databases at the lab's central(s)."""
    return {
        **dir_env(node_dir),
        "OVN_NB_DB": nb_db(central_dir),
        "OVN_SB_DB": sb_db(central_dir),
    }


def detached(name: str, node_dir: PurePath, argv: list[str]) -> list[str]:
    """argv of a daemon started detached, its pidfile and log in its node's directory
    (`name`.pid, `name`.log: what Daemon finds it by)."""
    return [
        *argv[:1],
        "--detach",
        "--no-chdir",
        f"--pidfile={node_dir / f'{name}.pid'}",
        f"--log-file={node_dir / f'{name}.log'}",
        *argv[1:],
    ]


def start(daemon: Daemon, argv: list[str], env: dict[str, str]) -> None:
    """Start a daemon detached inside its node. OVS daemons' --detach returns only
    once the daemon is ready (e.g. ovsdb-server listening), so no polling is needed."""
    daemon.runner.start(detached(daemon.name, daemon.node_dir, argv), env, timeout=30)


def ovsdb_server_argv(node_dir: PurePath) -> list[str]:
    """The node's Open_vSwitch database server: its conf.db, listening on db.sock."""
    return [
        "ovsdb-server",
        f"--remote=punix:{node_dir / 'db.sock'}",
        "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
        str(node_dir / "conf.db"),
    ]


def unixctl_many(node_dir: Path, name: str, command: str, calls: list[list[str]]) -> None:
    """Run one unixctl command with each argument list, on one connection to the control
    socket of the node's daemon `name` (`ovs-appctl` makes one per process). Unix sockets
    reach into namespaces and containers alike."""
    from ovs.unixctl.client import UnixctlClient

    path = control_socket(node_dir, name)
    if path is None:
        raise RuntimeFailure(f"{name} of {node_dir.name} is not running")
    error, client = UnixctlClient.create(str(path))
    if error:
        raise RuntimeFailure(f"cannot reach {path}: {os.strerror(error)}")
    try:
        for argv in calls:
            error, failure, _ = client.transact(command, argv)
            if error or failure:
                why = os.strerror(error) if error else failure.strip()
                raise RuntimeFailure(f"{name} of {node_dir.name}: {command}: {why}")
    finally:
        client.close()


def create_db(runner: NodeRunner, path: Path, schema: Path) -> None:
    if not path.exists():
        run_tool(runner, ["ovsdb-tool", "create", str(path), str(schema)])


def run_tool(runner: NodeRunner, argv: list[str], check: bool = True) -> str | None:
    """An offline tool (ovsdb-tool) on a node's files, run by the node's runner (inside
    its container when it is one), so a database is made from the schema of the OVS/OVN
    that node runs, not the host's. With check=False a failure returns None (and success
    at least "ok")."""
    try:
        return runner.tool(argv) or "ok"
    except RuntimeFailure:
        if check:
            raise
        return None


def start_ovsdb(runner: NodeRunner, node_dir: Path, env: dict[str, str]) -> str:
    """The node's Open_vSwitch database server (created on first start); returns the
    `unix:` remote that ovs-vsctl and ovs-vswitchd use."""
    create_db(runner, node_dir / "conf.db", OVS_SCHEMA)
    start(Daemon("ovsdb-server", node_dir, runner), ovsdb_server_argv(node_dir), env)
    return f"unix:{node_dir / 'db.sock'}"
