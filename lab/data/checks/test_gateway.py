"""A healthy OVN gateway chassis (on top of everything test_chassis.py checks): it offers itself
as a gateway, and runs BFD towards the other members of its HA chassis groups."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.roles("gateway")


def test_offers_itself_as_gateway(vsctl):
    """external_ids:ovn-cms-options contains enable-chassis-as-gw."""
    ids = vsctl("--format=json", "--columns=external_ids", "list", "Open_vSwitch")[0][
        "external_ids"
    ]
    options = ids.get("ovn-cms-options", "").split(",")
    assert "enable-chassis-as-gw" in options, f"ovn-cms-options is {ids.get('ovn-cms-options')!r}"


def test_bfd_on_gateway_tunnels(sbctl, vsctl, node):
    """BFD is enabled on the tunnels to the other chassis of this gateway's HA groups.

    OVN turns BFD on only when a logical router port has gateway chassis (an HA chassis
    group in the Southbound DB) with this chassis and at least one other in it."""
    system_id = node.get("system_id", node["name"])
    names = {c["_uuid"]: c["name"] for c in sbctl("--columns=_uuid,name", "list", "Chassis")}
    ha = {
        h["_uuid"]: names.get(h["chassis"])
        for h in sbctl("--columns=_uuid,chassis", "list", "HA_Chassis")
    }
    peers: set[str] = set()
    for group in sbctl("--columns=name,ha_chassis", "list", "HA_Chassis_Group"):
        members = {ha.get(u) for u in group["ha_chassis"]} - {None}
        if system_id in members and len(members) > 1:
            peers |= members - {system_id}
    if not peers:
        pytest.skip(f"no HA chassis group in the SB has {system_id} and another chassis")
    encaps = sbctl("--columns=chassis_name,ip", "list", "Encap")
    peer_ips = {e["ip"]: e["chassis_name"] for e in encaps if e["chassis_name"] in peers}
    rows = vsctl("--format=json", "--columns=name,options,bfd", "find", "Interface", "type=geneve")
    by_ip = {r["options"].get("remote_ip"): r for r in rows}
    missing = [f"{name} ({ip})" for ip, name in sorted(peer_ips.items()) if ip not in by_ip]
    assert not missing, f"no tunnel to HA peers {', '.join(missing)}"
    off = [
        f"{by_ip[ip]['name']} to {name}"
        for ip, name in sorted(peer_ips.items())
        if by_ip[ip]["bfd"].get("enable") != "true"
    ]
    assert not off, f"BFD is not enabled on {', '.join(off)}"
