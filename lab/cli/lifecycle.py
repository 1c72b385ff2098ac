"""`lab up`, `lab plan` and `lab down`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.markup import escape

from lab.cli.common import err
from lab.errors import UserError
from lab.naming import PROVIDERS
from lab.output import add_output_option
from lab.progress import Progress
from lab.state.store import CorruptState, list_labs, load_state, resolve_lab


def cmd_up(args: argparse.Namespace) -> int:
    from lab.ops import up as lifecycle
    from lab.plan.planner import make_plan
    from lab.plan.render import render_plan
    from lab.topology import parse_topology
    from lab.topology.loader import read_topology_text

    if getattr(args, "bundle", None):
        from lab.cli.bundle import up_from_bundle

        return up_from_bundle(args)
    if not args.topology:
        raise UserError("lab up needs a topology file (or --bundle FILE.tar.gz)")
    from lab.topology.examples import topology_path

    path = topology_path(args.topology)  # a file, or the name of a shipped example
    text = read_topology_text(path)  # once: `lab up /dev/stdin` works, this copy is saved
    topo = parse_topology(text, str(path), name=args.name)
    if args.provider:
        from lab.topology.build_rules import refuse_provider

        refuse_provider(topo, args.provider)
        topo.provider = args.provider
    plan = make_plan(topo)
    from lab.plan.security import acl_warnings

    for warning in acl_warnings(topo):
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    if args.dry_run:
        if getattr(args, "output", "text") == "json":  # `lab plan --output json`
            from dataclasses import asdict

            from lab.output import emit

            return emit("plan", lab=plan.lab, plan=asdict(plan), commands=render_plan(plan))
        sys.stdout.write(render_plan(plan))
        return 0
    from lab.ovn.acls import check_actions
    from lab.ovn.daemons import NB_SCHEMA
    from lab.plan.security import acl_actions

    check_actions(acl_actions(topo), NB_SCHEMA)  # e.g. `pass` needs OVN 23.06
    from lab import providers
    from lab.providers.base import UpOptions

    start = time.monotonic()
    progress = Progress()
    provider = providers.get(topo.provider)
    options = UpOptions(
        inventory=Path(args.inventory) if args.inventory else None,
        known_hosts=Path(args.known_hosts) if args.known_hosts else None,
        accept_new_host_keys=args.accept_new_host_keys,
        chassis_per_host=args.chassis_per_host,
    )
    prepared = provider.prepare(topo, plan, options, progress)  # nothing created yet
    plan = prepared.plan
    state = lifecycle.up(
        prepared,
        provider,
        str(path.resolve()),
        text,
        progress=progress,
        keep_on_error=args.keep_on_error,
        options=options,
    )
    took = time.monotonic() - start
    served = sum(vm.waits_for_addresses for vm in plan.vms.values())
    addresses = f", {served} VMs addressed by OVN (DHCP, RA)" if served else ""
    err.print(
        f"lab [bold]{plan.lab}[/bold] is up: {len(plan.nodes)} nodes, {len(plan.vms)} VMs, "
        f"every port up{addresses}, in {took:.2f} s. Try `lab status`, `lab exec VM -- ping ADDR`, "
        f"`lab down {plan.lab}`."
    )
    for warning in provider.warnings(state):  # mixed OVN releases: OVN's upgrade guide
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from lab.ops.down import orphan_labs

    if args.all:
        names = sorted({*list_labs(), *orphan_labs()})
    else:
        if args.name is not None:
            from lab.naming import check_lab_name

            names = [check_lab_name(args.name)]
        else:
            names = [resolve_lab(None)] if list_labs() else []
    if not names:
        err.print("no lab is up; nothing to do")
        return 0
    if args.force:
        if args.name is None:
            raise UserError("--force needs the lab's name: lab down NAME --force")
        from lab.ops.down import force_down

        removed = force_down(names[0])
        err.print(f"lab {names[0]} removed by name and label: {', '.join(removed) or 'nothing'}")
        return 0
    bad: list[str] = []
    for name in names:
        start = time.monotonic()
        try:
            _down_one(name, args.forget_unreachable, start)
        except CorruptState as exc:  # one bad lab must not keep the others up
            if not args.all:
                raise
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            bad.append(name)
    if bad:
        err.print(f"[red]not removed:[/red] {', '.join(bad)} (unreadable state; see above)")
        return 2
    return 0


def _down_one(name: str, forget_unreachable: bool, start: float) -> None:
    from lab.ops.down import down, down_orphan

    if load_state(name) is None:  # safe to repeat: nothing to do is not an error
        orphans = down_orphan(name)
        if orphans:
            err.print(
                f"lab {name} had no state left; removed its containers by label: "
                + ", ".join(orphans)
            )
        else:
            err.print(f"no lab named {name} is up; nothing to remove")
        return
    pids = down(name, forget_unreachable=forget_unreachable)
    err.print(
        f"lab {name} is down: {len(pids)} processes stopped, namespaces and state removed "
        f"in {time.monotonic() - start:.2f} s"
    )


def _per_host(text: str) -> int:
    """--chassis-per-host N: a whole number from 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, not {text!r}")
    return value


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("up", help="build a lab from a topology file")
    p.add_argument(
        "topology",
        nargs="?",
        help="topology YAML file, or the name of a shipped example (lab examples)",
    )
    p.add_argument("--bundle", metavar="FILE.tar.gz", help="rebuild a lab from `lab bundle`")
    p.add_argument("--provider", choices=PROVIDERS, help="override provider")
    p.add_argument("--name", help="override the lab name (run one file twice side by side)")
    p.add_argument(
        "--inventory", "-i", metavar="FILE", help="provider ssh: Ansible inventory of the hosts"
    )
    p.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="provider ssh: known_hosts file holding the hosts' keys (default ~/.ssh/known_hosts)",
    )
    p.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="provider ssh: trust hosts seen for the first time and record their keys",
    )
    p.add_argument(
        "--chassis-per-host",
        type=_per_host,
        metavar="N",
        help="provider ssh: place chassis that name no host on the inventory's chassis hosts, "
        "N per host, each a namespace with its own daemons (docs/scale-out.md)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands, change nothing")
    p.add_argument(
        "--keep-on-error",
        action="store_true",
        help="leave a failed lab in place for debugging instead of rolling back",
    )
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("plan", help="print what `lab up` would do (same as up --dry-run)")
    p.add_argument(
        "topology", help="topology YAML file, or the name of a shipped example (lab examples)"
    )
    p.add_argument("--name", help="override the lab name")
    add_output_option(p)
    p.set_defaults(
        func=cmd_up,
        dry_run=True,
        bundle=None,
        provider=None,
        keep_on_error=False,
        inventory=None,
        known_hosts=None,
        accept_new_host_keys=False,
        chassis_per_host=None,
    )

    p = sub.add_parser("down", help="remove everything a lab created")
    p.add_argument("name", nargs="?", help="lab (default: the only lab up)")
    p.add_argument("--all", action="store_true", help="every lab on this machine")
    p.add_argument(
        "--force",
        action="store_true",
        help="a lab whose state is unreadable: remove its namespaces and containers found "
        "by name and label, and its state directory",
    )
    p.add_argument(
        "--forget-unreachable",
        action="store_true",
        help="provider ssh: give up on hosts that cannot be reached (destroyed) instead of "
        "keeping the lab's state for a retry",
    )
    p.set_defaults(func=cmd_down)
