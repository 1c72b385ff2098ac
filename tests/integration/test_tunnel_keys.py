"""Same file, same lab: five `lab up` runs of the seed topology give identical tunnel keys,
the seed article's (network2 = 2, vm2 = 1, net2-router1 = 2, so Geneve option 00020001),
and `lab check` (whose geneve check decodes a real capture) passes."""

from __future__ import annotations

import json

import pytest

from .conftest import TOPOLOGIES, lab, running_lab

pytestmark = pytest.mark.root
RUNS = 5


def sb_keys(name: str) -> dict[str, int]:
    def rows(table: str, columns: str) -> list[dict[str, object]]:
        out = lab(
            "sbctl", "--lab", name, "--", "--format=json", f"--columns={columns}", "list", table,
            check=True,
        ).stdout  # fmt: skip
        data = json.loads(out)
        return [dict(zip(data["headings"], row, strict=True)) for row in data["data"]]

    keys: dict[str, int] = {}
    for row in rows("Datapath_Binding", "external_ids,tunnel_key"):
        ids = dict(row["external_ids"][1])  # type: ignore[index]
        keys[f"datapath {ids['name']}"] = int(row["tunnel_key"])  # type: ignore[arg-type]
    for row in rows("Port_Binding", "logical_port,tunnel_key"):
        keys[f"port {row['logical_port']}"] = int(row["tunnel_key"])  # type: ignore[arg-type]
    return keys


def test_five_runs_of_the_seed_lab_give_the_same_keys() -> None:
    seen = []
    for run in range(RUNS):
        with running_lab("geneve-router.yaml", "ttk"):
            seen.append(sb_keys("ttk"))
            if run == 0:
                checked = lab("check", "ttk", timeout=300)
                assert checked.returncode == 0, checked.stdout + checked.stderr
    assert all(keys == seen[0] for keys in seen), seen
    keys = seen[0]
    assert keys["datapath network1"] == 1 and keys["datapath network2"] == 2
    assert keys["datapath router1"] == 3
    assert f"{keys['port net2-router1']:04x}{keys['port vm2']:04x}" == "00020001"


def test_a_pinned_key_is_used(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (TOPOLOGIES / "geneve-router.yaml").read_text()
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(text.replace("network2: {}", "network2: {tunnel_key: 8}"))
    up = lab("up", str(pinned), "--name", "ttk8")
    try:
        assert up.returncode == 0, up.stderr
        assert sb_keys("ttk8")["datapath network2"] == 8
    finally:
        assert lab("down", "ttk8").returncode == 0
