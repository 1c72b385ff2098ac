"""A healthy VM: its namespace (or machine) answers, its interface is up with the topology's MAC
and address, it has a default route, and its logical port is bound to its chassis in the SB."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.roles("vm")


def test_namespace_exists(host, node):
    """Commands run in the VM (for netns:// hosts: the namespace exists)."""
    out = host.run("true")
    assert out.rc == 0, f"cannot run in {node['name']}: {out.stderr.strip()}"


@pytest.fixture(scope="module")
def link(host, node):
    out = host.run("ip -json addr show dev %s", node["ifname"])
    assert out.rc == 0, f"no interface {node['ifname']}: {out.stderr.strip()}"
    return json.loads(out.stdout)[0]


def test_interface_up_with_mac(link, node):
    """The VM interface is administratively and operationally up, with the topology's MAC."""
    flags = link.get("flags", [])
    assert "UP" in flags and "LOWER_UP" in flags, f"{node['ifname']} is not up: flags {flags}"
    assert link["address"].lower() == node["mac"].lower(), (
        f"{node['ifname']} has MAC {link['address']}, expected {node['mac']}"
    )


def test_interface_address(link, node):
    """The VM interface carries the topology's address and prefix length."""
    have = [
        f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a["family"] == "inet"
    ]
    assert node["ip"] in have, (
        f"{node['ifname']} has {have or 'no IPv4 address'}, expected {node['ip']}"
    )


def test_default_route(host, node):
    """A default route out of the VM interface (via the topology's gateway, when it has one)."""
    out = host.check_output("ip -json route show default")
    routes = json.loads(out or "[]")
    assert routes, "no default route"
    gateway = node.get("gateway")
    if gateway:
        assert any(r.get("gateway") == gateway for r in routes), (
            f"default route is {[r.get('gateway') or r.get('dev') for r in routes]}, "
            f"expected via {gateway}"
        )
    assert any(r.get("dev") == node["ifname"] for r in routes), (
        f"default route is not out of {node['ifname']}: {routes}"
    )


def test_port_bound_to_its_chassis(sbctl, expected, node):
    """Southbound Port_Binding of the VM's logical port has chassis = the VM's chassis."""
    rows = sbctl("--columns=chassis,up", "find", "Port_Binding", f"logical_port={node['port']}")
    assert rows, f"logical port {node['port']} has no Port_Binding in the Southbound DB"
    chassis = rows[0]["chassis"]
    assert chassis, f"logical port {node['port']} is not bound to any chassis"
    names = {c["_uuid"]: c["name"] for c in sbctl("--columns=_uuid,name", "list", "Chassis")}
    name = names.get(chassis, chassis)
    want = expected["members"].get(node["chassis"], {}).get("system_id", node["chassis"])
    assert name == want, f"logical port {node['port']} is bound to {name}, expected {want}"
