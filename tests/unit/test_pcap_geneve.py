"""Geneve decoded from pcap bytes: outer IPv4 and IPv6, several options, inner protocols;
the frames are built here byte by byte, the way RFC 8926 lays them out."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from lab.verify import geneve as gv
from lab.verify import pcap

MAC_A = bytes.fromhex("400000000001")
MAC_B = bytes.fromhex("400000000002")


def eth(ethertype: int, payload: bytes, vlan: int | None = None) -> bytes:
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return MAC_B + MAC_A + tag + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0,
        0,
        64,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


def ipv6(src: str, dst: str, proto: int, payload: bytes, hop_by_hop: bool = False) -> bytes:
    if hop_by_hop:  # an extension header to skip
        payload = struct.pack("!BB6x", proto, 0) + payload
        proto = 0
    return (
        struct.pack("!IHBB", 6 << 28, len(payload), proto, 64)
        + ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + payload
    )


def udp(dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload


def geneve(vni: int, options: list[tuple[int, int, bytes]], inner: bytes) -> bytes:
    opts = b"".join(struct.pack("!HBB", c, t, len(d) // 4) + d for c, t, d in options)
    head = struct.pack("!BBH", len(opts) // 4, 0, 0x6558) + vni.to_bytes(3, "big") + b"\0"
    return head + opts + inner


ICMP_REQUEST = bytes([8, 0, 0, 0, 0, 1, 0, 1])
OVN = (0x0102, 0x80, bytes.fromhex("00020001"))


def test_outer_ipv4_ovn_option_inner_icmp() -> None:
    inner = eth(0x0800, ipv4("10.0.0.10", "20.0.0.10", 1, ICMP_REQUEST))
    frame = eth(0x0800, ipv4("192.0.2.11", "192.0.2.12", 17, udp(6081, geneve(2, [OVN], inner))))
    (p,) = pcap.geneve(pcap.write_pcap([frame]))
    assert (p.outer_src, p.outer_dst, p.vni) == ("192.0.2.11", "192.0.2.12", 2)
    assert p.inner and (p.inner.src, p.inner.dst, p.inner.icmp) == (
        "10.0.0.10",
        "20.0.0.10",
        "echo request",
    )
    (g,) = gv.from_pcap(pcap.write_pcap([frame]))
    assert g.is_ovn and (g.ingress_key, g.egress_key) == (2, 1)


def test_outer_ipv6_vlan_several_options_inner_tcp_ipv6() -> None:
    tcp = struct.pack("!HH", 5555, 8080) + b"\0" * 16
    inner = eth(0x86DD, ipv6("2001:db8:1::10", "2001:db8:2::10", 6, tcp))
    options = [(0xFFFF, 0x01, b"\xaa" * 8), OVN, (0x0103, 0x05, b"")]
    packet = ipv6("2001:db8::11", "2001:db8::12", 17, udp(6081, geneve(7, options, inner)), True)
    frame = eth(0x86DD, packet, vlan=100)
    (p,) = pcap.geneve(pcap.write_pcap([frame]))
    assert (p.outer_src, p.vni) == ("2001:db8::11", 7)
    assert [(o.option_class, o.option_type, len(o.data)) for o in p.options] == [
        (0xFFFF, 1, 8),
        (0x0102, 0x80, 4),
        (0x0103, 5, 0),
    ]
    assert p.option(0x0102, 0x80).critical
    assert p.inner and (p.inner.proto, p.inner.sport, p.inner.dport) == ("tcp", 5555, 8080)
    (g,) = gv.from_pcap(pcap.write_pcap([frame]))
    assert g.is_ovn and g.options == 3 and g.egress_key == 1


def test_inner_arp_and_unknown_and_non_geneve_skipped() -> None:
    arp = (
        struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
        + MAC_A
        + bytes([10, 0, 0, 10])
        + b"\0" * 6
        + bytes([10, 0, 0, 1])
    )
    frames = [
        eth(
            0x0800,
            ipv4("192.0.2.11", "192.0.2.12", 17, udp(6081, geneve(1, [OVN], eth(0x0806, arp)))),
        ),
        eth(
            0x0800,
            ipv4("192.0.2.11", "192.0.2.12", 17, udp(6081, geneve(1, [], eth(0x88CC, b"lldp")))),
        ),
        eth(0x0800, ipv4("192.0.2.11", "192.0.2.12", 17, udp(53, b"\0" * 12))),  # DNS, not Geneve
        eth(0x0806, arp),
    ]
    decoded = pcap.geneve(pcap.write_pcap(frames))
    assert [d.inner.proto for d in decoded if d.inner] == ["arp", "ethertype 0x88cc"]
    assert decoded[0].inner and (decoded[0].inner.src, decoded[0].inner.dst) == (
        "10.0.0.10",
        "10.0.0.1",
    )
    assert decoded[1].options == []


def test_cooked_capture_and_bad_files() -> None:
    inner = eth(0x0800, ipv4("10.0.0.10", "20.0.0.10", 1, ICMP_REQUEST))
    packet = ipv4("192.0.2.11", "192.0.2.12", 17, udp(6081, geneve(2, [OVN], inner)))
    sll = struct.pack("!HHH8sH", 0, 1, 6, MAC_A + b"\0\0", 0x0800) + packet
    (p,) = pcap.geneve(pcap.write_pcap([sll], linktype=pcap.LINKTYPE_LINUX_SLL))
    assert p.vni == 2
    with pytest.raises(pcap.PcapError):
        pcap.packets(b"\x0a\x0d\x0d\x0a" + b"\0" * 40)  # pcapng
    with pytest.raises(pcap.PcapError):
        pcap.packets(b"short")
