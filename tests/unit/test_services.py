"""VM services and the connect check's client: the agent run for real on this machine's
loopback (no root, no lab), the loader and planner of `services:`, and the parsers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.plan.planner import make_plan
from lab.plan.render import render_plan
from lab.state.info import LabInfo
from lab.topology import parse_topology
from lab.verify.connect import describe, parse_exchanges
from lab.vm import vm_agent
from lab.vm.services import AGENT, ServicePlan, agent_argv, service_of

TOPO = """
name: svc
fabric: {overlay: {subnet: 192.0.2.0/24}}
nodes: {central: {role: central}, worker1: {role: chassis}}
ovn: {switches: {net1: {}}}
vms:
  vm1: {chassis: worker1, switch: net1, mac: "40:44:00:00:00:01", ip: 10.0.0.10/24,
        services: [{tcp: 8080}, {udp: 5353}]}
  vm2: {chassis: worker1, switch: net1, mac: "40:44:00:00:00:02", ip: 10.0.0.11/24}
checks:
  - connect: {from: vm2, to: vm1, port: 8080, proto: tcp}
  - connect: {from: vm2, to: vm1, port: 5353, proto: udp, expect: reach}
  - connect: {from: vm1, to: 10.0.0.11, port: 22, expect: no-reach, timeout: 1}
"""


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    proto = request.param
    port = _free_port(socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    proc = subprocess.Popen(
        agent_argv("serve", proto, str(port), "vm9"), stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert "listening" in proc.stdout.readline()
    try:
        yield proto, port
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("server", ["tcp", "udp"], indirect=True)
def test_the_agent_answers_with_the_vm_name(server: tuple[str, int]) -> None:
    proto, port = server
    result = vm_agent.exchange(proto, "127.0.0.1", port, 2.0, "vm1")
    assert result["outcome"] == "answered"
    assert result["answer"] == "vm9"
    assert str(result["reply"]).startswith(f"vm9 {proto}/{port} 127.0.0.1:")
    assert 0 < float(result["seconds"]) < 2  # type: ignore[arg-type]


@pytest.mark.parametrize("server", ["tcp", "udp"], indirect=True)
def test_the_agent_answers_over_ipv6_on_the_same_socket(server: tuple[str, int]) -> None:
    """One dual-stack socket: the IPv6 VIP's backends are the same servers."""
    proto, port = server
    result = vm_agent.exchange(proto, "::1", port, 2.0, "vm1")
    assert result["outcome"] == "answered" and result["answer"] == "vm9", result
    assert str(result["reply"]).startswith(f"vm9 {proto}/{port} ::1:")


def test_a_closed_tcp_port_is_refused_and_a_closed_udp_port_too() -> None:
    tcp = vm_agent.exchange("tcp", "127.0.0.1", _free_port(socket.SOCK_STREAM), 2.0, "x")
    udp = vm_agent.exchange("udp", "127.0.0.1", _free_port(socket.SOCK_DGRAM), 2.0, "x")
    assert tcp["outcome"] == "refused"  # RST
    assert udp["outcome"] == "refused"  # ICMP port unreachable on the connected socket


def test_silence_is_a_timeout_after_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:  # bound, never answers
        sink.bind(("127.0.0.1", 0))
        start = time.monotonic()
        result = vm_agent.exchange("udp", "127.0.0.1", sink.getsockname()[1], 0.6, "x")
    assert result["outcome"] == "timeout" and result["answer"] is None
    assert 0.55 < time.monotonic() - start < 2


@pytest.mark.parametrize("server", ["tcp"], indirect=True)
def test_the_client_command_prints_one_json_line_per_exchange(server: tuple[str, int]) -> None:
    _, port = server
    argv = [sys.executable, "-I", str(AGENT), "connect", "tcp", "127.0.0.1", str(port)]
    out = subprocess.run([*argv, "1", "3", "vm1"], capture_output=True, text=True, check=True)
    found = parse_exchanges(out.stdout)
    assert [e.answer for e in found] == ["vm9"] * 3
    assert all(e.answered and e.local and e.local.startswith("127.0.0.1:") for e in found)
    assert describe(found[0], "tcp", port).startswith(f"vm9 answered tcp/{port} in ")


def test_services_are_loaded_planned_and_shown_in_the_dry_run() -> None:
    topo = parse_topology(TOPO, "svc.yaml")
    assert [(s.proto, s.port) for s in topo.vms["vm1"].services] == [("tcp", 8080), ("udp", 5353)]
    plan = make_plan(topo)
    assert plan.vms["vm1"].services == (("tcp", 8080), ("udp", 5353))
    assert plan.vms["vm2"].services == ()
    text = render_plan(plan)
    assert "ip netns exec svc.vm1 python3 -I lab/vm/vm_agent.py serve udp 5353 vm1 &" in text


def test_service_files_and_lookup(tmp_path: Path) -> None:
    plan = ServicePlan("vm1", "svc-vm1", "udp", 5353)
    assert plan.key == "vm1:udp:5353"
    pidfile, log = plan.files(tmp_path)
    assert pidfile == tmp_path / "services" / "vm1-udp-5353.pid"
    assert log.name == "vm1-udp-5353.log"
    info = LabInfo.from_json({"services": {"vm1": [{"proto": "udp", "port": 5353, "pid": 1}]}})
    assert service_of(info, "vm1", "udp", 5353)
    assert not service_of(info, "vm1", "tcp", 5353)
    assert not service_of(info, "vm2", "udp", 5353)
