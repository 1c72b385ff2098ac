"""What a wheel carries and how an install without an extra answers (no root; building the
wheel asks the package index for setuptools, as any `pip install .` does)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from lab import extras, resources
from lab.cli import main as cli
from lab.cli import status as status_cli
from lab.providers.ssh.provision import PLAYBOOKS
from lab.topology import examples
from lab.verify.acceptance import CHECKS_DIR

REPO = Path(__file__).resolve().parents[2]


def test_playbooks_and_suites_are_package_data() -> None:
    assert (PLAYBOOKS / "site.yml").is_file()
    assert (PLAYBOOKS / "roles" / "ovn_chassis" / "tasks" / "main.yml").is_file()
    assert (CHECKS_DIR / "conftest.py").is_file()
    assert sorted(p.name for p in CHECKS_DIR.glob("test_*.py")) == [
        "test_central.py",
        "test_chassis.py",
        "test_gateway.py",
        "test_host.py",
        "test_vm.py",
    ]
    # both inside the package directory, so a wheel holds them
    package = Path(extras.__file__).parent
    assert PLAYBOOKS.is_relative_to(package) and CHECKS_DIR.is_relative_to(package)


def test_pyproject_ships_the_data_and_the_metadata() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "data/**/*" in config["tool"]["setuptools"]["package-data"]["lab"]
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["lab"]
    project = config["project"]
    assert project["license"] == "Apache-2.0" and (REPO / "LICENSE").is_file()
    assert project["readme"] == "README.md"
    assert set(project["optional-dependencies"]) >= {"docker", "ssh", "test"}
    assert any(d.startswith("pyroute2") and "<1" in d for d in project["dependencies"])
    assert (REPO / "lab" / "py.typed").is_file()


def test_constraints_pin_every_dependency() -> None:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extra = [r for reqs in config["optional-dependencies"].values() for r in reqs]
    wanted = [*config["dependencies"], *extra]
    for requirement in wanted:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        assert name.lower() in pins, f"{name} is not pinned in constraints.txt"
    assert pins["pyroute2"].startswith("0.")
    assert "-c constraints.txt" in (REPO / "Makefile").read_text()


def test_data_is_copied_out_of_a_zipped_package(tmp_path: Path) -> None:
    archive = tmp_path / "lab.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("lab/data/checks/conftest.py", "# conftest\n")
        zf.writestr("lab/data/checks/sub/test_x.py", "def test_x(): pass\n")
        zf.writestr("lab/data/checks/__pycache__/conftest.pyc", b"\0")
    target = tmp_path / "out"
    target.mkdir()
    resources._copy(zipfile.Path(archive, "lab/data/checks/"), target)
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*")) == [
        "conftest.py",
        "sub",
        "sub/test_x.py",
    ]


def test_a_missing_extra_is_named_in_one_sentence() -> None:
    message = extras.missing_extra_message("docker.errors")
    assert message is not None
    assert "[docker] extra" in message and "pip install 'ovn-lab[docker]'" in message
    assert "pipx inject ovn-lab docker" in message
    ssh = extras.missing_extra_message("paramiko")
    assert ssh is not None and "[ssh]" in ssh and "paramiko" in ssh
    assert extras.missing_extra_message("yaml") is None  # a core dependency: a real bug


def test_require_raises_user_error_for_an_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise ModuleNotFoundError(f"No module named '{name}'", name=name)

    monkeypatch.setattr(extras.importlib, "import_module", missing)
    with pytest.raises(extras.UserError, match=r"\[ssh\] extra"):
        extras.require("ansible_runner")


def test_cli_turns_a_missing_extra_into_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def needs_docker(args: argparse.Namespace) -> int:
        raise ModuleNotFoundError("No module named 'docker'", name="docker")

    monkeypatch.setattr(status_cli, "cmd_status", needs_docker)  # bound when the parser is built
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and "[docker] extra" in err


def test_cli_says_how_to_get_out_of_a_docker_daemon_that_stopped_answering(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from requests.exceptions import ReadTimeout

    def hangs(args: argparse.Namespace) -> int:  # what docker's SDK raises after 120 s
        raise ReadTimeout(
            "UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read "
            "timeout=120)"
        )

    monkeypatch.setattr(status_cli, "cmd_status", hangs)
    assert cli.main(["status"]) == 3
    err = capsys.readouterr().err
    assert "internal error" not in err and "restart it" in err and "libnetwork" in err


def test_the_wheel_carries_the_data_the_topologies_and_py_typed(tmp_path: Path) -> None:
    """A pip/pipx user has no checkout: what `lab up geneve-router`, `lab provision` and
    `lab test` read must be inside the wheel, as files (topologies/ is a symlink in git)."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = tmp_path.glob("ovn_lab-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        files = set(zf.namelist())
        shipped = sorted(
            n.removeprefix("lab/data/topologies/").removesuffix(".yaml")
            for n in files
            if n.startswith("lab/data/topologies/") and n.endswith(".yaml")
        )
        assert shipped == examples.names() and "geneve-router" in shipped
        for name in shipped:  # the same bytes as the checkout's file, not a link
            data = zf.read(f"lab/data/topologies/{name}.yaml")
            assert data == (REPO / "topologies" / f"{name}.yaml").read_bytes()
    assert {"lab/py.typed", "lab/data/playbooks/site.yml", "lab/data/checks/conftest.py"} <= files


def test_topologies_in_the_checkout_are_the_package_data() -> None:
    assert (REPO / "lab" / "data" / "topologies").is_symlink()  # one copy, two ways in
    assert examples.directory().resolve() == (REPO / "topologies").resolve()
    assert len(examples.names()) == len(list((REPO / "topologies").glob("*.yaml"))) >= 17
