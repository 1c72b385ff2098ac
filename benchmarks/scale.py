"""Scale and speed of `lab up` against the naive serial baseline, as JSON.

    sudo .venv/bin/python benchmarks/scale.py --chassis 10 --vms-per-chassis 2 [--switches 4]
        [--skip-baseline] [--first-ping-samples 100] [--name benchscale]

1. baseline: benchmarks/baseline_serial.sh N (bare chassis, one after the other), timed,
   then removed by benchmarks/baseline_cleanup.sh; twice: chassis registering with a
   central (baseline_s, what DESIGN.md measured) and with nothing to register with
   (baseline_no_central_s);
2. `lab gen` + `lab up` of N chassis x K VMs, timed until it returns (every port up), run
   as a user would (so it includes the CLI's Python start-up, like the script's processes);
   over the baseline and over `lab up`, the machine's idle share of CPU time and the
   CPU-seconds every process spent (/proc/stat: *_idle_share, *_cpu_s), and the CPU-seconds
   of the lab's daemons by kind when `lab up` returns (lab_up_daemon_cpu_s_by_kind);
3. pings between 10 random VM pairs on different chassis (how many get a reply);
4. memory per chassis: RSS (and PSS) of the processes in a chassis namespace, averaged;
5. idleness: CPU time of every process in the lab's namespaces over a 5 s idle window;
6. time to first ping: `lab add-vm` a VM, ping from it until the first reply, `lab del-vm`;
   p50/p99 over the samples (in-process through lab.ops.vms when that module exists);
7. `lab down`, timed, and what is left afterwards (should be nothing).
No timing is asserted anywhere: this only measures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Interface
from pathlib import Path

from lab import naming

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from lab.providers.netns.namespaces import NETNS_DIR, pids_in  # noqa: E402
from lab.state.store import LabState, lab_dir, load_state  # noqa: E402
from lab.topology import gen  # noqa: E402

sys.path.insert(0, str(BENCH))
from cpustat import CpuWindow, cpu_s_by_kind  # noqa: E402

IDLE_WINDOW_S = 5.0
PING_PAIRS = 10
FIRST_PING_DEADLINE_S = 30
# First-ping VMs take addresses down from 10.S.255.254, above what `lab gen` hands out.
MAX_FIRST_PING_SAMPLES = 500
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The headline figures, first and always present (null when not measured); details follow.
KEYS = (
    "n_chassis", "n_vms", "lab_up_s", "baseline_s", "ratio", "down_s", "first_ping_p50_s",
    "first_ping_p99_s", "rss_mb_per_chassis", "idle_cpu_pct", "pings_ok", "leftovers",
)  # fmt: skip


# --- running things -------------------------------------------------------------------------


def lab_cli(*args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=REPO
    )
    took = time.monotonic() - start
    if check and proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return took, proc


def ping(netns: str, address: str, count: int = 3) -> bool:
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1", address]
    return (
        subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True).returncode == 0
    )


def ping_until_reply(netns: str, address: str) -> bool:
    """Ping every 20 ms until the first reply (or the deadline)."""
    argv = ["ping", "-n", "-q", "-c", "1", "-i", "0.02", "-w", str(FIRST_PING_DEADLINE_S)]
    proc = subprocess.run(["ip", "netns", "exec", netns, *argv, address], capture_output=True)
    return proc.returncode == 0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# --- 1. baseline ------------------------------------------------------------------------------


def run_baseline(
    n: int, prefix: str, central: str, cpu: CpuWindow | None = None
) -> tuple[float, list[str]]:
    """central: "central" (bare chassis registering with a central, as in DESIGN.md) or
    "none" (their controllers reach nothing); see baseline_serial.sh. `cpu` (if given)
    measures the machine's CPU while the script runs (not its cleanup)."""
    try:
        with cpu or CpuWindow():
            start = time.monotonic()
            proc = subprocess.run(
                [BENCH / "baseline_serial.sh", str(n), prefix, central], capture_output=True
            )
            took = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit(f"baseline failed ({proc.returncode}): {proc.stderr.decode()}")
    finally:
        subprocess.run([BENCH / "baseline_cleanup.sh", prefix], check=False)
    left = [f"netns {ns}" for ns in namespaces_with_prefix(prefix)]
    workdir = Path(tempfile.gettempdir()) / f"{prefix}.baseline"
    return took, left + ([f"dir {workdir}"] if workdir.exists() else [])


def namespaces_with_prefix(prefix: str, sep: str = "-") -> list[str]:
    """The baseline script's namespaces (PREFIX-...), or a lab's (sep: naming.SEP)."""
    found = NETNS_DIR.glob(f"{prefix}{sep}*") if NETNS_DIR.is_dir() else []
    return sorted(p.name for p in found)


# --- 3-5. measuring a running lab ------------------------------------------------------------


def ping_sample(state: LabState, rng: random.Random) -> str:
    """Ping between random VM pairs on different chassis (any pair when there is one)."""
    vms = state.info.vms
    names = sorted(vms)
    one_chassis = len({vm.chassis for vm in vms.values()}) == 1
    pairs: set[tuple[str, str]] = set()
    for _ in range(100 * PING_PAIRS):
        if len(pairs) == PING_PAIRS or len(names) < 2:
            break
        a, b = rng.sample(names, 2)
        if one_chassis or vms[a].chassis != vms[b].chassis:
            pairs.add((a, b))
    with ThreadPoolExecutor(max_workers=PING_PAIRS) as pool:
        ok = list(
            pool.map(lambda p: ping(vms[p[0]].netns, vms[p[1]].ip.split("/")[0]), sorted(pairs))
        )
    return f"{sum(ok)}/{len(pairs)}"


def _status_kb(pid: int, path: str, key: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(state: LabState) -> dict[str, float]:
    nodes = state.info.nodes
    chassis = [str(n.netns) for n in nodes.values() if n.is_chassis]
    central = str(nodes[str(state.info.central)].netns)
    pids = pids_in([*chassis, central])
    rss: dict[str, int] = {}
    pss: dict[str, int] = {}
    for pid, ns in pids.items():
        rss[ns] = rss.get(ns, 0) + _status_kb(pid, "status", "VmRSS:")
        pss[ns] = pss.get(ns, 0) + _status_kb(pid, "smaps_rollup", "Pss:")
    return {
        "rss_mb_per_chassis": round(sum(rss.get(ns, 0) for ns in chassis) / len(chassis) / 1024, 1),
        "pss_mb_per_chassis": round(sum(pss.get(ns, 0) for ns in chassis) / len(chassis) / 1024, 1),
        "rss_mb_central": round(rss.get(central, 0) / 1024, 1),
    }


def _cpu_ticks(pid: int) -> tuple[str, int] | None:
    """(name, utime + stime) of a live process; None once it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            head, tail = fh.read().rsplit(")", 1)
    except OSError:
        return None
    fields = tail.split()  # fields[0] is field 3 (state); utime, stime are fields 14, 15
    if fields[0] == "Z":
        return None
    return head.split("(", 1)[1], int(fields[11]) + int(fields[12])


def idle_cpu(state: LabState) -> dict[str, object]:
    """CPU used by every process in the lab's namespaces over an idle window, in % of one
    CPU, in total and by process name."""
    pids = pids_in(state.resources.get("netns", []))
    before = {pid: t for pid in pids if (t := _cpu_ticks(pid))}
    start = time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    elapsed = time.monotonic() - start
    by_name: dict[str, float] = {}
    for pid, (name, ticks) in before.items():
        after = _cpu_ticks(pid)
        if after is not None:
            pct = (after[1] - ticks) / CLK_TCK / elapsed * 100
            by_name[name] = by_name.get(name, 0.0) + pct
    return {
        "idle_cpu_pct": round(sum(by_name.values()), 2),
        "idle_cpu_pct_by_process": {k: round(v, 2) for k, v in sorted(by_name.items())},
        "idle_window_s": IDLE_WINDOW_S,
    }


# --- 6. time to first ping -------------------------------------------------------------------


Adder = tuple[Callable[..., None], Callable[[str], None], str]


def vm_adder(lab: str) -> Adder | None:
    """(add, delete, how): in-process through lab.ops.vms if it exists, else the CLI, else None."""
    try:
        from lab.ops import (
            vms as lab_vms,  # the lead's module: add_vm(state, ...), del_vm(state, name)
        )
    except ImportError:
        pass
    else:

        def add(state: LabState, name: str, **kw: str) -> None:
            lab_vms.add_vm(state, name, **kw)

        def delete(name: str) -> None:
            lab_vms.del_vm(load_state(lab), name)

        return add, delete, "in-process (lab.ops.vms.add_vm)"
    if lab_cli("add-vm", "--help", check=False)[1].returncode != 0:
        return None

    def add_cli(state: LabState, name: str, **kw: str) -> None:
        opts = [x for k, v in kw.items() for x in (f"--{k}", v)]
        lab_cli("add-vm", "--lab", lab, name, *opts)

    def del_cli(name: str) -> None:
        lab_cli("del-vm", "--lab", lab, name)

    return add_cli, del_cli, "cli: `lab add-vm` (includes the CLI's python start-up)"


def first_ping(lab: str, n_chassis: int, switches: int, samples: int, rng: random.Random) -> dict:
    adder = vm_adder(lab)
    if adder is None:
        return {"first_ping": "lab add-vm not available"}
    add, delete, how = adder
    vms = load_state(lab).info.vms
    times, adds, failures = [], [], 0
    for i in range(samples):
        chassis, switch = f"hv{i % n_chassis + 1}", i % switches
        subnet = gen.switch_subnet(switch)
        ip = IPv4Interface(f"{subnet.broadcast_address - 1 - i}/{subnet.prefixlen}")
        gateway = str(subnet.network_address + 1)
        others = sorted(v for v, d in vms.items() if d.chassis != chassis)
        target = vms[rng.choice(others)].ip.split("/")[0] if others else gateway
        name = f"fp{i}"
        state = load_state(lab)  # read before the clock starts, as a long-lived caller would
        start = time.monotonic()
        add(
            state,
            name,
            chassis=chassis,
            switch=f"sw{switch}",
            ip=str(ip),
            gateway=gateway,
            mac=f"0a:fe:00:00:{i >> 8:02x}:{i & 0xFF:02x}",
        )
        added = time.monotonic()
        ok = ping_until_reply(naming.netns_name(lab, name), target)
        done = time.monotonic()
        delete(name)
        adds.append(added - start)
        if ok:
            times.append(done - start)
        else:
            failures += 1
    result: dict[str, object] = {
        "first_ping": how,
        "first_ping_target": "a VM on another chassis" if n_chassis > 1 else "the gateway",
        "first_ping_samples": samples,
        "first_ping_failures": failures,
        "add_vm_p50_s": round(statistics.median(adds), 3) if adds else None,
    }
    if times:
        result["first_ping_p50_s"] = round(percentile(times, 50), 3)
        result["first_ping_p99_s"] = round(percentile(times, 99), 3)
    return result


# --- 7. what is left -------------------------------------------------------------------------


def leftovers(lab: str, daemons: dict[int, str]) -> list[str]:
    left = [f"netns {ns}" for ns in namespaces_with_prefix(lab, naming.SEP)]
    for pid, name in sorted(daemons.items()):
        now = _cpu_ticks(pid)
        if now is not None and now[0] == name:
            left.append(f"process {pid} ({name})")
    if lab_dir(lab).exists():
        left.append(f"state {lab_dir(lab)}")
    return left


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chassis", type=int, default=10)
    parser.add_argument("--vms-per-chassis", type=int, default=2)
    parser.add_argument("--switches", type=int, default=4)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--first-ping-samples", type=int, default=100)
    parser.add_argument("--name", default="benchscale", help="lab name (default: benchscale)")
    parser.add_argument("--seed", type=int, default=1, help="for the random ping pairs")
    args = parser.parse_args()
    if not 0 <= args.first_ping_samples <= MAX_FIRST_PING_SAMPLES:
        parser.error(f"--first-ping-samples must be between 0 and {MAX_FIRST_PING_SAMPLES}")
    if os.geteuid() != 0:
        raise SystemExit("run as root (namespaces, OVS daemons)")
    n, k, rng = args.chassis, args.vms_per_chassis, random.Random(args.seed)
    out: dict[str, object] = {"n_chassis": n, "n_vms": n * k, "switches": args.switches}

    left: list[str] = []
    baseline_s = no_central_s = None
    if not args.skip_baseline:
        baseline_cpu = CpuWindow()
        baseline_s, left = run_baseline(n, f"bl{os.getpid() % 1_000_000}", "central", baseline_cpu)
        out |= baseline_cpu.as_json("baseline")
        no_central_s, left_too = run_baseline(n, f"bn{os.getpid() % 1_000_000}", "none")
        left += left_too

    topo = gen.generate(n, k, args.switches, name=args.name)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="benchscale-") as fh:
        fh.write(topo)
        fh.flush()
        with CpuWindow() as up_cpu:
            up_s, _ = lab_cli("up", fh.name)
    out |= up_cpu.as_json("lab_up")
    daemons: dict[int, str] = {}
    try:
        state = load_state(args.name)
        assert state is not None
        up_ticks: dict[int, int] = {}
        for pid in pids_in(state.resources.get("netns", [])):
            if (ticks := _cpu_ticks(pid)) is not None:
                daemons[pid], up_ticks[pid] = ticks
        # every daemon was started by this lab up: what it has used so far, it used there
        out["lab_up_daemon_cpu_s_by_kind"] = cpu_s_by_kind(daemons, up_ticks)
        out |= {
            "lab_up_s": round(up_s, 3),
            "lab_up_includes": "python start-up of the CLI, like a user's shell",
            "lab_up_phases_s": state.info.up_timings,
            "baseline_s": round(baseline_s, 3) if baseline_s is not None else None,
            "ratio": round(up_s / baseline_s, 3) if baseline_s else None,
            "baseline_no_central_s": round(no_central_s, 3) if no_central_s else None,
            "pings_ok": ping_sample(state, rng) if k else "0/0",
        }
        out |= memory(state)
        out |= idle_cpu(state)
        if args.first_ping_samples > 0:
            try:
                out |= first_ping(args.name, n, args.switches, args.first_ping_samples, rng)
            except Exception as exc:  # report it; the measurements above still count
                out["first_ping"] = f"failed: {type(exc).__name__}: {exc}"
    finally:
        down_s, _ = lab_cli("down", args.name)
    out["down_s"] = round(down_s, 3)
    out["leftovers"] = left + leftovers(args.name, daemons)
    print(json.dumps({**dict.fromkeys(KEYS), **out}, indent=1))


if __name__ == "__main__":
    main()
