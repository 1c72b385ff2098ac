"""Topology files: load, validate, fill defaults (DESIGN.md "Topology file (v1)").

The loader and the model (pydantic) are imported on first use, so the package's light parts
(the `build:` grammar, the check kinds) cost commands like `lab down` nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.topology.loader import load_topology, parse_topology
    from lab.topology.model import Topology

__all__ = ["Topology", "load_topology", "parse_topology"]


def __getattr__(name: str) -> Any:
    if name in ("load_topology", "parse_topology"):
        from lab.topology import loader

        return getattr(loader, name)
    if name == "Topology":
        from lab.topology.model import Topology

        return Topology
    raise AttributeError(f"module 'lab.topology' has no attribute {name!r}")
