"""The central node: Northbound and Southbound ovsdb-servers and ovn-northd."""

from __future__ import annotations

from pathlib import Path

from lab.ovn import daemons
from lab.ovn.daemons import Daemon
from lab.plan.model import NodePlan, Plan


def start_central(plan: Plan, node: NodePlan, node_dir: Path) -> None:
    env = daemons.node_env(node_dir, node_dir)
    ip = plan.central_ip  # remotes listen on the lab's overlay address only
    for db, schema, port in (
        ("ovnnb_db", daemons.NB_SCHEMA, plan.nb_port),
        ("ovnsb_db", daemons.SB_SCHEMA, plan.sb_port),
    ):
        path = node_dir / f"{db}.db"
        daemons.create_db(path, schema)
        daemons.start(
            node.netns,
            Daemon(db, node_dir),
            [
                "ovsdb-server",
                f"--unixctl={node_dir / (db + '.ctl')}",
                f"--remote=punix:{node_dir / (db + '.sock')}",
                f"--remote=ptcp:{port}:{ip}",
                str(path),
            ],
            env,
        )
    daemons.start(
        node.netns,
        Daemon("ovn-northd", node_dir),
        [
            "ovn-northd",
            f"--ovnnb-db=unix:{node_dir / 'ovnnb_db.sock'}",
            f"--ovnsb-db=unix:{node_dir / 'ovnsb_db.sock'}",
        ],
        env,
    )
