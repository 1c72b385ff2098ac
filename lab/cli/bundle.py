"""`lab bundle [NAME] -o FILE.tar.gz` and `lab up --bundle FILE.tar.gz`."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from rich.console import Console

from lab.errors import UserError
from lab.output import add_file_option
from lab.state.store import open_lab

err = Console(stderr=True, soft_wrap=True)


def cmd_bundle(args: argparse.Namespace) -> int:
    from lab import providers
    from lab.providers.base import BUNDLE, require
    from lab.report import bundle

    state = open_lab(args.name)
    require(providers.of(state), BUNDLE, "`lab bundle`")
    output = Path(args.output)
    count, took = bundle.write(state, output)
    size = output.stat().st_size
    err.print(
        f"lab {state.name} bundled into {output}: {count} files, {size / 1024:.0f} KiB, "
        f"in {took:.2f} s; `lab up --bundle {output}` rebuilds it"
    )
    return 0


def up_from_bundle(args: argparse.Namespace) -> int:
    """The same lab again: topology from the bundle, NB restored from its database."""

    from lab import providers
    from lab.naming import DEFAULT_PROVIDER
    from lab.ops import up as lifecycle
    from lab.plan.planner import make_plan
    from lab.progress import Progress
    from lab.providers.base import BUNDLE, UpOptions, require
    from lab.report import bundle
    from lab.topology import parse_topology

    if args.topology:
        raise UserError("give either a topology file or --bundle FILE, not both")
    path = Path(args.bundle)
    start = time.monotonic()
    found = bundle.read(path)
    try:
        topo = parse_topology(found.topology, found.topology_name, name=args.name or found.lab)
        # the bundled lab's provider, or the default where that one cannot rebuild it
        bundled = providers.get(found.provider)
        topo.provider = args.provider or (
            found.provider if BUNDLE in bundled.supports else DEFAULT_PROVIDER
        )
        provider = providers.get(topo.provider)
        require(provider, BUNDLE, "`lab up --bundle`")
        plan = make_plan(topo)
        if args.dry_run:
            err.print(f"{path}: lab {plan.lab}, {len(plan.nodes)} nodes; NB from the bundle")
            return 0
        progress = Progress()
        options = UpOptions(nb_backup=found.nb)
        state = lifecycle.up(
            provider.prepare(topo, plan, options, progress),
            provider,
            f"{path.resolve()}:{found.topology_name}",
            found.topology,
            progress=progress,
            keep_on_error=args.keep_on_error,
            options=options,
        )
        state.info.bundle = str(path.resolve())
        state.save()
    finally:
        shutil.rmtree(found.directory, ignore_errors=True)
    err.print(
        f"lab [bold]{plan.lab}[/bold] rebuilt from {path}: {len(plan.nodes)} nodes, "
        f"{len(plan.vms)} VMs, NB restored from the bundle, every port up, in "
        f"{time.monotonic() - start:.2f} s"
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "bundle", help="a running lab as one .tar.gz that `lab up --bundle` rebuilds"
    )
    p.add_argument("name", nargs="?", help="lab (default: the only lab up)")
    add_file_option(p, required=True, metavar="FILE.tar.gz", help="the bundle file to write")
    p.set_defaults(func=cmd_bundle)
