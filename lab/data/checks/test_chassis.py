"""A healthy OVN chassis (and gateway): OVS and ovn-controller running, br-int as OVN wants it,
the Open_vSwitch external_ids the lab set, a Geneve tunnel to every other chassis, registered in
the Southbound DB and connected to it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.roles("chassis", "gateway")


@pytest.mark.parametrize("daemon", ["ovsdb-server", "ovs-vswitchd", "ovn-controller"])
def test_daemon_running(daemon_pid, daemon):
    daemon_pid(daemon)


def test_br_int(vsctl, node):
    """br-int exists, fail_mode=secure (no flows without ovn-controller), expected datapath."""
    rows = vsctl(
        "--format=json", "--columns=fail_mode,datapath_type", "find", "Bridge", "name=br-int"
    )
    assert rows, "there is no bridge br-int"
    assert rows[0]["fail_mode"] == "secure", f"br-int fail_mode is {rows[0]['fail_mode']!r}"
    want = node.get("datapath_type", "netdev")
    assert rows[0]["datapath_type"] == want, (
        f"br-int datapath_type is {rows[0]['datapath_type']!r}, expected {want!r}"
    )


EXTERNAL_IDS = {
    "system-id": "system_id",
    "ovn-remote": "ovn_remote",
    "ovn-encap-type": None,  # always geneve
    "ovn-encap-ip": "encap_ip",
    "ovn-bridge-mappings": "bridge_mappings",
    "ovn-chassis-mac-mappings": "chassis_mac_mappings",
}
MAPPING_LISTS = ("ovn-bridge-mappings", "ovn-chassis-mac-mappings")


@pytest.fixture(scope="module")
def external_ids(vsctl):
    return vsctl("--format=json", "--columns=external_ids", "list", "Open_vSwitch")[0][
        "external_ids"
    ]


@pytest.mark.parametrize("key", list(EXTERNAL_IDS))
def test_external_id(external_ids, node, key):
    """Open_vSwitch external_ids:<key> is what the lab configured."""
    field = EXTERNAL_IDS[key]
    if field is not None and field not in node:
        pytest.skip(f"no {field} in the expectations for {node['name']}")
    want = "geneve" if field is None else node[field]
    got = external_ids.get(key)
    if key in MAPPING_LISTS:  # order does not matter; none expected means absent
        want_set = set(filter(None, (want or "").split(",")))
        got_set = set(filter(None, (got or "").split(",")))
        assert got_set == want_set, f"external_ids:{key} is {got!r}, expected {want or 'none'!r}"
        return
    assert got == str(want), f"external_ids:{key} is {got!r}, expected {want!r}"


@pytest.fixture(scope="module")
def tunnels(vsctl):
    """Geneve interfaces that are ports of br-int: remote_ip -> row."""
    ports = set(vsctl("list-ports", "br-int").split())
    rows = vsctl(
        "--format=json",
        "--columns=name,ofport,options,bfd,bfd_status",
        "find",
        "Interface",
        "type=geneve",
    )
    return {r["options"].get("remote_ip"): r for r in rows if r["name"] in ports}


def test_geneve_tunnels(tunnels, expected, node):
    """A working Geneve port on br-int to every other chassis (remote_ip = its encap_ip)."""
    peers = {
        m["encap_ip"]: name
        for name, m in expected["members"].items()
        if m.get("role") in ("chassis", "gateway") and name != node["name"] and m.get("encap_ip")
    }
    missing = [f"{name} ({ip})" for ip, name in sorted(peers.items()) if ip not in tunnels]
    assert not missing, (
        f"no Geneve tunnel port on br-int to {', '.join(missing)}; "
        f"tunnels to {sorted(filter(None, tunnels)) or 'nobody'}"
    )
    broken = [
        f"{r['name']} ({ip})" for ip, r in tunnels.items() if ip in peers and r["ofport"] == -1
    ]
    assert not broken, f"tunnel ports OVS could not create (ofport -1): {', '.join(broken)}"


def test_registered_in_southbound(sbctl, node):
    """The Southbound DB has this chassis with a Geneve encap on its encap_ip."""
    system_id = node.get("system_id", node["name"])
    if not sbctl("find", "Chassis", f"name={system_id}"):
        pytest.fail(f"chassis {system_id} is not registered in the Southbound DB")
    encaps = sbctl("--columns=type,ip", "find", "Encap", f"chassis_name={system_id}")
    got = sorted((e["type"], e["ip"]) for e in encaps)
    assert ("geneve", node["encap_ip"]) in got, (
        f"SB encaps of {system_id} are {got}, expected geneve {node['encap_ip']}"
    )


def test_ovn_controller_connected(host, rundirs, daemon_pid):
    """ovn-controller says its Southbound connection is up."""
    ctl = f"{rundirs['ovn']}/ovn-controller.{daemon_pid('ovn-controller')}.ctl"
    out = host.run("ovs-appctl -T 5 -t %s connection-status", ctl)
    assert out.rc == 0, f"ovs-appctl -t {ctl} connection-status: {out.stderr.strip()}"
    assert out.stdout.strip() == "connected", f"ovn-controller is {out.stdout.strip()!r} to SB"
