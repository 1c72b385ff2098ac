"""Topology files: load, validate, fill defaults (DESIGN.md "Topology file (v1)")."""

from lab.topology.loader import load_topology, parse_topology
from lab.topology.model import Topology

__all__ = ["Topology", "load_topology", "parse_topology"]
