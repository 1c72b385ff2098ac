"""Lab names whatever their YAML type, and no path built from an unvalidated name."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import naming
from lab.errors import TopologyError, UserError
from lab.state import store as state
from lab.state.info import VmInfo
from lab.topology import parse_topology

BODY = "fabric:\n  overlay: {subnet: 192.0.2.0/24}\nnodes:\n  central: {role: central}\n"


@pytest.mark.parametrize("written", ["true", "no", "null-lab", "on"])
def test_a_name_yaml_reads_as_another_type_is_the_text_as_written(written: str) -> None:
    assert parse_topology(f"name: {written}\n{BODY}", "t.yaml").name == written


@pytest.mark.parametrize("written", ["2024", "0x1a", "2024-01-01", "1.5e3", "''", "0o17"])
def test_a_name_that_is_not_a_lab_name_as_text_is_refused(written: str) -> None:
    with pytest.raises(TopologyError) as caught:
        parse_topology(f"name: {written}\n{BODY}", "t.yaml")
    assert "is not valid" in str(caught.value)


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "A", "-x", "x" * 25, "x\n"])
def test_no_state_path_is_built_from_a_bad_name(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    with pytest.raises(UserError):
        state.lab_dir(bad)
    with pytest.raises(UserError), state.lab_lock(bad):
        pass
    with pytest.raises(UserError):
        state.resolve_lab(bad)
    assert not naming.is_lab_name(bad)


def test_directories_with_bad_names_are_not_labs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    for name in ("good", "Bad", ".hidden", "x y"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "state.json").write_text("{}")
    assert state.list_labs() == ["good"]


def test_refresh_refills_the_same_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    mine = state.create_state("ra", "t.yaml", "netns")
    info = mine.info
    other = state.load_state("ra")
    assert other is not None
    va = VmInfo(chassis="hv1", netns="ra.va", port="va", switch="s", ip="10.0.0.5/24", mac="m")
    other.info.vms["va"] = va
    other.save()
    mine.refresh()
    assert info is mine.info and info.vms == {"va": va}


def test_an_ssh_labs_state_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SSH nodes are the hosts themselves: their netns is null in state, and that is valid;
    a netns of another type still makes the state unusable."""
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    mine = state.create_state("rs", "t.yaml", "ssh")
    mine.set(info={"nodes": {"central": {"role": "central", "netns": None}}})
    assert state.load_state("rs") is not None
    mine.set(info={"nodes": {"central": {"role": "central", "netns": 7}}})
    with pytest.raises(UserError, match="unusable list of nodes"):
        state.load_state("rs")
