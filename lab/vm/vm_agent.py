"""The program the lab runs inside VMs: a TCP/UDP server answering with the VM's name, and
the client side of one exchange with such a server. Python standard library only, and no
import of the `lab` package: it runs as `python3 -I vm_agent.py ...` in a VM namespace.

    serve tcp|udp PORT NAME       answer every request with "NAME PROTO/PORT PEER_IP:PEER_PORT"
    connect tcp|udp ADDR PORT TIMEOUT COUNT FROM
                                  COUNT exchanges, one JSON object per line: outcome
                                  (answered | refused | unreachable | timeout | error),
                                  answer (first word of the reply: who answered), reply,
                                  seconds (handshake + request + reply)
    neigh RUNDIR BRIDGE           `tnl/neigh/set BRIDGE IP MAC` for every "IP MAC" line on
                                  stdin, on one connection to the ovs-vswitchd whose pidfile
                                  is in RUNDIR (ovs-appctl makes one process per entry): how
                                  a chassis sharing an SSH host learns its tunnel peers
"""

from __future__ import annotations

import errno
import json
import os
import socket
import socketserver
import sys
import time

REQUEST_MAX = 1024
IDLE_TIMEOUT_S = 5.0  # a TCP client that never sends its request is let go


def serve(proto: str, port: int, name: str) -> None:
    """Serve until killed; print one line once listening (the launcher waits for it)."""

    def answer(peer: tuple) -> bytes:
        host = peer[0].removeprefix("::ffff:") if "." in peer[0] else peer[0]
        return f"{name} {proto}/{port} {host}:{peer[1]}\n".encode()

    class Tcp(socketserver.StreamRequestHandler):
        timeout = IDLE_TIMEOUT_S

        def handle(self) -> None:
            try:
                self.rfile.readline(REQUEST_MAX)
                self.wfile.write(answer(self.client_address))
            except OSError:
                pass  # the client went away: nothing to answer

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            _data, sock = self.request
            sock.sendto(answer(self.client_address), self.client_address)

    base = socketserver.ThreadingTCPServer if proto == "tcp" else socketserver.UDPServer

    class DualStack(base):  # type: ignore[valid-type,misc]
        """One socket for IPv4 and IPv6 (IPv4 clients appear as ::ffff:a.b.c.d)."""

        address_family = socket.AF_INET6
        allow_reuse_address = True
        daemon_threads = True

        def server_bind(self) -> None:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    handler = Tcp if proto == "tcp" else Udp
    try:
        server = DualStack(("::", port), handler)
    except OSError:  # IPv6 disabled in this namespace: IPv4 only
        base.allow_reuse_address = True
        server = base(("0.0.0.0", port), handler)
    with server:
        print(f"listening {proto}/{port} as {name} pid {os.getpid()}", flush=True)
        server.serve_forever()


def _outcome(exc: OSError) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError | ConnectionResetError):
        return "refused"  # TCP RST, or ICMP port unreachable on a connected UDP socket
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM):
        return "unreachable"  # ICMP host/network/admin unreachable
    return "error"


def exchange(proto: str, address: str, port: int, timeout: float, source: str) -> dict[str, object]:
    """One request and its answer; `seconds` from the first packet to the answer."""
    start = time.monotonic()
    result: dict[str, object] = {"outcome": "error", "answer": None, "reply": "", "seconds": 0.0}
    request = f"hello from {source}\n".encode()
    try:
        if proto == "tcp":
            with socket.create_connection((address, port), timeout=timeout) as sock:
                result["local"] = "{}:{}".format(*sock.getsockname()[:2])
                sock.sendall(request)
                data = b""
                while not data.endswith(b"\n") and len(data) < REQUEST_MAX:
                    chunk = sock.recv(REQUEST_MAX)
                    if not chunk:
                        break
                    data += chunk
        else:
            data = _udp(address, port, timeout, request, result)
    except OSError as exc:
        result["outcome"] = _outcome(exc)
        result["error"] = f"{type(exc).__name__}: {exc}"
    else:
        text = data.decode(errors="replace").strip()
        result["reply"] = text
        result["answer"] = text.split()[0] if text else None
        result["outcome"] = "answered" if text else "error"
        if not text:
            result["error"] = "connection closed without an answer"
    result["seconds"] = round(time.monotonic() - start, 4)
    return result


def _udp(
    address: str, port: int, timeout: float, request: bytes, result: dict[str, object]
) -> bytes:
    """UDP has no handshake: resend every 0.5 s (a first datagram may wait for ARP) until an
    answer, an ICMP error (raised by recv on a connected socket) or the timeout."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((address, port))
        result["local"] = "{}:{}".format(*sock.getsockname()[:2])
        deadline = time.monotonic() + timeout
        while True:
            sock.send(request)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer")
            sock.settimeout(min(0.5, left))
            try:
                return sock.recv(REQUEST_MAX)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise


def neigh(rundir: str, bridge: str, lines: list[str]) -> int:
    """OVS's unixctl protocol is JSON-RPC over the daemon's control socket."""
    with open(f"{rundir}/ovs-vswitchd.pid") as fh:
        pid = int(fh.read().strip())
    decoder = json.JSONDecoder()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(f"{rundir}/ovs-vswitchd.{pid}.ctl")
        buf = ""
        for n, line in enumerate(ln for ln in lines if ln.strip()):
            ip, mac = line.split()
            request = {"id": n, "method": "tnl/neigh/set", "params": [bridge, ip, mac]}
            sock.sendall(json.dumps(request).encode())
            while True:
                try:
                    reply, end = decoder.raw_decode(buf.lstrip())
                    buf = buf.lstrip()[end:]
                    break
                except ValueError:
                    chunk = sock.recv(65536)
                    if not chunk:
                        print("ovs-vswitchd closed its control socket", file=sys.stderr)
                        return 1
                    buf += chunk.decode()
            if reply.get("error"):
                print(f"tnl/neigh/set {bridge} {ip} {mac}: {reply['error']}", file=sys.stderr)
                return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 4:
        serve(argv[1], int(argv[2]), argv[3])
        return 0
    if argv[:1] == ["connect"] and len(argv) == 7:
        _, proto, address, port, timeout, count, source = argv
        for _ in range(int(count)):
            result = exchange(proto, address, int(port), float(timeout), source)
            print(json.dumps(result), flush=True)
        return 0
    if argv[:1] == ["neigh"] and len(argv) == 3:
        return neigh(argv[1], argv[2], sys.stdin.read().splitlines())
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
