"""Commands for builds: `lab upgrade`, `lab lflows` (`lab --version` is lab.cli.version)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console

from lab.output import add_output_option

err = Console(stderr=True, soft_wrap=True)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from lab.ops import upgrade
    from lab.progress import Progress
    from lab.state.store import open_lab

    state = open_lab(args.lab)
    progress = Progress()
    prepared = upgrade.prepare(state, list(args.nodes), args.to, progress)
    for note in prepared.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    order = ", ".join(n.name for n in prepared.order)
    err.print(f"{prepared.procedure} upgrade to {prepared.build} ({prepared.image}): {order}")
    start = time.monotonic()
    done = upgrade.run(
        state,
        prepared,
        say=lambda line: err.print(line, highlight=False),
        on_node=lambda u: err.print(
            f"  {u.node}: {u.before} -> {u.after} in {u.seconds:.2f} s"
            + (f" (converted {', '.join(u.converted)})" if u.converted else ""),
            highlight=False,
        ),
    )
    err.print(f"{len(done)} nodes upgraded in {time.monotonic() - start:.2f} s")
    return 0


def cmd_lflows(args: argparse.Namespace) -> int:
    from lab.verify import lflows

    return lflows.command(args.name, args.diff, args.datapath, args.output)


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("upgrade", help="new OVS/OVN binaries, same databases, netns and VMs")
    p.add_argument("--lab")
    p.add_argument("nodes", nargs="+", metavar="NODE", help="nodes to upgrade, in this order")
    p.add_argument("--to", required=True, metavar="BUILD", help="debian:SUITE or source:PATH")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("lflows", help="logical flows, normalised (no UUIDs, stable order)")
    p.add_argument("name", nargs="?", help="lab (default: the only one up)")
    p.add_argument("--diff", metavar="OTHER", help="another lab: what differs, stage by stage")
    p.add_argument("--datapath", help="only this logical switch/router")
    add_output_option(p)
    p.set_defaults(func=cmd_lflows)
