"""The second seed: VLAN provider networks through a ToR, gateway chassis HA, SNAT/FIP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, lab, ping, running_lab

pytestmark = pytest.mark.root
ROUTER_MACS = ("fa:16:3e:7e:d6:7e", "fa:16:3e:65:f2:ae")


def test_vlan_l3ha_all_checks_and_failover(tmp_path: Path) -> None:
    report = tmp_path / "vl.json"
    with running_lab("vlan-l3ha.yaml", "tvl"):
        gateways = ""
        for _ in range(50):  # BFD sessions take a few seconds to come up
            gateways = lab("gateways", "--lab", "tvl", check=True).stdout
            if gateways.count(" up ") == 10:
                break
            time.sleep(0.2)
        assert "gw1 (20), gw2 (10)" in gateways and "R1-public" in gateways
        # every gateway with every other chassis, both ways: 2 x (2 computes + 1 gateway) + 4
        assert gateways.count(" up ") == 10, gateways
        proc = lab("check", "tvl", "--json", str(report))
        assert proc.returncode == 0, proc.stdout
        checks = json.loads(report.read_text())["checks"]
        failover = next(c for c in checks if c["kind"] == "failover")["evidence"]
        assert failover["active_before"] == "gw1" and failover["active_after"] == "gw2"
        assert 0 < failover["outage_s"] <= 5
        assert failover["active_after_restart"] == "gw1" and failover["recovered"]
        snat = next(c for c in checks if c["spec"].get("seen_as"))
        assert snat["evidence"]["seen_as"] == ["198.51.100.10"]
        # With chassis MAC mappings the ToR never learns a router MAC; VMs' MACs are there.
        cam = lab("fdb", "--lab", "tvl", check=True).stdout
        assert "fa:16:3e:16:07:92" in cam and "2011" in cam and "2010" in cam
        assert not any(mac in cam for mac in ROUTER_MACS)
        status = json.loads(lab("status", "tvl", "--json", check=True).stdout)["labs"][0]
        assert status["healthy"], status["problems"]


def test_router_macs_flap_without_chassis_mac_mappings() -> None:
    """The seed's two concurrent flows, vm6 -> vm3 and vm1 -> vm4, make R1's MACs move."""
    with running_lab("vlan-flapping.yaml", "tvf"):
        watch = subprocess.Popen(
            [sys.executable, "-m", "lab", "fdb", "--lab", "tvf", "--watch"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        try:
            time.sleep(1.5)
            flows = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "lab",
                        "exec",
                        "--lab",
                        "tvf",
                        vm,
                        "--",
                        "ping",
                        "-c",
                        "15",
                        "-i",
                        "0.2",
                        address,
                    ],
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                )
                for vm, address in (("vm6", "10.0.1.13"), ("vm1", "10.0.2.14"))
            ]
            assert [f.wait(timeout=30) for f in flows] == [0, 0]
        finally:
            watch.send_signal(subprocess.signal.SIGINT)
            text, _ = watch.communicate(timeout=10)
        # Every frame entering the ToR is watched: the two flows make R1's MACs flip on
        # each round trip (15 pings per flow).
        for mac in ROUTER_MACS:
            moves = re.search(rf"{mac}: (\d+) moves", text)
            assert moves and int(moves.group(1)) >= 10, text
        check = lab("check", "tvf")
        assert check.returncode == 0, check.stdout
        assert re.search(r"fa:16:3e:7e:d6:7e behind compute-\w, moved [1-9]", check.stdout)


def test_neutron_like_snat_floating_ip_and_no_nat_router() -> None:
    with running_lab("neutron-like.yaml", "tnl"):
        proc = lab("check", "tnl")
        assert proc.returncode == 0, proc.stdout
        show = lab("nbctl", "--lab", "tnl", "--", "show", check=True).stdout
        for text in (
            "type: localnet",
            "type: router",
            "gateway chassis: [",
            'type: "snat"',
            'type: "dnat_and_snat"',
            'external ip: "198.51.100.50"',
        ):
            assert text in show, text


def test_stop_and_start_a_chassis() -> None:
    with running_lab("geneve-router.yaml", "tss"):
        stop = lab("stop", "--lab", "tss", "worker2")
        assert stop.returncode == 0, stop.stderr
        status = json.loads(lab("status", "tss", "--json").stdout)["labs"][0]
        worker2 = next(n for n in status["nodes"] if n["name"] == "worker2")
        assert worker2["stopped"] and not any(worker2["daemons"].values())
        assert ping("tss", "vm1", "20.0.0.10", count=2).returncode != 0
        again = lab("stop", "--lab", "tss", "worker2")
        assert again.returncode == 2 and "already stopped" in again.stderr
        start = lab("start", "--lab", "tss", "worker2")
        assert start.returncode == 0, start.stderr
        assert ping("tss", "vm1", "20.0.0.10", count=2).returncode == 0
        status = json.loads(lab("status", "tss", "--json").stdout)["labs"][0]
        assert status["healthy"], status["problems"]
