"""DHCPv6 messages (RFC 8415): a client's SOLICIT / REQUEST / INFORMATION-REQUEST, and the
server's ADVERTISE / REPLY decoded. Pure byte handling."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv6Address

SOLICIT, ADVERTISE, REQUEST, REPLY, INFORMATION_REQUEST = 1, 2, 3, 7, 11
CLIENTID, SERVERID, IA_NA, IAADDR, ORO, ELAPSED, STATUS = 1, 2, 3, 5, 6, 8, 13
DNS_SERVERS, DOMAIN_LIST = 23, 24
IAID = 1  # one interface, one identity association
INFINITE = 0xFFFFFFFF


def duid_ll(mac: str) -> bytes:
    """DUID-LL (type 3, Ethernet): stable per MAC, stored nowhere."""
    return struct.pack("!HH", 3, 1) + bytes.fromhex(mac.replace(":", ""))


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("!HH", code, len(value)) + value


def message(
    kind: int,
    xid: int,
    mac: str,
    server_duid: bytes | None = None,
    address: IPv6Address | None = None,
) -> bytes:
    """SOLICIT / REQUEST (asks for an address: IA_NA) or INFORMATION-REQUEST (only DNS)."""
    body = _opt(CLIENTID, duid_ll(mac)) + _opt(ELAPSED, b"\0\0")
    body += _opt(ORO, struct.pack("!HH", DNS_SERVERS, DOMAIN_LIST))
    if server_duid is not None:
        body += _opt(SERVERID, server_duid)
    if kind in (SOLICIT, REQUEST):
        inner = b"" if address is None else _opt(IAADDR, address.packed + bytes(8))
        body += _opt(IA_NA, struct.pack("!III", IAID, 0, 0) + inner)
    return struct.pack("!I", (kind << 24) | (xid & 0xFFFFFF)) + body


def _walk(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    i = 0
    while i + 4 <= len(data):
        code, length = struct.unpack("!HH", data[i : i + 4])
        out.append((code, data[i + 4 : i + 4 + length]))
        i += 4 + length
    return out


@dataclass
class Reply:
    kind: int
    server_duid: bytes | None
    address: IPv6Address | None = None
    preferred: int = 0
    valid: int = 0
    dns: list[IPv6Address] = field(default_factory=list)
    status: int = 0  # a status code in the IA (0: success)

    def summary(self) -> dict[str, object]:
        return {
            "address": f"{self.address}/128" if self.address else None,
            "server_duid": self.server_duid.hex() if self.server_duid else None,
            "preferred_lft": self.preferred,
            "valid_lft": self.valid,
            "dns": [str(a) for a in self.dns],
        }


def parse(data: bytes, xid: int, mac: str) -> Reply | None:
    """ADVERTISE or REPLY for transaction `xid` and this client, or None."""
    if len(data) < 4:
        return None
    (head,) = struct.unpack("!I", data[:4])
    kind, got = head >> 24, head & 0xFFFFFF
    if kind not in (ADVERTISE, REPLY) or got != xid & 0xFFFFFF:
        return None
    options = _walk(data[4:])
    if (CLIENTID, duid_ll(mac)) not in options:
        return None
    reply = Reply(kind, next((v for c, v in options if c == SERVERID), None))
    for code, value in options:
        if code == DNS_SERVERS:
            reply.dns += [IPv6Address(value[i : i + 16]) for i in range(0, len(value) - 15, 16)]
        elif code == IA_NA and len(value) >= 12:
            for inner, raw in _walk(value[12:]):
                if inner == IAADDR and len(raw) >= 24:
                    reply.address = IPv6Address(raw[:16])
                    reply.preferred, reply.valid = struct.unpack("!II", raw[16:24])
                elif inner == STATUS and len(raw) >= 2:
                    (reply.status,) = struct.unpack("!H", raw[:2])
    return reply
