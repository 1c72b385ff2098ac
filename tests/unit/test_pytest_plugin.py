"""The pytest plugin as pytest loads it (entry point pytest11 `ovn_lab`), in a pytest run of
its own outside the repository; what needs no root: options, fixtures, backends, names and a
clear failure when a lab cannot come up."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import testinfra.backend

from lab import naming, pytest_plugin


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


def test_the_entry_point_loads_the_plugin(tmp_path: Path) -> None:
    help_ = run_pytest(tmp_path, "--help")
    assert "--ovn-lab-provider" in help_.stdout and "--ovn-lab-keep" in help_.stdout
    fixtures = run_pytest(tmp_path, "--fixtures")
    assert "ovn_lab -- " in fixtures.stdout and "ovn_lab_module [module scope]" in fixtures.stdout
    off = run_pytest(tmp_path, "-p", "no:ovn_lab", "--help")
    assert "--ovn-lab-provider" not in off.stdout


def test_testinfra_backends_are_registered() -> None:
    assert testinfra.backend.BACKENDS["netns"] == "lab.providers.netns.testinfra.NetnsBackend"
    assert testinfra.backend.BACKENDS["labssh"] == "lab.providers.ssh.testinfra.LabSshBackend"
    assert testinfra.backend.get_backend_class("netns").__name__ == "NetnsBackend"


def test_a_lab_that_cannot_come_up_fails_the_test_in_one_message(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        textwrap.dedent(
            """
            def test_x(ovn_lab):
                ovn_lab("no-such-topology.yaml", name="tnolab")
            """
        )
    )
    proc = run_pytest(tmp_path, "-q", "test_x.py")
    assert proc.returncode == 1
    assert "lab up no-such-topology.yaml --name tnolab exited 2" in proc.stdout
    assert "cannot read the file" in proc.stdout
    assert "Traceback" not in proc.stdout


def test_default_names_are_valid_short_and_distinct() -> None:
    class Node:
        nodeid = "tests/test_a.py::test_b[param-1]"

    class Request:
        node = Node()
        path = Path("tests/test_a.py")

        class session:  # stands in for pytest's session object
            testsfailed = 0

    factory = pytest_plugin.LabFactory(Request(), "function")  # type: ignore[arg-type]
    first = factory._name()
    factory.labs.append((None, set()))  # type: ignore[arg-type]
    second = factory._name()
    other = pytest_plugin.LabFactory(Request(), "module")._name()  # type: ignore[arg-type]
    assert len({first, second, other}) == 3
    for name in (first, second, other):
        assert naming.LAB_NAME.match(name) and len(name) <= 10


def test_topologies_resolve_beside_the_test_file(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text("name: x\n")

    class Request:
        path = tmp_path / "test_here.py"

    factory = pytest_plugin.LabFactory.__new__(pytest_plugin.LabFactory)
    factory.request = Request()  # type: ignore[assignment]
    assert factory._resolve(Path("lab.yaml")) == tmp_path / "lab.yaml"
    assert factory._resolve(tmp_path / "lab.yaml") == tmp_path / "lab.yaml"


def test_a_check_report_says_what_failed() -> None:
    report = pytest_plugin.CheckReport(
        1,
        [{"kind": "ping", "passed": True}, {"kind": "trace", "passed": False}],
        "",
    )
    assert not report.passed
    assert report.failed == [{"kind": "trace", "passed": False}]
    assert report.of_kind("ping") == [{"kind": "ping", "passed": True}]
