"""The central node(s): Northbound and Southbound ovsdb-servers and ovn-northd.

One central: standalone databases, ovn-northd on the local unix sockets. Three centrals:
NB and SB are raft clusters (the first central creates them, the others join; raft runs on
the overlay address, ports 6643 NB / 6644 SB), and every central runs an ovn-northd
pointed at all three NB and SB remotes: they contend for the SB lock, one is active, the
others stand by."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lab.ovn import daemons, pki
from lab.ovn.daemons import Daemon
from lab.ovn.pki import SslFiles
from lab.plan.model import NodePlan, Plan
from lab.runner import NodeRunner, run

JOIN_TIMEOUT = 30  # s for a new cluster member to be connected to the cluster


@dataclass(frozen=True)
class CentralDb:
    daemon: str  # ovnnb_db | ovnsb_db: its pidfile, log, socket and control socket names
    schema: Path
    name: str  # the database name inside the schema (cluster/status takes it)
    kind: str  # nb | sb

    def port(self, plan: Plan) -> int:
        return plan.nb_port if self.kind == "nb" else plan.sb_port

    def raft_port(self, plan: Plan) -> int:
        return plan.nb_raft_port if self.kind == "nb" else plan.sb_raft_port

    def path(self, node_dir: Path) -> Path:
        return node_dir / f"{self.daemon}.db"

    def sock(self, node_dir: Path) -> Path:
        return node_dir / f"{self.daemon}.sock"

    def ctl(self, node_dir: Path) -> Path:
        return node_dir / f"{self.daemon}.ctl"

    @property
    def global_table(self) -> str:
        """The table whose `connections` lists the database's listeners."""
        return "NB_Global" if self.kind == "nb" else "SB_Global"


NB = CentralDb("ovnnb_db", daemons.NB_SCHEMA, "OVN_Northbound", "nb")
SB = CentralDb("ovnsb_db", daemons.SB_SCHEMA, "OVN_Southbound", "sb")
DBS = (NB, SB)


def ssl_files(plan: Plan, node: NodePlan, node_dir: Path) -> SslFiles | None:
    """The node's TLS key, certificate and CA with `ssl: true` (made on first use)."""
    if not plan.ssl:
        return None
    return pki.ensure_node(node_dir.parent, plan.lab, node.name)


def start_central(plan: Plan, node: NodePlan, node_dir: Path, runner: NodeRunner) -> None:
    """Create (first start) and start the node's databases, then its ovn-northd."""
    created = [db for db in DBS if _create_db(plan, node, node_dir, db, runner)]
    for db in DBS:
        start_db_server(plan, node, node_dir, db, runner)
    if plan.clustered:
        for db in created:  # restarted members catch up by themselves
            wait_joined(node_dir, db)
    start_northd(plan, node, node_dir, runner)


def _create_db(
    plan: Plan, node: NodePlan, node_dir: Path, db: CentralDb, runner: NodeRunner
) -> bool:
    """Create the database file unless it exists; True when it was created now."""
    path = db.path(node_dir)
    if path.exists():
        return False
    if not plan.clustered:
        daemons.create_db(runner, path, db.schema)
        _add_listener(plan, node, path, db, runner)
        return True
    port = db.raft_port(plan)
    local = plan.raft_address(node.name, port)
    if node.name == plan.central:
        daemons.run_tool(runner, ["ovsdb-tool", "create-cluster", str(path), str(db.schema), local])
    else:
        members = [plan.raft_address(c, port) for c in plan.centrals if c != node.name]
        daemons.run_tool(
            runner, ["ovsdb-tool", "join-cluster", str(path), db.name, local, *members]
        )
    return True


# How long (ms) a client may stay silent before the server drops it (ovsdb-server's
# default is 5 s). Bringing up a hundred chassis on two cores, an ovn-controller can be
# busy that long; dropped, it resyncs the whole SB and recomputes, which adds load.
INACTIVITY_PROBE_MS = 60_000


def _listen_target(plan: Plan, node: NodePlan, db: CentralDb) -> str:
    """The node's overlay address only: ptcp:, or pssl: with `ssl: true`."""
    return f"{'pssl' if plan.ssl else 'ptcp'}:{db.port(plan)}:{plan.url_ip(node.name)}"


def _add_listener(
    plan: Plan, node: NodePlan, path: Path, db: CentralDb, runner: NodeRunner
) -> None:
    """Write the listener into a new standalone database as its Connection row (what
    `ovn-sbctl set-connection` makes): unlike a --remote=ptcp: option, a row carries an
    inactivity probe, and `ovn-nbctl/ovn-sbctl get-connection` shows it."""
    txn = [
        db.name,
        {
            "op": "insert",
            "table": "Connection",
            "uuid-name": "listener",
            "row": {
                "target": _listen_target(plan, node, db),
                "inactivity_probe": INACTIVITY_PROBE_MS,
            },
        },
        {
            "op": "insert",
            "table": db.global_table,
            "row": {"connections": ["named-uuid", "listener"]},
        },
    ]
    daemons.run_tool(runner, ["ovsdb-tool", "transact", str(path), json.dumps(txn)])


def start_db_server(
    plan: Plan, node: NodePlan, node_dir: Path, db: CentralDb, runner: NodeRunner
) -> None:
    """One database's ovsdb-server, its remote listening on the node's overlay address
    only. A standalone database has its listener as a Connection row (_add_listener); a
    cluster member's is an option. A cluster member rejoins by itself."""
    ssl = ssl_files(plan, node, node_dir)
    if plan.clustered:
        listen = f"--remote={_listen_target(plan, node, db)}"
    else:
        listen = f"--remote=db:{db.name},{db.global_table},connections"
    daemons.start(
        Daemon(db.daemon, node_dir, runner),
        [
            "ovsdb-server",
            f"--unixctl={db.ctl(node_dir)}",
            f"--remote=punix:{db.sock(node_dir)}",
            listen,
            *(ssl.ovsdb_args() if ssl else []),
            str(db.path(node_dir)),
        ],
        daemons.node_env(node_dir, node_dir),
    )


def wait_joined(node_dir: Path, db: CentralDb) -> None:
    """Until the local server is a connected member of its cluster."""
    run(
        [
            "ovsdb-client",
            f"--timeout={JOIN_TIMEOUT}",
            "wait",
            f"unix:{db.sock(node_dir)}",
            db.name,
            "connected",
        ],
        timeout=JOIN_TIMEOUT + 10,
    )


def start_northd(plan: Plan, node: NodePlan, node_dir: Path, runner: NodeRunner) -> None:
    """ovn-northd: on the local sockets with one central; with three, on every central's
    NB and SB remote over the overlay (TLS with `ssl: true`)."""
    if plan.clustered:
        ssl = ssl_files(plan, node, node_dir)
        argv = [
            "ovn-northd",
            f"--ovnnb-db={plan.nb_remote}",
            f"--ovnsb-db={plan.sb_remote}",
            *(ssl.ovsdb_args() if ssl else []),
        ]
    else:
        argv = [
            "ovn-northd",
            f"--ovnnb-db=unix:{NB.sock(node_dir)}",
            f"--ovnsb-db=unix:{SB.sock(node_dir)}",
        ]
    daemons.start(
        Daemon("ovn-northd", node_dir, runner), argv, daemons.node_env(node_dir, node_dir)
    )


def restore_nb(plan, node, directory: Path, backup: Path) -> None:  # type: ignore[no-untyped-def]
    """Put the bundle's NB in place of a new one, before the central's first start: converted
    to this OVN's schema if needed, with its listener set to this lab's address (standalone)
    or as the initial contents of a new raft cluster (first of three centrals)."""
    from lab.ovn import central as ovn_central
    from lab.ovn import daemons

    nb = ovn_central.NB
    target = nb.path(directory)
    work = directory / "nb-from-bundle.db"
    shutil.copyfile(backup, work)
    needs = run(["ovsdb-tool", "needs-conversion", str(work), str(daemons.NB_SCHEMA)], check=False)
    if needs.stdout.strip() == "yes":
        run(["ovsdb-tool", "convert", str(work), str(daemons.NB_SCHEMA)])
    if plan.clustered:
        local = plan.raft_address(node.name, nb.raft_port(plan))
        run(["ovsdb-tool", "create-cluster", str(target), str(work), local])
        work.unlink()
        return
    os.replace(work, target)
    # its NB_Global row stays; only the listener becomes this lab's (as _add_listener writes)
    txn = [
        nb.name,
        {
            "op": "insert",
            "table": "Connection",
            "uuid-name": "listener",
            "row": {
                "target": ovn_central._listen_target(plan, node, nb),
                "inactivity_probe": ovn_central.INACTIVITY_PROBE_MS,
            },
        },
        {
            "op": "update",
            "table": nb.global_table,
            "where": [],
            "row": {"connections": ["named-uuid", "listener"]},
        },
    ]
    run(["ovsdb-tool", "transact", str(target), json.dumps(txn)])
