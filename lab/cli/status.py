"""`lab status`: what is really running."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from lab.cli.common import _state, err, out
from lab.output import add_output_option
from lab.state.store import CorruptState, list_labs, resolve_lab


def cmd_status(args: argparse.Namespace) -> int:
    from lab.ops.status import lab_status
    from lab.output import emit, wants_json

    if not list_labs() and args.name is None:  # nothing up is an answer, not an error
        if wants_json(args):
            return emit("status", labs=[])
        err.print("no lab is up")
        return 0
    names = (
        [resolve_lab(args.name)] if args.name is not None or len(list_labs()) <= 1 else list_labs()
    )
    statuses = []
    bad: list[CorruptState] = []
    for n in names:
        try:
            statuses.append(lab_status(_state(n)))
        except CorruptState as exc:  # the other labs are still shown
            if len(names) == 1:
                raise
            bad.append(exc)
    if wants_json(args):
        emit("status", labs=[s.to_dict() for s in statuses])
    else:
        for st in statuses:
            _print_status(st)
    for exc in bad:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    if bad:
        return 2
    return 0 if all(s.healthy for s in statuses) else 1


def _print_status(st) -> None:
    nodes = Table(title=f"lab {st.name} ({st.phase}, {st.provider})", title_justify="left")
    for col in ("node", "role", "namespace", "daemons", "chassis in SB", "OVS / OVN"):
        nodes.add_column(col)
    for n in st.nodes:
        daemons = (
            " ".join(
                f"[green]{d}[/green]" if ok else f"[red]{d} DEAD[/red]"
                for d, ok in n.daemons.items()
            )
            or "-"
        )
        if n.chassis_registered is None:  # not a chassis, or the SB could not be read
            reg = "?" if n.role in ("chassis", "gateway") else "-"
        else:
            reg = "yes" if n.chassis_registered else "[red]NO[/red]"
        if n.stopped:
            daemons = "[yellow]stopped by `lab stop`[/yellow]"
        versions = f"{n.ovs} / {n.ovn} ({n.build})" if n.ovs else "-"
        nodes.add_row(
            n.name, n.role, "ok" if n.netns else "[red]missing[/red]", daemons, reg, versions
        )
    out.print(nodes)
    if st.ports:
        ports = Table(title="port bindings", title_justify="left")
        for col in ("port", "vm", "chassis", "up", "addresses"):
            ports.add_column(col)
        for p in st.ports:
            where = p.bound_chassis or "[red]unbound[/red]"
            if p.bound_chassis and p.bound_chassis != p.expected_chassis:
                where = f"[red]{p.bound_chassis} (expected {p.expected_chassis})[/red]"
            up = "yes" if p.up else "[red]no[/red]"
            ports.add_row(p.port, p.vm, where, up, " ".join(p.addresses))
        out.print(ports)
    if st.services:
        services = Table(title="VM services (answer with the VM's name)", title_justify="left")
        for col in ("vm", "service", "pid", "running"):
            services.add_column(col)
        for s in st.services:
            running = "yes" if s.alive else "[red]no[/red]"
            services.add_row(s.vm, f"{s.proto}/{s.port}", str(s.pid or "-"), running)
        out.print(services)
    for fault in st.faults:
        out.print(f"[yellow]fault:[/yellow] {escape(fault)}")
    for problem in st.problems:
        out.print(f"[red]problem:[/red] {problem}")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="nodes, daemons, chassis and port bindings")
    p.add_argument("name", nargs="?", help="lab (default: every lab up)")
    add_output_option(p)
    p.set_defaults(func=cmd_status)
