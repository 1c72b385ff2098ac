"""Geneve decoded from the bytes of a pcap file (RFC 8926), not from tcpdump's text.

Reads classic pcap files (either byte order, micro- or nanosecond stamps) with Ethernet,
Linux cooked (SLL, SLL2) or raw IP link types; outer Ethernet with any number of VLAN
tags, outer IPv4 or IPv6 (extension headers skipped), UDP to port 6081, every Geneve
option, and the inner frame whatever it carries (IPv4/IPv6 with ICMP, ICMPv6, TCP, UDP;
ARP; anything else by EtherType).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

GENEVE_PORT = 6081
ETH_P_TEB = 0x6558  # Geneve protocol type: an Ethernet frame inside
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options
ICMP_NAMES = {0: "echo reply", 8: "echo request", 3: "unreachable", 11: "time exceeded"}
ICMP6_NAMES = {
    128: "echo request",
    129: "echo reply",
    135: "neighbor solicitation",
    136: "neighbor advertisement",
}


class PcapError(ValueError):
    """The bytes are not a pcap file this reader knows."""


@dataclass
class Option:
    option_class: int
    option_type: int
    data: bytes

    @property
    def critical(self) -> bool:
        return bool(self.option_type & 0x80)


@dataclass
class Inner:
    ethertype: int
    src_mac: str
    dst_mac: str
    src: str | None = None  # IP addresses (or ARP sender/target)
    dst: str | None = None
    proto: str = ""  # icmp | icmp6 | tcp | udp | arp | ethertype 0x....
    icmp: str | None = None  # "echo request", ...
    sport: int | None = None
    dport: int | None = None


@dataclass
class Geneve:
    time: float
    outer_src: str
    outer_dst: str
    vni: int
    protocol: int
    oam: bool
    critical: bool
    options: list[Option] = field(default_factory=list)
    inner: Inner | None = None

    def option(self, option_class: int, option_type: int) -> Option | None:
        for opt in self.options:
            if (opt.option_class, opt.option_type & 0x7F) == (option_class, option_type & 0x7F):
                return opt
        return None


def packets(data: bytes) -> list[tuple[float, int, bytes]]:
    """(time, link type, frame) for every record of a classic pcap file."""
    if len(data) < 24:
        raise PcapError("too short for a pcap file header")
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
        b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
        b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    if magic not in formats:
        raise PcapError(f"not a pcap file (magic {magic.hex()}); pcapng is not read")
    order, unit = formats[magic]
    (linktype,) = struct.unpack_from(order + "I", data, 20)
    linktype &= 0x0FFFFFFF
    out = []
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(order + "IIII", data, offset)
        offset += 16
        frame = data[offset : offset + incl]
        offset += incl
        out.append((sec + frac * unit, linktype, frame))
    return out


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _ethernet(frame: bytes) -> tuple[int, bytes, str, str] | None:
    """(ethertype, payload, src, dst) past any VLAN tags."""
    if len(frame) < 14:
        return None
    dst, src = _mac(frame[0:6]), _mac(frame[6:12])
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    offset = 14
    while ethertype in VLAN_TYPES and len(frame) >= offset + 4:
        (ethertype,) = struct.unpack_from("!H", frame, offset + 2)
        offset += 4
    return ethertype, frame[offset:], src, dst


def _ip(ethertype: int, payload: bytes) -> tuple[str, str, int, bytes] | None:
    """(src, dst, protocol, transport payload) of IPv4 or IPv6."""
    if ethertype == 0x0800 and len(payload) >= 20 and payload[0] >> 4 == 4:
        ihl = (payload[0] & 0x0F) * 4
        (total,) = struct.unpack_from("!H", payload, 2)
        src = str(ipaddress.IPv4Address(payload[12:16]))
        dst = str(ipaddress.IPv4Address(payload[16:20]))
        return src, dst, payload[9], payload[ihl : max(ihl, total)]
    if ethertype == 0x86DD and len(payload) >= 40 and payload[0] >> 4 == 6:
        (length,) = struct.unpack_from("!H", payload, 4)
        proto = payload[6]
        src = str(ipaddress.IPv6Address(payload[8:24]))
        dst = str(ipaddress.IPv6Address(payload[24:40]))
        rest = payload[40 : 40 + length]
        while proto in IPV6_EXTENSIONS and len(rest) >= 8:
            proto, ext_len = rest[0], (rest[1] + 1) * 8
            rest = rest[ext_len:]
        return src, dst, proto, rest
    return None


def _outer(linktype: int, frame: bytes) -> tuple[int, bytes] | None:
    """(ethertype, network-layer bytes) of a captured frame."""
    if linktype == LINKTYPE_ETHERNET:
        eth = _ethernet(frame)
        return (eth[0], eth[1]) if eth else None
    if linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        return struct.unpack_from("!H", frame, 14)[0], frame[16:]
    if linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        return struct.unpack_from("!H", frame, 0)[0], frame[20:]
    if linktype == LINKTYPE_RAW and frame:
        return (0x0800 if frame[0] >> 4 == 4 else 0x86DD), frame
    return None


def _inner(protocol: int, payload: bytes) -> Inner | None:
    if protocol != ETH_P_TEB:
        return None
    eth = _ethernet(payload)
    if eth is None:
        return None
    ethertype, body, src_mac, dst_mac = eth
    inner = Inner(ethertype, src_mac, dst_mac, proto=f"ethertype 0x{ethertype:04x}")
    if ethertype == 0x0806 and len(body) >= 28:
        inner.proto = "arp"
        inner.src = str(ipaddress.IPv4Address(body[14:18]))
        inner.dst = str(ipaddress.IPv4Address(body[24:28]))
        return inner
    ip = _ip(ethertype, body)
    if ip is None:
        return inner
    inner.src, inner.dst, proto, rest = ip
    if proto == 1 and rest:
        inner.proto, inner.icmp = "icmp", ICMP_NAMES.get(rest[0], f"type {rest[0]}")
    elif proto == 58 and rest:
        inner.proto, inner.icmp = "icmp6", ICMP6_NAMES.get(rest[0], f"type {rest[0]}")
    elif proto in (6, 17) and len(rest) >= 4:
        inner.proto = "tcp" if proto == 6 else "udp"
        inner.sport, inner.dport = struct.unpack_from("!HH", rest, 0)
    else:
        inner.proto = f"ip proto {proto}"
    return inner


def geneve(data: bytes, port: int = GENEVE_PORT) -> list[Geneve]:
    """Every Geneve packet (UDP to `port`) of a pcap file, decoded."""
    found = []
    for stamp, linktype, frame in packets(data):
        outer = _outer(linktype, frame)
        if outer is None:
            continue
        ip = _ip(*outer)
        if ip is None or ip[2] != 17 or len(ip[3]) < 8 + 8:
            continue
        src, dst, _, udp = ip
        (dport,) = struct.unpack_from("!H", udp, 2)
        if dport != port:
            continue
        gen = udp[8:]
        first, flags, protocol = struct.unpack_from("!BBH", gen, 0)
        if first >> 6 != 0:  # only version 0 exists
            continue
        opt_len = (first & 0x3F) * 4
        vni = int.from_bytes(gen[4:7], "big")
        options = []
        pos, end = 8, min(8 + opt_len, len(gen))
        while pos + 4 <= end:
            option_class, option_type, length = struct.unpack_from("!HBB", gen, pos)
            size = (length & 0x1F) * 4
            options.append(Option(option_class, option_type, gen[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        found.append(
            Geneve(
                time=stamp,
                outer_src=src,
                outer_dst=dst,
                vni=vni,
                protocol=protocol,
                oam=bool(flags & 0x80),
                critical=bool(flags & 0x40),
                options=options,
                inner=_inner(protocol, gen[8 + opt_len :]),
            )
        )
    return found


def write_pcap(frames: list[bytes], linktype: int = LINKTYPE_ETHERNET) -> bytes:
    """A pcap file of the given frames (tests build captures with it)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for index, frame in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + index, 0, len(frame), len(frame)) + frame)
    return b"".join(out)
