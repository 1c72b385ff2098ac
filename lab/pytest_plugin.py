"""pytest plugin `ovn_lab` (entry point pytest11): real OVN labs as test fixtures.

Installed with ovn-lab, active in every pytest run of that environment (`-p no:ovn_lab`
turns it off):

    def test_routing(ovn_lab):
        lab = ovn_lab("topologies/geneve-router.yaml")  # `lab up`: returns when every port is up
        assert "ttl=63" in lab.exec("vm1", "ping", "-c1", "20.0.0.10").stdout
        assert "router1" in lab.nbctl("show")
        assert lab.check().passed                            # the topology's `checks:`
        assert lab.host("worker1").service("ovs-vswitchd")  # a testinfra host (netns://, docker://)

`ovn_lab` is a factory: each call brings one lab up under its own name (default: derived
from the test, so tests never collide); at the end of the test every lab it made is taken
down with `lab down`, and the test errors if anything of it is left behind (namespaces,
processes, containers, links in the host namespace, state). `ovn_lab_module` is the same
with one lab per module, shared by its tests. A topology path is taken as given, else
relative to the test file.

Options: `--ovn-lab-provider=netns|docker|ssh` runs every lab on that provider;
`--ovn-lab-keep` leaves the labs of failed tests up (their names are printed) to look at.
The testinfra backends `netns://NODE@LAB` and `labssh://NODE@LAB` are registered when the
plugin loads, so `--hosts=netns://worker1@mylab` works in any test suite.

Labs need root and OVS/OVN, like `lab up`. Everything runs through the `lab` command line
of this environment (`python -m lab`), exactly as a user would run it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab.naming import PROVIDERS

OVS_OVN_DAEMONS = ("ovsdb-server", "ovs-vswitchd", "ovn-controller", "ovn-northd")


def _register_testinfra_backends() -> None:
    """testinfra maps URL schemes to backend classes and has no hook to add one."""
    try:
        import testinfra.backend
    except ImportError:  # pragma: no cover - pytest-testinfra is a dependency of ovn-lab
        return
    testinfra.backend.BACKENDS.setdefault("netns", "lab.providers.netns.testinfra.NetnsBackend")
    testinfra.backend.BACKENDS.setdefault("labssh", "lab.providers.ssh.testinfra.LabSshBackend")


_register_testinfra_backends()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ovn-lab", "ovn-lab fixtures (ovn_lab, ovn_lab_module)")
    group.addoption(
        "--ovn-lab-provider",
        choices=PROVIDERS,
        default=None,
        help="bring every ovn_lab up on this provider (default: each topology's own)",
    )
    group.addoption(
        "--ovn-lab-keep",
        action="store_true",
        default=False,
        help="leave the labs of failed tests up to inspect (then `lab down NAME`)",
    )


# --- one lab -------------------------------------------------------------------------------


@dataclass
class CheckReport:
    """`lab check --json`: one entry per check of the topology, in order."""

    returncode: int
    results: list[dict[str, Any]]
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and all(r["passed"] for r in self.results)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["passed"]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.results if r["kind"] == kind]


def lab_cli(*args: str, timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
    """The `lab` command of this Python environment."""
    proc = subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"lab {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}{proc.stdout}"
        )
    return proc


@dataclass
class Lab:
    """A lab that is up; its methods are the `lab` commands a person would type."""

    name: str
    topology: Path
    up: subprocess.CompletedProcess
    _down: bool = field(default=False, repr=False)

    def run(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess:
        """Any `lab` command (pass the lab's name yourself where it takes one)."""
        return lab_cli(*args, timeout=timeout, check=check)

    def exec(
        self, target: str, *argv: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        """`lab exec --lab NAME TARGET -- ARGV`: in a node or VM."""
        return self.run(
            "exec", "--lab", self.name, target, "--", *argv, check=check, timeout=timeout
        )

    def nbctl(self, *args: str) -> str:
        """`lab nbctl -- ARGS`: ovn-nbctl against the lab's Northbound DB; its stdout."""
        return self.run("nbctl", "--lab", self.name, "--", *args).stdout

    def sbctl(self, *args: str) -> str:
        """`lab sbctl -- ARGS`: ovn-sbctl against the lab's Southbound DB; its stdout."""
        return self.run("sbctl", "--lab", self.name, "--", *args).stdout

    def check(self, timeout: float = 900) -> CheckReport:
        """`lab check`: the topology's checks; passing or not, the report is returned."""
        with tempfile.TemporaryDirectory(prefix="ovn-lab-check-") as tmp:
            report = Path(tmp) / "results.json"
            proc = self.run("check", self.name, "--json", str(report), check=False, timeout=timeout)
            if proc.returncode not in (0, 1) or not report.exists():
                raise AssertionError(
                    f"lab check {self.name} exited {proc.returncode}:\n{proc.stderr}"
                )
            results = json.loads(report.read_text())["checks"]
        return CheckReport(proc.returncode, results, proc.stdout)

    def test(self, *pytest_args: str, check: bool = False) -> subprocess.CompletedProcess:
        """`lab test`: the testinfra acceptance suites against every node."""
        extra = ["--", *pytest_args] if pytest_args else []
        return self.run("test", self.name, *extra, check=check)

    def status(self) -> dict[str, Any]:
        """`lab status --json` of this lab."""
        proc = self.run("status", self.name, "--json", check=False)
        return json.loads(proc.stdout)["labs"][0]

    def host(self, target: str) -> Any:
        """A testinfra host for a node or VM, on the URL `lab test` uses for its provider."""
        import testinfra

        from lab.state.store import open_lab
        from lab.verify.acceptance import host_spec

        return testinfra.get_host(host_spec(open_lab(self.name), target))

    def down(self) -> None:
        """`lab down` now (the fixture does it at the end anyway; twice is safe)."""
        self.run("down", self.name)
        self._down = True


# --- what a lab leaves behind ----------------------------------------------------------------


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def _lab_processes(name: str) -> list[str]:
    """Live OVS/OVN daemons whose command line names the lab's state directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and any(d in cmd for d in OVS_OVN_DAEMONS) and f"/{name}/" in cmd:
            found.append(f"{entry.name}: {cmd.strip()[:120]}")
    return found


def _containers(name: str) -> list[str]:
    try:
        proc = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=ovn-lab.lab={name}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []  # no docker here: no containers either
    return proc.stdout.split() if proc.returncode == 0 else []


def residue(name: str, links_before: set[str]) -> list[str]:
    """Everything of lab `name` still on this machine; [] after a clean `lab down`."""
    from lab.naming import lab_prefix
    from lab.state.store import state_root

    prefix = lab_prefix(name)
    left = [f"namespace {ns}" for ns in sorted(_namespaces()) if ns.startswith(prefix)]
    left += [f"process {p}" for p in _lab_processes(name)]
    left += [f"container {c}" for c in _containers(name)]
    left += [f"link {link} in the host namespace" for link in sorted(host_links() - links_before)]
    if (state_root() / name).exists():
        left.append(f"state directory {state_root() / name}")
    if (state_root() / f".{name}.lock").exists():
        left.append(f"lock file {state_root() / f'.{name}.lock'}")
    return left


# --- the fixtures ------------------------------------------------------------------------------


class LabFactory:
    """`ovn_lab(TOPOLOGY, name=None, provider=None, *args)`: bring a lab up; all are torn down
    (and checked for residue) when the fixture's scope ends."""

    def __init__(self, request: pytest.FixtureRequest, tag: str) -> None:
        self.request = request
        self.tag = tag
        self.labs: list[tuple[Lab, set[str]]] = []
        self.failed_before = request.session.testsfailed

    def __call__(
        self,
        topology: str | os.PathLike[str],
        name: str | None = None,
        provider: str | None = None,
        *args: str,
    ) -> Lab:
        path = self._resolve(Path(topology))
        name = name or self._name()
        provider = provider or self.request.config.getoption("ovn_lab_provider")
        extra = [*(["--provider", provider] if provider else []), *args]
        links_before = host_links()
        up = lab_cli("up", str(path), "--name", name, *extra, timeout=900)
        if up.returncode != 0:  # `lab up` rolled back what it made; say why, plainly
            left = residue(name, links_before)
            pytest.fail(
                f"lab up {path.name} --name {name} exited {up.returncode}:\n{up.stderr}"
                + (f"\nleft behind: {left}" if left else ""),
                pytrace=False,
            )
        lab = Lab(name, path, up)
        self.labs.append((lab, links_before))
        return lab

    def _resolve(self, path: Path) -> Path:
        if path.is_absolute() or path.exists():
            return path.resolve()
        beside_test = Path(self.request.path).parent / path
        if beside_test.exists():
            return beside_test.resolve()
        from lab.topology.examples import topology_path

        return topology_path(str(path)).resolve()  # a bare name: the shipped example

    def _name(self) -> str:
        """Short, valid, and unique per test and call: `t<hash>-<n>`."""
        digest = hashlib.sha1(f"{self.tag}:{self.request.node.nodeid}".encode()).hexdigest()
        return f"t{digest[:6]}-{len(self.labs)}"

    def teardown(self) -> None:
        keep = (
            self.request.config.getoption("ovn_lab_keep")
            and self.request.session.testsfailed > self.failed_before
        )
        problems = []
        for lab, links_before in reversed(self.labs):
            if keep and not lab._down:
                sys.stderr.write(f"\novn_lab: kept lab {lab.name} up (lab down {lab.name})\n")
                continue
            down = lab_cli("down", lab.name, timeout=600)
            if down.returncode != 0:
                problems.append(f"lab down {lab.name} exited {down.returncode}: {down.stderr}")
            left = residue(lab.name, links_before)
            if left:
                problems.append(f"lab {lab.name} left behind: {', '.join(left)}")
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def ovn_lab(request: pytest.FixtureRequest) -> Iterator[LabFactory]:
    """Factory of labs for one test: `lab = ovn_lab("topology.yaml")`."""
    factory = LabFactory(request, "function")
    yield factory
    factory.teardown()


@pytest.fixture(scope="module")
def ovn_lab_module(request: pytest.FixtureRequest) -> Iterator[LabFactory]:
    """The same, for labs shared by the tests of a module."""
    factory = LabFactory(request, "module")
    yield factory
    factory.teardown()
