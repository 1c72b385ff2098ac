"""`lab up` waits for every DHCP / SLAAC VM's addresses, and names those that got none."""

from __future__ import annotations

import json
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from lab.errors import RuntimeFailure
from lab.plan.model import VMPlan
from lab.vm.dhcp.control import client_argv, wait_addresses


def vm(name: str, **kw: object) -> VMPlan:
    fields: dict[str, object] = {
        "name": name,
        "chassis": "worker1",
        "netns": f"lab-{name}",
        "port": name,
        "switch": "net1",
        "attach": "internal",
        "chassis_if": name,
        "vm_if": name,
        "mac": "40:44:00:00:00:01",
        "ip": IPv4Interface("10.0.0.10/24"),
        "gateway": None,
        **kw,
    }
    return VMPlan(**fields)  # type: ignore[arg-type]


def lease(tmp: Path, name: str, **parts: object) -> None:
    (tmp / name).mkdir()
    (tmp / name / "lease.json").write_text(json.dumps(parts))


def test_ready_leases_are_returned(tmp_path: Path) -> None:
    lease(tmp_path, "vm1", ready=True, dhcp4={"address": "10.0.0.10/24"})
    got = wait_addresses([vm("vm1", dhcp4=True), vm("static")], tmp_path, timeout=1)
    assert list(got) == ["vm1"]  # a VM with fixed addresses is not waited for


def test_timeout_names_the_vms_and_what_they_miss(tmp_path: Path) -> None:
    lease(tmp_path, "vm1", ready=False, dhcp4={"address": "10.0.0.10/24"})
    lease(tmp_path, "vm2", ready=True)
    vms = [
        vm("vm1", dhcp4=True, dhcp6="stateful", accept_ra=True, ipv6_mode="dhcpv6"),
        vm("vm2", dhcp4=True),
        vm("vm3", ipv6_mode="slaac", accept_ra=True),
    ]
    with pytest.raises(RuntimeFailure) as caught:
        wait_addresses(vms, tmp_path, timeout=0.1)
    message = str(caught.value)
    assert message.startswith("2 VM(s) got no address from OVN within 0 s")
    assert "vm1: no DHCPv6 reply, no router advertisement;" in message
    assert "vm3: no router advertisement (SLAAC)" in message
    assert "vm2" not in message


def test_client_argv_asks_for_what_the_vm_uses(tmp_path: Path) -> None:
    argv = client_argv(
        vm("vm1", dhcp4=True, dhcp6="stateless", accept_ra=True, ipv6_mode="slaac"), tmp_path
    )
    assert argv[1:3] == ["-m", "lab.vm.dhcp.client"]
    assert argv[3:] == [
        "--ifname", "vm1", "--mac", "40:44:00:00:00:01", "--dir", str(tmp_path),
        "--dhcp4", "--dhcp6", "stateless", "--ra", "--slaac",
    ]  # fmt: skip
