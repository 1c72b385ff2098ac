"""The seed scenario end to end on real daemons: up, ping ttl=63 over Geneve, down, nothing left."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab import naming

from .conftest import TOPOLOGIES, lab, namespaces, ping, running_lab

pytestmark = pytest.mark.root
TCP_PAIR = str(Path(__file__).with_name("tcp_pair.py"))


def test_seed_lab_pings_across_the_router_and_leaves_nothing() -> None:
    with running_lab("geneve-router.yaml", "tseed") as up:
        assert "every port up" in up.stderr
        status = lab("status", "tseed", "--json", check=True)
        data = json.loads(status.stdout)["labs"][0]
        assert data["healthy"], data["problems"]
        assert {n["name"]: n["chassis_registered"] for n in data["nodes"]} == {
            "central": None,
            "worker1": True,
            "worker2": True,
        }
        assert {p["port"]: (p["bound_chassis"], p["up"]) for p in data["ports"]} == {
            "vm1": ("worker1", True),
            "vm2": ("worker2", True),
        }
        result = ping("tseed", "vm1", "20.0.0.10", count=2)
        assert result.returncode == 0, result.stdout + result.stderr
        # Routed once by router1: ttl 63; and the first packet is not lost to tunnel ARP.
        assert re.findall(r"ttl=(\d+)", result.stdout) == ["63", "63"]
        assert " 0% packet loss" in result.stdout
        # The ping really crossed the Geneve tunnel between the two chassis.
        tunnels = lab(
            "exec",
            "--lab",
            "tseed",
            "worker2",
            "--",
            "ovs-vsctl",
            "--columns=type,options",
            "list",
            "Interface",
            check=True,
        ).stdout
        assert "geneve" in tunnels and 'remote_ip="192.0.2.12"' in tunnels
        stats = lab(
            "exec",
            "--lab",
            "tseed",
            "worker2",
            "--",
            "ovs-ofctl",
            "dump-ports",
            "br-int",
            check=True,
        ).stdout
        assert re.search(r"rx pkts=[1-9]", stats)
        # lab up set each chassis' tunnel neighbours: the peer's endpoint and overlay MAC
        neighbours = lab(
            "exec", "--lab", "tseed", "worker1", "--", "ovs-appctl", "tnl/neigh/show", check=True
        ).stdout  # fmt: skip
        assert re.search(r"192\.0\.2\.13\s+" + naming.overlay_mac("192.0.2.13"), neighbours)
        # exec passes the exit status through; nbctl reaches the lab's NB database.
        assert lab("exec", "--lab", "tseed", "vm1", "--", "sh", "-c", "exit 7").returncode == 7
        show = lab("nbctl", "--lab", "tseed", "--", "show", check=True).stdout
        assert "router-port: router1-net2" in show
        assert 'mac: "40:44:00:00:00:04"' in show and 'networks: ["20.0.0.1/24"]' in show
        chassis = lab(
            "sbctl",
            "--lab",
            "tseed",
            "--",
            "--bare",
            "--columns=hostname",
            "list",
            "Chassis",
            check=True,
        ).stdout.split()
        assert sorted(chassis) == ["worker1", "worker2"]
        # lab up made each Chassis_Private row; every controller took its own over (one
        # row each, pointing at its Chassis) and reported the final `--wait=hv` nb_cfg
        private = lab(
            "sbctl", "--lab", "tseed", "--", "--bare", "--columns=name,chassis,nb_cfg",
            "list", "Chassis_Private", check=True,
        ).stdout.split()  # fmt: skip
        nb_cfg = lab(
            "sbctl", "--lab", "tseed", "--", "get", "SB_Global", ".", "nb_cfg", check=True
        ).stdout.strip()
        assert int(nb_cfg) >= 1
        rows = sorted(zip(private[0::3], private[2::3], strict=True))
        assert rows == [("worker1", nb_cfg), ("worker2", nb_cfg)], private
        assert all(len(uuid) == 36 for uuid in private[1::3]), private
        # The databases listen on the central's overlay address, as Connection rows whose
        # inactivity probe outlasts a busy ovn-controller at scale (the default 5 s does not).
        for tool, target in (("nbctl", "ptcp:6641:192.0.2.11"), ("sbctl", "ptcp:6642:192.0.2.11")):
            rows = lab(
                tool, "--lab", "tseed", "--", "--bare", "--columns=target,inactivity_probe",
                "list", "Connection", check=True,
            ).stdout.split()  # fmt: skip
            assert rows == [target, "60000"], rows
            listening = lab("exec", "--lab", "tseed", "central", "--", "ss", "-ltnH", check=True)
            assert target.removeprefix("ptcp:").split(":")[0] in listening.stdout
    # running_lab asserted nothing is left; a second down is a harmless no-op.
    again = lab("down", "tseed")
    assert again.returncode == 0


def test_tcp_through_userspace_datapath() -> None:
    """TCP needs checksum offload off on lab veths; 1 MB must arrive intact."""
    with running_lab("geneve-router.yaml", "ttcp"):
        srv = subprocess.Popen(
            ["ip", "netns", "exec", "ttcp.vm2", sys.executable, TCP_PAIR, "server", "20.0.0.10"],
            stdout=subprocess.PIPE,
            text=True,
        )
        sent = lab(
            "exec",
            "--lab",
            "ttcp",
            "vm1",
            "--",
            sys.executable,
            TCP_PAIR,
            "client",
            "20.0.0.10",
            check=True,
        )
        received, _ = srv.communicate(timeout=30)
        assert received.split() == sent.stdout.split() == ["1048576", sent.stdout.split()[1]]


def test_dry_run_prints_tutorial_commands_and_creates_nothing() -> None:
    proc = lab(
        "up", str(TOPOLOGIES / "geneve-router.yaml"), "--dry-run", "--name", "tdry", check=True
    )
    assert "ovn-nbctl lrp-add router1 router1-net1 40:44:00:00:00:03 10.0.0.1/24" in proc.stdout
    assert "ovn-nbctl lsp-set-options net1-router1 router-port=router1-net1" in proc.stdout
    assert "add-port br-int vm1" in proc.stdout and "type=internal" in proc.stdout
    assert "external_ids:iface-id=vm1" in proc.stdout
    assert not [n for n in namespaces() if n.startswith("tdry-")]


def test_up_twice_is_refused_without_damage() -> None:
    with running_lab("geneve-router.yaml", "ttwice"):
        again = lab("up", str(TOPOLOGIES / "geneve-router.yaml"), "--name", "ttwice")
        assert again.returncode == 2
        assert "already up" in again.stderr
        assert ping("ttwice", "vm1", "20.0.0.10", count=1).returncode == 0
