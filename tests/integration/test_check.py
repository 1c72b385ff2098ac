"""`lab check` and its interactive primitives on real labs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import lab, running_lab

pytestmark = pytest.mark.root


def test_seed_checks_pass_and_match_southbound_keys(tmp_path: Path) -> None:
    report, junit = tmp_path / "check.json", tmp_path / "check.xml"
    with running_lab("geneve-router.yaml", "tchk"):
        proc = lab("check", "tchk", "--json", str(report), "--junit", str(junit))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads(report.read_text())
        kinds = [c["kind"] for c in data["checks"]]
        assert kinds == ["ping", "trace", "geneve", "flows", "flows"]
        assert all(c["passed"] for c in data["checks"])
        ping, trace, geneve, flows0, flows65 = data["checks"]
        assert ping["evidence"]["ttl"] == [63]
        assert trace["evidence"]["datapaths"] == ["network1", "router1", "network2"]
        # Decoded VNI and port keys equal what the Southbound DB says, independently read here.
        sb = lambda *a: lab("sbctl", "--lab", "tchk", "--", *a, check=True).stdout.strip()  # noqa: E731
        request = geneve["evidence"]["expected"]["echo request"]
        assert request["vni"] == int(
            sb("get", "Datapath_Binding", _dp_uuid(sb, "network2"), "tunnel_key")
        )
        assert request["egress"] == int(sb("get", "Port_Binding", _pb(sb, "vm2"), "tunnel_key"))
        assert request["ingress"] == int(
            sb("get", "Port_Binding", _pb(sb, "net2-router1"), "tunnel_key")
        )
        requests = [p for p in geneve["evidence"]["packets"] if p["icmp"] == "echo request"]
        replies = [p for p in geneve["evidence"]["packets"] if p["icmp"] == "echo reply"]
        assert requests and replies
        assert requests[0]["data"] == f"{request['ingress']:04x}{request['egress']:04x}"
        assert flows0["evidence"]["table"] == 0
        assert "move:NXM_NX_TUN_ID" in flows0["evidence"]["flow"]
        assert flows65["evidence"]["table"] == 65 and flows65["evidence"]["output_table"] == 65
        suite = ET.parse(junit).getroot()
        assert suite.get("tests") == "5" and suite.get("failures") == "0"
        # raw command outputs are kept under the lab's state directory; the capture as a pcap
        (kept,) = Path(data["raw_dir"]).rglob("geneve.pcap")
        from lab.verify import pcap

        assert len(pcap.geneve(kept.read_bytes())) >= len(geneve["evidence"]["packets"]) > 0


def _dp_uuid(sb, name: str) -> str:
    return sb("--bare", "--columns=_uuid", "find", "Datapath_Binding", f"external_ids:name={name}")


def _pb(sb, port: str) -> str:
    return sb("--bare", "--columns=_uuid", "find", "Port_Binding", f"logical_port={port}")


def test_deleted_router_port_fails_with_diagnosis() -> None:
    with running_lab("geneve-router.yaml", "tbrk"):
        lab("nbctl", "--lab", "tbrk", "--", "--wait=hv", "lrp-del", "router1-net2", check=True)
        proc = lab("check", "tbrk")
        assert proc.returncode == 1
        lines = proc.stdout.splitlines()
        assert any(line.startswith("FAIL ping") for line in lines)
        assert "lr_in_ip_routing" in proc.stdout and "no route" in proc.stdout
        assert "0 passed, 5 failed" in proc.stdout


def test_interactive_primitives() -> None:
    with running_lab("geneve-router.yaml", "tint"):
        trace = lab("trace", "--lab", "tint", "vm1", "vm2")
        assert (
            trace.returncode == 0
            and "delivered to vm2 via network1 -> router1 -> network2" in trace.stdout
        )
        ports = lab("ports", "--lab", "tint", "worker2", check=True).stdout
        assert "vm2" in ports and "geneve" in ports and "192.0.2.12" in ports
        flows = lab("flows", "--lab", "tint", "worker2", "--table", "65", check=True).stdout
        assert "(vm2)" in flows  # output:N resolved to the interface name
        lab("exec", "--lab", "tint", "vm1", "--", "ping", "-c3", "-i0.2", "20.0.0.10", check=True)
        recent = lab(
            "flows", "--lab", "tint", "worker2", "--table", "65", "--idle-age", "5", check=True
        ).stdout
        assert "output:" in recent and "idle_age=" in recent


def test_capture_decodes_while_traffic_flows() -> None:
    import subprocess
    import sys

    with running_lab("geneve-router.yaml", "tcap"):
        cap = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lab",
                "capture",
                "--lab",
                "tcap",
                "worker2",
                "--decode",
                "-c",
                "2",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            lab(
                "exec",
                "--lab",
                "tcap",
                "vm1",
                "--",
                "ping",
                "-c6",
                "-i0.3",
                "20.0.0.10",
                check=True,
            )
            text, _ = cap.communicate(timeout=20)
        finally:
            cap.kill()
        assert "(network2)" in text and "out vm2" in text and "in net2-router1" in text


def test_two_routers_checks_pass() -> None:
    with running_lab("two-routers.yaml", "tchk2"):
        proc = lab("check", "tchk2")
        assert proc.returncode == 0, proc.stdout
        assert "5 passed, 0 failed" in proc.stdout
        assert "sw-a -> r1 -> transit -> r2 -> sw-b" in proc.stdout
