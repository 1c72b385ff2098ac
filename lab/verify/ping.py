"""ping: build the command, parse its output (loss, RTT, the TTLs seen)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field


@dataclass
class PingResult:
    transmitted: int
    received: int
    loss_pct: float
    rtt_avg_ms: float | None
    ttls: list[int] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.received > 0


def ping_argv(
    address: str,
    count: int = 3,
    interval: float = 0.2,
    wait_s: int = 2,
    deadline_s: int | None = None,
) -> list[str]:
    """`deadline_s`: keep pinging until `count` replies came back or the deadline passed
    (ping -w), i.e. "does traffic flow again within this time"."""
    timing = ["-w", str(deadline_s)] if deadline_s else ["-W", str(wait_s)]
    return ["ping", "-n", "-c", str(count), "-i", str(interval), *timing, address]


_STATS = re.compile(
    r"(\d+) packets transmitted, (\d+) (?:packets )?received.*?([\d.]+)% packet loss"
)
_RTT = re.compile(r"rtt min/avg/max/mdev = [\d.]+/([\d.]+)/")
_TTL = re.compile(r"\bttl=(\d+)")


def parse_ping(output: str) -> PingResult:
    stats = _STATS.search(output)
    if not stats:
        raise ValueError("no ping statistics in output")
    rtt = _RTT.search(output)
    return PingResult(
        transmitted=int(stats.group(1)),
        received=int(stats.group(2)),
        loss_pct=float(stats.group(3)),
        rtt_avg_ms=float(rtt.group(1)) if rtt else None,
        ttls=[int(t) for t in _TTL.findall(output)],
    )


_STAMPED = re.compile(r"^\[(\d+\.\d+)\] .*icmp_seq=")


def longest_gap(output: str, since: float = 0.0) -> float | None:
    """Longest silence (seconds) between replies of a `ping -D` run, counting only gaps that
    end after `since` (a Unix time): the outage a failure caused. None: no reply after it."""
    stamps = [float(m.group(1)) for line in output.splitlines() if (m := _STAMPED.match(line))]
    after = [t for t in stamps if t > since]
    if not after:
        return None
    last_before = max((t for t in stamps if t <= since), default=since)
    points = [last_before, *after]
    return round(max(b - a for a, b in itertools.pairwise(points)), 2)
