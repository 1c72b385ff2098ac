"""ovn-lab as its users install it: `pip install <repo>` into a fresh venv outside the checkout
(core only, no extras), then the seed lab from that install, by its shipped name (`lab up
geneve-router`, no file): up, check, test, down, nothing left; an extra that is not installed
named in one sentence; `pipx install` gives the same."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, TOPOLOGIES, assert_nothing_left, host_links, namespaces

pytestmark = pytest.mark.root


def _run(argv: list[str], cwd: Path, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)


def _env(**extra: str) -> dict[str, str]:
    # nothing of the checkout's venv leaks in: the installed `lab` must stand on its own
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv outside the checkout with `pip install <repo>`; returns its bin/."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = _run(
        [str(venv / "bin/pip"), "install", "-q", "-c", str(REPO / "constraints.txt"), str(REPO)],
        cwd=root,
        env=_env(),
        timeout=600,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    yield venv / "bin"
    shutil.rmtree(root, ignore_errors=True)


def test_the_installed_package_runs_the_seed_lab(installed: Path, tmp_path: Path) -> None:
    where = _run([str(installed / "python"), "-c", "import lab; print(lab.__file__)"], tmp_path)
    assert where.returncode == 0 and not Path(where.stdout.strip()).is_relative_to(REPO)
    lab = str(installed / "lab")
    listed = _run([lab, "examples"], tmp_path, env=_env())  # the topologies ship inside
    assert listed.returncode == 0 and "geneve-router " in listed.stdout, listed.stderr
    name = "tinst"
    links_before = host_links()
    up = _run([lab, "up", "geneve-router", "--name", name], tmp_path, env=_env())  # no file
    try:
        assert up.returncode == 0, up.stderr
        check = _run([lab, "check", name], tmp_path, env=_env())
        assert check.returncode == 0, check.stdout + check.stderr
        assert "5 passed, 0 failed" in check.stdout
        # the testinfra suites, read from the installed package
        test = _run([lab, "test", name], tmp_path, env=_env())
        assert test.returncode == 0, test.stdout + test.stderr
        assert f"lab {name}: 44 checks on 5 nodes: 44 passed" in test.stdout
    finally:
        down = _run([lab, "down", name], tmp_path, env=_env())
        assert down.returncode == 0, down.stderr
    assert_nothing_left(name, links_before)


def test_a_missing_extra_is_named_and_nothing_is_made(installed: Path, tmp_path: Path) -> None:
    before = namespaces()
    lab = str(installed / "lab")
    docker = _run(
        [
            lab,
            "up",
            str(TOPOLOGIES / "geneve-router.yaml"),
            "--name",
            "tnoext",
            "--provider",
            "docker",
        ],
        tmp_path,
        env=_env(),
    )
    assert docker.returncode == 2, docker.stderr
    assert "install the [docker] extra: pip install 'ovn-lab[docker]'" in docker.stderr
    assert "internal error" not in docker.stderr
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[central]\nc1 ansible_host=192.0.2.1\n")
    provision = _run([lab, "provision", "--inventory", str(inventory)], tmp_path)
    assert provision.returncode == 2 and "[ssh] extra" in provision.stderr, provision.stderr
    assert namespaces() == before
    state_root = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))
    assert not (state_root / "tnoext").exists()


def test_pipx_install_ships_the_playbooks_and_suites(tmp_path: Path) -> None:
    pipx_home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    env = _env(PIPX_HOME=str(pipx_home), PIPX_BIN_DIR=str(bin_dir), PIPX_MAN_DIR=str(tmp_path))
    env["PIP_CONSTRAINT"] = str(REPO / "constraints.txt")
    proc = _run([sys.executable, "-m", "pipx", "install", str(REPO)], tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    python = pipx_home / "venvs" / "ovn-lab" / "bin" / "python"
    data = _run(
        [
            str(python),
            "-c",
            "from lab.resources import data_dir as d; "
            "print(d('playbooks') / 'site.yml', d('checks') / 'conftest.py')",
        ],
        tmp_path,
    )
    assert data.returncode == 0, data.stderr
    for path in data.stdout.split():
        assert Path(path).is_file() and Path(path).is_relative_to(pipx_home)
    help_ = _run([str(bin_dir / "lab"), "test", "--help"], tmp_path, env=env)
    assert help_.returncode == 0 and "lab/data/checks" in help_.stdout, help_.stdout
    # README's way to add an extra to a pipx install, and the extra's module is there
    inject = _run([sys.executable, "-m", "pipx", "inject", "ovn-lab", "docker"], tmp_path, env=env)
    assert inject.returncode == 0, inject.stdout + inject.stderr
    sdk = _run(
        [str(python), "-c", "import docker, lab.extras as e; print(e.available('docker'))"],
        tmp_path,
    )
    assert sdk.stdout.strip() == "True", sdk.stderr
    version = _run([str(bin_dir / "lab"), "--version"], tmp_path, env=env)
    assert version.returncode == 0 and version.stdout.startswith("ovn-lab 0."), version.stdout


EXTERNAL_TEST = """
import re


def test_the_seed_routes_across_geneve(ovn_lab):
    lab = ovn_lab("seed.yaml", name="textplug")          # beside this file
    ping = lab.exec("vm1", "ping", "-c", "2", "-i", "0.2", "20.0.0.10")
    assert re.findall(r"ttl=(\\d+)", ping.stdout) == ["63", "63"]
    assert "(router1)" in lab.nbctl("show")
    assert lab.sbctl("--bare", "--columns=name", "find", "Chassis", "name=worker2").strip()
    assert lab.check().passed
    assert lab.host("worker2").process.filter(comm="ovs-vswitchd")
"""


def test_a_test_suite_outside_the_repository_uses_the_installed_plugin(
    installed: Path, tmp_path: Path
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(TOPOLOGIES / "geneve-router.yaml", suite / "seed.yaml")
    (suite / "test_mine.py").write_text(EXTERNAL_TEST)
    links_before = host_links()
    proc = _run(
        [str(installed / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        suite,
        env=_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert_nothing_left("textplug", links_before)  # the fixture took it down
