"""Geneve: capture the underlay with tcpdump and decode OVN's tunnel metadata (from a pcap's
bytes, lab.verify.pcap; tcpdump's text is read only on SSH labs).

OVN puts the logical datapath's tunnel key in the VNI and one option (class
0x0102, type 0x80) whose 32-bit data holds the logical ingress port key in
bits 16-30 and the egress port key in bits 0-15 (ovn-architecture(7)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OVN_OPTION_CLASS = 0x0102
OVN_OPTION_TYPE = 0x80

_HEADER = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d+ ")
_GENEVE = re.compile(
    r"(\S+)\.\d+ > (\S+)\.6081: .*Geneve.*?vni 0x([0-9a-f]+).*?"
    r"options \[class .*?\(0x([0-9a-f]+)\) type 0x([0-9a-f]+)\S* len \d+ data ([0-9a-f]+)\]",
    re.S,
)
# inner IPv4 or IPv6: "10.0.0.10 > 20.0.0.10: ICMP echo request", "2001:db8:1::10 >
# 2001:db8:2::10: [icmp6 sum ok] ICMP6, echo request"
_INNER_IP = re.compile(
    r"([0-9a-f]+[.:][0-9a-f.:]+) > ([0-9a-f]+[.:][0-9a-f.:]+): (?:\[icmp6 sum ok\] )?"
    r"ICMP6?,? (echo request|echo reply)"
)


@dataclass
class GenevePacket:
    outer_src: str
    outer_dst: str
    vni: int
    option_class: int
    option_type: int
    data: str
    inner_src: str | None
    inner_dst: str | None
    icmp: str | None
    options: int = 1  # how many Geneve options the packet carried (pcap decoding)
    inner_proto: str | None = None

    @property
    def ingress_key(self) -> int:
        return (int(self.data, 16) >> 16) & 0x7FFF

    @property
    def egress_key(self) -> int:
        return int(self.data, 16) & 0xFFFF

    @property
    def is_ovn(self) -> bool:
        return self.option_class == OVN_OPTION_CLASS and self.option_type == OVN_OPTION_TYPE


def capture_argv(interface: str, count: int) -> list[str]:
    return [
        "tcpdump",
        "-nn",
        "-vv",
        "-e",
        "-l",
        "-c",
        str(count),
        "-i",
        interface,
        "udp",
        "port",
        "6081",
    ]


def split_packets(output: str) -> list[str]:
    """tcpdump -vv prints one packet over several lines, each packet starting with a time."""
    packets: list[list[str]] = []
    for line in output.splitlines():
        if _HEADER.match(line) or not packets:
            packets.append([line])
        else:
            packets[-1].append(line)
    return ["\n".join(p) for p in packets if p and _HEADER.match(p[0])]


def parse_geneve(output: str) -> list[GenevePacket]:
    result = []
    for text in split_packets(output):
        m = _GENEVE.search(text)
        if not m:
            continue
        inner = _INNER_IP.search(text[m.end() :])
        result.append(
            GenevePacket(
                outer_src=m.group(1),
                outer_dst=m.group(2),
                vni=int(m.group(3), 16),
                option_class=int(m.group(4), 16),
                option_type=int(m.group(5), 16),
                data=m.group(6),
                inner_src=inner.group(1) if inner else None,
                inner_dst=inner.group(2) if inner else None,
                icmp=inner.group(3) if inner else None,
            )
        )
    return result


def pcap_capture_argv(interface: str, count: int, path: str) -> list[str]:
    """tcpdump writing a pcap (packet-buffered, still root so it can write the lab's 0700
    directories) of Geneve on an interface; `path` "-" is stdout."""
    argv = ["tcpdump", "-nn", "-U", "-Z", "root", "-i", interface, "-w", path]
    if count:
        argv += ["-c", str(count)]
    return [*argv, "udp", "port", "6081"]


def from_pcap(data: bytes) -> list[GenevePacket]:
    """Geneve packets of a pcap file, decoded from the bytes (lab.verify.pcap), in the shape
    the geneve check compares: OVN's option (class 0x0102, type 0x80) if it is there."""
    from lab.verify import pcap

    result = []
    for p in pcap.geneve(data):
        opt = p.option(OVN_OPTION_CLASS, OVN_OPTION_TYPE) or (p.options[0] if p.options else None)
        inner = p.inner
        result.append(
            GenevePacket(
                outer_src=p.outer_src,
                outer_dst=p.outer_dst,
                vni=p.vni,
                option_class=opt.option_class if opt else -1,
                option_type=opt.option_type if opt else -1,
                data=opt.data.hex() if opt else "0",
                inner_src=inner.src if inner else None,
                inner_dst=inner.dst if inner else None,
                icmp=inner.icmp if inner else None,
                options=len(p.options),
                inner_proto=inner.proto if inner else None,
            )
        )
    return result
