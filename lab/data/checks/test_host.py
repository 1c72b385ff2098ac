"""A plain host node (an upstream router, an internet host): its links carry their addresses."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.roles("host")


def test_link_addresses(host, node):
    """Every link of the node is up with the address the topology gives it."""
    wanted = node.get("addresses") or {}
    if not wanted:
        pytest.skip("no addresses for this host in the expectations")
    problems = []
    for ifname, address in sorted(wanted.items()):
        out = host.run("ip -json addr show dev %s", ifname)
        if out.rc != 0:
            problems.append(f"no interface {ifname}")
            continue
        link = json.loads(out.stdout)[0]
        have = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])]
        if "UP" not in link.get("flags", []):
            problems.append(f"{ifname} is down")
        if address not in have:
            problems.append(f"{ifname} has {have or 'no address'}, expected {address}")
    assert not problems, "; ".join(problems)
