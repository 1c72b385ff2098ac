"""The lab's DHCP client, run inside a VM's network namespace (`python -m lab.vm.dhcp.client`).

A real client on the wire: DHCPv4 DISCOVER/OFFER/REQUEST/ACK and renewal at T1, DHCPv6
SOLICIT/ADVERTISE/REQUEST/REPLY (stateful) or INFORMATION-REQUEST/REPLY (stateless),
and router solicitations until the kernel has taken OVN's router advertisement (SLAAC
itself is the kernel's). It configures the VM with `ip`, as dhclient-script would, and
writes only into its own directory under the lab's state directory: `lease.json` (what
it got, `ready` once everything asked for is there), `resolv.conf`, its log. Never the
host's /etc/resolv.conf or lease directories. `lab down` kills it with the namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.vm.dhcp import proto4, proto6

LEASE_FILE = "lease.json"
RESOLV_FILE = "resolv.conf"
SO_BINDTODEVICE = 25
ETH_P_IP = 0x0800
FIRST_RETRY, MAX_RETRY = 0.25, 0.5  # OVN answers at once: retry fast until its flows exist


class Agent:
    def __init__(self, args: argparse.Namespace):
        self.ifname: str = args.ifname
        self.mac: str = args.mac.lower()
        self.dir = Path(args.dir)
        self.parts: dict[str, Any] = {}
        self.wanted = {
            k for k, on in (("dhcp4", args.dhcp4), ("dhcp6", args.dhcp6), ("ra", args.ra)) if on
        }
        self.slaac: bool = args.slaac
        self.lock = threading.Lock()
        self.ifindex = socket.if_nametoindex(self.ifname)

    # --- output ----------------------------------------------------------------------------

    def log(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)

    def ip(self, *argv: str) -> None:
        """Configure the VM as dhclient-script would, with iproute2."""
        self.log("ip " + " ".join(argv))
        proc = subprocess.run(["ip", *argv], capture_output=True, text=True)
        if proc.returncode != 0:
            self.log(f"  failed: {proc.stderr.strip()}")

    def done(self, part: str, value: dict[str, Any]) -> None:
        with self.lock:
            self.parts[part] = {**value, "at": round(time.time(), 3)}
            self._write()

    def _write(self) -> None:
        dns: list[str] = []
        for part in ("dhcp4", "dhcp6"):
            dns += [d for d in self.parts.get(part, {}).get("dns", []) if d not in dns]
        domain = self.parts.get("dhcp4", {}).get("domain")
        resolv = "".join(f"nameserver {d}\n" for d in dns) + (
            f"search {domain}\n" if domain else ""
        )
        (self.dir / RESOLV_FILE).write_text(resolv)
        lease = {
            "pid": os.getpid(),
            "ifname": self.ifname,
            "mac": self.mac,
            **self.parts,
            "dns": dns,
            "ready": self.wanted <= set(self.parts),
        }
        tmp = self.dir / (LEASE_FILE + ".tmp")
        tmp.write_text(json.dumps(lease, indent=1))
        tmp.replace(self.dir / LEASE_FILE)

    # --- DHCPv4 ----------------------------------------------------------------------------

    def dhcp4(self) -> None:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        udp.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
        udp.bind(("0.0.0.0", 68))
        # Before it has the address, the reply is addressed to what was offered: the kernel
        # would not deliver it to a UDP socket, so read it off the link, like dhclient does.
        raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        raw.bind((self.ifname, ETH_P_IP))
        while True:
            ack = self._bind4(udp, raw)
            lease = ack.lease_time or 3600
            self._apply4(ack)
            expires = time.monotonic() + lease
            renew_at = time.monotonic() + lease / 2
            while True:  # RENEWING: unicast to the server, until the lease runs out
                time.sleep(max(0.0, renew_at - time.monotonic()))
                if time.monotonic() >= expires:
                    self.log("lease expired; starting over")
                    break
                xid = random.getrandbits(32)
                msg = proto4.message(proto4.REQUEST, xid, self.mac, ciaddr=ack.yiaddr)
                self.log(f"DHCPREQUEST (renew) of {ack.yiaddr} to {ack.server_id}")
                udp.sendto(msg, (str(ack.server_id), 67))
                reply = self._wait4([udp, raw], xid, 2.0)
                if reply is not None and reply.kind == proto4.ACK:
                    ack, lease = reply, reply.lease_time or lease
                    self._apply4(ack)
                    expires = time.monotonic() + lease
                    renew_at = time.monotonic() + lease / 2
                else:
                    renew_at = min(expires, time.monotonic() + max(5.0, lease / 8))

    def _bind4(self, udp: socket.socket, raw: socket.socket) -> proto4.Reply:
        """INIT -> SELECTING -> REQUESTING -> BOUND: the ACK."""
        retry = FIRST_RETRY
        while True:
            xid = random.getrandbits(32)
            udp.sendto(proto4.message(proto4.DISCOVER, xid, self.mac), ("255.255.255.255", 67))
            offer = self._wait4([udp, raw], xid, retry)
            retry = min(MAX_RETRY, retry * 2)
            if offer is None or offer.kind != proto4.OFFER:
                continue
            self.log(f"DHCPDISCOVER -> DHCPOFFER of {offer.yiaddr} from {offer.server_id}")
            for _ in range(4):
                msg = proto4.message(
                    proto4.REQUEST, xid, self.mac, requested=offer.yiaddr, server=offer.server_id
                )
                udp.sendto(msg, ("255.255.255.255", 67))
                ack = self._wait4([udp, raw], xid, retry)
                if ack is not None and ack.kind == proto4.ACK:
                    self.log(f"DHCPREQUEST -> DHCPACK of {ack.yiaddr} from {ack.server_id}")
                    return ack
                if ack is not None and ack.kind == proto4.NAK:
                    self.log("DHCPNAK; starting over")
                    break

    def _wait4(self, socks: list[socket.socket], xid: int, timeout: float) -> proto4.Reply | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(socks, [], [], left)
            for sock in ready:
                data = sock.recv(4096)
                payload = proto4.udp_payload(data) if sock.family == socket.AF_PACKET else data
                reply = proto4.parse(payload, xid) if payload else None
                if reply is not None:
                    return reply
        return None

    def _apply4(self, ack: proto4.Reply) -> None:
        info = ack.summary()
        lft = str(ack.lease_time or "forever")
        self.ip("addr", "replace", str(info["address"]), "dev", self.ifname,
                "valid_lft", lft, "preferred_lft", lft)  # fmt: skip
        if ack.mtu:
            self.ip("link", "set", self.ifname, "mtu", str(ack.mtu))
        if info["router"]:
            self.ip("route", "replace", "default", "via", str(info["router"]), "dev", self.ifname)
        self.done("dhcp4", info)

    # --- DHCPv6 ----------------------------------------------------------------------------

    def dhcp6(self, mode: str) -> None:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        sock.bind(("::", 546))
        servers = ("ff02::1:2", 547, 0, self.ifindex)  # All_DHCP_Relay_Agents_and_Servers
        retry = FIRST_RETRY
        while True:
            xid = random.getrandbits(24)
            if mode == "stateless":
                sock.sendto(proto6.message(proto6.INFORMATION_REQUEST, xid, self.mac), servers)
                reply = self._wait6(sock, xid, retry, proto6.REPLY)
                if reply is not None:
                    self.log(f"INFORMATION-REQUEST -> REPLY: DNS {[str(d) for d in reply.dns]}")
                    self.done("dhcp6", {**reply.summary(), "mode": mode})
                    return
            else:
                sock.sendto(proto6.message(proto6.SOLICIT, xid, self.mac), servers)
                adv = self._wait6(sock, xid, retry, proto6.ADVERTISE)
                if adv is not None and adv.address is not None:
                    self.log(f"SOLICIT -> ADVERTISE of {adv.address}")
                    reply = self._request6(sock, servers, adv)
                    if reply is not None:
                        self._apply6(reply)
                        if reply.valid == proto6.INFINITE:
                            return
                        time.sleep(max(1.0, reply.preferred / 2))  # renew by asking again
                        retry = FIRST_RETRY
                        continue
            retry = min(MAX_RETRY, retry * 2)

    def _request6(
        self, sock: socket.socket, servers: tuple[Any, ...], adv: proto6.Reply
    ) -> proto6.Reply | None:
        for _ in range(4):
            xid = random.getrandbits(24)
            msg = proto6.message(proto6.REQUEST, xid, self.mac, adv.server_duid, adv.address)
            sock.sendto(msg, servers)
            reply = self._wait6(sock, xid, MAX_RETRY, proto6.REPLY)
            if reply is not None and reply.address is not None and reply.status == 0:
                self.log(f"REQUEST -> REPLY of {reply.address}")
                return reply
        return None

    def _wait6(
        self, sock: socket.socket, xid: int, timeout: float, kind: int
    ) -> proto6.Reply | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if ready:
                reply = proto6.parse(sock.recv(4096), xid, self.mac)
                if reply is not None and reply.kind == kind:
                    return reply
        return None

    def _apply6(self, reply: proto6.Reply) -> None:
        def lifetime(value: int) -> str:
            return "forever" if value == proto6.INFINITE else str(value)

        # DHCPv6 gives no prefix length: a /128, the on-link /64 comes from the RA (as
        # dhclient does); nodad: OVN made the address unique
        self.ip("-6", "addr", "replace", f"{reply.address}/128", "dev", self.ifname,
                "valid_lft", lifetime(reply.valid), "preferred_lft", lifetime(reply.preferred),
                "nodad")  # fmt: skip
        self.done("dhcp6", {**reply.summary(), "mode": "stateful"})

    # --- router advertisements ---------------------------------------------------------------

    def ra(self) -> None:
        """Send router solicitations until the kernel took an RA (its default route, and
        with SLAAC its address): the kernel's own RS at link-up may have gone out before
        ovn-controller had the flows to answer it, and it waits seconds to ask again."""
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        hw = bytes.fromhex(self.mac.replace(":", ""))
        rs = struct.pack("!BBHI", 133, 0, 0, 0) + bytes([1, 1]) + hw  # + source link-layer
        interval = 0.1
        while True:
            got = self._ra_result()
            if got is not None:
                self.log(f"router advertisement taken: {got}")
                self.done("ra", got)
                return
            try:
                sock.sendto(rs, ("ff02::2", 0, 0, self.ifindex))
            except OSError as exc:  # the link-local address may still be coming
                self.log(f"router solicitation not sent: {exc}")
            time.sleep(interval)
            interval = min(MAX_RETRY, interval * 2)

    def _ra_result(self) -> dict[str, Any] | None:
        """The default route (and SLAAC address) the kernel made from an RA, if any yet."""
        routes = _ip_json("-6", "route", "show", "default", "dev", self.ifname)
        if not routes:
            return None
        result: dict[str, Any] = {"router": routes[0].get("gateway")}
        if self.slaac:
            addrs = [
                f"{a['local']}/{a['prefixlen']}"
                for link in _ip_json("-6", "addr", "show", "dev", self.ifname, "scope", "global")
                for a in link.get("addr_info", [])
                if a.get("dynamic") and a.get("family") == "inet6"
            ]
            if not addrs:
                return None
            result["slaac"] = addrs
        return result

    # --- main ------------------------------------------------------------------------------

    def run(self, dhcp6_mode: str | None) -> None:
        self.log(f"on {self.ifname} ({self.mac}): {', '.join(sorted(self.wanted))}")
        jobs: list[Callable[[], None]] = []
        if "dhcp4" in self.wanted:
            jobs.append(self.dhcp4)
        if dhcp6_mode:
            jobs.append(lambda: self.dhcp6(dhcp6_mode))
        if "ra" in self.wanted:
            jobs.append(self.ra)
        threads = [threading.Thread(target=self._guard, args=(job,), daemon=True) for job in jobs]
        for thread in threads:
            thread.start()
        while True:  # stay for renewals; `lab down` (or `lab start` re-plugging) ends it
            time.sleep(3600)

    def _guard(self, job: Callable[[], None]) -> None:
        while True:
            try:
                job()
                return
            except OSError as exc:  # e.g. the interface went away while its chassis restarts
                self.log(f"{job}: {exc}; retrying in 1 s")
                time.sleep(1)


def _ip_json(*argv: str) -> list[dict[str, Any]]:
    proc = subprocess.run(["ip", "-j", *argv], capture_output=True, text=True)
    try:
        found = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        return []
    return found if isinstance(found, list) else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.vm.dhcp.client")
    parser.add_argument("--ifname", required=True)
    parser.add_argument("--mac", required=True)
    parser.add_argument("--dir", required=True, help="where the lease and resolv.conf go")
    parser.add_argument("--dhcp4", action="store_true")
    parser.add_argument("--dhcp6", choices=["stateful", "stateless"])
    parser.add_argument("--ra", action="store_true", help="wait for a router advertisement")
    parser.add_argument("--slaac", action="store_true", help="and for the SLAAC address")
    args = parser.parse_args(argv)
    agent = Agent(args)
    agent._write()
    agent.run(args.dhcp6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
