"""Every read command's --output json against one real lab (VLAN fabric, gateways, NAT):
each prints one document {kind, version, ...} on stdout, with the rows a user asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import output

from .conftest import lab, running_lab

pytestmark = pytest.mark.root

NAME = "tclio"


@pytest.fixture(scope="module")
def up() -> Iterator[None]:
    with running_lab("vlan-l3ha.yaml", NAME):
        yield


def doc(*args: str, kind: str, timeout: float = 120) -> dict:
    proc = lab(*args, "--output", "json", timeout=timeout)
    assert proc.returncode == 0, f"lab {' '.join(args)}: {proc.returncode}\n{proc.stderr}"
    data = json.loads(proc.stdout)  # nothing but the document on stdout
    assert data["kind"] == kind and data["version"] == output.VERSION, data
    return data


def test_status(up: None) -> None:
    data = doc("status", NAME, kind="status")
    (st,) = data["labs"]
    assert st["name"] == NAME
    assert {n["name"] for n in st["nodes"]} >= {"central", "gw1", "gw2", "compute-a"}
    alias = json.loads(lab("status", NAME, "--json", check=True).stdout)
    assert alias["kind"] == "status" and alias["labs"][0]["name"] == NAME


def test_check_prints_what_it_writes(up: None, tmp_path: Path) -> None:
    report = tmp_path / "checks.json"
    data = doc("check", NAME, "-o", str(report), kind="check", timeout=300)
    assert data == json.loads(report.read_text())
    assert len(data["checks"]) == 9 and all(c["passed"] for c in data["checks"])


def test_ports_flows_conntrack(up: None) -> None:
    ports = doc("ports", "--lab", NAME, "compute-a", kind="ports")["ports"]
    assert {"vm1", "vm6"} <= {p["logical_port"] for p in ports}
    assert any(p["type"] == "geneve" and p["remote_ip"] for p in ports)
    flows = doc("flows", "--lab", NAME, "compute-a", "--table", "0", kind="flows")
    assert flows["flows"] and all(f["table"] == 0 for f in flows["flows"])
    assert "vm1" in flows["ports"].values()
    traced = doc("flows", "--lab", NAME, "compute-a", "--detrace", kind="flows")["flows"]
    assert traced and any(f["origins"] for f in traced)  # flows traced to a Southbound row
    ct = doc("conntrack", "--lab", NAME, "gw1", kind="conntrack")
    assert ct["node"] == "gw1" and isinstance(ct["entries"], list)


def test_gateways_and_fdb(up: None) -> None:
    gw = doc("gateways", "--lab", NAME, kind="gateways")
    (port,) = gw["ports"]
    assert port["port"] == "R1-public" and port["active"] == "gw1"
    assert port["chassis"] == [["gw1", 20], ["gw2", 10]]
    assert any(b["state"] == "up" for b in gw["bfd"])
    fdb = doc("fdb", "--lab", NAME, "--network", "provider", kind="fdb")
    learned = {(e["vlan"], e["mac"]) for e in fdb["entries"]}
    assert (2011, "fa:16:3e:16:07:92") in learned and (2010, "fa:16:3e:75:ca:89") in learned


def test_trace_and_lflows(up: None) -> None:
    trace = doc("trace", "--lab", NAME, "vm1", "vm4", kind="trace")
    assert trace["delivered"] and trace["output"] == "vm4"
    assert trace["datapaths"] == ["A", "R1", "B"]
    lflows = doc("lflows", NAME, "--datapath", "R1", kind="lflows")["flows"]
    assert lflows and {f["datapath"] for f in lflows} == {"R1"}
    assert any(f["stage"] == "lr_in_ip_routing" for f in lflows)
    same = doc("lflows", NAME, "--diff", NAME, kind="lflows")  # a lab against itself
    assert same["other"] == NAME and same["only_in_lab"] == same["only_in_other"] == []


def test_acceptance_suites(up: None) -> None:
    data = doc("test", NAME, kind="test", timeout=300)
    assert data["results"] and all(r["outcome"] == "passed" for r in data["results"])
