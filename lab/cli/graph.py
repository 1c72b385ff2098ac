"""`lab graph [NAME|TOPOLOGY] [-o FILE] [--view V]`: draw a lab, from its file or while it runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import UserError
from lab.output import add_file_option
from lab.state.store import open_lab

if TYPE_CHECKING:
    from lab.topology.model import Topology


def add_parsers(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from lab.report.views import VIEWS

    p = sub.add_parser(
        "graph",
        help="draw the lab's physical and logical topology (.svg, .png or .dot)",
        description=(
            "Draw a lab: fabrics, nodes, Geneve tunnels and VMs (physical view), and OVN "
            "switches, routers, ports, localnet, gateway chassis and NAT (logical view). "
            "TARGET is a topology file (nothing needs to be up), the name of a running lab, or "
            "the name of a shipped example (`lab examples`) when no lab of that name is up."
        ),
    )
    p.add_argument(
        "target",
        nargs="?",
        help="topology YAML file, the name of a running lab (default: the only lab up), or "
        "of a shipped example",
    )
    add_file_option(
        p,
        default="lab.svg",
        help="picture to write; the format is its suffix: .svg, .png or .dot (default: lab.svg)",
    )
    p.add_argument(
        "--view", choices=VIEWS, default="both", help="which view to draw (default: both)"
    )
    p.set_defaults(func=cmd_graph)
    return p


def topology_for(target: str | None) -> Topology:
    """The topology of a file, or of a running lab (as saved when it came up)."""

    from lab.state.saved import saved_topology_path

    if target and Path(target).is_file():
        from lab.topology import load_topology

        return load_topology(target)
    if target and (Path(target).suffix in (".yaml", ".yml") or "/" in target):
        raise UserError(f"topology file '{target}' does not exist; check the path")
    try:
        state = open_lab(target)
    except UserError:
        from lab.topology import examples

        if target not in examples.names():
            raise
        from lab.topology import load_topology  # no lab of that name: the shipped example

        return load_topology(examples.path_of(target))
    lab = state.name
    saved = saved_topology_path(state)
    try:
        text = saved.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"lab '{lab}' has no readable saved topology ({saved}: {exc}); "
            "draw its topology file instead: lab graph TOPOLOGY"
        ) from None
    from lab.topology import parse_topology

    return parse_topology(text, state.topology or str(saved), name=state.name)


def cmd_graph(args: argparse.Namespace) -> int:
    topo = topology_for(args.target)
    from lab.report.graph import render

    written = render(topo, Path(args.output), args.view)
    print(written)
    return 0
