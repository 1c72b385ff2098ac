"""DHCPv4 messages (RFC 2131/2132): build a client's DISCOVER / REQUEST, parse OFFER / ACK.

Pure byte handling, so it is unit-tested without a network.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

MAGIC = bytes([99, 130, 83, 99])
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK = 1, 2, 3, 4, 5, 6
# option codes
SUBNET_MASK, ROUTER, DNS, DOMAIN_NAME, MTU = 1, 3, 6, 15, 26
REQUESTED_IP, LEASE_TIME, MSG_TYPE, SERVER_ID, PARAMS, CLIENT_ID = 50, 51, 53, 54, 55, 61
CLASSLESS_ROUTES, END, PAD = 121, 255, 0
ASKED = [SUBNET_MASK, ROUTER, DNS, DOMAIN_NAME, MTU, LEASE_TIME, SERVER_ID, CLASSLESS_ROUTES]
NAMES = {OFFER: "OFFER", ACK: "ACK", NAK: "NAK"}


@dataclass
class Reply:
    """An OFFER, ACK or NAK from the server, decoded."""

    kind: int
    xid: int
    yiaddr: IPv4Address
    options: dict[int, bytes] = field(default_factory=dict)

    def addresses(self, code: int) -> list[IPv4Address]:
        raw = self.options.get(code, b"")
        return [IPv4Address(raw[i : i + 4]) for i in range(0, len(raw) - 3, 4)]

    @property
    def prefixlen(self) -> int:
        mask = self.options.get(SUBNET_MASK)
        return IPv4Network(f"0.0.0.0/{IPv4Address(mask)}").prefixlen if mask else 32

    @property
    def server_id(self) -> IPv4Address | None:
        found = self.addresses(SERVER_ID)
        return found[0] if found else None

    @property
    def lease_time(self) -> int | None:
        raw = self.options.get(LEASE_TIME)
        return struct.unpack("!I", raw)[0] if raw and len(raw) == 4 else None

    @property
    def mtu(self) -> int | None:
        raw = self.options.get(MTU)
        return struct.unpack("!H", raw)[0] if raw and len(raw) == 2 else None

    @property
    def domain(self) -> str | None:
        raw = self.options.get(DOMAIN_NAME)
        return raw.decode(errors="replace").rstrip("\0") if raw else None

    def summary(self) -> dict[str, object]:
        """What the client writes into its lease file."""
        routers = self.addresses(ROUTER)
        return {
            "address": f"{self.yiaddr}/{self.prefixlen}",
            "server_id": str(self.server_id) if self.server_id else None,
            "router": str(routers[0]) if routers else None,
            "dns": [str(a) for a in self.addresses(DNS)],
            "mtu": self.mtu,
            "lease_time": self.lease_time,
            "domain": self.domain,
        }


def _options(items: list[tuple[int, bytes]]) -> bytes:
    out = b"".join(bytes([code, len(value)]) + value for code, value in items)
    return MAGIC + out + bytes([END])


def message(
    kind: int,
    xid: int,
    mac: str,
    requested: IPv4Address | None = None,
    server: IPv4Address | None = None,
    ciaddr: IPv4Address | None = None,
) -> bytes:
    """A client message: DISCOVER, REQUEST (selecting: `requested` + `server`; renewing:
    `ciaddr`, as RFC 2131 4.3.2 says)."""
    hw = bytes.fromhex(mac.replace(":", ""))
    header = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1,  # BOOTREQUEST
        1,  # Ethernet
        6,
        0,
        xid,
        0,
        0,  # no broadcast flag: the reply comes to the offered address
        (ciaddr or IPv4Address(0)).packed,
        bytes(4),
        bytes(4),
        bytes(4),
        hw.ljust(16, b"\0"),
        bytes(64),
        bytes(128),
    )
    items = [(MSG_TYPE, bytes([kind])), (CLIENT_ID, b"\x01" + hw), (PARAMS, bytes(ASKED))]
    if requested is not None:
        items.append((REQUESTED_IP, requested.packed))
    if server is not None:
        items.append((SERVER_ID, server.packed))
    return header + _options(items)


def parse(data: bytes, xid: int) -> Reply | None:
    """A server's reply to transaction `xid`, or None for anything else."""
    if len(data) < 240 or data[0] != 2 or data[236:240] != MAGIC:
        return None
    (got_xid,) = struct.unpack("!I", data[4:8])
    if got_xid != xid:
        return None
    options: dict[int, bytes] = {}
    i = 240
    while i < len(data):
        code = data[i]
        if code == END:
            break
        if code == PAD:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        length = data[i + 1]
        options[code] = options.get(code, b"") + data[i + 2 : i + 2 + length]
        i += 2 + length
    kind = options.get(MSG_TYPE, b"\0")[0]
    if kind not in NAMES:
        return None
    return Reply(kind, got_xid, IPv4Address(data[16:20]), options)


def udp_payload(packet: bytes, port: int = 68) -> bytes | None:
    """The UDP payload of an IPv4 packet (as an AF_PACKET/SOCK_DGRAM socket reads it) sent
    to `port`, or None."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 17:
        return None
    ihl = (packet[0] & 0x0F) * 4
    (dport,) = struct.unpack("!H", packet[ihl + 2 : ihl + 4])
    return packet[ihl + 8 :] if dport == port else None
