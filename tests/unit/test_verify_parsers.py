"""Check parsers on outputs captured from a real seed lab (OVS 3.1, OVN 23.03)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.verify import flows as fl
from lab.verify import geneve as gv
from lab.verify import ping as pg
from lab.verify import trace as tr

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_ping_ok_reports_ttl_loss_and_rtt() -> None:
    result = pg.parse_ping(read("ping-ok.txt"))
    assert (result.transmitted, result.received, result.loss_pct) == (3, 3, 0.0)
    assert result.ttls == [63, 63, 63]
    assert result.rtt_avg_ms == pytest.approx(2.219)
    assert result.reached


def test_ping_total_loss() -> None:
    result = pg.parse_ping(read("ping-fail.txt"))
    assert (result.received, result.loss_pct, result.ttls) == (0, 100.0, [])
    assert not result.reached


def test_ping_without_statistics_is_an_error() -> None:
    with pytest.raises(ValueError):
        pg.parse_ping("ping: connect: Network is unreachable\n")


@pytest.mark.parametrize("name", ["ovn-trace-summary.txt", "ovn-trace-detailed.txt"])
def test_trace_path_and_output(name: str) -> None:
    trace = tr.parse_trace(read(name))
    assert trace.datapaths == ["network1", "router1", "network2"]
    assert trace.output == "vm2"
    assert not trace.dropped
    assert trace.ingress_port_on("network2") == "net2-router1"
    assert [(h.pipeline, h.datapath) for h in trace.hops] == [
        ("ingress", "network1"),
        ("egress", "network1"),
        ("ingress", "router1"),
        ("egress", "router1"),
        ("ingress", "network2"),
        ("egress", "network2"),
    ]


def test_trace_drop_is_located_and_explained() -> None:
    trace = tr.parse_trace(read("ovn-trace-detailed-noroute.txt"))
    assert trace.datapaths == ["network1", "router1"]
    assert trace.output is None and trace.dropped
    assert trace.last_stage is not None
    assert (trace.last_stage.table, trace.last_stage.name) == (13, "lr_in_ip_routing")
    text = tr.explain_drop(trace)
    assert "router1" in text and "lr_in_ip_routing" in text and "no route" in text


def test_trace_summary_drop_without_stage_names() -> None:
    trace = tr.parse_trace(read("ovn-trace-summary-noroute.txt"))
    assert trace.dropped and trace.output is None
    assert tr.explain_drop(trace) == "dropped in the ingress pipeline of router1"


def test_microflow_matches_the_seed_article() -> None:
    flow = tr.microflow("vm1", "40:44:00:00:00:01", "40:44:00:00:00:03", "10.0.0.10", "20.0.0.10")
    assert flow == (
        'inport == "vm1" && eth.src == 40:44:00:00:00:01 && eth.dst == 40:44:00:00:00:03 && '
        "ip4.src == 10.0.0.10 && ip4.dst == 20.0.0.10 && ip.ttl == 64"
    )


def test_geneve_decode_vni_and_option_bits() -> None:
    packets = gv.parse_geneve(read("tcpdump-geneve.txt"))
    assert len(packets) == 4
    request, reply = packets[0], packets[1]
    assert (request.icmp, request.inner_src, request.inner_dst) == (
        "echo request",
        "10.0.0.10",
        "20.0.0.10",
    )
    assert (request.outer_src, request.outer_dst) == ("192.0.2.12", "192.0.2.13")
    assert request.is_ovn and request.option_class == 0x102 and request.option_type == 0x80
    assert (request.vni, request.data, request.ingress_key, request.egress_key) == (
        1,
        "00010002",
        1,
        2,
    )
    assert reply.icmp == "echo reply" and reply.vni == 2


def test_geneve_option_split_like_the_seed() -> None:
    """The seed's data 00020001: ingress port key 2 (bits 16-30), egress port key 1."""
    packet = gv.GenevePacket("a", "b", 8, 0x102, 0x80, "00020001", None, None, None)
    assert (packet.ingress_key, packet.egress_key) == (2, 1)
    # bit 31 is not part of the 15-bit ingress key
    assert gv.GenevePacket("a", "b", 8, 0x102, 0x80, "80020001", None, None, None).ingress_key == 2


def test_dump_flows_parse_and_idle_age_filter() -> None:
    flows = fl.parse_dump_flows(read("dump-flows-table0.txt") + read("dump-flows-table65.txt"))
    assert {f.table for f in flows} == {0, 65}
    tunnel = [f for f in flows if f.is_tunnel_input]
    assert len(tunnel) == 1 and tunnel[0].match_fields()["in_port"] == "2"
    assert all(f.idle_age == 0 for f in fl.recently_hit(flows, 0))
    assert not any(f.n_packets == 0 for f in fl.recently_hit(flows, 5))
    out = fl.output_flow_for(flows, port_key=2, datapath_key=1)
    assert out is not None and out.table == 65 and out.output_port == 1
    assert fl.output_flow_for(flows, port_key=9, datapath_key=1) is None


def test_ofctl_show_maps_ofports_to_interfaces() -> None:
    assert fl.parse_ofctl_show(read("ofctl-show.txt")) == {1: "vm2", 2: "ovn-worker-0"}
