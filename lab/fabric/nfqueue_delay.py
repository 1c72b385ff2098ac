"""Delay and jitter for `lab impair` without sch_netem: packets queued to userspace by an
iptables NFQUEUE rule are held for the delay, then given back (NF_ACCEPT) in release order.

Kernels without CONFIG_NET_SCH_NETEM (this machine's) still have nfnetlink_queue. Only the
verdicts travel: the queue is bound in META copy mode, so no packet bytes are copied out.
Run inside the lab's fabric namespace: `python -m lab.fabric.nfqueue_delay --queue N --delay MS`.
It prints "ready" once bound; killed with its namespace by `lab down`.
"""

from __future__ import annotations

import argparse
import heapq
import random
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_DROP = 0
NF_ACCEPT = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
QUEUE_MAXLEN = 10_000


def _attr(kind: int, payload: bytes) -> bytes:
    header = struct.pack("=HH", 4 + len(payload), kind)
    return header + payload + b"\0" * (-len(payload) % 4)


def message(msg_type: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    """One nfnetlink message to the queue subsystem: nlmsghdr + nfgenmsg + attributes."""
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    kind = (NFNL_SUBSYS_QUEUE << 8) | msg_type
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def bind_messages(queue: int) -> list[bytes]:
    cmd = _attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0))
    params = _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
    maxlen = _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN))
    # fail open: a full queue lets packets through rather than dropping them
    fail_open = _attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))
    fail_open += _attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))
    ack = NLM_F_REQUEST | NLM_F_ACK
    return [
        message(NFQNL_MSG_CONFIG, queue, cmd, 1, ack),
        message(NFQNL_MSG_CONFIG, queue, params + maxlen + fail_open, 2, ack),
    ]


def verdict(queue: int, packet_id: int, accept: bool = True) -> bytes:
    hdr = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT if accept else NF_DROP, packet_id))
    return message(NFQNL_MSG_VERDICT, queue, hdr, 0)


def packet_ids(data: bytes) -> tuple[list[int], list[int]]:
    """(queued packet ids, netlink error codes) in a datagram of netlink messages."""
    ids: list[int] = []
    errors: list[int] = []
    offset = 0
    while offset + 16 <= len(data):
        length, kind, _flags, _seq, _pid = struct.unpack_from("=IHHII", data, offset)
        if length < 16:
            break
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, offset + 16)
            if code:
                errors.append(-code)
        elif kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            pos = offset + 20  # past nlmsghdr and nfgenmsg
            while pos + 4 <= offset + length:
                alen, atype = struct.unpack_from("=HH", data, pos)
                if alen < 4:
                    break
                if atype & 0x7FFF == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, pos + 4)[0])
                pos += (alen + 3) & ~3
        offset += (length + 3) & ~3
    return ids, errors


def release_at(now: float, delay_ms: float, jitter_ms: float, rng: random.Random) -> float:
    """When a packet queued at `now` goes on: delay +- a uniform jitter, never in the past."""
    extra = rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0
    return now + max(0.0, delay_ms + extra) / 1000.0


def serve(queue: int, delay_ms: float, jitter_ms: float) -> None:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    for msg in bind_messages(queue):
        sock.send(msg)
        _, errors = packet_ids(sock.recv(65536))
        if errors:
            raise SystemExit(f"nfqueue {queue}: bind failed (errno {errors[0]})")
    print("ready", flush=True)
    rng = random.Random()
    held: list[tuple[float, int]] = []
    while True:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, packet_id = heapq.heappop(held)
            sock.send(verdict(queue, packet_id))
        timeout = max(0.0, held[0][0] - now) if held else None
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            continue
        ids, _ = packet_ids(sock.recv(65536))
        now = time.monotonic()
        for packet_id in ids:
            heapq.heappush(held, (release_at(now, delay_ms, jitter_ms, rng), packet_id))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.fabric.nfqueue_delay")
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="ms")
    parser.add_argument("--jitter", type=float, default=0.0, help="ms")
    args = parser.parse_args(argv)
    try:
        serve(args.queue, args.delay, args.jitter)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
