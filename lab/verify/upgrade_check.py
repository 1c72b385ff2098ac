"""Check `upgrade: {nodes, to, ping: {from, to}, max_loss_s}`: a rolling upgrade rehearsed
with traffic running. A ping every 0.1 s runs through the whole upgrade (OVN's order:
lab.ops.upgrade); every echo request that got no reply is put on the node being upgraded
when it was sent, so the outage is reported per node and in total. Afterwards traffic
must flow again and the lab must be healthy."""

from __future__ import annotations

import bisect
import itertools
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from lab.errors import UserError

if TYPE_CHECKING:
    from lab.verify.context import LabContext
    from lab.verify.result import CheckResult

INTERVAL = 0.1
_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)")


@dataclass
class Outage:
    seconds: dict[str, float]  # window name -> time without replies
    total: float
    longest: float
    replies: int
    gaps: list[dict[str, float | str]]  # each outage: when it began, how long

    def of(self, window: str) -> float:
        return round(self.seconds.get(window, 0.0), 2)


def outage(output: str, windows: list[tuple[str, float]], interval: float = INTERVAL) -> Outage:
    """Time without echo replies, by window.

    Measured between replies (ping -D stamps each), not by counting sequence numbers:
    while a VM's port is gone, ping's sends fail (sendmsg: No such device) and no
    request is on the wire to go unanswered. A gap longer than 1.5 intervals counts as
    outage (its length less one interval), split between the windows it spans. `windows`: (name,
    start time) in order; time before the first start goes to "before"."""
    stamps = sorted(float(m.group(1)) for line in output.splitlines() if (m := _REPLY.match(line)))
    starts = [start for _, start in windows]
    seconds: dict[str, float] = {}
    gaps: list[dict[str, float | str]] = []
    longest = 0.0
    for before, after in itertools.pairwise(stamps):
        if after - before <= 1.5 * interval:
            continue
        # no reply from the first request sent after `before` until `after`
        begin = before + interval
        longest = max(longest, after - begin)
        index = bisect.bisect_right(starts, begin) - 1
        gaps.append({"at": round(begin, 3), "s": round(after - begin, 3)})
        while begin < after:  # the part of the gap inside each window
            end = starts[index + 1] if index + 1 < len(starts) else after
            end = min(max(end, begin), after)
            name = windows[index][0] if index >= 0 else "before"
            seconds[name] = seconds.get(name, 0.0) + (end - begin)
            begin, index = end, index + 1
    total = round(sum(seconds.values()), 2)
    return Outage(seconds, total, round(longest, 2), len(stamps), gaps)


class _Replies:
    """ping's output read as it comes (a thread), so the check can wait for replies."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.last = 0.0
        self._cond = threading.Condition()
        # stderr too ("sendmsg: No such device" while a port is gone): a full pipe would
        # stop ping
        self._threads = [
            threading.Thread(target=self._read, args=(stream,), daemon=True)
            for stream in (proc.stdout, proc.stderr)
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                if m := _REPLY.match(line):
                    self.last = float(m.group(1))
                    self._cond.notify_all()

    def wait_after(self, moment: float, timeout: float) -> bool:
        """Until a reply arrives after `moment` (wall clock), at most `timeout` s."""
        with self._cond:
            return self._cond.wait_for(lambda: self.last > moment, timeout=timeout)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines) + "\n"


def check_upgrade(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    from lab.ops import upgrade
    from lab.ops.status import lab_status
    from lab.verify import ping as pg
    from lab.verify.result import CheckResult, require_keys

    require_keys(spec, "upgrade")
    nodes = spec["nodes"] if isinstance(spec["nodes"], list) else [spec["nodes"]]
    traffic = dict(spec["ping"])
    max_loss = float(spec.get("max_loss_s", 10))
    src = str(traffic.get("from", ""))
    if src not in ctx.info.vms:
        raise UserError("check 'upgrade': ping.from must be a VM of the lab")
    address = ctx.address_of(str(traffic["to"]))
    prepared = upgrade.prepare(ctx.state, [str(n) for n in nodes], str(spec["to"]))
    ping = ctx.popen_in(src, ["ping", "-n", "-D", "-O", "-i", str(INTERVAL), "-W", "1", address])
    replies = _Replies(ping)
    windows: list[tuple[str, float]] = []

    def next_node(name: str) -> None:
        # as an operator would: the next node only once traffic flows again (or max_loss_s)
        if windows:
            replies.wait_after(time.time(), max_loss + 1)
        windows.append((name, time.time()))

    try:
        time.sleep(1.0)  # a baseline of replies before anything changes
        done = upgrade.run(ctx.state, prepared, before_node=next_node)
        replies.wait_after(time.time(), max_loss + 1)
        windows.append(("after", time.time()))
        time.sleep(1.0)
        ping.send_signal(signal.SIGINT)
        ping.wait(timeout=20)
    finally:
        if ping.poll() is None:
            ping.kill()
            ping.wait()
        replies.join()
    output = replies.text()
    ctx.save_raw(cid, "ping-during-upgrade.txt", output)
    cut = outage(output, windows)
    probe = pg.ping_argv(address, count=3, interval=0.1, deadline_s=int(max_loss) + 1)
    recovered = ctx.run_in(src, probe, timeout=max_loss + 10)
    ctx.save_raw(cid, "ping-after-upgrade.txt", recovered.stdout)
    back = pg.parse_ping(recovered.stdout).received >= 3
    healthy = lab_status(ctx.state)
    per_node = {u.node: {"outage_s": cut.of(u.node), "took_s": u.seconds} for u in done}
    worst = max((v["outage_s"] for v in per_node.values()), default=0.0)
    total = cut.total
    evidence = {
        "procedure": prepared.procedure,
        "order": [u.node for u in done],
        "image": prepared.image,
        "nodes": per_node,
        "outage_after_s": cut.of("after"),
        "total_outage_s": total,
        "longest_gap_s": cut.longest,
        "replies": cut.replies,
        "windows": [{"node": n, "start": round(t, 3)} for n, t in windows],
        "gaps": cut.gaps,
        "recovered": back,
        "healthy": healthy.healthy,
        "notes": prepared.notes,
    }
    passed = back and healthy.healthy and worst <= max_loss
    each = ", ".join(f"{n} {v['outage_s']:g} s" for n, v in per_node.items())
    summary = (
        f"{prepared.procedure} upgrade to {prepared.build} ({' -> '.join(evidence['order'])}): "
        f"outage {each}; total {total:g} s, pinging every {INTERVAL:g} s "
        f"(max {max_loss:g} s per node); ping afterwards {'ok' if back else 'FAILS'}"
    )
    diagnosis = None
    if not back:
        diagnosis = f"after the upgrade {src} cannot reach {address}"
    elif not healthy.healthy:
        diagnosis = "; ".join(healthy.problems)
    elif worst > max_loss:
        diagnosis = f"a node's upgrade cut traffic for {worst:g} s, more than {max_loss:g} s"
    return CheckResult("upgrade", spec, passed, summary, evidence, diagnosis)
