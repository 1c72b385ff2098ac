"""Golden tests: each bad topology in topology_cases/ and the exact errors it produces.

UPDATE_GOLDEN=1 rewrites the .expected files; review the diff by eye: every
message must be one sentence that quotes the value and says how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.topology import parse_topology

CASES = Path(__file__).parent / "topology_cases"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def errors_of(case: Path) -> str:
    with pytest.raises(TopologyError) as caught:
        parse_topology(case.read_text(), filename=case.name)
    return "".join(f"{problem}\n" for problem in caught.value.problems)


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden(case: Path) -> None:
    actual = errors_of(case)
    expected_file = case.with_suffix(".expected")
    if UPDATE:
        expected_file.write_text(actual)
    assert actual == expected_file.read_text()


def test_corpus_is_big_enough() -> None:
    assert len(list(CASES.glob("*.yaml"))) >= 30
    assert all(case.with_suffix(".expected").exists() for case in CASES.glob("*.yaml"))
