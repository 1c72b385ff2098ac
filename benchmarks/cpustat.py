"""The whole machine's CPU over a window, from /proc/stat: how much of it sat idle and how
many CPU-seconds every process together spent (benchmarks only; nothing here is asserted)."""

from __future__ import annotations

import os
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
# /proc/stat's cpu line: user nice system idle iowait irq softirq steal (guest counted in user)
IDLE_FIELDS = (3, 4)  # idle, iowait: a CPU with nothing to run


def _cpu_line() -> list[int]:
    with open("/proc/stat") as fh:
        first = fh.readline().split()
    assert first[0] == "cpu", first
    return [int(v) for v in first[1:9]]


@dataclass
class CpuWindow:
    """`with CpuWindow() as w: ...`, then w.idle_share (0..1) and w.busy_cpu_s."""

    idle_share: float = 0.0
    busy_cpu_s: float = 0.0
    cpus: int = os.cpu_count() or 1

    def __enter__(self) -> CpuWindow:
        self._start = _cpu_line()
        return self

    def __exit__(self, *_: object) -> None:
        delta = [b - a for a, b in zip(self._start, _cpu_line(), strict=True)]
        total = sum(delta) or 1
        idle = sum(delta[i] for i in IDLE_FIELDS)
        self.idle_share = idle / total
        self.busy_cpu_s = (total - idle) / CLK_TCK

    def as_json(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}_idle_share": round(self.idle_share, 3),
            f"{prefix}_cpu_s": round(self.busy_cpu_s, 1),
        }


def cpu_s_by_kind(pids: dict[int, str], ticks: dict[int, int]) -> dict[str, float]:
    """CPU-seconds per process name (ovn-controller, ovs-vswitchd, ...) of the given pids."""
    by: dict[str, float] = {}
    for pid, name in pids.items():
        by[name] = by.get(name, 0.0) + ticks.get(pid, 0) / CLK_TCK
    return {k: round(v, 1) for k, v in sorted(by.items(), key=lambda kv: -kv[1])}
