"""The topology a running lab was brought up from, as `lab up` saved it in the lab's
directory (`topology.yaml`): the one place it is read and parsed again. Planning is
deterministic, so the plan made from it again has every name and address the lab has."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lab.state.store import LabState

if TYPE_CHECKING:
    from lab.plan.model import Plan
    from lab.topology.model import Topology

SAVED_TOPOLOGY = "topology.yaml"


def saved_topology_path(state: LabState) -> Path:
    return state.dir / SAVED_TOPOLOGY


def saved_topology(state: LabState) -> Topology:
    """The saved topology, parsed (pydantic: only when a command needs the model)."""
    from lab.topology import parse_topology

    text = saved_topology_path(state).read_text(encoding="utf-8")
    return parse_topology(text, state.topology or SAVED_TOPOLOGY, name=state.name)


def saved_plan(state: LabState) -> Plan:
    """The plan of a running lab, made again from its saved topology."""
    from lab.plan.planner import make_plan

    return make_plan(saved_topology(state))
