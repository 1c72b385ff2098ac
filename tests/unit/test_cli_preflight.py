"""Preflight through the CLI entry point, without root: a clear sentence, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli import main as cli
from lab.ops import preflight

SEED = Path(__file__).resolve().parents[2] / "topologies" / "geneve-router.yaml"


def test_not_root_exits_2_with_the_fix(monkeypatch, capsys) -> None:
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 1000)
    assert cli.main(["up", str(SEED), "--name", "tnr"]) == 2
    err = capsys.readouterr().err
    assert "needs root" in err and "sudo" in err and "Traceback" not in err


def test_missing_tools_name_the_packages(monkeypatch, capsys) -> None:
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 0)
    monkeypatch.setattr(preflight.shutil, "which", lambda name: None)
    assert cli.main(["up", str(SEED), "--name", "tnr"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install -y" in err
    for package in ("openvswitch-switch", "ovn-central", "ovn-host"):
        assert package in err


@pytest.mark.parametrize("argv", [["status", "nosuchlab"], ["exec", "--lab", "nosuchlab", "x"]])
def test_unknown_lab_is_a_user_error(argv, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    assert cli.main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err
