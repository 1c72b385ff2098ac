"""docs/tutorials replayed for real: every command of every step runs, and its output must
match the step's patterns (tests/tutorials.py reads them). Each tutorial runs with a state
directory of its own, so its commands name no lab and find the one it brought up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tutorials import TUTORIALS, pattern, steps

from .conftest import REPO, assert_nothing_left, host_links, namespaces

pytestmark = pytest.mark.root


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_the_tutorial_runs_as_written(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # this venv's `lab`
        "OVN_LAB_STATE_DIR": str(state),
    }
    links_before = host_links()
    labs_before = namespaces()
    kept: dict[str, str] = {}
    labs: set[str] = set()
    try:
        for step in steps(path):
            script = "set -e -o pipefail\n" + "\n".join(step.commands)
            proc = subprocess.run(
                ["bash", "-c", script],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            where = f"{path.name}:{step.line}"
            output = proc.stdout + proc.stderr
            assert proc.returncode == 0, f"{where}: exited {proc.returncode}\n{output}"
            for expect in step.expect:
                found = re.search(pattern(expect, kept), output, re.M)
                assert found, f"{where}: no match for {expect!r} (kept {kept}) in:\n{output}"
                kept.update({k: v for k, v in found.groupdict().items() if v is not None})
            labs |= {p.name for p in state.glob("*") if p.is_dir()}
    finally:
        for lab in sorted(p.name for p in state.glob("*") if p.is_dir()):  # after a failure
            subprocess.run(["lab", "down", lab], env=env, capture_output=True, timeout=300)
    assert labs, f"{path.name} brought no lab up"
    assert namespaces() <= labs_before, f"left behind: {namespaces() - labs_before}"
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(state))
    for lab in labs:
        assert_nothing_left(lab, links_before)
