"""The views `lab graph` draws (lab.report.graph), importable without graphviz."""

from __future__ import annotations

VIEWS = ("physical", "logical", "both")  # as lab.report.graph; imported lazily (graphviz, pydantic)
