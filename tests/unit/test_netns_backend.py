"""The netns:// testinfra backend: URL parsing, command construction, lab lookup (no root)."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest
import testinfra
import testinfra.backend
from testinfra.backend import base

from lab import naming
from lab.providers.netns import testinfra as tn
from lab.state.store import create_state

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    return tmp_path


def make_lab(name: str) -> None:
    state = create_state(name, "t.yaml", "netns")
    state.set(
        phase="up",
        info={
            "central": "central",
            "nodes": {
                "central": {"role": "central", "netns": naming.netns_name(name, "central")},
                "worker1": {"role": "chassis", "netns": naming.netns_name(name, "worker1")},
                "ext": {"role": "host", "netns": naming.netns_name(name, "ext")},
            },
            "vms": {"vm1": {"netns": naming.netns_name(name, "vm1"), "chassis": "worker1"}},
        },
    )


@pytest.mark.parametrize(
    ("hostname", "parsed"),
    [
        ("worker1@lab1", ("worker1", "lab1")),
        ("vm-a@my-lab", ("vm-a", "my-lab")),
        ("blue", ("blue", None)),
    ],
)
def test_parse_target(hostname: str, parsed: tuple[str, str | None]) -> None:
    assert tn.parse_target(hostname) == parsed


@pytest.mark.parametrize("hostname", ["", "@lab1", "worker1@", "a/b", "a@b@c", "..", "a b"])
def test_parse_target_refuses(hostname: str) -> None:
    with pytest.raises(ValueError, match="netns"):
        tn.parse_target(hostname)


def test_command_enters_namespace_with_env_sorted_and_quoted() -> None:
    line = tn.netns_command("lab1.worker1", {"OVS_RUNDIR": "/d w", "A": "1"}, "echo 'x'; id")
    assert shlex.split(line) == [
        "ip", "netns", "exec", "lab1.worker1",
        "env", "A=1", "OVS_RUNDIR=/d w",
        "/bin/sh", "-c", "echo 'x'; id",
    ]  # fmt: skip


def test_command_without_env_has_no_env_prefix() -> None:
    assert shlex.split(tn.netns_command("blue", {}, "true")) == [
        "ip", "netns", "exec", "blue", "/bin/sh", "-c", "true",
    ]  # fmt: skip


def test_sudo_wraps_the_whole_command_and_sudo_user_the_inner_one() -> None:
    line = tn.netns_command("blue", {}, "whoami", sudo=True, sudo_user="nobody")
    argv = shlex.split(line)
    assert argv[:4] == ["sudo", "ip", "netns", "exec"]
    assert argv[-3:-1] == ["/bin/sh", "-c"]
    assert shlex.split(argv[-1]) == ["sudo", "-u", "nobody", "/bin/sh", "-c", "whoami"]


def test_register_maps_the_scheme_to_our_class() -> None:
    tn.register()
    assert testinfra.backend.BACKENDS["netns"] == tn.CLASSPATH
    assert testinfra.backend.get_backend_class("netns") is tn.NetnsBackend


def test_checks_conftest_registers_the_same_class() -> None:
    spec = importlib.util.spec_from_file_location(
        "acceptance_conftest", REPO / "lab/data/checks/conftest.py"
    )
    assert spec and spec.loader
    saved = testinfra.backend.BACKENDS.pop("netns", None)
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        assert testinfra.backend.BACKENDS["netns"] == tn.CLASSPATH
    finally:
        if saved is not None:
            testinfra.backend.BACKENDS["netns"] = saved


def test_host_url_parsing_through_testinfra() -> None:
    tn.register()
    host = testinfra.get_host("netns://worker1@urllab?sudo=true")
    backend = host.backend
    assert isinstance(backend, tn.NetnsBackend)
    assert (backend.target, backend.lab, backend.sudo) == ("worker1", "urllab", True)
    assert backend.get_pytest_id() == "netns://worker1@urllab"
    assert backend.get_connection_type() == "netns"


def test_lab_node_resolves_to_its_namespace_and_daemon_env(state_dir: Path) -> None:
    make_lab("lab1")
    backend = tn.NetnsBackend("worker1@lab1")
    netns, env = backend.resolve()
    assert netns == "lab1.worker1"
    assert env["OVS_RUNDIR"] == env["OVN_RUNDIR"] == str(state_dir / "lab1" / "worker1")
    assert env["OVN_SB_DB"] == f"unix:{state_dir / 'lab1' / 'central' / 'ovnsb_db.sock'}"
    argv = shlex.split(backend.get_command("ovs-vsctl get Bridge %s fail_mode", "br int"))
    assert argv[:5] == ["ip", "netns", "exec", "lab1.worker1", "env"]
    assert f"OVS_RUNDIR={state_dir / 'lab1' / 'worker1'}" in argv
    assert argv[-1] == "ovs-vsctl get Bridge 'br int' fail_mode"


@pytest.mark.parametrize("target", ["vm1", "ext"])
def test_vms_and_hosts_get_no_daemon_env(state_dir: Path, target: str) -> None:
    make_lab("lab2")
    assert tn.NetnsBackend(f"{target}@lab2").resolve() == (f"lab2.{target}", {})


def test_plain_namespace_needs_no_lab(state_dir: Path) -> None:
    assert tn.NetnsBackend("blue").resolve() == ("blue", {})


def test_unknown_lab_or_node_is_a_clear_error(state_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="no lab named 'nolab' is up"):
        tn.NetnsBackend("worker1@nolab").resolve()
    make_lab("lab3")
    with pytest.raises(RuntimeError, match="'worker9' is not a node or VM of lab lab3"):
        tn.NetnsBackend("worker9@lab3").resolve()


def test_run_executes_the_wrapped_command_and_reports_the_inner_one(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def fake_run_local(self: base.BaseBackend, command: str, *args: str) -> base.CommandResult:
        seen.append(command)
        return self.result(0, self.encode(command), b"ok\n", b"")

    monkeypatch.setattr(base.BaseBackend, "run_local", fake_run_local)
    out = tn.NetnsBackend("blue").run("echo %s", "a;b")
    assert seen == ["ip netns exec blue /bin/sh -c 'echo '\"'\"'a;b'\"'\"''"]
    assert out.stdout == "ok\n"
    assert out.command == b"echo 'a;b'"
