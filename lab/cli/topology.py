"""`lab gen` (a big topology from a few numbers) and `lab schema` (the topology file's
JSON Schema)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.markup import escape

from lab.cli.common import err
from lab.errors import UserError
from lab.output import add_file_option


def cmd_schema(args: argparse.Namespace) -> int:
    from lab.topology.schema import schema_text

    if args.output:
        Path(args.output).write_text(schema_text())
        err.print(f"wrote the topology schema to {escape(args.output)}")
    else:
        sys.stdout.write(schema_text())
    return 0


def _add_gen(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "gen",
        help="write a big topology: N chassis, K VMs each, S switches, one router",
        description=(
            "Print (or write with -o) a topology YAML: one central, chassis hv1..hvN on a "
            "198.18.0.0/16 overlay, switches sw0..sw{S-1} (10.S.0.0/16) joined by router r1, "
            "and K VMs per chassis spread round-robin over the switches, with ping checks."
        ),
    )
    p.add_argument("--chassis", type=int, required=True, metavar="N", help="chassis hv1..hvN")
    p.add_argument("--vms-per-chassis", type=int, default=1, metavar="K", help="default 1")
    p.add_argument("--switches", type=int, default=1, metavar="S", help="default 1")
    p.add_argument(
        "--routers", type=int, default=1, metavar="R", help="1 (default): router r1; 0: none"
    )
    p.add_argument("--name", default="big", help="lab name (default: big)")
    add_file_option(p, help="write here instead of stdout")
    p.set_defaults(func=cmd_gen)
    return p


def cmd_gen(args: argparse.Namespace) -> int:
    from lab.topology import parse_topology
    from lab.topology.gen import generate

    text = generate(args.chassis, args.vms_per_chassis, args.switches, args.routers, args.name)
    # what `lab up` would refuse is refused here, before anything is written
    parse_topology(text, args.output or "lab gen output")
    if args.output:
        try:
            Path(args.output).write_text(text)
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        n_vms = args.chassis * args.vms_per_chassis
        print(
            f"{args.output}: lab {args.name}, {args.chassis} chassis, {n_vms} VMs, "
            f"{args.switches} switches; bring it up with `lab up {args.output}`",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _add_gen(sub)
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of the topology file (for editors)",
        description="Print the JSON Schema (2020-12) of topology files, made from the model "
        "this version of lab validates with. Editors with the YAML language server complete "
        "and check a topology that starts with `# yaml-language-server: $schema=FILE`. "
        "Example: `lab schema -o topology.schema.json`.",
    )
    add_file_option(p, help="write it to FILE instead of stdout")
    p.set_defaults(func=cmd_schema)
