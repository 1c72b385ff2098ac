"""The lab's DHCP client wire formats: what it sends, and how it reads OVN's answers."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from lab.vm.dhcp import proto4, proto6

MAC = "40:44:00:00:00:05"


def _server_reply(kind: int, xid: int, yiaddr: str, options: list[tuple[int, bytes]]) -> bytes:
    """A reply as OVN's pinctrl writes one: BOOTREPLY, yiaddr, options after the cookie."""
    head = bytearray(proto4.message(proto4.DISCOVER, xid, MAC)[:236])
    head[0] = 2
    head[16:20] = IPv4Address(yiaddr).packed
    items = [(proto4.MSG_TYPE, bytes([kind])), *options]
    body = b"".join(bytes([c, len(v)]) + v for c, v in items)
    return bytes(head) + proto4.MAGIC + body + bytes([proto4.END])


def test_discover_is_a_bootrequest_from_our_mac() -> None:
    msg = proto4.message(proto4.DISCOVER, 0x1234, MAC)
    assert msg[0] == 1 and msg[1:3] == b"\x01\x06"
    assert struct.unpack("!I", msg[4:8])[0] == 0x1234
    assert msg[28:34] == bytes.fromhex("404400000005")
    assert msg[236:240] == proto4.MAGIC
    assert bytes([proto4.MSG_TYPE, 1, proto4.DISCOVER]) in msg[240:]


def test_request_names_the_offer_and_the_server() -> None:
    msg = proto4.message(
        proto4.REQUEST, 7, MAC, requested=IPv4Address("10.0.0.2"), server=IPv4Address("10.0.0.1")
    )
    assert bytes([proto4.REQUESTED_IP, 4, 10, 0, 0, 2]) in msg
    assert bytes([proto4.SERVER_ID, 4, 10, 0, 0, 1]) in msg
    renew = proto4.message(proto4.REQUEST, 8, MAC, ciaddr=IPv4Address("10.0.0.2"))
    assert renew[12:16] == IPv4Address("10.0.0.2").packed


def test_ack_decoded_into_the_lease() -> None:
    data = _server_reply(
        proto4.ACK,
        99,
        "10.0.0.2",
        [
            (proto4.SUBNET_MASK, IPv4Address("255.255.255.0").packed),
            (proto4.ROUTER, IPv4Address("10.0.0.1").packed),
            (proto4.DNS, IPv4Address("10.0.0.1").packed + IPv4Address("10.0.0.53").packed),
            (proto4.LEASE_TIME, struct.pack("!I", 600)),
            (proto4.MTU, struct.pack("!H", 1400)),
            (proto4.SERVER_ID, IPv4Address("10.0.0.1").packed),
        ],
    )
    assert proto4.parse(data, 98) is None  # another transaction
    ack = proto4.parse(data, 99)
    assert ack is not None and ack.kind == proto4.ACK
    assert ack.summary() == {
        "address": "10.0.0.2/24",
        "server_id": "10.0.0.1",
        "router": "10.0.0.1",
        "dns": ["10.0.0.1", "10.0.0.53"],
        "mtu": 1400,
        "lease_time": 600,
        "domain": None,
    }


def test_udp_payload_only_for_the_client_port() -> None:
    payload = b"x" * 8
    udp = struct.pack("!HHHH", 67, 68, 8 + len(payload), 0) + payload
    ip = bytes([0x45, 0, 0, 20 + len(udp), 0, 0, 0, 0, 64, 17, 0, 0]) + bytes(8)
    assert proto4.udp_payload(ip + udp) == payload
    assert proto4.udp_payload(ip + udp, port=67) is None


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("!HH", code, len(value)) + value


def test_dhcpv6_solicit_and_reply() -> None:
    msg = proto6.message(proto6.SOLICIT, 0xABCDEF, MAC)
    assert msg[0] == proto6.SOLICIT and msg[1:4] == b"\xab\xcd\xef"
    assert _opt(proto6.CLIENTID, proto6.duid_ll(MAC)) in msg
    assert struct.pack("!HH", proto6.IA_NA, 12) in msg  # an IA_NA without an address yet
    info = proto6.message(proto6.INFORMATION_REQUEST, 1, MAC)
    assert struct.pack("!HH", proto6.IA_NA, 12) not in info  # stateless: no address asked
    address = IPv6Address("2001:db8:1:0:4244:ff:fe00:5")
    iaaddr = _opt(proto6.IAADDR, address.packed + struct.pack("!II", 3600, 7200))
    reply = (
        struct.pack("!I", (proto6.REPLY << 24) | 0xABCDEF)
        + _opt(proto6.SERVERID, b"\x00\x03\x00\x01" + bytes.fromhex("404400000003"))
        + _opt(proto6.CLIENTID, proto6.duid_ll(MAC))
        + _opt(proto6.IA_NA, struct.pack("!III", 1, 0, 0) + iaaddr)
        + _opt(proto6.DNS_SERVERS, IPv6Address("2001:db8:1::1").packed)
    )
    assert proto6.parse(reply, 0xABCDEF, "40:44:00:00:00:09") is None  # someone else's
    got = proto6.parse(reply, 0xABCDEF, MAC)
    assert got is not None and got.kind == proto6.REPLY
    assert (got.address, got.preferred, got.valid) == (address, 3600, 7200)
    assert got.dns == [IPv6Address("2001:db8:1::1")]
