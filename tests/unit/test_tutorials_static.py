"""The tutorials are well formed: every step runs something, every pattern compiles, every
{name} is kept by an earlier step (tests/integration/test_tutorials.py runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tutorials import REFERENCE, TUTORIALS, captures, steps


def test_there_are_tutorials() -> None:
    assert [p.name for p in TUTORIALS] == ["geneve-routing.md", "vlan-l3ha.md"]


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_every_step_runs_and_every_name_is_kept_first(path: Path) -> None:
    kept: set[str] = set()
    found = steps(path)
    assert len(found) >= 5
    for step in found:
        assert step.commands, f"{path.name}:{step.line}: a console block with no `$ ` command"
        for expect in step.expect:
            used = set(REFERENCE.findall(expect))
            assert used <= kept, f"{path.name}:{step.line}: {used - kept} not kept before"
            re.compile(REFERENCE.sub("x", expect))
            kept |= captures(expect)
    assert sum(len(s.expect) for s in found) >= 15
