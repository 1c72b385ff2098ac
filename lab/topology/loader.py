"""Topology file -> complete Topology model, or TopologyError listing every problem.

Stages: YAML with line numbers (source) -> shape, one object at a time (shape)
-> semantic rules (validate) -> defaults. Problems are collected across all
stages and reported together, in file order.
"""

from __future__ import annotations

from pathlib import Path

from lab.errors import Problem, TopologyError
from lab.topology.model import Link, Ovn, Topology
from lab.topology.problems import Reporter
from lab.topology.shape import Parts, Shaper
from lab.topology.source import read_source
from lab.topology.validate import validate


def load_topology(path: str | Path, name: str | None = None) -> Topology:
    """Read and validate a topology file; `name` (the CLI's --name) overrides `name:`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        message = f"cannot read the file ({reason}); check the path and that it is UTF-8 text"
        raise TopologyError([Problem(str(path), None, "", message)]) from None
    return parse_topology(text, str(path), name)


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
