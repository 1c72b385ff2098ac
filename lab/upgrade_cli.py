"""Commands for builds and versions: `lab upgrade`, `lab lflows`, `lab --version`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rich.console import Console

err = Console(stderr=True, soft_wrap=True)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from lab import upgrade
    from lab.progress import Progress
    from lab.state import open_lab

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
    from lab import lflows

    return lflows.command(args.name, args.diff, args.datapath)


class VersionAction(argparse.Action):
    """`lab --version`: ovn-lab's own, and the host's OVS/OVN (the `host` build)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help=kwargs.get("help"))

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kw: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from lab.builds import host_versions

        try:
            own = version("ovn-lab")
        except PackageNotFoundError:
            own = "unknown"
        ovs, ovn = host_versions()
        sys.stdout.write(f"ovn-lab {own}\nhost: Open vSwitch {ovs}, OVN {ovn}\n")
        parser.exit(0)


def add_parsers(sub: Any, parser: argparse.ArgumentParser) -> None:
    if not any("--version" in a.option_strings for a in parser._actions):
        parser.add_argument("--version", action=VersionAction, help="ovn-lab, OVS, OVN versions")

    p = sub.add_parser("upgrade", help="new OVS/OVN binaries, same databases, netns and VMs")
    p.add_argument("--lab")
    p.add_argument("nodes", nargs="+", metavar="NODE")
    p.add_argument("--to", required=True, metavar="BUILD", help="debian:SUITE or source:PATH")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("lflows", help="logical flows, normalised (no UUIDs, stable order)")
    p.add_argument("name", nargs="?", help="lab (default: the only one up)")
    p.add_argument("--diff", metavar="OTHER", help="another lab: what differs, stage by stage")
    p.add_argument("--datapath", help="only this logical switch/router")
    p.set_defaults(func=cmd_lflows)
