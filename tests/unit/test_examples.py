"""The shipped topologies as a user without a checkout meets them: `lab up NAME`,
`lab examples` (text and JSON), `lab examples NAME -o FILE`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import UserError
from lab.topology import examples, load_topology

REPO = Path(__file__).resolve().parents[2]


def lab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_every_shipped_topology_has_a_description_and_loads() -> None:
    assert sorted(examples.DESCRIPTIONS) == examples.names()
    for name in examples.names():
        assert 10 < len(examples.DESCRIPTIONS[name]) <= 80
        assert load_topology(examples.path_of(name)).nodes


def test_a_bare_name_is_the_shipped_example_and_a_path_stays_a_path(tmp_path: Path) -> None:
    seed = examples.path_of("geneve-router")
    assert examples.topology_path("geneve-router") == seed
    assert examples.path_of("geneve-router.yaml") == seed
    own = tmp_path / "geneve-router"  # a file of that name in the working directory wins
    own.write_text("name: mine\n")
    assert examples.topology_path(str(own)) == own
    for path in ("nothere.yaml", "./geneve-router", "dir/x.yml"):
        assert examples.topology_path(path) == Path(path)  # read as given, its own error
    with pytest.raises(UserError, match=r"neither a topology file nor a shipped example.*vlan"):
        examples.topology_path("geneve-routr")


def test_lab_plan_by_name_from_outside_the_checkout(tmp_path: Path) -> None:
    proc = lab("plan", "geneve-router", "--name", "h-x", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# lab h-x: 3 nodes, 2 VMs")
    bad = lab("up", "no-such-example", cwd=tmp_path)
    assert bad.returncode == 2 and "one of: distributed-fip, dual-stack" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_lab_examples_lists_them_in_text_and_json(tmp_path: Path) -> None:
    text = lab("examples", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    rows = [line.split(None, 1) for line in text.stdout.splitlines()[: len(examples.names())]]
    assert [r[0] for r in rows] == examples.names()
    assert dict(rows)["geneve-router"] == examples.DESCRIPTIONS["geneve-router"]
    proc = lab("examples", "--output", "json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "examples" and doc["version"] == 1
    assert [e["name"] for e in doc["examples"]] == examples.names()
    assert all(Path(e["path"]).is_file() for e in doc["examples"])


def test_copy_one_out_to_edit(tmp_path: Path) -> None:
    proc = lab("examples", "vlan-l3ha", "-o", "mine.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    copied = (tmp_path / "mine.yaml").read_text()
    shipped = examples.path_of("vlan-l3ha").read_text()
    assert copied.splitlines()[0] == "# yaml-language-server: $schema=topology.schema.json"
    assert copied.splitlines()[1:] == shipped.splitlines()[1:]
    assert "lab up mine.yaml" in proc.stderr and "lab schema -o" in proc.stderr
    again = lab("examples", "vlan-l3ha", "-o", "mine.yaml", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert lab("examples", "vlan-l3ha", "-o", "mine.yaml", "--force", cwd=tmp_path).returncode == 0
    printed = lab("examples", "two-routers", cwd=tmp_path)
    assert printed.stdout == examples.text_to_copy("two-routers")


def test_lab_graph_draws_an_example_by_name_when_no_lab_has_it(tmp_path: Path) -> None:
    env = {**os.environ, "OVN_LAB_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "graph", "two-routers", "-o", "x.dot"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "hv4" in (tmp_path / "x.dot").read_text()
    missing = subprocess.run(
        [sys.executable, "-m", "lab", "graph", "nolab"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert missing.returncode == 2 and "no lab named 'nolab' is up" in missing.stderr
