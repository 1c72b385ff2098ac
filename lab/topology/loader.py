"""Topology file -> complete Topology model, or TopologyError listing every problem.

Stages: YAML with line numbers (source) -> shape, one object at a time (shape)
-> semantic rules (validate) -> defaults. Problems are collected across all
stages and reported together, in file order.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lab.errors import Problem, TopologyError
from lab.topology.model import Link, Ovn, Topology
from lab.topology.problems import Reporter
from lab.topology.shape import Parts, Shaper
from lab.topology.source import read_source
from lab.topology.validate import validate

# A topology is text a person writes or a generator prints: the biggest one the value limit
# (source.MAX_VALUES) lets through is ~0.8 MB as `lab gen` writes it, and 4 MB leaves room
# for comments and long names. Reading stops there (a /dev/zero never fills memory), and a
# refused file costs at most ~3 copies of 4 MB beside the ~50 MB the CLI itself takes.
MAX_BYTES = 4 * 1024 * 1024


def load_topology(path: str | Path, name: str | None = None) -> Topology:
    """Read and validate a topology file; `name` (the CLI's --name) overrides `name:`."""
    return parse_topology(read_topology_text(path), str(path), name)


def read_topology_text(path: str | Path) -> str:
    """The file's text, read once (so `/dev/stdin` works, and what is checked is what is
    saved), at most MAX_BYTES; a device or directory is refused without reading."""
    path = Path(path)

    def refuse(reason: str) -> TopologyError:
        return TopologyError([Problem(str(path), None, "", reason)])

    try:
        with open(path, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
                raise refuse(
                    "is not a regular file (a device or directory); give the path of a "
                    "topology YAML file"
                )
            data = fh.read(MAX_BYTES + 1)
    except OSError as err:
        reason = err.strerror or str(err)
        raise refuse(
            f"cannot read the file ({reason}); check the path and that it is UTF-8 text"
        ) from None
    if len(data) > MAX_BYTES:
        raise refuse(
            f"is larger than {MAX_BYTES // (1024 * 1024)} MB; a topology file is never this "
            "big, check the path (or split the lab)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse(
            "cannot read the file (it is not UTF-8 text); check the path and that it is UTF-8 text"
        ) from None


def parse_topology(text: str, filename: str, name: str | None = None) -> Topology:
    """Validate topology YAML `text`; `filename` is only used in messages."""
    src = read_source(text, filename)
    rep = Reporter(src)
    parts = Shaper(src, rep).run(name)
    if parts is not None:
        validate(parts, rep)
    if src.problems or parts is None:
        # Stable sort: problems without a line (e.g. --name) first, then in file order.
        raise TopologyError(sorted(src.problems, key=lambda p: p.line or 0))
    return _with_defaults(_assemble(parts))


def _assemble(parts: Parts) -> Topology:
    from lab.topology.build_rules import assembled_builds

    build, provider = assembled_builds(parts)
    return Topology(
        name=parts.name or "",
        build=build,
        provider=provider,
        ssl=parts.ssl,
        fabric=parts.fabric,
        nodes=parts.nodes,
        ovn=Ovn(
            switches=parts.switches,
            routers=parts.routers,
            port_groups=parts.port_groups,
            address_sets=parts.address_sets,
            acls=list(parts.acls.values()),
            ha_chassis_groups=parts.ha_chassis_groups,
            load_balancers=parts.load_balancers,
        ),
        vms=parts.vms,
        checks=parts.checks,
    )


def _with_defaults(topo: Topology) -> Topology:
    """Fill what DESIGN.md says defaults, so later stages never guess."""
    overlay = topo.overlay
    for node in topo.nodes.values():
        if not node.links and overlay is not None:
            node.links = [Link(fabric=overlay)]
    for router_name, router in topo.ovn.routers.items():
        for port in router.ports.values():
            if port.peer is None:
                port.peer = f"{port.switch}-{router_name}"
    for vm_name, vm in topo.vms.items():
        if vm.port is None:
            vm.port = vm_name
    return topo
