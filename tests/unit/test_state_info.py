"""The lab's runtime info (lab.state.info): typed, and the state files keep their layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.state import store
from lab.state.info import LabInfo, VmInfo

STATES = Path(__file__).parent / "data" / "states"


@pytest.mark.parametrize("path", sorted(STATES.glob("*.json")), ids=lambda p: p.stem)
def test_state_files_of_real_labs_load_and_save_unchanged(path: Path) -> None:
    """Each file is the state.json of a real lab (netns, docker, ssh...), written before
    the info was typed: read into dataclasses and written back, it is the same JSON."""
    data = json.loads(path.read_text())["info"]
    info = LabInfo.from_json(data)
    assert info.nodes and all(n.role for n in info.nodes.values())
    assert info.to_json() == data


def test_unknown_keys_survive_a_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    lab = store.create_state("ti", "t.yaml", "netns")
    vm = {"chassis": "h", "netns": "ti.v", "port": "v", "switch": "s", "ip": "10.0.0.5/24",
          "mac": "m", "later": True}  # fmt: skip
    lab.set(info={"central": "c", "future_key": [1], "vms": {"v": vm}})
    loaded = store.load_state("ti")
    assert loaded is not None
    assert loaded.info.vms["v"] == VmInfo(
        chassis="h", netns="ti.v", port="v", switch="s", ip="10.0.0.5/24", mac="m",
        extra={"later": True},
    )  # fmt: skip
    loaded.info.stopped.append("hv1")
    loaded.save()
    saved = json.loads((tmp_path / "ti" / "state.json").read_text())["info"]
    assert saved["future_key"] == [1] and saved["vms"]["v"]["later"] is True
    assert saved["stopped"] == ["hv1"]


def test_a_vm_without_its_namespace_is_a_corrupt_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    lab = store.create_state("tj", "t.yaml", "netns")
    path = tmp_path / "tj" / "state.json"
    data = json.loads(path.read_text())
    data["info"] = {"vms": {"v": {"chassis": "h"}}}
    path.write_text(json.dumps(data))
    with pytest.raises(store.CorruptState, match="unusable lab description"):
        store.load_state("tj")
    assert lab.name == "tj"
