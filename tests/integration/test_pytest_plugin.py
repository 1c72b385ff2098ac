"""The seed lab through the project's own pytest plugin (lab/pytest_plugin.py, entry point
pytest11 `ovn_lab`): one lab for the module from `ovn_lab_module`, used the way a test suite
of someone else's would use it. The fixture's teardown runs `lab down` and fails the module
if anything is left; a test of its own here proves an explicit `down()` leaves nothing."""

from __future__ import annotations

import re

import pytest

from lab.pytest_plugin import Lab, LabFactory, host_links, residue

from .conftest import TOPOLOGIES

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def seed(ovn_lab_module: LabFactory) -> Lab:
    return ovn_lab_module(TOPOLOGIES / "geneve-router.yaml")


def test_exec_reaches_vm2_routed_once(seed: Lab) -> None:
    ping = seed.exec("vm1", "ping", "-c", "2", "-i", "0.2", "-W", "2", "20.0.0.10")
    assert re.findall(r"ttl=(\d+)", ping.stdout) == ["63", "63"]


def test_nbctl_and_sbctl_see_the_lab(seed: Lab) -> None:
    assert "(router1)" in seed.nbctl("show")
    chassis = seed.sbctl("--bare", "--columns=name", "list", "Chassis").split()
    assert sorted(chassis) == ["worker1", "worker2"]


def test_check_reports_every_check(seed: Lab) -> None:
    report = seed.check()
    assert report.passed, report.failed
    assert [r["kind"] for r in report.results] == ["ping", "trace", "geneve", "flows", "flows"]
    assert report.of_kind("ping")[0]["evidence"]["ttl"] == [63]


def test_host_is_a_testinfra_host_on_the_node(seed: Lab) -> None:
    worker1 = seed.host("worker1")
    assert worker1.process.filter(comm="ovn-controller")
    assert worker1.check_output("ovs-vsctl br-exists br-int && echo yes") == "yes"
    vm1 = seed.host("vm1")
    assert vm1.interface("vm1").addresses[0] == "10.0.0.10"


def test_status_is_healthy(seed: Lab) -> None:
    status = seed.status()
    assert status["healthy"], status["problems"]
    assert status["name"] == seed.name and seed.name.startswith("t")


def test_a_lab_of_one_test_goes_away_with_nothing_left(ovn_lab: LabFactory) -> None:
    links = host_links()
    lab = ovn_lab(TOPOLOGIES / "geneve-router.yaml")
    assert lab.name != "geneve-router"  # named after the test, never the file's name
    assert residue(lab.name, links)  # it is really there...
    lab.down()
    assert residue(lab.name, links) == []  # ...and really gone
