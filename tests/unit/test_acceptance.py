"""`lab test` without root: host URLs by provider, expectations from lab state, argument split,
and the helpers lab/data/checks/conftest.py gives the suites."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lab.cli import check as check_cli
from lab.errors import UserError
from lab.state.store import LabState, create_state
from lab.verify import acceptance

REPO = Path(__file__).resolve().parents[2]
CHECKS = REPO / "lab" / "data" / "checks"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabState:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    st = create_state("ti1", "t.yaml", "netns")
    link = lambda ifname, address: {"node_if": ifname, "fabric_if": "x", "address": address}  # noqa: E731
    st.set(
        info={
            "central": "central",
            "overlay": "overlay",
            "nodes": {
                "central": {"role": "central", "netns": "ti1.central", "encap_ip": None,
                            "links": {"overlay": link("overlay", "192.0.2.11/24")}},
                "hv1": {"role": "chassis", "netns": "ti1.hv1", "encap_ip": "192.0.2.12",
                        "links": {"overlay": link("overlay", "192.0.2.12/24")}},
                "gw1": {"role": "gateway", "netns": "ti1.gw1", "encap_ip": "192.0.2.13",
                        "links": {"overlay": link("overlay", "192.0.2.13/24"),
                                  "provider": link("provider", None),
                                  "external": link("external", None)}},
                "ext": {"role": "host", "netns": "ti1.ext", "encap_ip": None,
                        "links": {"external": link("external", "198.51.100.100/24")}},
            },
            "vms": {"vm1": {"chassis": "hv1", "netns": "ti1.vm1", "port": "vm1-port",
                            "ifname": "vm1", "ip": "10.0.0.10/24", "mac": "40:44:00:00:00:01"}},
        }
    )  # fmt: skip
    (st.dir / "topology.yaml").write_text(
        "name: ti1\nfabric:\n  overlay: {subnet: 192.0.2.0/24}\n"
        "nodes:\n  central: {role: central}\n  hv1: {role: chassis}\n"
        "ovn:\n  switches:\n    net1: {}\nvms:\n"
        "  vm1: {chassis: hv1, switch: net1, mac: '40:44:00:00:00:01', ip: 10.0.0.10/24,"
        " gateway: 10.0.0.1, port: vm1-port}\n"
    )
    return st


def test_netns_host_urls_cover_every_node_and_vm_in_order(state: LabState) -> None:
    assert acceptance.lab_hosts(state) == [
        "netns://central@ti1", "netns://hv1@ti1", "netns://gw1@ti1", "netns://ext@ti1",
        "netns://vm1@ti1",
    ]  # fmt: skip


def test_other_providers_use_testinfra_backends(state: LabState) -> None:
    state.provider = "docker"
    assert acceptance.host_spec(state, "hv1") == "docker://ti1.hv1"
    state.provider = "ssh"  # the lab's own SSH connections (host keys as checked at up)
    assert acceptance.host_spec(state, "hv1") == "labssh://hv1@ti1"
    state.provider = "vagrant"
    with pytest.raises(UserError, match="provider 'vagrant'"):
        acceptance.host_spec(state, "hv1")


def test_expectations_from_state(state: LabState) -> None:
    exp = acceptance.lab_expectations(state)
    assert exp["nodes"]["central"] == {
        "role": "central", "host": "netns://central@ti1", "address": "192.0.2.11",
        "nb_port": 6641, "sb_port": 6642,
    }  # fmt: skip
    gw1 = exp["nodes"]["gw1"]
    assert gw1["encap_ip"] == "192.0.2.13"
    assert gw1["ovn_remote"] == "tcp:192.0.2.11:6642"
    assert set(gw1["bridge_mappings"].split(",")) == {
        "provider:br-provider",
        "external:br-external",
    }
    assert exp["nodes"]["hv1"]["bridge_mappings"] == ""
    assert exp["nodes"]["ext"]["addresses"] == {"external": "198.51.100.100/24"}
    assert exp["vms"]["vm1"] == {
        "host": "netns://vm1@ti1", "chassis": "hv1", "port": "vm1-port", "ifname": "vm1",
        "mac": "40:44:00:00:00:01", "ip": "10.0.0.10/24", "gateway": "10.0.0.1",
    }  # fmt: skip


def test_unreadable_topology_copy_only_loses_the_gateway(state: LabState) -> None:
    (state.dir / "topology.yaml").write_text("nodes: [")
    assert acceptance.lab_expectations(state)["vms"]["vm1"]["gateway"] is None


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lab")
    check_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "name", "extra", "junit"),
    [
        (["test"], None, [], None),
        (["test", "ti1"], "ti1", [], None),
        (["test", "ti1", "--junit", "r.xml"], "ti1", [], "r.xml"),
        (["test", "--junit", "r.xml", "ti1", "--", "-k", "x"], "ti1", ["-k", "x"], "r.xml"),
        (["test", "ti1", "--junit", "r.xml", "--", "-k", "x"], "ti1", ["-k", "x"], "r.xml"),
        (
            ["test", "ti1", "--junit=r.xml", "--", "-x", "--", "y"],
            "ti1",
            ["-x", "--", "y"],
            "r.xml",
        ),
        (["test", "ti1", "--", "-k", "tunnel"], "ti1", ["-k", "tunnel"], None),
        (["test", "--", "-x"], None, ["-x"], None),
        (["test", "--", "checks/test_vm.py"], None, ["checks/test_vm.py"], None),
    ],
)
def test_command_line(
    argv: list[str], name: str | None, extra: list[str], junit: str | None
) -> None:
    args = parse(argv)
    assert args.func is check_cli.cmd_test
    got_name, opts, got_extra = acceptance.split_args(args)
    assert (got_name, got_extra, opts["junit"]) == (name, extra, junit)


def test_verbose_and_checks_options_anywhere_before_the_dashes() -> None:
    name, opts, extra = acceptance.split_args(parse(["test", "ti1", "-v", "--checks", "/c"]))
    assert (name, opts["verbose"], opts["checks"], extra) == ("ti1", True, "/c", [])


def test_pytest_argv_passes_hosts_junit_and_extra_args() -> None:
    argv = acceptance.pytest_argv(Path("/c"), ["netns://a@l", "netns://b@l"], "r.xml", ["-x"])
    assert argv[:4] == [sys.executable, "-m", "pytest", "/c"]
    assert "--hosts=netns://a@l,netns://b@l" in argv
    assert "--junit-xml=r.xml" in argv
    assert argv[-1] == "-x"


def test_checks_are_not_collected_by_the_project_tests() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert config["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert (CHECKS / "conftest.py").is_file()


@pytest.fixture(scope="module")
def conftest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("checks_conftest", CHECKS / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_expectations_file_is_normalised(conftest: ModuleType) -> None:
    data = {
        "nodes": {
            "central": {"role": "central", "host": "ssh://root@c", "address": "192.0.2.1"},
            "hv1": {"role": "chassis", "host": "ssh://root@hv1", "encap_ip": "192.0.2.11"},
        },
        "vms": {"vm1": {"chassis": "hv1", "ifname": "eth0", "mac": "0a:00:00:00:00:01",
                        "ip": "10.0.0.5/24"}},
    }  # fmt: skip
    norm = conftest.normalise(data)
    assert norm["central"] == "central"
    hv1 = norm["members"]["hv1"]
    assert (hv1["system_id"], hv1["ovn_remote"], hv1["datapath_type"]) == (
        "hv1", "tcp:192.0.2.1:6642", "netdev",
    )  # fmt: skip
    assert "bridge_mappings" not in hv1  # not given: not checked
    vm1 = norm["members"]["vm1"]
    assert (vm1["role"], vm1["port"], vm1["name"]) == ("vm", "vm1", "vm1")


def test_ovsdb_json_rows(conftest: ModuleType) -> None:
    text = (
        '{"data":[[["uuid","u1"],["map",[["system-id","hv1"]]],["set",[]],-1,"secure"]],'
        '"headings":["_uuid","external_ids","bfd_status","ofport","fail_mode"]}'
    )
    assert conftest.ovsdb_rows(text) == [
        {"_uuid": "u1", "external_ids": {"system-id": "hv1"}, "bfd_status": [], "ofport": -1,
         "fail_mode": "secure"}
    ]  # fmt: skip
