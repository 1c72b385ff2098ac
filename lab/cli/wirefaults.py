"""`lab link`, `lab impair`, `lab partition`: the wire faults of lab.ops.wirefaults as commands."""

from __future__ import annotations

import argparse

from rich.console import Console

from lab.state.store import resolve_lab
from lab.topology.impairments import impairment

err = Console(stderr=True, soft_wrap=True)


def cmd_link(args: argparse.Namespace) -> int:
    from lab.ops import wirefaults as wf

    wf.set_link(resolve_lab(args.lab), args.node, args.fabric, up=args.state == "up")
    err.print(f"link {args.node} {args.fabric} is {args.state}")
    return 0


def cmd_impair(args: argparse.Namespace) -> int:
    from lab.ops import wirefaults as wf

    name = resolve_lab(args.lab)
    given = [args.delay, args.jitter, args.loss, args.rate]
    if args.clear:
        if any(v is not None for v in given):
            raise wf.UserError("--clear takes no other option; run it alone, then impair again")
        wf.impair(name, args.node, args.fabric, None)
        err.print(f"link {args.node} {args.fabric} is clean again")
        return 0
    imp = impairment(args.delay, args.jitter, args.loss, args.rate)
    wf.impair(name, args.node, args.fabric, imp)
    err.print(
        f"link {args.node} {args.fabric}: {imp.describe()} (each direction); "
        f"`lab impair {args.node} {args.fabric} --clear` removes it"
    )
    return 0


def cmd_partition(args: argparse.Namespace) -> int:
    from lab.ops import wirefaults as wf

    others = [n for n in (args.from_ or "").split(",") if n]
    if not others and not args.heal:
        raise wf.UserError("partition needs --from NODE[,NODE]: the nodes to cut it off from")
    changed = wf.partition(resolve_lab(args.lab), args.node, others, args.heal)
    for other, fabrics in changed:
        verb = "healed" if args.heal else "partitioned"
        err.print(f"{args.node} <-> {other} {verb} on {', '.join(fabrics)}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("link", help="cut or restore one wire of a node")
    p.add_argument("--lab")
    p.add_argument("node", help="the node whose wire it is")
    p.add_argument("fabric", help="the fabric that wire is on")
    p.add_argument("state", choices=["down", "up"], help="cut it (down) or restore it (up)")
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("impair", help="delay, jitter, loss or a rate limit on a node's wire")
    p.add_argument("--lab")
    p.add_argument("node", help="the node whose wire it is")
    p.add_argument("fabric", help="the fabric that wire is on")
    p.add_argument("--delay", metavar="MS", help="added delay, each direction")
    p.add_argument("--jitter", metavar="MS", help="+- around the delay")
    p.add_argument("--loss", metavar="PCT", help="packets dropped, each direction")
    p.add_argument("--rate", metavar="MBIT", help="bandwidth limit")
    p.add_argument("--clear", action="store_true", help="remove the impairment")
    p.set_defaults(func=cmd_impair)

    p = sub.add_parser("partition", help="drop all traffic between a node and others")
    p.add_argument("--lab")
    p.add_argument("node", help="the node to cut off")
    p.add_argument(
        "--from",
        dest="from_",
        metavar="NODE[,NODE]",
        help="the nodes to cut it off from (with --heal: default all)",
    )
    p.add_argument("--heal", action="store_true", help="end the partition")
    p.set_defaults(func=cmd_partition)
