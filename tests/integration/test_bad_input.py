"""Bad input through the real CLI: exit 2, one clear message naming file and line, no
traceback, nothing created. The corpus is the loader's golden cases."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from lab import naming

from .conftest import REPO, TOPOLOGIES, lab, namespaces

pytestmark = pytest.mark.root
CASES = sorted((REPO / "tests" / "unit" / "topology_cases").glob("*.yaml"))


def test_every_bad_topology_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    assert len(CASES) >= 30
    state_dir = tmp_path / "state"
    env = {**os.environ, "OVN_LAB_STATE_DIR": str(state_dir)}
    names = {m.group(1) for c in CASES if (m := re.search(r"^name: *(\S+)", c.read_text(), re.M))}
    for case in CASES:
        proc = lab("up", str(case), env=env)
        assert proc.returncode == 2, f"{case.name}: exit {proc.returncode}\n{proc.stderr}"
        assert f"{case.name}:" in proc.stderr, f"{case.name}: {proc.stderr}"
        assert "Traceback" not in proc.stderr + proc.stdout, case.name
        expected = case.with_suffix(".expected").read_text().splitlines()[0]
        # the CLI prints the loader's first message as is (after "error: ")
        assert expected.split(": ", 2)[-1][:40] in proc.stderr, case.name
    # nothing created: no namespace of any case's lab, no state
    assert not [
        ns
        for ns in namespaces()
        if ns.split(naming.SEP)[0] in names
        or any(ns.startswith(naming.lab_prefix(n)) for n in names)
    ]
    assert not state_dir.exists() or not any(state_dir.glob("*/state.json"))


def test_missing_ovs_names_the_apt_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    proc = lab(
        "up",
        str(TOPOLOGIES / "geneve-router.yaml"),
        "--name",
        "tnovs",
        env={**os.environ, "PATH": str(bin_dir)},
    )
    assert proc.returncode == 2, proc.stderr
    assert "apt-get install -y" in proc.stderr and "openvswitch-switch" in proc.stderr
    assert not [n for n in namespaces() if n.startswith("tnovs-")]
