"""Property: whatever the input, the loader returns a Topology or raises TopologyError.

Mutations of a valid topology (drop/rename keys, swap types, hostile strings,
huge numbers, null) and raw text damage must never surface another exception.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.errors import TopologyError
from lab.topology import Topology, parse_topology
from lab.topology.source import read_source

FULL_TEXT = (Path(__file__).parent / "topology_valid" / "full.yaml").read_text()
BASE = read_source(FULL_TEXT, "full.yaml").data  # keys as written (`on` stays text)
# full.yaml writes this MAC unquoted (YAML reads a base-60 integer); dumped, it must be text.
BASE["ovn"]["routers"]["router1"]["ports"]["router1-net2"]["mac"] = "40:44:00:00:00:04"
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # only speed differs


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=DUMPER, sort_keys=False, allow_unicode=True)


HOSTILE = st.sampled_from(
    ["", " ", ";", "a;b", "../x", "a/b", "..", "a b", "fabric", "central", "worker1", "gw1",
     "vm1", "network1", "overlay", "provider", "router1-net1", "0.0.0.0/0", "10.0.0.0/24",
     "10.0.0.1", "10.0.0.10/24", "192.0.2.0", "999.1.1.1/33", "ff:ff:ff:ff:ff:ff",
     "40:44:00:00:00:01", "chassis", "gateway", "host", "central", "snat", "true", "null",
     "on", "é", "\t", "x" * 300, "<<", "-", "&a", "*a", "!!int x"]
)  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1, 4094, 4095, 32767, 32768, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    HOSTILE,
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(HOSTILE | TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)
# A longer hunt: TOPOLOGY_FUZZ_EXAMPLES=5000 python -m pytest tests/unit/test_topology_property.py
EXAMPLES = int(os.environ.get("TOPOLOGY_FUZZ_EXAMPLES", "250"))
OPS = st.sampled_from(["delete", "rename", "replace", "wrap"])


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*prefix, index))
    return found


def mutate(data: Any, path: tuple[Any, ...], op: str, value: Any) -> Any:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        new_key = value if isinstance(value, str) else repr(value)
        parent[new_key] = parent.pop(key)
    elif op == "wrap":
        parent[key] = [parent[key]] if isinstance(value, bool) else {"x": parent[key]}
    else:
        parent[key] = value
    return data


def test_base_is_valid() -> None:
    assert isinstance(parse_topology(dump(BASE), "base.yaml"), Topology)


def assert_clean_outcome(text: str) -> None:
    try:
        result = parse_topology(text, "fuzz.yaml")
    except TopologyError as err:
        assert err.problems, "a TopologyError must carry at least one problem"
        for problem in err.problems:
            assert problem.file == "fuzz.yaml"
            assert "\n" not in str(problem), f"problem spans lines: {problem!s}"
    else:
        assert isinstance(result, Topology)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_topologies_never_crash(data: st.DataObject) -> None:
    tree = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        candidates = paths(tree)
        if not candidates:
            break
        path = data.draw(st.sampled_from(candidates), label="path")
        tree = mutate(tree, path, data.draw(OPS, label="op"), data.draw(VALUES, label="value"))
    assert_clean_outcome(dump(tree))


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(st.integers(0, len(FULL_TEXT)), st.integers(0, 20), TEXT | HOSTILE)
def test_damaged_text_never_crashes(at: int, cut: int, insert: str) -> None:
    assert_clean_outcome(FULL_TEXT[:at] + insert + FULL_TEXT[at + cut :])


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(VALUES)
def test_any_document_never_crashes(document: Any) -> None:
    assert_clean_outcome(dump(document))
