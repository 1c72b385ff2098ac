"""Commands for builds: `lab upgrade`, `lab lflows` (`lab --version` is lab.cli.version)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console

from lab.output import add_output_option
from lab.progress import Progress

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
    p = sub.add_parser("image", help="the docker provider's node image")
    image_sub = p.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    p = image_sub.add_parser(
        "build", help="build ovn-lab/node:<ovs>-<ovn> offline (debootstrap + docker import)"
    )
    p.add_argument(
        "--ovn-from", default="debian", help="where OVS/OVN come from (debian: Debian's packages)"
    )
    p.add_argument("--suite", help="Debian release (default: this machine's)")
    p.add_argument(
        "--build", help="the image of one build: debian:bookworm, debian:trixie, source:PATH"
    )
    p.add_argument("--mirror", help="Debian mirror URL (default: the one apt uses here)")
    p.add_argument("--force", action="store_true", help="rebuild even if the inputs are the same")
    p.set_defaults(func=cmd_image_build)
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


def cmd_image_build(args: argparse.Namespace) -> int:
    from lab.ops import preflight
    from lab.providers.docker import image

    preflight.check_root()
    if args.build:
        from lab.providers.docker.builds import build_image_command

        return build_image_command(args.build, force=args.force)
    recipe = image.default_recipe(args.ovn_from, args.suite)
    if args.mirror:
        recipe = image.Recipe(suite=recipe.suite, mirror=args.mirror.rstrip("/"))
    start = time.monotonic()
    progress = Progress()
    with progress.step(f"node image from Debian {recipe.suite} (debootstrap + docker import)"):
        tag, built = image.build(recipe, say=progress.note, force=args.force)
    took = time.monotonic() - start
    if built:
        err.print(f"built {tag} in {took:.0f} s")
    else:
        err.print(f"{tag} is up to date (its inputs have not changed; --force rebuilds it)")
    print(tag)
    return 0
