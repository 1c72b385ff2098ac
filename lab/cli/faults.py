"""`lab stop`, `lab start` (a node's crash and return) and `lab heal`."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from lab.cli.common import _state, err, out
from lab.errors import UserError
from lab.state.store import open_lab

if TYPE_CHECKING:
    from lab.ops.heal import HealReport


def cmd_stop(args: argparse.Namespace) -> int:
    from lab.ops.faults import stop_node
    from lab.providers.base import local_only

    state = local_only(_state(args.lab), "stop")
    pids = stop_node(state, args.node)
    err.print(
        f"node {args.node} stopped: {len(pids)} processes killed, its fabric links cut; "
        f"`lab start {args.node}` restores it"
    )
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from lab.ops.faults import start_node
    from lab.providers.base import local_only

    state = local_only(_state(args.lab), "start")
    start = time.monotonic()
    start_node(state, args.node)
    err.print(f"node {args.node} is back in {time.monotonic() - start:.2f} s")
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    from lab.ops.heal import heal
    from lab.providers.base import local_only

    if args.name and args.lab and args.name != args.lab:
        raise UserError(f"two labs named ('{args.name}' and --lab {args.lab}); name one")
    state = local_only(open_lab(args.name or args.lab), "heal")
    report = heal(state, timeout=args.timeout)
    print_report(report)
    return 0 if report.healthy else 1


def _add_heal(sub: Any) -> None:
    """Register `lab heal` on the CLI's subparsers."""

    from lab.ops.heal import HEAL_TIMEOUT

    p = sub.add_parser(
        "heal", help="restart the daemons that died, leave what runs; exit 1 if still unhealthy"
    )
    p.add_argument("name", nargs="?", help="lab (default: the only lab up)")
    p.add_argument("--lab", help="the lab (same as NAME)")
    p.add_argument(
        "--timeout",
        type=float,
        default=HEAL_TIMEOUT,
        help=f"seconds to wait for the lab to be healthy again (default {HEAL_TIMEOUT:.0f})",
    )
    p.set_defaults(func=cmd_heal)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, func, text in (
        ("stop", cmd_stop, "crash a node: kill its daemons, cut its fabric links"),
        ("start", cmd_start, "restore a stopped node"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--lab")
        p.add_argument("node", help="a node of the lab (central, chassis or gateway)")
        p.set_defaults(func=func)
    _add_heal(sub)


def print_report(report: HealReport) -> None:
    for r in report.restarts:
        line = f"[green]restarted[/green] {r.node}: {', '.join(r.restarted)}"
        if r.restarted != r.dead:
            line += f" ({', '.join(r.dead)} had died; the node restarts as a whole)"
        out.print(line)
    for node in report.left_stopped:
        out.print(
            f"[yellow]left stopped[/yellow] {node}: stopped on purpose by `lab stop`, so not "
            f"healed; `lab start {node}` brings it back"
        )
    for sentence in report.unhealable:
        out.print(f"[red]cannot heal[/red] {escape(sentence)}")
    status = report.status
    if status is None:
        return
    if status.healthy:
        out.print(f"lab {report.lab} is {'healed' if report.restarts else 'healthy'}")
        return
    if not (report.restarts or report.unhealable or report.left_stopped):
        out.print("no daemon is dead, and heal never restarts one that runs")
    for problem in status.problems:
        out.print(f"[red]problem:[/red] {escape(problem)}")
    out.print(f"lab {report.lab} is still unhealthy; see `lab status {report.lab}`")
