"""Distributed floating IPs (topologies/distributed-fip.yaml): vm1's FIP traffic leaves
from compute1, its own chassis, with the FIP's external MAC; not from the gateway gw1.
Proven by capturing on each chassis' external link in the fabric namespace."""

from __future__ import annotations

import subprocess
import time

import pytest

from lab import naming

from .conftest import lab, ping, running_lab

pytestmark = pytest.mark.root
NAME = "tfip"
FIP_MAC = "fa:16:3e:00:50:11"


def capture(port: str) -> subprocess.Popen[str]:
    """Frames entering the ToR from one node's external link, with their MACs."""
    return subprocess.Popen(
        [
            *("ip", "netns", "exec", naming.fabric_netns(NAME)),
            *("tcpdump", "-l", "-n", "-e", "-i", port, "-Q", "in", "icmp"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_the_fip_leaves_from_the_vms_own_chassis() -> None:
    with running_lab("distributed-fip.yaml", NAME):
        nat = lab("nbctl", "--lab", NAME, "--", "lr-nat-list", "router1", check=True).stdout
        assert "vm1" in nat and FIP_MAC in nat, nat
        ports = {node: naming.fabric_port(node, "external") for node in ("compute1", "gw1")}
        captures = {node: capture(port) for node, port in ports.items()}
        time.sleep(1.0)  # tcpdump attached
        try:
            out = ping(NAME, "vm1", "198.51.100.100", count=3)
            assert out.returncode == 0, out.stdout + out.stderr
            inbound = lab("exec", "--lab", NAME, "ext-host", "--", "ping", "-c", "3", "-i",
                          "0.2", "-W", "2", "198.51.100.50")  # fmt: skip
            assert inbound.returncode == 0, inbound.stdout + inbound.stderr
            time.sleep(0.5)
        finally:
            seen = {}
            for node, proc in captures.items():
                proc.terminate()
                seen[node] = proc.communicate(timeout=5)[0]
        from_compute1 = [line for line in seen["compute1"].splitlines() if FIP_MAC in line]
        assert len(from_compute1) >= 6, seen["compute1"]  # 3 requests out, 3 replies in
        assert "198.51.100.50" in "\n".join(from_compute1)
        assert FIP_MAC not in seen["gw1"], seen["gw1"]
        assert "198.51.100.50" not in seen["gw1"], seen["gw1"]
        checked = lab("check", NAME, timeout=300)
        assert checked.returncode == 0, checked.stdout + checked.stderr
