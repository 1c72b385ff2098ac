"""A one-question DNS client (RFC 1035) for the `dns` check, run inside a VM's namespace:
`python -m lab.vm.dhcp.dnsquery SERVER NAME A|AAAA` prints the answer as JSON. A stub
resolver of its own, so the check needs no dig/nslookup and reads no resolv.conf of the
host: the server is the one the VM learned by DHCP."""

from __future__ import annotations

import json
import random
import socket
import struct
import sys
from ipaddress import IPv4Address, IPv6Address, ip_address

TYPES = {"A": 1, "AAAA": 28}


def query(name: str, qtype: int, qid: int) -> bytes:
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # recursion desired, 1 question
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".") if p)
    return header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def _skip_name(data: bytes, i: int) -> int:
    while i < len(data):
        length = data[i]
        if length == 0:
            return i + 1
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return i + 2
        i += 1 + length
    return i


def parse(data: bytes, qid: int) -> dict[str, object]:
    """rcode, flags and the A/AAAA answers of a response to query `qid`."""
    got, flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    if got != qid or not flags & 0x8000:
        raise ValueError("not the answer to our question")
    i = 12
    for _ in range(qd):
        i = _skip_name(data, i) + 4
    answers: list[dict[str, object]] = []
    for _ in range(an):
        i = _skip_name(data, i)
        rtype, _, ttl, length = struct.unpack("!HHIH", data[i : i + 10])
        i += 10
        rdata = data[i : i + length]
        i += length
        if rtype == 1 and length == 4:
            answers.append({"type": "A", "address": str(IPv4Address(rdata)), "ttl": ttl})
        elif rtype == 28 and length == 16:
            answers.append({"type": "AAAA", "address": str(IPv6Address(rdata)), "ttl": ttl})
    return {
        "rcode": flags & 0x0F,
        "authoritative": bool(flags & 0x0400),
        "answers": answers,
    }


def ask(server: str, name: str, qtype: str, timeout: float = 2.0) -> dict[str, object]:
    family = socket.AF_INET6 if ip_address(server).version == 6 else socket.AF_INET
    qid = random.getrandbits(16)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((server, 53))
        for _attempt in range(3):
            sock.send(query(name, TYPES[qtype], qid))
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            return {"server": server, "from": peer[0], **parse(data, qid)}
    return {"server": server, "error": f"no answer within {3 * timeout:.0f} s"}


def main(argv: list[str]) -> int:
    server, name, qtype = argv
    print(json.dumps(ask(server, name, qtype)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
